"""`make demo`'s script end to end on the embedded default (local Ray, MLflow sqlite in the run dir),
at toy step counts: every task gets its output, the closing lines say where everything is, and a
second run skips every step."""

import json
import os
import subprocess
from pathlib import Path

import pytest

from uniaudio.evaluate.results import output_kind

pytestmark = [pytest.mark.slow, pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]


def _demo(out: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "DEMO_OUT": str(out),
           "DEMO_ARGS": "--set vars.codec_steps=4 --set vars.lm_steps=4 --set steps.semantic.config.k=8"}
    env.pop("MLFLOW_TRACKING_URI", None)
    env.pop("RAY_ADDRESS", None)
    return subprocess.run(["bash", "infra/scripts/demo.sh"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=1800)


def test_make_demo_script_end_to_end(tmp_path):
    out = tmp_path / "demo_out"
    p = _demo(out)
    text = p.stdout + p.stderr
    assert p.returncode == 0, text[-6000:]
    lines = {line.split(":", 1)[0].strip(): line for line in p.stdout.splitlines() if ":" in line}
    samples = Path(lines["generated samples"].split(":", 1)[1].split()[0])
    table = Path(lines["evaluation table"].split(":", 1)[1].strip())
    assert samples.is_dir() and table.is_file() and samples.is_relative_to(out)
    assert f"mlflow ui --backend-store-uri sqlite:///{out.resolve()}/mlflow.db --host 127.0.0.1" in lines["MLflow UI"]

    results = [json.loads(x) for x in (samples.parent / "results.jsonl").read_text().splitlines()]
    from uniaudio.tasks import TASKS

    assert {r["task"] for r in results} == set(TASKS)  # every task produced its output
    for r in results:
        if output_kind(r["task"]) == "audio":
            assert (samples.parent / r["output"]).is_file() or Path(r["output"]).is_file(), r
    assert "model,tts,wer" in table.read_text()

    again = _demo(out)
    assert again.returncode == 0
    assert "ran 0, skipped 19, failed 0" in again.stdout
