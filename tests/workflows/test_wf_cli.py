"""``uniaudio workflow run|status|logs`` through the CLI entry point (in-process)."""

import json

import yaml

from uniaudio.cli import main

SRC = "tests.workflows.wf_stepfns:source"
UP = "tests.workflows.wf_stepfns:upper"


def write_dag(path, fail_flag=None):
    path.write_text(yaml.safe_dump({"name": "cli", "vars": {"items": ["p", "q"]}, "steps": {
        "a": {"kind": SRC, "outputs": ["text"], "foreach": "${vars.items}", "config": {"text": "t-${item}"}},
        "b": {"kind": UP, "outputs": ["text"], "inputs": {"text": "a[*].text"},
              "config": {"fail_if": str(fail_flag)} if fail_flag else {}},
    }}))
    return str(path)


def test_run_status_logs_and_resubmit(tmp_path, capsys):
    flag = tmp_path / "FAIL"
    flag.write_text("1")
    dag = write_dag(tmp_path / "dag.yaml", flag)
    run_dir = str(tmp_path / "run")
    assert main(["workflow", "run", dag, "--run-dir", run_dir, "--no-mlflow"]) == 1
    out = capsys.readouterr().out
    assert "[3/3] b: FAILED" in out and "FAILED b: RuntimeError: asked to fail" in out
    assert f"uniaudio workflow logs {run_dir} b" in out

    assert main(["workflow", "status", run_dir]) == 1  # a failed step: non-zero, for scripts
    out = capsys.readouterr().out
    assert "workflow cli in" in out and "failed" in out and "asked to fail" in out

    assert main(["workflow", "logs", run_dir, "b", "--tail", "3"]) == 0
    assert "asked to fail" in capsys.readouterr().out

    flag.unlink()
    assert main(["workflow", "run", dag, "--run-dir", run_dir, "--no-mlflow"]) == 0
    out = capsys.readouterr().out
    assert "a[p]: skipped (done" in out and "a[q]: skipped (done" in out and "[3/3] b: running" in out
    assert "skipped (already done): a[p], a[q]" in out

    assert main(["workflow", "status", run_dir, "--json"]) == 0
    st = json.loads(capsys.readouterr().out)
    assert [s["status"] for s in st["steps"]] == ["done", "done", "done"]
    assert st["latest"]["ran"] == ["b"] and st["latest"]["n"] == 2

    assert main(["workflow", "run", dag, "--run-dir", run_dir, "--no-mlflow", "--set", "vars.items=[p,q,r]"]) == 0
    out = capsys.readouterr().out
    assert "ran: a[r], b" in out


def test_dry_run_and_bad_dag_messages(tmp_path, capsys):
    dag = write_dag(tmp_path / "dag.yaml")
    assert main(["workflow", "run", dag, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "workflow cli: 3 steps" in out and "b" in out and "a[p].text" in out
    assert main(["workflow", "run", dag, "--dry-run", "--set", "steps.b.inputs.text=c.text"]) == 2
    assert "steps.b.inputs.text: unknown step 'c'" in capsys.readouterr().err
    assert main(["workflow", "status", str(tmp_path)]) == 2
    assert "not a workflow run directory" in capsys.readouterr().err
