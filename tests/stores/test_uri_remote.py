"""URI module against each loopback object store (S3 server, GCS emulator): round trips, listing,
hash-verified cache fetch. GCS-only settings: tests/stores/test_uri_gcs.py."""

from __future__ import annotations

import pytest

from uniaudio.errors import UserFacingError
from uniaudio.stores import uri as uris


def test_round_trip(remote_bucket):
    target = uris.join(remote_bucket, "run", "a", "b.txt")
    assert not uris.exists(target) and not uris.is_dir(uris.join(remote_bucket, "run"))
    uris.put(target, "hello")
    assert uris.exists(target) and uris.is_file(target) and uris.is_dir(uris.parent(target))
    assert uris.read_text(target) == "hello"
    uris.put(target, b"bye")  # an atomic replace: one upload request
    assert uris.read_bytes(target) == b"bye"
    with uris.open_write(uris.join(remote_bucket, "run", "c.bin")) as f:
        f.write(b"\x00" * 10)
    assert uris.list_files(uris.join(remote_bucket, "run")) == [("a/b.txt", 3), ("c.bin", 10)]
    assert uris.list_files(uris.join(remote_bucket, "run"), recursive=False) == [("c.bin", 10)]
    with pytest.raises(UserFacingError, match="does not exist"):
        uris.read_text(uris.join(remote_bucket, "nope"))


def test_upload_then_fetch_verifies_and_refreshes(remote_bucket, tmp_path):
    src = tmp_path / "model"
    (src / "sub").mkdir(parents=True)
    (src / "w.bin").write_bytes(b"weights")
    (src / "sub" / "c.json").write_text("{}")
    dst = uris.join(remote_bucket, "exports", "m1")
    assert uris.upload_dir(src, dst) == 2
    local = uris.fetch(dst)
    assert (local / "w.bin").read_bytes() == b"weights" and (local / "sub" / "c.json").read_text() == "{}"
    assert str(local).startswith(str(tmp_path / "cache"))  # the per-test UNIAUDIO_CACHE_DIR
    assert uris.fetch(dst) == local  # a verified hit
    (local / "w.bin").write_bytes(b"tampered")  # corrupt the cached copy: refetched, not trusted
    assert (uris.fetch(dst) / "w.bin").read_bytes() == b"weights"
    uris.put(uris.join(dst, "w.bin"), b"weights v2")  # the remote changed: refetched
    assert (uris.fetch(dst) / "w.bin").read_bytes() == b"weights v2"
    single = uris.fetch(uris.join(dst, "sub", "c.json"))
    assert single.name == "c.json" and single.read_text() == "{}"
    with pytest.raises(UserFacingError, match="differs from the expected"):
        uris.fetch(dst, expect_hash="0" * 64)
    with pytest.raises(UserFacingError, match="does not exist"):
        uris.fetch(uris.join(remote_bucket, "no-such-model"))
