"""ensure_ray(): an embedded instance is loopback-only, and an existing session is joined, not replaced."""

from __future__ import annotations

import json
import os
import subprocess
import sys

PROBE = r"""
import json, ray
from uniaudio.ray_init import ensure_ray
started = ensure_ray(None, num_cpus=1)
again = ensure_ray(None, num_cpus=1)
nodes = [n["NodeManagerAddress"] for n in ray.nodes() if n["Alive"]]
print(json.dumps({"started": started, "again": again, "nodes": nodes, "cpus": ray.cluster_resources().get("CPU")}))
ray.shutdown()
"""


def test_embedded_instance_binds_loopback_and_is_started_once():
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=300, check=True, env=env)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["started"] is True and r["again"] is False  # the second call joins what is up
    assert r["nodes"] == ["127.0.0.1"] and r["cpus"] == 1.0


SOCKETS = r"""
import ipaddress, json, os, time
import psutil, ray
from uniaudio.ray_init import ensure_ray
ensure_ray(None, num_cpus=1)
@ray.remote
def pid():
    return os.getpid()
ray.get(pid.remote())  # a worker process with its own gRPC server
time.sleep(2)  # the agents finish binding
me = psutil.Process()
found = []
for p in [me] + me.children(recursive=True):
    try:
        for c in p.net_connections(kind="inet"):
            if c.status == psutil.CONN_LISTEN:
                found.append([p.name(), c.laddr.ip, c.laddr.port])
    except psutil.Error:
        pass
print(json.dumps(found))
ray.shutdown()
"""


def _loopback(ip: str) -> bool:
    import ipaddress

    a = ipaddress.ip_address(ip.split("%")[0])
    if getattr(a, "ipv4_mapped", None) is not None:
        a = a.ipv4_mapped
    return a.is_loopback


def test_every_listening_socket_of_an_embedded_instance_is_loopback():
    """Measured on the processes this test starts (driver, GCS, raylet, agents, a worker), not flags."""
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER")}
    out = subprocess.run([sys.executable, "-c", SOCKETS], capture_output=True, text=True, timeout=300, check=True, env=env)
    found = json.loads(out.stdout.strip().splitlines()[-1])
    names = {n for n, _, _ in found}
    assert {"gcs_server", "raylet"} <= names and len(found) >= 5, found
    exposed = [f for f in found if not _loopback(f[1])]
    assert not exposed, f"listening beyond loopback: {exposed}"
