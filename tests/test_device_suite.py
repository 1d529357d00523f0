"""``benchmarks/device_suite.sh``, the one prepared run of the GPU benchmarks, in its CPU smoke mode: every step's
code path (the device branch of ``codec_encode.py``, ``model_step.py --gpu``, ``generate_speed.py --gpu``) runs,
its BENCH lines are collected, and a step that overruns its limit is recorded without costing the others."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "benchmarks" / "device_suite.sh"


def _run(out: Path, **limits: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "SUITE_DEVICE": "cpu", "PYTHON": sys.executable,  # this venv: no wheels to install
           "SUITE_BUNDLE": str(out / "no-bundle"), **limits}
    return subprocess.run(["bash", str(SUITE), str(out)], env=env, capture_output=True, text=True, timeout=600)


def _steps(bench: str) -> dict[str, int]:
    return {f.split()[1]: int(f.split()[2].removeprefix("rc=")) for f in bench.splitlines() if f.startswith("# ")}


@pytest.mark.slow  # ~40 s: the codec step calibrates a full-size codec on 45 s of speech
def test_smoke_run_collects_every_bench_line(tmp_path):
    r = _run(tmp_path)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    bench = (tmp_path / "bench.txt").read_text()
    names = [line.split()[1] for line in bench.splitlines() if line.startswith("BENCH ")]
    assert names == ["codec_encode_gpu", "codec_encode_device_agreement", "model_step_gpu", "generate_speed"], bench
    assert _steps(bench) == {"codec_encode": 0, "model_step": 0, "generate_speed": 0}
    # the agreement of the device path with the CPU encode: on the CPU, fp32 is the same arithmetic
    assert "fp32_code_diffs=0/12000" in bench and "fp32_ieee_code_diffs=0/12000" in bench
    assert "torch" in (tmp_path / "env.txt").read_text()
    assert bench in r.stdout  # printed at the end: a device call returns only its output's tail


def test_a_step_over_its_limit_is_recorded_and_the_rest_still_run(tmp_path):
    r = _run(tmp_path, SUITE_CODEC_S="1")
    assert r.returncode == 1
    bench = (tmp_path / "bench.txt").read_text()
    assert _steps(bench) == {"codec_encode": 124, "model_step": 0, "generate_speed": 0}, bench
    assert "BENCH model_step_gpu" in bench and "BENCH generate_speed" in bench
    assert (tmp_path / "codec_encode.log").exists()
