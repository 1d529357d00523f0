"""Pytest fixtures that start real loopback services with ``infra.local``; importable from any test.

    # in a test module (tests/ is on sys.path through tests/conftest.py)
    from conftest_infra import mlflow_server, ray_cluster  # noqa: F401  (pytest finds them by name)

    @pytest.mark.integration
    def test_submit(ray_cluster, mlflow_server):
        env = {**os.environ, **ray_cluster.client_env(), **mlflow_server.client_env()}
        subprocess.run(["uniaudio", "workflow", "submit", "workflows/demo.yaml",
                        "--address", ray_cluster.dashboard_url, "--wait"], env=env, check=True)

``ray_cluster`` is a :class:`infra.local.cluster.RayClusterInfo` (head + 1 worker node, 1 + 1 CPUs,
token auth, ``job_client()``, ``client_env()``); ``mlflow_server`` an
:class:`infra.local.mlflow_server.MlflowServerInfo` (sqlite + local artifacts, ``url``). Both are
module-scoped: one start per test module, stopped (only their own processes) at its end.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_REPO = Path(__file__).resolve().parents[1]
if str(_REPO) not in sys.path:  # `infra` is not an installed package: import it from the checkout
    sys.path.insert(0, str(_REPO))

from infra.local.cluster import start_cluster, stop_cluster  # noqa: E402
from infra.local.mlflow_server import start_mlflow, stop_mlflow  # noqa: E402


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory):
    """A running loopback Ray cluster (head + one worker node) for the tests of one module."""
    state = tmp_path_factory.mktemp("ray-cluster")
    info = start_cluster(state, workers=1, head_cpus=1, worker_cpus=1)
    try:
        yield info
    finally:
        stop_cluster(state)


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    """A running MLflow tracking server (sqlite + local artifact root) for the tests of one module."""
    state = tmp_path_factory.mktemp("mlflow-server")
    info = start_mlflow(state)
    try:
        yield info
    finally:
        stop_mlflow(state)
