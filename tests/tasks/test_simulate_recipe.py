"""Simulation recipes by name: ``uniaudio simulate --recipe bandlimit`` writes a manifest dataset + a spec."""

import json

import numpy as np
import pytest
import yaml

from uniaudio.audio import load_audio, write_audio
from uniaudio.cli import main
from uniaudio.tasks import use_tasks_file


@pytest.fixture
def spec(tmp_path):
    data = tmp_path / "speech"
    t = np.arange(16000) / 16000
    rows = []
    for i, f in enumerate((200, 300)):
        w = (0.2 * np.sin(2 * np.pi * f * t) + 0.2 * np.sin(2 * np.pi * 6000 * t)).astype(np.float32)
        write_audio(data / "wav" / f"u{i}.wav", w)
        rows.append({"utt_id": f"u{i}", "audio": f"wav/u{i}.wav", "speaker": "s", "text": "hi"})
    (data / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    p = tmp_path / "spec.yaml"
    p.write_text(yaml.safe_dump({"datasets": [{"name": "speech", "reader": "manifest", "root": str(data),
                                               "tasks": ["tts"], "options": {}}]}))
    yield p
    use_tasks_file(None)


def test_bandlimit_by_name(spec, tmp_path, capsys):
    from pathlib import Path

    bwe = Path(__file__).resolve().parents[2] / "docs" / "examples" / "bandwidth_extension.yaml"
    out = tmp_path / "sim"
    assert main(["simulate", "--tasks-file", str(bwe), "--recipe", "bandlimit", "--spec", str(spec), "--from", "speech",
                 "--name", "sim_bwe", "--tasks", "bandwidth_extension", "--out", str(out)]) == 0
    assert "2 pairs by bandlimit" in capsys.readouterr().out
    recs = [json.loads(x) for x in (out / "sim_bwe" / "manifest.jsonl").read_text().splitlines()]
    assert recs[0]["extra"]["rate"] == 8000 and recs[0]["extra"]["from"] == "speech/u0"
    src = load_audio(str(out / "sim_bwe" / recs[0]["paired"]["source"]))
    tgt = load_audio(str(out / "sim_bwe" / recs[0]["audio"]))
    s, g = np.abs(np.fft.rfft(src)), np.abs(np.fft.rfft(tgt))
    assert s[6000] < 0.01 * g[6000] and abs(s[200] - g[200]) < 0.05 * g[200]  # high band gone, low band kept
    doc = yaml.safe_load((out / "spec.yaml").read_text())
    assert doc["datasets"][-1]["tasks"] == ["bandwidth_extension"] and doc["datasets"][-1]["reader"] == "manifest"


@pytest.mark.parametrize("args,msg", [
    (["--recipe", "nope"], "--recipe: unknown simulation recipe 'nope'; known: bandlimit"),
    (["--recipe", "bandlimit", "--tasks", "bandwidth_extension"], "--tasks: unknown task(s) bandwidth_extension"),
    (["--recipe", "bandlimit", "--param", "rate=20000"], "recipe bandlimit: bandlimit: rate must be in"),
])
def test_bad_simulate_arguments_are_one_line(spec, tmp_path, capsys, args, msg):
    base = {"--recipe": "bandlimit", "--spec": str(spec), "--from": "speech", "--name": "x", "--tasks": "se",
            "--out": str(tmp_path / "o")}
    argv = ["simulate"]
    extra = dict(zip(args[::2], args[1::2]))
    for k, v in {**base, **extra}.items():
        argv += [k, v]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and msg in err[0]
