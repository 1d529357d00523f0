"""``workflow run --run-dir s3://...``: the run state (workflow.json, dag.yaml, steps/*.json) lives in the
bucket, and a second invocation reads it back and runs no step."""

from pathlib import Path

from conftest_s3 import s3_bucket, s3_env, s3_server  # noqa: F401  (fixtures)
from tests.workflows.test_wf_runner import run, wf
from tests.workflows.wf_stepfns import calls
from uniaudio.stores import uri as uris
from workflows.state import RunStore


def test_run_state_in_the_bucket_and_rerun_skips(s3_bucket, tmp_path):
    run_dir = f"{s3_bucket}/runs/t"
    r1 = run(wf(), run_dir, work_dir=tmp_path / "work")
    assert r1.ok and r1.ran == ["a", "b", "ua", "ub", "both", "after_ub"]
    names = [n for n, _ in uris.list_files(run_dir)]
    assert {"workflow.json", "dag.yaml"} <= set(names) and sum(n.startswith("steps/") for n in names) == 6
    assert Path(r1.outputs["both"]["text"]).read_text() == "X|Y"
    n_calls = len(calls(tmp_path / "work"))
    r2 = run(wf(), run_dir, work_dir=tmp_path / "work")
    assert r2.ok and r2.ran == [] and r2.skipped == r1.ran and len(calls(tmp_path / "work")) == n_calls
    assert [i["n"] for i in RunStore(run_dir).workflow()["invocations"]] == [1, 2]
