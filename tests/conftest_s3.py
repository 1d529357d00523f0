"""Loopback S3 fixtures: one moto server (a real S3 HTTP endpoint on 127.0.0.1) per test session, a
fresh bucket per test, and the standard AWS environment pointing at it.

    from conftest_s3 import s3_bucket, s3_server  # noqa: F401  (pytest finds them by name)

    def test_x(s3_bucket):          # "s3://t-1a2b3c..." with AWS_ENDPOINT_URL etc. set for this test
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

from infra.local.s3_server import start_s3, stop_s3  # noqa: E402


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """The session's loopback S3 server (:class:`infra.local.s3_server.S3ServerInfo`)."""
    state = tmp_path_factory.mktemp("s3-server")
    info = start_s3(state)
    try:
        yield info
    finally:
        stop_s3(state)


@pytest.fixture
def s3_env(s3_server, monkeypatch, tmp_path):
    """The AWS environment of the loopback server set for this test (and a per-test fetch cache)."""
    env = {**s3_server.client_env(), "UNIAUDIO_CACHE_DIR": str(tmp_path / "cache")}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("AWS_S3_ALLOW_UNSAFE_RENAME", raising=False)
    return env


@pytest.fixture
def s3_bucket(s3_server, s3_env) -> str:
    """``s3://<fresh bucket>`` on the loopback server."""
    return s3_server.make_bucket(f"t-{uuid.uuid4().hex[:20]}")
