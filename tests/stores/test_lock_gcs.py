"""The run lock on ``gs://``: refused with one line naming the reason, because the loopback GCS emulator
ignores the ``ifGenerationMatch`` preconditions a GCS lock would rest on (shown here on the emulator
itself: the day that test fails, the emulator honours them and a GCS backend can be built and tested
like tests/stores/test_lock.py)."""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request

import pytest

from uniaudio.errors import UserFacingError
from uniaudio.stores import uri as uris
from uniaudio.stores.lock import ObjectStoreLock, holder

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _status(method: str, url: str, data: bytes | None = None) -> int:
    try:
        with _OPENER.open(urllib.request.Request(url, data=data, method=method), timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as err:
        return err.code


def test_emulator_ignores_generation_preconditions(gcs_bucket, gcs_server):
    bucket, name = gcs_bucket[len("gs://"):], "run/run.lock"
    create = (f"{gcs_server.endpoint}/upload/storage/v1/b/{bucket}/o?uploadType=media&ifGenerationMatch=0&"
              f"name={urllib.parse.quote(name, safe='')}")
    assert _status("POST", create, b"first") == 200
    assert _status("POST", create, b"second") == 200  # real GCS: 412 Precondition Failed
    assert uris.read_bytes(f"{gcs_bucket}/{name}") == b"second"  # the second create replaced the first
    obj = f"{gcs_server.endpoint}/storage/v1/b/{bucket}/o/{urllib.parse.quote(name, safe='')}"
    assert _status("DELETE", f"{obj}?ifGenerationMatch=1") == 200  # real GCS: 412 (wrong generation)
    assert not uris.exists(f"{gcs_bucket}/{name}")


def test_a_gs_lock_is_refused_in_one_line_naming_the_reason(gcs_bucket):
    uri = f"{gcs_bucket}/run/run.lock"
    for attempt in (lambda: ObjectStoreLock(uri).acquire(), lambda: holder(uri),
                    lambda: ObjectStoreLock("gcs://" + uri[len("gs://"):])):
        with pytest.raises(UserFacingError, match="run locks on GCS are not supported: they need ifGenerationMatch "
                                                  "preconditions, which the GCS emulator") as err:
            attempt()
        assert "\n" not in str(err.value) and "s3://" in str(err.value)  # and it says what to use instead
    assert not uris.exists(uri)  # nothing was written
