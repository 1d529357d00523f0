"""``workflows/demo.yaml`` submitted to the share-nothing loopback cluster with ``--run-dir s3://...``.

Head and worker each have their own working dir, TMPDIR and HOME (``infra.local.cluster --isolated``,
token auth) and share only the loopback S3 bucket. The DAG (small: 2 codec / LM steps, two datasets)
must succeed with every artifact in the bucket and nothing written under any node's working dir;
re-submitting runs no step; adding a dataset re-runs only what depends on it.

Slow (a 2-node cluster and three submissions of the demo DAG): ``make test-all``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest_infra import _REPO  # noqa: F401  (puts the checkout on sys.path)
from conftest_s3 import s3_bucket, s3_env, s3_server  # noqa: F401  (fixtures)
from infra.local.cluster import start_cluster, stop_cluster

pytestmark = [pytest.mark.slow, pytest.mark.integration]

SMALL = ["vars.codec_steps=2", "vars.lm_steps=2", "steps.generate.config.min_tasks=1"]
INDEPENDENT = {"corpus", "codec", "semantic", "requests"}  # do not depend on the dataset list


def _files(d: Path) -> list[str]:
    return sorted(str(p.relative_to(d)) for p in d.rglob("*") if p.is_file())


def _submit(env: dict, cwd: Path, info, run_dir: str, datasets: list[str]) -> tuple[float, str]:
    args = [sys.executable, "-m", "uniaudio.cli", "workflow", "submit", "workflows/demo.yaml",
            "--address", info.dashboard_url, "--run-dir", run_dir, "--wait", "--python", sys.executable,
            "--token-file", info.token_path]
    for s in SMALL + [f"vars.datasets={json.dumps(datasets)}"]:
        args += ["--set", s]
    t0 = time.time()
    p = subprocess.run(args, env=env, cwd=_REPO, capture_output=True, text=True, timeout=2400)
    assert p.returncode == 0, (p.stdout[-6000:], p.stderr[-4000:])
    return time.time() - t0, p.stdout


def test_demo_dag_on_a_share_nothing_cluster(s3_server, s3_bucket, s3_env, tmp_path):
    from uniaudio.stores import uri as uris
    from workflows.state import RunStore

    state = tmp_path / "cluster"
    node_env = {k: v for k, v in s3_env.items() if k != "UNIAUDIO_CACHE_DIR"}
    ext = os.environ.get("TORCH_EXTENSIONS_DIR") or str(Path.home() / ".cache" / "torch_extensions")
    info = start_cluster(state, workers=1, head_cpus=1, worker_cpus=1, isolated=True,
                         node_env={**node_env, "TORCH_EXTENSIONS_DIR": ext, "DS_ACCELERATOR": "cpu",
                                   "OMP_NUM_THREADS": "1"})
    client = tmp_path / "client"
    for d in ("home", "tmp"):
        (client / d).mkdir(parents=True)
    env = {**os.environ, **node_env, "HOME": str(client / "home"), "TMPDIR": str(client / "tmp"),
           "UNIAUDIO_CACHE_DIR": str(client / "home" / "cache"), "PYTHONPATH": str(_REPO)}
    homes = {n.role: Path(n.home) for n in info.nodes}
    run_dir = f"{s3_bucket}/run"
    two, three = ["real_speech", "music"], ["real_speech", "music", "sfx"]
    try:
        t1, out1 = _submit(env, client, info, run_dir, two)
        work_left = {role: _files(base / "work") for role, base in homes.items()}
        t2, _ = _submit(env, client, info, run_dir, two)
        t3, _ = _submit(env, client, info, run_dir, three)
    finally:
        stop_cluster(state)
    print(f"TIMES first={t1:.0f}s resubmit={t2:.0f}s add_dataset={t3:.0f}s")
    store = RunStore(run_dir)
    inv = store.workflow()["invocations"]
    assert [i["status"] for i in inv] == ["ok", "ok", "ok"], inv
    assert inv[1]["ran"] == [], inv[1]  # re-submitting runs no step
    assert set(inv[2]["ran"]) == {"tokenize[sfx]", "examples", "lm", "generate", "evaluate"}, inv[2]["ran"]
    assert not INDEPENDENT & set(inv[2]["ran"])
    for sid in store.step_ids():  # every artifact is in the bucket
        st = store.load_step(sid)
        for v in _strings(st.outputs):
            if "/" in v:
                assert v.startswith(s3_bucket + "/"), (sid, v)
                assert uris.exists(v), (sid, v)
    names = {n for n, _ in uris.list_files(run_dir)}
    assert any(n.startswith("tokens/_delta_log/") for n in names) and any("/model/model.safetensors" in n for n in names)
    for role, left in work_left.items():
        assert left == [], f"{role} wrote into its working dir: {left[:5]}"


def _strings(v) -> list[str]:
    from workflows.step_io import strings

    return strings(v)
