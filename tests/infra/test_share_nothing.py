"""The share-nothing loopback cluster (``infra.local.cluster --isolated``) over the loopback S3 server:
head and worker node each run with their own working dir, TMPDIR and HOME; LM training with one rank
on each node reads its examples from and writes every checkpoint shard and the export to the bucket;
nothing but caches lands on a node's disk; a worker killed mid-run resumes from the S3 checkpoint and
ends with exactly the parameters of an uninterrupted run.

Slow (a 2-node cluster and two short Ray Train + DeepSpeed runs): ``make test-all``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest_infra import _REPO  # noqa: F401  (puts the checkout on sys.path)
from conftest_s3 import s3_bucket, s3_env, s3_server  # noqa: F401  (fixtures)
from infra.local.cluster import start_cluster, stop_cluster

pytestmark = [pytest.mark.slow, pytest.mark.integration]

_DRIVER = r"""
import json, os, sys
import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy as Pin
from safetensors.torch import load as load_st
from tests.train.helpers import make_example_store
from uniaudio.stores import uri as uris
from uniaudio.train.config import train_config
from uniaudio.train.driver import run_training

bucket, marker = sys.argv[1], sys.argv[2]
ray.init()
nodes = [n["NodeID"] for n in ray.nodes() if n["Alive"]]

@ray.remote(num_cpus=0.1)
def where():
    return {"node": ray.get_runtime_context().get_node_id(), "cwd": os.getcwd(), "home": os.environ["HOME"],
            "tmp": os.environ["TMPDIR"]}

places = ray.get([where.options(scheduling_strategy=Pin(n, soft=False)).remote() for n in nodes])
examples = make_example_store(f"{bucket}/examples", n=32)
common = ["workers=2", "cpus_per_worker=1", "zero_stage=2", "optim.lr=3e-3", "optim.warmup_steps=2",
          "checkpoint_every=2", "validate_every=2", "log_every=2", "loader.max_frames_per_batch=256",
          "loader.reader=arrow", "max_failures=2"]
ref = run_training(examples, f"{bucket}/ref", train_config("tiny", overrides=common + ["steps=4", "run_name=ref"]))
hooks = {"fault_at_step": 3, "fault_rank": 1, "fault_marker": marker}
faulted = run_training(examples, f"{bucket}/fault", train_config("tiny", overrides=common + ["steps=4", "run_name=f"]),
                       test_hooks=hooks)
a, b = (load_st(uris.read_bytes(f"{bucket}/{r}/model.safetensors")) for r in ("ref", "fault"))
same = a.keys() == b.keys() and all(bool((a[k] - b[k]).abs().max() <= 1e-6) for k in a)
print("RESULT " + json.dumps({"places": places, "steps": [ref.steps, faulted.steps], "same": same,
                              "files": [n for n, _ in uris.list_files(f"{bucket}/ref")]}))
"""


def _files(d: Path) -> list[str]:
    return sorted(str(p.relative_to(d)) for p in d.rglob("*") if p.is_file())


def test_training_on_a_share_nothing_cluster(s3_server, s3_bucket, s3_env, tmp_path):
    state = tmp_path / "cluster"
    node_env = {k: v for k, v in s3_env.items() if k != "UNIAUDIO_CACHE_DIR"}
    # DeepSpeed's prebuilt CPU ops stand in for the node image's (a real node does not compile them)
    ext = os.environ.get("TORCH_EXTENSIONS_DIR") or str(Path.home() / ".cache" / "torch_extensions")
    info = start_cluster(state, workers=1, head_cpus=1, worker_cpus=1, isolated=True,
                         node_env={**node_env, "TORCH_EXTENSIONS_DIR": ext, "DS_ACCELERATOR": "cpu",
                                   "OMP_NUM_THREADS": "1", "PYTHONPATH": str(_REPO)})
    client = tmp_path / "client"
    for d in ("home", "work", "tmp"):
        (client / d).mkdir(parents=True)
    env = {**os.environ, **info.client_env(), **node_env, "HOME": str(client / "home"), "TMPDIR": str(client / "tmp"),
           "UNIAUDIO_CACHE_DIR": str(client / "home" / "cache"), "PYTHONPATH": str(_REPO),
           "TORCH_EXTENSIONS_DIR": ext, "DS_ACCELERATOR": "cpu"}
    homes = {n.role: Path(n.home) for n in info.nodes}
    try:
        p = subprocess.run([sys.executable, "-c", _DRIVER, s3_bucket, str(tmp_path / "fault.marker")], env=env,
                           cwd=client / "work", capture_output=True, text=True, timeout=1500)
        leftovers = {role: (_files(base / "work"),
                            [f for f in _files(base / "tmp") if f.endswith((".pt", ".safetensors", ".json", "latest"))])
                     for role, base in homes.items()}
    finally:
        stop_cluster(state)
    line = [x for x in p.stdout.splitlines() if x.startswith("RESULT ")]
    assert p.returncode == 0 and line, (p.returncode, p.stdout[-3000:], p.stderr[-5000:])
    res = json.loads(line[-1][len("RESULT "):])
    seen = {r["home"] for r in res["places"]}
    assert len(res["places"]) == 2 and len(seen) == 2 and len({r["cwd"] for r in res["places"]}) == 2
    assert seen == {str(h / "home") for h in homes.values()}  # each node runs in its own sandbox
    for r in res["places"]:
        assert any(r["tmp"] == str(h / "tmp") for h in homes.values())
    assert (tmp_path / "fault.marker").exists(), "the fault was not injected"
    assert res["steps"] == [4, 4] and res["same"], res
    assert {"model.safetensors", "lineage.json", "train_config.yaml"} <= set(res["files"])
    assert sum("optim_states" in n for n in res["files"]) >= 2  # each rank's ZeRO shard, from its own node
    for node, (work, left) in leftovers.items():
        assert work == [], f"{node} wrote into its working dir: {work[:5]}"
        assert left == [], f"{node} left run files in its TMPDIR: {left[:5]}"
    assert _files(client / "work") == []  # the driver too writes nothing local outside caches
