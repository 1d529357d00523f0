"""URI module on GCS only: the ``gcs://`` spelling and the environment that configures the emulator
(``STORAGE_EMULATOR_HOST``, forwarded to Ray workers). Round trips and fetch on every store:
tests/stores/test_uri_remote.py."""

from __future__ import annotations

from uniaudio.stores import uri as uris


def test_the_gcs_spelling_names_the_same_object(gcs_bucket):
    target = uris.join(gcs_bucket, "run", "a", "b.txt")
    uris.put(target, b"bye")
    alias = "gcs://" + target[len("gs://"):]  # the gcs:// spelling names the same object
    assert uris.read_bytes(alias) == b"bye"


def test_emulator_setting_is_read_and_forwarded(gcs_server, monkeypatch):
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_server.endpoint[len("http://"):])  # bare host:port = http
    assert uris.gcs_emulator() == gcs_server.endpoint
    assert uris.storage_env()["STORAGE_EMULATOR_HOST"] == gcs_server.endpoint[len("http://"):]
    bucket = gcs_server.make_bucket("tbarehostport")
    uris.put(f"{bucket}/x", b"1")
    assert uris.read_bytes(f"{bucket}/x") == b"1"
    monkeypatch.delenv("STORAGE_EMULATOR_HOST")
    assert uris.gcs_emulator() is None
