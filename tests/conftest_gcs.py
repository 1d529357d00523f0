"""Loopback GCS fixtures: one gcp-storage-emulator (the GCS JSON API on 127.0.0.1) per test session, a
fresh bucket per test, and ``STORAGE_EMULATOR_HOST`` pointing at it.

    from conftest_gcs import gcs_bucket, gcs_env, gcs_server  # noqa: F401  (pytest finds them by name)

    def test_x(gcs_bucket):         # "gs://t-1a2b3c..." with STORAGE_EMULATOR_HOST set for this test
        ...

Subprocesses started by a test inherit the environment (``os.environ`` is patched), so CLIs and Ray
workers reach the same bucket.
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest

_REPO = Path(__file__).resolve().parents[1]
if str(_REPO) not in sys.path:  # `infra` is not an installed package: import it from the checkout
    sys.path.insert(0, str(_REPO))

from infra.local.gcs_server import start_gcs, stop_gcs  # noqa: E402


@pytest.fixture(scope="session")
def gcs_server(tmp_path_factory):
    """The session's loopback GCS emulator (:class:`infra.local.gcs_server.GcsServerInfo`)."""
    state = tmp_path_factory.mktemp("gcs-server")
    info = start_gcs(state)
    try:
        yield info
    finally:
        stop_gcs(state)


@pytest.fixture
def gcs_env(gcs_server, monkeypatch, tmp_path):
    """The emulator's environment set for this test (and a per-test fetch cache); real-GCS credentials
    are removed so nothing here can reach Google."""
    env = {**gcs_server.client_env(), "UNIAUDIO_CACHE_DIR": str(tmp_path / "cache")}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    for k in ("GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_SERVICE_ACCOUNT", "GOOGLE_SERVICE_ACCOUNT_PATH",
              "GOOGLE_SERVICE_ACCOUNT_KEY"):
        monkeypatch.delenv(k, raising=False)
    return env


@pytest.fixture
def gcs_bucket(gcs_server, gcs_env) -> str:
    """``gs://<fresh bucket>`` on the loopback emulator."""
    # no "-": delta-rs percent-encodes it in the bucket part of its URLs (t%2D...), which the emulator
    # does not decode before routing (501; docs/STORES.md "On GCS")
    return gcs_server.make_bucket(f"t{uuid.uuid4().hex[:20]}")
