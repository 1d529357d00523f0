"""A lock object in an S3 bucket: one holder at a time for an object-store run dir.

Why conditional writes: an object store has no ``O_EXCL`` and no rename, but S3 (and moto, MinIO, R2)
honour ``If-None-Match: *`` on PUT, the put-if-absent that Delta commits on S3 already rely on (see
:mod:`uniaudio.stores.delta` and docs/STORES.md): of two PUTs racing for the same key exactly one
succeeds, the other gets ``412 Precondition Failed``. The lock is that object:

- **acquire**: put-if-absent of ``{owner, host, pid, token, ttl_s}``. When the key exists its holder
  is named in a one-line :class:`UserFacingError`, unless the lock is stale (not refreshed for longer
  than its ``ttl_s``, measured with the store's own clock: the GET's ``Date`` minus the object's
  ``Last-Modified``, so the nodes' clocks do not matter). A stale lock is taken over with a PUT
  ``If-Match: <its ETag>``, so of two runners taking over the same stale lock exactly one wins.
- **heartbeat**: a thread re-PUTs the record every ``ttl_s / 3`` with ``If-Match`` on our last ETag;
  if that fails someone took the lock over (we were considered dead) and :attr:`lost` is set.
- **release**: DELETE ``If-Match`` our ETag: a lock taken over by someone else is never removed.

Requests go through boto3 (pyarrow's filesystem cannot send conditional headers); endpoint and
credentials come from the standard ``AWS_*`` environment, as for :mod:`uniaudio.stores.uri`.

``gs://`` is refused (:data:`GCS_REFUSAL`): GCS has the same primitives (``ifGenerationMatch=0`` to
create, ``=<generation>`` to take over, refresh and delete), but the loopback emulator the project tests
against ignores every precondition (tests/stores/test_lock_gcs.py shows it), so a GCS lock could not
be proven to exclude a second runner; refusing beats a lock that silently admits two.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
import uuid
from email.utils import parsedate_to_datetime
from typing import Any

from uniaudio.errors import UserFacingError
from uniaudio.stores import uri as uris

DEFAULT_TTL_S = 60.0  # a runner that stops refreshing for this long is considered gone
_PRECONDITION = ("PreconditionFailed", "412", "ConditionalRequestConflict", "409")


def _client():
    import boto3

    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None
    return boto3.client("s3", region_name=region, endpoint_url=endpoint)


GCS_REFUSAL = ("{uri}: run locks on GCS are not supported: they need ifGenerationMatch preconditions, which "
               "the GCS emulator the project is tested against (gcp-storage-emulator) ignores, so a gs:// lock "
               "is unproven; use an s3:// or local run dir for a lock (docs/STORES.md)")


def _split(uri: str) -> tuple[str, str]:
    if uris.scheme(uri) in uris.GCS_SCHEMES:
        raise UserFacingError(GCS_REFUSAL.format(uri=uri))
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise UserFacingError(f"{uri}: a lock object needs an s3://bucket/key URI")
    bucket, key = uri[5:].split("/", 1)
    return bucket, key


def _code(err: Exception) -> str:
    return str(getattr(err, "response", {}).get("Error", {}).get("Code", ""))


class ObjectStoreLock:
    """``with ObjectStoreLock("s3://b/run/run.lock"): ...`` (see the module doc). ``heartbeat=False``
    leaves the lock to expire on its own (what a crashed holder looks like; tests use it)."""

    def __init__(self, uri: str, ttl_s: float = DEFAULT_TTL_S, owner: str | None = None, heartbeat: bool = True):
        self.uri = uri
        self.bucket, self.key = _split(uri)
        self.ttl_s = float(ttl_s)
        host, pid = socket.gethostname(), os.getpid()
        self.record = {"owner": owner or f"pid {pid} on {host}", "host": host, "pid": pid,
                       "token": uuid.uuid4().hex, "ttl_s": self.ttl_s, "since": time.time()}
        self.heartbeat = heartbeat
        self.lost = False
        self._etag: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._s3 = _client()

    # --- acquire / release ---------------------------------------------------------------------
    def acquire(self) -> "ObjectStoreLock":
        for _ in range(5):  # each round ends in a win, a clear refusal, or a lost race re-examined
            if self._put(IfNoneMatch="*"):
                break
            held = _read(self._s3, self.bucket, self.key)
            if held is None:
                continue  # released between our PUT and GET: try again
            rec, etag, age = held
            if age <= float(rec.get("ttl_s", self.ttl_s)):
                raise UserFacingError(
                    f"{self._what()} is in use by {rec.get('owner', 'another runner')} (lock {self.uri}, "
                    f"refreshed {age:.0f}s ago; it is stale after {float(rec.get('ttl_s', self.ttl_s)):.0f}s "
                    f"without a heartbeat)")
            if self._put(IfMatch=etag):
                print(f"[lock] taking over the stale lock {self.uri} of {rec.get('owner', '?')} "
                      f"(no heartbeat for {age:.0f}s > {float(rec.get('ttl_s', self.ttl_s)):.0f}s)",
                      file=sys.stderr, flush=True)
                break
        else:
            raise UserFacingError(f"could not take the lock {self.uri} (it changed hands 5 times while trying)")
        if self.heartbeat:
            self._thread = threading.Thread(target=self._beat, name="object-store-lock", daemon=True)
            self._thread.start()
        return self

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._etag is None or self.lost:
            return
        try:
            self._s3.delete_object(Bucket=self.bucket, Key=self.key, IfMatch=self._etag)
        except Exception as err:  # noqa: BLE001 - botocore's ClientError, without importing botocore here
            if _code(err) not in _PRECONDITION + ("NoSuchKey", "404"):
                raise
        self._etag = None

    def __enter__(self) -> "ObjectStoreLock":
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()

    # --- internals ---------------------------------------------------------------------------------
    def _what(self) -> str:
        return f"s3://{self.bucket}/{self.key.rsplit('/', 1)[0]}" if "/" in self.key else self.uri

    def _put(self, **cond: str) -> bool:
        """One conditional PUT of our record; False when the condition failed (someone else holds it)."""
        body = json.dumps({**self.record, "refreshed": time.time()}).encode()
        try:
            resp = self._s3.put_object(Bucket=self.bucket, Key=self.key, Body=body,
                                       ContentType="application/json", **cond)
        except Exception as err:  # noqa: BLE001
            if _code(err) in _PRECONDITION or (cond.get("IfMatch") and _code(err) in ("NoSuchKey", "404")):
                return False
            raise UserFacingError(f"lock {self.uri}: {type(err).__name__}: {str(err).splitlines()[0][:200]}") from None
        self._etag = resp["ETag"]
        return True

    def _beat(self) -> None:
        while not self._stop.wait(self.ttl_s / 3):
            if not self._put(IfMatch=self._etag or ""):
                self.lost = True
                print(f"WARNING [lock] {self.uri} was taken over by another runner (this one missed its "
                      f"heartbeats for over {self.ttl_s:.0f}s); it no longer holds the lock",
                      file=sys.stderr, flush=True)
                return


def _read(s3, bucket: str, key: str) -> tuple[dict[str, Any], str, float] | None:
    """``(record, ETag, seconds since its last refresh by the store's clock)``, None when absent."""
    try:
        resp = s3.get_object(Bucket=bucket, Key=key)
    except Exception as err:  # noqa: BLE001
        if _code(err) in ("NoSuchKey", "404"):
            return None
        raise
    try:
        rec = json.loads(resp["Body"].read() or b"{}")
    except ValueError:
        rec = {"owner": "an unreadable lock record"}
    date = resp.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    now = parsedate_to_datetime(date).timestamp() if date else time.time()
    return rec, resp["ETag"], now - resp["LastModified"].timestamp()


def holder(uri: str) -> dict[str, Any] | None:
    """The record of the live holder of lock ``uri`` (None when free or stale): for status reports."""
    held = _read(_client(), *_split(uri))
    if held is None:
        return None
    rec, _etag, age = held
    return rec if age <= float(rec.get("ttl_s", DEFAULT_TTL_S)) else None
