"""URI module on local paths and file:// (the s3:// round trips are in test_uri_s3.py)."""

from __future__ import annotations

import pytest

from uniaudio.errors import UserFacingError
from uniaudio.stores import uri as uris


@pytest.mark.parametrize("form", ["plain", "file"])
def test_round_trip_local(tmp_path, form):
    base = str(tmp_path) if form == "plain" else f"file://{tmp_path}"
    target = uris.join(base, "a", "b.txt")
    assert not uris.exists(target)
    uris.put(target, "hello")
    assert uris.exists(target) and uris.is_file(target) and uris.is_dir(uris.parent(target))
    assert uris.read_text(target) == "hello"
    uris.put(target, b"bye")  # atomic replace
    assert uris.read_bytes(target) == b"bye"
    assert uris.list_files(base) == [("a/b.txt", 3)]
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["b.txt"]  # no temp file left behind
    with uris.open_write(uris.join(base, "c.bin")) as f:
        f.write(b"\x00\x01")
    with uris.open_read(uris.join(base, "c.bin")) as f:
        assert f.read() == b"\x00\x01"
    assert uris.fetch(base) == tmp_path  # local: no copy


def test_missing_and_refused(tmp_path):
    with pytest.raises(UserFacingError, match="does not exist"):
        uris.read_text(str(tmp_path / "nope"))
    with pytest.raises(UserFacingError, match="does not exist"):
        uris.fetch(str(tmp_path / "nope"))
    with pytest.raises(UserFacingError, match="expected a local path"):
        uris.local_path("s3://bucket/key")


def test_schemes():
    assert [uris.scheme(u) for u in ("s3://b", "gs://b", "file:///x", "/x", "rel/x", "C:\\x")] == \
        ["s3", "gs", "file", "", "", ""]
    assert uris.is_remote("gs://b/x") and not uris.is_remote("/x") and not uris.is_remote("file:///x")
    assert uris.parent("s3://b/k") == "s3://b" and uris.join("gs://b/", "x") == "gs://b/x"
