"""The worked new task of docs/NEW_TASK.md end to end through the CLI, with no code for the task: speech
bandwidth extension declared in docs/examples/bandwidth_extension.yaml, pairs made by the ``bandlimit``
recipe chosen by name, tokenized, built into examples, a tiny v1 export fine-tuned for 2 steps with
--init-from (the task id row initialised, every shared row carried over), generation and evaluation.
Each command runs in its own process with UNIAUDIO_TASKS_FILE set, like a user's shell."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
BWE = ROOT / "docs" / "examples" / "bandwidth_extension.yaml"


def cli(*args, env):
    p = subprocess.run([sys.executable, "-m", "uniaudio", *map(str, args)], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=900)
    assert p.returncode == 0, (args, p.stdout[-3000:], p.stderr[-3000:])
    return p.stdout


def test_bandwidth_extension_from_yaml_only(tmp_path):
    import numpy as np
    import torch
    import yaml
    from safetensors.torch import load_file

    from uniaudio.audio import write_audio
    from uniaudio.model import build_model, get_preset
    from uniaudio.stores.exported import write_export

    # a tiny codec (as the pipeline tests make it) and a v1 base model
    from codec.config import preset
    from codec.export import export_codec
    from codec.model import CodecModel

    torch.manual_seed(0)
    ccfg = preset("tiny")
    cmodel = CodecModel(ccfg).train()
    t = np.arange(16000) / 16000
    rng = np.random.default_rng(0)
    waves = [(0.2 * np.sin(2 * np.pi * f * t) + 0.05 * np.sin(2 * np.pi * 3 * f * t)
              + 0.01 * rng.standard_normal(t.size)).astype(np.float32) for f in (150, 220, 330, 440, 660, 990)]
    with torch.no_grad():
        cmodel(torch.from_numpy(np.stack(waves)).unsqueeze(1), n_q=ccfg.quantizer.n_q)
    codec = export_codec(cmodel, ccfg, tmp_path / "codec")
    mcfg = get_preset("tiny")
    base = write_export(tmp_path / "base", build_model(mcfg).state_dict(), mcfg, {"run_id": "base"})

    data = tmp_path / "speech"
    (data / "wav").mkdir(parents=True)
    rows = []
    for i, w in enumerate(waves):
        write_audio(data / "wav" / f"u{i}.wav", np.tile(w, 2))
        rows.append({"utt_id": f"u{i}", "audio": f"wav/u{i}.wav", "speaker": f"s{i % 2}", "text": "hello"})
    (data / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({"datasets": [{"name": "speech", "reader": "manifest", "root": str(data),
                                                  "tasks": ["plain_tts"], "options": {}}]}))
    env = {**os.environ, "UNIAUDIO_TASKS_FILE": str(BWE), "DS_ACCELERATOR": "cpu", "OMP_NUM_THREADS": "1",
           "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/mlflow.db"}
    env.pop("RAY_ADDRESS", None)

    assert "bandwidth_extension" in cli("tasks", env=env)
    sim = tmp_path / "sim"
    out = cli("simulate", "--recipe", "bandlimit", "--spec", spec, "--from", "speech", "--name", "sim_bwe",
              "--tasks", "bandwidth_extension", "--out", sim, env=env)
    assert "6 pairs by bandlimit" in out
    tokens, examples = tmp_path / "tokens", tmp_path / "examples"
    doc = yaml.safe_load((sim / "spec.yaml").read_text())
    assert [d["name"] for d in doc["datasets"]] == ["speech", "sim_bwe"]
    only = tmp_path / "bwe_spec.yaml"
    only.write_text(yaml.safe_dump({"datasets": [d for d in doc["datasets"] if d["name"] == "sim_bwe"]}))
    cli("tokenize", only, "--store", tokens, "--codec", codec, env=env)
    cli("examples", "--tokens", tokens, "--out", examples, "--set", "valid_fraction=0", env=env)
    model = tmp_path / "model"
    out = cli("train", "--examples", examples, "--out", model, "--preset", "tiny", "--steps", "2", "--workers", "1",
              "--init-from", base, "--set", "checkpoint_every=100000", "--set", "validate_every=100000", env=env)
    lineage = json.loads((model / "lineage.json").read_text())
    assert lineage["init_from"]["new_vocab_rows"] == {"<task:bandwidth_extension>": 78}
    assert lineage["tasks_file"]["tasks"] == ["bandwidth_extension"]
    assert json.loads((model / "vocab.json").read_text())["extension"]["tasks"] == {"bandwidth_extension": 78}

    src = sim / "sim_bwe" / "wav" / "bandlimit-000000.source.wav"
    ref = sim / "sim_bwe" / "wav" / "bandlimit-000000.wav"
    req = tmp_path / "requests.jsonl"
    req.write_text(json.dumps({"task": "bandwidth_extension", "id": "b0", "source": str(src), "reference": str(ref)}) + "\n")
    gen = tmp_path / "gen"
    cli("generate", "--model", model, "--batch", req, "--out-dir", gen, "--set", "lengths.max_seconds=1.0", env=env)
    results = [json.loads(x) for x in (gen / "results.jsonl").read_text().splitlines()]
    assert results[0]["task"] == "bandwidth_extension" and Path(gen / results[0]["output"]).is_file() or \
        Path(results[0]["output"]).is_file()
    cli("evaluate", gen / "results.jsonl", "--out", tmp_path / "eval", "--metrics", "si_snr,mcd", "--no-mlflow", env=env)
    table = json.loads((tmp_path / "eval" / "results.json").read_text())
    assert "bandwidth_extension" in json.dumps(table)

    # the shared rows at step 0 are the base's: checked on the driver's prepared weights in
    # tests/tasks/test_vocab_extension.py; here the 2 steps moved them, but the ids did not move
    ft = load_file(str(model / "model.safetensors"))
    assert ft["frame_emb.weight"].shape == load_file(str(base / "model.safetensors"))["frame_emb.weight"].shape
