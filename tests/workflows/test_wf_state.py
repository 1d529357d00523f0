"""Run state: atomic JSON files on local paths and pyarrow filesystems, the run lock, status and logs."""

import json
import os
import socket
import subprocess
import sys

import pytest

from uniaudio.errors import UserFacingError
from workflows.dag import parse_workflow
from workflows.keys import canonical, step_key
from workflows.runner import run_workflow
from workflows.state import RunLock, RunStore, StepState
from workflows.status import format_status, run_status, step_logs

SRC = "tests.workflows.wf_stepfns:source"
UP = "tests.workflows.wf_stepfns:upper"


def small_wf(fail_flag=None):
    return parse_workflow({"name": "s", "steps": {
        "a": {"kind": SRC, "outputs": ["text"], "config": {"text": "x"}, "foreach": ["p", "q"]},
        "b": {"kind": UP, "outputs": ["text"], "inputs": {"text": "a[*].text"},
              "config": {"fail_if": fail_flag} if fail_flag else {}},
    }})


def test_step_state_round_trip_local_and_file_uri(tmp_path):
    for uri in (str(tmp_path / "r"), (tmp_path / "r2").as_uri()):
        store = RunStore(uri)
        st = StepState("tok[a]", "tokenize", key="k1", status="done", outputs={"table": {"version": 3}},
                       history={"k1": {"outputs": {"table": {"version": 3}}}})
        store.save_step(st)
        assert store.load_step("tok[a]") == st
        assert store.step_ids() == ["tok[a]"]
        assert (store.local / "steps" / "tok@a.json").is_file()


def test_state_on_a_pyarrow_filesystem_uri():
    """The non-local code path (pyarrow.fs): Arrow's in-memory filesystem behind a mock:// URI."""
    store = RunStore("mock:///runs/r1")
    assert store.local is None and not store.exists()
    store.save_step(StepState("a", "k", key="x", status="failed", error="boom"))
    n = store.start_invocation("wf", "h", "name: wf\n", {})
    assert n == 1 and store.exists() and store.read_text("dag.yaml") == "name: wf\n"
    assert store.load_step("a").error == "boom" and store.step_ids() == ["a"]
    with pytest.raises(UserFacingError, match="not local"):
        store.work_dir("a", "x")


def test_invocations_refuse_another_workflow(tmp_path):
    store = RunStore(tmp_path)
    store.start_invocation("one", "h", "", {})
    with pytest.raises(UserFacingError, match="belongs to workflow 'one'"):
        store.start_invocation("two", "h", "", {})


def test_corrupt_state_file_is_a_clear_error(tmp_path):
    store = RunStore(tmp_path)
    (tmp_path / "steps").mkdir()
    (tmp_path / "steps" / "a.json").write_text("{half")
    with pytest.raises(UserFacingError, match="corrupt state file"):
        store.load_step("a")


def test_run_lock_blocks_a_second_runner_and_takes_over_stale_locks(tmp_path):
    store = RunStore(tmp_path)
    with RunLock(store):
        with pytest.raises(UserFacingError, match="in use by pid"):
            with RunLock(store):
                pass
    assert not (tmp_path / "run.lock").exists()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / "run.lock").write_text(json.dumps({"host": socket.gethostname(), "pid": int(dead.stdout)}))
    with RunLock(store):  # the recorded process is gone: the lock is taken over
        assert json.loads((tmp_path / "run.lock").read_text())["pid"] == os.getpid()


def test_keys_are_canonical():
    assert canonical({"b": 1, "a": (1, 2)}) == '{"a":[1,2],"b":1}'
    with pytest.raises(ValueError, match="non-finite"):
        canonical({"x": float("nan")})
    base = step_key("k", 1, {"a": 1}, {"i": {"v": 1}})
    assert base == step_key("k", 1, {"a": 1}, {"i": {"v": 1}})
    assert len({base, step_key("k", 2, {"a": 1}, {"i": {"v": 1}}), step_key("k", 1, {"a": 2}, {"i": {"v": 1}}),
                step_key("k", 1, {"a": 1}, {"i": {"v": 2}}), step_key("k", 1, {"a": 1}, {"i": {"v": 1}}, "fp")}) == 5


def test_status_and_logs_of_a_run(tmp_path):
    flag = tmp_path / "FAIL"
    flag.write_text("1")
    run_workflow(small_wf(str(flag)), tmp_path / "run", mlflow=False, log=lambda m: None)
    st = run_status(str(tmp_path / "run"))
    assert [s.id for s in st.steps] == ["a[p]", "a[q]", "b"]
    assert [s.status for s in st.steps] == ["done", "done", "failed"]
    text = format_status(st)
    assert "latest run #1: failed" in text and "asked to fail" in text and "2 done, 1 failed" in text
    logs = step_logs(str(tmp_path / "run"), "b")
    assert "RuntimeError: asked to fail" in logs
    assert "a[p]" in step_logs(str(tmp_path / "run"), "a") and "a[q]" in step_logs(str(tmp_path / "run"), "a")
    with pytest.raises(UserFacingError, match="no step 'zz'"):
        step_logs(str(tmp_path / "run"), "zz")
    with pytest.raises(UserFacingError, match="not a workflow run directory"):
        run_status(str(tmp_path))


def test_a_step_left_running_by_a_killed_runner_is_shown_stale(tmp_path):
    run_workflow(small_wf(), tmp_path, mlflow=False, log=lambda m: None)
    store = RunStore(tmp_path)
    st = store.load_step("b")
    st.status = "running"
    store.save_step(st)
    shown = {s.id: s.status for s in run_status(str(tmp_path)).steps}
    assert shown["b"] == "stale" and "re-runs it" in format_status(run_status(str(tmp_path)))
    with RunLock(store):  # while a live runner holds the dir, "running" is what it is
        assert {s.id: s.status for s in run_status(str(tmp_path)).steps}["b"] == "running"
    r = run_workflow(small_wf(), tmp_path, mlflow=False, log=lambda m: None)
    assert r.ran == ["b"]
