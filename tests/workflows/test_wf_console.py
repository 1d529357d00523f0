"""The quiet console of ``uniaudio workflow run`` (a real subprocess, real Ray, real MLflow sqlite):
a few lines per step on the console, third-party output only in the step logs, ``-v`` brings it back."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
NOISY = "tests.workflows.wf_stepfns:NOISY_LOOP"
#: what third-party output looks like on a console (Ray's worker prefix, logging/warnings, tqdm)
THIRD_PARTY = ("(pid=", "raylet", "UserWarning", "WARNING", "INFO ", "it/s]", "Token authentication", "deepspeed")


def _run(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    dag = tmp_path / "dag.yaml"
    dag.write_text(yaml.safe_dump({"name": "quiet", "ray": {"num_cpus": 1}, "steps": {
        "first": {"kind": NOISY, "config": {"n": 40}},
        "second": {"kind": NOISY, "inputs": {"after": "first.text"}, "config": {"n": 12}},
    }}))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "uniaudio", "workflow", "run", str(dag), "--run-dir",
                           str(tmp_path / "run"), *extra], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)


@pytest.mark.integration
def test_console_is_a_few_lines_per_step_and_logs_keep_the_rest(tmp_path):
    res = _run(tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    console = (res.stdout + res.stderr).splitlines()
    first = [ln for ln in console if ln.startswith("[1/2] first")]
    second = [ln for ln in console if ln.startswith("[2/2] second")]
    assert any("first: running" in ln for ln in first) and any("first: done" in ln for ln in first)
    assert any("second: done in" in ln and "12 rounds" in ln for ln in second)
    assert len(first) <= 6 and len(second) <= 6, "\n".join(console)  # start, <= 3 progress lines, done
    assert any("first:" in ln and "/40 " in ln for ln in first)  # progress of the Ray worker's loop
    assert not [ln for ln in console if any(t in ln for t in THIRD_PARTY)], "\n".join(console)
    assert any(ln.strip().startswith("first") for ln in console if ln.startswith("  "))  # the time table
    log = (tmp_path / "run" / "logs" / "first.log").read_text()
    assert "noisy worker says hello" in log and "noisy third-party warning" in log and "step 40/40" in log
    assert "noisy child process banner" in log  # written straight to fd 1 by a child process


@pytest.mark.integration
def test_verbose_brings_the_output_back(tmp_path):
    res = _run(tmp_path, "-v")
    assert res.returncode == 0, res.stdout + res.stderr
    text = res.stdout + res.stderr
    assert "noisy worker says hello" in text and "noisy third-party warning" in text
