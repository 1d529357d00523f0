"""The runner with small real step functions: keys, skip, retry, history, forced re-runs, selection."""

import json
from pathlib import Path

import pytest

from tests.workflows.wf_stepfns import calls
from workflows.dag import parse_workflow
from workflows.runner import run_workflow
from workflows.state import RunStore

SRC = "tests.workflows.wf_stepfns:source"
UP = "tests.workflows.wf_stepfns:upper"


def wf(b_text="y", fail_flag=None, extra=None):
    steps = {
        "a": {"kind": SRC, "outputs": ["text"], "config": {"text": "x"}},
        "b": {"kind": SRC, "outputs": ["text"], "config": {"text": b_text}},
        "ua": {"kind": UP, "outputs": ["text"], "inputs": {"text": "a.text"}},
        "ub": {"kind": UP, "outputs": ["text"], "inputs": {"text": "b.text"},
               "config": {"fail_if": fail_flag} if fail_flag else {}},
        "both": {"kind": UP, "outputs": ["text"], "inputs": {"text": ["a.text", "b.text"]}},
        "after_ub": {"kind": UP, "outputs": ["text"], "inputs": {"text": "ub.text"}},
    }
    steps.update(extra or {})
    return parse_workflow({"name": "t", "steps": steps})


def keys(run_dir) -> dict:
    store = RunStore(run_dir)
    return {sid: store.load_step(sid).key for sid in store.step_ids()}


def run(w, d, **kw):
    return run_workflow(w, d, mlflow=False, log=lambda m: None, **kw)


def test_first_run_then_rerun_skips_everything(tmp_path):
    r1 = run(wf(), tmp_path)
    assert r1.ok and r1.ran == ["a", "b", "ua", "ub", "both", "after_ub"] and not r1.skipped
    assert Path(r1.outputs["both"]["text"]).read_text() == "X|Y"
    n_calls = len(calls(tmp_path))
    r2 = run(wf(), tmp_path)
    assert r2.ok and r2.ran == [] and r2.skipped == r1.ran
    assert len(calls(tmp_path)) == n_calls  # no step function was called again
    rec = RunStore(tmp_path).workflow()
    assert [i["n"] for i in rec["invocations"]] == [1, 2]
    assert rec["invocations"][1]["skipped"] == r1.ran and rec["invocations"][1]["status"] == "ok"


def test_changing_one_input_changes_only_downstream_keys(tmp_path):
    run(wf(), tmp_path)
    k1 = keys(tmp_path)
    before = len(calls(tmp_path))
    r = run(wf(b_text="z"), tmp_path)
    k2 = keys(tmp_path)
    changed = {s for s in k1 if k1[s] != k2[s]}
    assert changed == {"b", "ub", "both", "after_ub"}
    assert set(r.ran) == changed and set(r.skipped) == {"a", "ua"}
    assert sorted(calls(tmp_path)[before:]) == sorted(changed)
    assert Path(r.outputs["both"]["text"]).read_text() == "X|Z"


def test_identity_not_path_drives_downstream_keys(tmp_path):
    """Forcing a step that produces the same content leaves every downstream key (and step) alone."""
    run(wf(), tmp_path)
    k1 = keys(tmp_path)
    r = run(wf(), tmp_path, force=["b"])
    assert r.ran == ["b"] and keys(tmp_path) == k1


def test_failed_step_is_retried_without_redoing_predecessors(tmp_path):
    flag = tmp_path / "FAIL"
    flag.write_text("1")
    r1 = run(wf(fail_flag=str(flag)), tmp_path / "run")
    assert not r1.ok and list(r1.failed) == ["ub"] and "asked to fail" in r1.failed["ub"]
    assert r1.blocked == ["after_ub"]
    assert set(r1.ran) == {"a", "b", "ua", "both"}  # independent steps went on
    st = RunStore(tmp_path / "run").load_step("ub")
    assert st.status == "failed" and "asked to fail" in st.error
    log = (tmp_path / "run" / "logs" / "ub.log").read_text()
    assert "RuntimeError: asked to fail" in log  # the traceback is in the step's log
    before = len(calls(tmp_path / "run"))
    flag.unlink()
    r2 = run(wf(fail_flag=str(flag)), tmp_path / "run")
    assert r2.ok and r2.ran == ["ub", "after_ub"] and set(r2.skipped) == {"a", "b", "ua", "both"}
    assert calls(tmp_path / "run")[before:] == ["ub", "after_ub"]
    assert RunStore(tmp_path / "run").load_step("ub").attempts == 2


def test_step_retries_within_one_run(tmp_path):
    flag = tmp_path / "FAIL"
    flag.write_text("1")
    w = wf(fail_flag=str(flag))
    w.steps["ub"].retries = 1
    r = run(w, tmp_path / "run", targets=["ub"])
    assert list(r.failed) == ["ub"] and calls(tmp_path / "run").count("ub") == 2


def test_reverting_a_change_reuses_the_earlier_result(tmp_path):
    run(wf(), tmp_path)
    run(wf(b_text="z"), tmp_path)
    before = len(calls(tmp_path))
    r = run(wf(), tmp_path)  # back to "y": every key was seen before, outputs still on disk
    assert r.ran == [] and len(calls(tmp_path)) == before
    assert Path(r.outputs["both"]["text"]).read_text() == "X|Y"
    assert RunStore(tmp_path).load_step("b").outputs == r.outputs["b"]


def test_outputs_links_follow_the_current_key(tmp_path):
    run(wf(), tmp_path)
    assert (tmp_path / "outputs" / "both" / "upper.txt").read_text() == "X|Y"
    run(wf(b_text="z"), tmp_path)
    assert (tmp_path / "outputs" / "both" / "upper.txt").read_text() == "X|Z"
    assert (tmp_path / "outputs" / "a").resolve() == (tmp_path / "steps" / "a" / keys(tmp_path)["a"]).resolve()


def test_steps_writing_shared_stores_never_reuse_older_results(tmp_path):
    def shared(text):
        return parse_workflow({"name": "t", "steps": {
            "w": {"kind": "tests.workflows.wf_stepfns:SHARED_WRITE", "config": {"text": text}}}})

    run(shared("y"), tmp_path)
    run(shared("z"), tmp_path)
    r = run(shared("y"), tmp_path)  # the key was seen, but the shared file now says "z": run again
    assert r.ran == ["w"] and (tmp_path / "shared.txt").read_text() == "y"
    assert run(shared("y"), tmp_path).skipped == ["w"]  # the current result is still re-used


def test_missing_outputs_are_rebuilt(tmp_path):
    r1 = run(wf(), tmp_path)
    Path(r1.outputs["ua"]["text"]).unlink()
    r2 = run(wf(), tmp_path)
    assert r2.ran == ["ua"]


def test_only_runs_a_target_and_what_it_needs(tmp_path):
    r = run(wf(), tmp_path, targets=["ub"])
    assert r.ran == ["b", "ub"]
    with pytest.raises(Exception, match="no step 'nope'"):
        run(wf(), tmp_path, targets=["nope"])


def test_state_files_are_complete_json_and_history_is_bounded(tmp_path):
    for i in range(12):
        run(wf(b_text=f"v{i}"), tmp_path)
    st = RunStore(tmp_path).load_step("b")
    assert st.status == "done" and len(st.history) == 8
    assert not list(tmp_path.rglob("*.tmp"))  # atomic writes leave no temp files
    for p in (tmp_path / "steps").glob("*.json"):
        json.loads(p.read_text())


def test_fingerprint_failure_fails_only_that_step(tmp_path):
    extra = {"spec": {"kind": "dataset_spec", "config": {"path": str(tmp_path / "missing.yaml")}}}
    r = run(wf(extra=extra), tmp_path / "run")
    assert list(r.failed) == ["spec"] and "missing.yaml" in r.failed["spec"]
    assert set(r.ran) == {"a", "b", "ua", "ub", "both", "after_ub"}
