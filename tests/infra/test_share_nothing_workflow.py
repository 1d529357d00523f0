"""The demo DAG submitted to the share-nothing loopback cluster with its run dir in the bucket.

Why: on a cluster whose nodes share nothing but an object store, a step that writes a local file on
one node and reads it on another fails only there. Here head and worker run in their own sandboxes
(``infra.local.cluster --isolated``, token auth), the run dir is ``s3://bucket/run`` and no ``--work-dir``
is given: the run must succeed, every step output must be a URI in the bucket, no node's working dir
gets a file, re-submitting runs nothing and adding a dataset runs only its tokenization and what
depends on it.

Slow (a 2-node cluster, the toy demo three times): ``make test-all``.
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

SETS = ["vars.codec_steps=4", "vars.lm_steps=4", "steps.semantic.config.k=8",
        "steps.requests.config.tasks=[text_to_sound,se,text_to_music]", "steps.codec.config.cpus_per_worker=0.5"]
UPSTREAM = {"corpus", "codec", "semantic", "tokenize[sfx]", "tokenize[sim_se]", "requests"}
DOWNSTREAM = {"examples", "lm", "generate", "evaluate"}


def _files(d: Path) -> list[str]:
    return sorted(str(p.relative_to(d)) for p in d.rglob("*") if p.is_file())


def _submit(info, run_dir: str, env: dict, datasets: str) -> tuple[int, str]:
    args = [sys.executable, "-m", "uniaudio", "workflow", "submit", "workflows/demo.yaml", "--address",
            info.dashboard_url, "--run-dir", run_dir, "--wait", "--python", sys.executable, "--timeout", "1400",
            "--token-file", info.token_path, "--set", f"vars.datasets={datasets}"]
    for s in SETS:
        args += ["--set", s]
    p = subprocess.run(args, env=env, cwd=_REPO, capture_output=True, text=True, timeout=1500)
    return p.returncode, p.stdout + p.stderr


def test_demo_dag_in_a_bucket_on_a_share_nothing_cluster(s3_server, s3_bucket, s3_env, tmp_path):
    from uniaudio.stores import uri as uris
    from workflows.state import RunStore

    state = tmp_path / "cluster"
    node_env = {k: v for k, v in s3_env.items() if k != "UNIAUDIO_CACHE_DIR"}
    ext = os.environ.get("TORCH_EXTENSIONS_DIR") or str(Path.home() / ".cache" / "torch_extensions")
    info = start_cluster(state, workers=1, head_cpus=2, worker_cpus=2, isolated=True,
                         node_env={**node_env, "TORCH_EXTENSIONS_DIR": ext, "DS_ACCELERATOR": "cpu",
                                   "OMP_NUM_THREADS": "1", "PYTHONPATH": str(_REPO)})
    env = {**os.environ, **info.client_env(), **node_env, "PYTHONUNBUFFERED": "1"}
    env.pop("RAY_ADDRESS", None)  # the client talks to the Jobs API; the job's driver gets its own
    env.pop("MLFLOW_TRACKING_URI", None)
    run_dir = f"{s3_bucket}/run"
    homes = {n.role: Path(n.home) for n in info.nodes}
    try:
        rc, out1 = _submit(info, run_dir, env, "[sfx,sim_se]")
        assert rc == 0 and "SUCCEEDED" in out1, out1[-6000:]
        rc, out2 = _submit(info, run_dir, env, "[sfx,sim_se]")
        assert rc == 0, out2[-6000:]
        rc, out3 = _submit(info, run_dir, env, "[sfx,sim_se,music]")
        assert rc == 0, out3[-6000:]
        left = {role: _files(base / "work") for role, base in homes.items()}
    finally:
        stop_cluster(state)
    store = RunStore(run_dir)
    first, second, third = store.workflow()["invocations"][-3:]
    assert first["status"] == "ok" and set(first["ran"]) == UPSTREAM | DOWNSTREAM, first
    assert second["ran"] == [] and sorted(second["skipped"]) == sorted(first["ran"]), second
    assert set(third["ran"]) == {"tokenize[music]"} | DOWNSTREAM, third
    assert UPSTREAM <= set(third["skipped"])
    names = {n for n, _ in uris.list_files(run_dir)}
    for sid in store.step_ids():  # every output a URI in the bucket, and there
        st = store.load_step(sid)
        for name, value in st.outputs.items():
            vals = [value] if isinstance(value, str) else [v for v in (value.values() if isinstance(value, dict)
                                                                       else value) if isinstance(v, str)]
            for v in vals:
                if "/" in v:
                    assert v.startswith(run_dir + "/"), (sid, name, v)
                    assert uris.exists(v), (sid, name, v)
    assert any(n.startswith("tokens/") for n in names) and any("/model/model.safetensors" in n for n in names)
    assert {"logs/codec.log", "logs/lm.log", "logs/evaluate.log"} <= names
    for role, work in left.items():
        assert work == [], f"{role} wrote into its working dir: {work[:5]}"
    print("STEPS " + json.dumps([{k: inv.get(k) for k in ("ran", "seconds")} for inv in (first, second, third)]))
