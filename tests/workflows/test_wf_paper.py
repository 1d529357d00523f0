"""workflows/paper.yaml at toy scale on the demo corpus: stage 1 (7 base tasks), stage 2 fine-tuned from
stage 1's export on all 11 paper tasks with the earlier 7 re-sampled at 0.05; stage 2's logged task mix
matches the expected replay share within sampling error; re-submitting with a new stage-2 setting skips
stage 1."""

import math
import os
from pathlib import Path

import pytest

from workflows.dag import load_workflow
from workflows.runner import run_workflow
from workflows.state import RunStore

pytestmark = [pytest.mark.slow, pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
BASE = ("tts", "vc", "se", "tse", "svs", "text_to_sound", "text_to_music")
TOY = ["vars.codec_steps=4", "vars.stage1_steps=3", "steps.semantic.config.k=8",
       "vars.datasets=[real_speech, sfx, music, sim_se, sim_dereverb, sim_speech_edit]"]


def _mix(run_dir: Path, run_id: str) -> tuple[dict, dict]:
    from mlflow.tracking import MlflowClient

    c = MlflowClient(tracking_uri=f"sqlite:///{run_dir}/mlflow.db")
    m = c.get_run(run_id).data.metrics
    return ({k.split("/", 1)[1]: v for k, v in m.items() if k.startswith("mix_expected/")},
            {k.split("/", 1)[1]: v for k, v in m.items() if k.startswith("mix/") and k != "mix/examples"}
            | {"__n": m["mix/examples"]})


def test_paper_two_stage_regime(tmp_path):
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    run_dir = tmp_path / "paper"
    wf = load_workflow(ROOT / "workflows" / "paper.yaml", TOY + ["vars.stage2_steps=40"])
    report = run_workflow(wf, run_dir, targets=["stage2"], log=lambda m: None)
    assert not report.failed, report.failed
    store = RunStore(run_dir)
    lm2 = store.load_step("stage2")
    expected, seen = _mix(run_dir, lm2.runs["lm"])
    old = sum(v for t, v in expected.items() if t in BASE)
    assert 0 < old < 0.5 and set(expected) - set(BASE)  # 0.05 x the base tasks' counts, renormalised
    n = seen.pop("__n")
    got = sum(v for t, v in seen.items() if t in BASE)
    sigma = math.sqrt(old * (1 - old) / n)
    print(f"stage 2 replayed share: expected {old:.4f}, logged {got:.4f} over {n:.0f} examples (sigma {sigma:.4f})")
    assert abs(got - old) <= 4 * sigma + 1 / n, (got, old, n)
    # stage 1 trained on the base tasks only, at their stored rates
    e1, _ = _mix(run_dir, store.load_step("stage1").runs["lm"])
    assert set(e1) <= set(BASE)
    # re-submission with a different replay rate: stage 1 (and everything before it) is skipped
    wf2 = load_workflow(ROOT / "workflows" / "paper.yaml", TOY + ["vars.stage2_steps=2", "vars.replay=0.1"])
    report2 = run_workflow(wf2, run_dir, targets=["stage2"], log=lambda m: None)
    assert not report2.failed and "stage1" in report2.skipped and "stage2" in report2.ran
