"""The loopback Ray cluster of infra/local: two nodes, token-authenticated Jobs API, clean stop."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psutil
import pytest

from conftest_infra import _REPO  # noqa: F401  (puts the checkout on sys.path)
from infra.local._procs import http_get, port_open
from infra.local.cluster import cluster_status, load_cluster, start_cluster, stop_cluster

# Runs as the job's driver: one task pinned to each ALIVE node proves every node executes work.
_JOB = """
import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy as Pin
ray.init()
nodes = [n["NodeID"] for n in ray.nodes() if n["Alive"]]
@ray.remote(num_cpus=0.5)
def where():
    return ray.get_runtime_context().get_node_id()
seen = ray.get([where.options(scheduling_strategy=Pin(n, soft=False)).remote() for n in nodes])
print("NODES_SEEN", len(set(seen)), "OF", len(nodes))
"""


def _listening(pids: list[int]) -> list[str]:
    addrs = []
    for pid in pids:
        try:
            conns = psutil.Process(pid).net_connections(kind="inet")
        except psutil.Error:
            continue
        addrs += [c.laddr.ip for c in conns if c.status == psutil.CONN_LISTEN]
    return addrs


@pytest.mark.integration
@pytest.mark.slow  # ~25-40 s on an idle 2-core box (two `ray start`s, one job, stop)
def test_loopback_cluster_job_and_clean_stop(tmp_path):
    state = tmp_path / "ray"
    info = start_cluster(state, workers=1, head_cpus=1, worker_cpus=1)
    try:
        assert [n.role for n in info.nodes] == ["head", "worker-1"]
        assert info.alive_nodes() == 2
        assert load_cluster(state).gcs_address == info.gcs_address
        pids = [p for ps in info.pids().values() for p in ps]
        # every socket the cluster listens on is loopback
        addrs = _listening(pids)
        assert addrs and all(a in ("127.0.0.1", "::ffff:127.0.0.1") for a in addrs), addrs
        # token auth is on: no token -> 401, wrong token -> 403
        assert http_get(f"{info.dashboard_url}/api/jobs/")[0] == 401
        assert http_get(f"{info.dashboard_url}/api/jobs/", headers={"Authorization": "Bearer nope"})[0] == 403

        script = tmp_path / "job.py"
        script.write_text(_JOB)
        client = info.job_client()
        job_id = client.submit_job(entrypoint=f"python {script}")  # `python` = this venv (PATH set by start)
        deadline = time.monotonic() + 180
        while not client.get_job_status(job_id).is_terminal():
            assert time.monotonic() < deadline, "job did not finish"
            time.sleep(1)
        logs = client.get_job_logs(job_id)
        assert client.get_job_status(job_id).value == "SUCCEEDED", logs
        assert "NODES_SEEN 2 OF 2" in logs

        # the documented client environment alone is enough for the `ray job` CLI
        env = {**os.environ, **info.client_env()}
        env.pop("RAY_AUTH_TOKEN", None)
        out = subprocess.run([sys.executable, "-m", "ray.scripts.scripts", "job", "status", job_id],
                             env=env, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0 and "succeeded" in (out.stdout + out.stderr).lower(), out.stderr
        pids = [p for ps in info.pids().values() for p in ps]
    finally:
        signalled = stop_cluster(state)
    assert set(pids) <= set(signalled)
    assert not [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    assert not port_open(int(info.gcs_address.rsplit(":", 1)[1]))
    assert cluster_status(state)["running"] is False
    assert not any(os.path.exists(n.temp_dir) for n in info.nodes)
    assert stop_cluster(state) == []  # idempotent
