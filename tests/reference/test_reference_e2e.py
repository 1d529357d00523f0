"""End to end through the CLI, as docs/REFERENCE_MODELS.md walks it: import the golden published codec and
LM, generate a TTS sample with the imported models, and fine-tune the imported LM for 2 steps with
``train --init-from`` on a small real example store. Each command runs in its own process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.reference.ref_helpers import ASSETS, LM_EXP

pytestmark = [pytest.mark.slow, pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]


def cli(*args, env) -> str:
    p = subprocess.run([sys.executable, "-m", "uniaudio", *map(str, args)], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=1500)
    assert p.returncode == 0, (args, p.stdout[-3000:], p.stderr[-3000:])
    return p.stdout


def test_import_generate_and_finetune(tmp_path):
    import numpy as np
    from safetensors.torch import load_file

    from tests.train.helpers import make_example_store
    from uniaudio.audio import read_audio, write_audio

    env = {**os.environ, "DS_ACCELERATOR": "cpu", "OMP_NUM_THREADS": "1",
           "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/mlflow.db"}
    env.pop("RAY_ADDRESS", None)
    codec, lm = tmp_path / "codec", tmp_path / "lm"
    cli("import-reference", "codec", ASSETS / "codec", "--out", codec, env=env)
    out = cli("import-reference", "lm", LM_EXP, "--out", lm, "--codec", codec, env=env)
    assert "3720 of 3810 published ids translated" in out
    assert json.loads((lm / "lineage.json").read_text())["codec_dir"] == str(codec.resolve())

    t = np.arange(3 * 16000) / 16000
    write_audio(tmp_path / "prompt.wav", (0.2 * np.sin(2 * np.pi * 220 * t)).astype(np.float32))
    wav = tmp_path / "tts.wav"
    out = cli("generate", "--task", "tts", "--model", lm, "--text", "Hello there.", "--prompt", tmp_path / "prompt.wav",
              "-o", wav, env=env)
    assert "s of audio ->" in out and wav.is_file()
    samples, rate = read_audio(str(wav))
    assert rate == 16000 and samples.shape[-1] >= 320 and np.isfinite(samples).all()

    examples = make_example_store(str(tmp_path / "examples"), n=16, cont_dim=768)
    ft = tmp_path / "ft"
    out = cli("train", "--examples", examples, "--out", ft, "--preset", "tiny", "--steps", "2", "--workers", "1",
              "--init-from", lm, "--set", "checkpoint_every=100000", "--set", "validate_every=100000", env=env)
    assert "trained 2 steps from" in out
    lineage = json.loads((ft / "lineage.json").read_text())
    assert lineage["init_from"]["path"] == str(lm) and lineage["steps"] == 2
    cfg = json.loads((ft / "model_config.json").read_text())
    assert (cfg["key_bias"], cfg["frame_embedding"], cfg["max_frames"]) == (False, "concat", 256)
    base, tuned = load_file(str(lm / "model.safetensors")), load_file(str(ft / "model.safetensors"))
    assert base.keys() == tuned.keys()
    assert any(not (base[k] == tuned[k]).all() for k in base)  # the 2 steps moved the weights
