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
