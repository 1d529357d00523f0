"""``workflow run --run-dir s3://...`` with no ``--work-dir``: every step output is a URI in the bucket.

``${run_dir}`` becomes the URI, each step writes node-local scratch that the runner uploads to
``RUN/steps/<step>/<key>``, downstream steps read URIs, and nothing but caches is left on the node.
"""

import os
from pathlib import Path

from conftest_s3 import s3_bucket, s3_env, s3_server  # noqa: F401  (fixtures)
from tests.workflows.test_wf_runner import SRC, run, wf
from tests.workflows.wf_stepfns import calls
from uniaudio.stores import uri as uris
from workflows.state import RunStore

SUBST = {"c": {"kind": SRC, "outputs": ["text"], "config": {"text": "${run_dir}/tokens"}}}


def _local_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_outputs_live_in_the_bucket(s3_bucket, tmp_path, monkeypatch):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("WF_CALLS_FILE", str(tmp_path / "calls.jsonl"))
    run_dir = f"{s3_bucket}/runs/t"
    r1 = run(wf(extra=SUBST), run_dir)
    assert r1.ok and r1.ran == ["a", "b", "ua", "ub", "both", "after_ub", "c"]
    for sid, outs in r1.outputs.items():  # every output a URI under RUN/steps/<step>/<key>
        state = RunStore(run_dir).load_step(sid)
        assert outs["text"].startswith(f"{run_dir}/steps/{sid}/{state.key}/"), outs
    assert uris.read_text(r1.outputs["both"]["text"]) == "X|Y"  # read from URIs, written as a URI
    assert uris.read_text(r1.outputs["c"]["text"]) == f"{run_dir}/tokens"  # ${run_dir} is the URI itself
    names = {n for n, _ in uris.list_files(run_dir)}
    assert {"logs/a.log", "logs/both.log"} <= names
    assert _local_files(cwd) == []  # no "s3:" folder, nothing else in the working dir
    cache = Path(os.environ["UNIAUDIO_CACHE_DIR"])
    assert [f for f in _local_files(cache) if "/scratch/" in f] == []  # scratch removed after the upload

    n_calls = len(calls(run_dir))
    r2 = run(wf(extra=SUBST), run_dir)
    assert r2.ok and r2.ran == [] and len(calls(run_dir)) == n_calls

    r3 = run(wf(b_text="z", extra=SUBST), run_dir)  # only b and what depends on it
    assert r3.ok and r3.ran == ["b", "ub", "both", "after_ub"]
    assert uris.read_text(r3.outputs["both"]["text"]) == "X|Z"

    fs, path = uris.filesystem(r3.outputs["ua"]["text"])
    fs.delete_file(path)  # an output gone from the bucket: its step runs again (and only it)
    r4 = run(wf(b_text="z", extra=SUBST), run_dir)
    assert r4.ok and r4.ran == ["ua"]
