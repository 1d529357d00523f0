"""The evaluation runner end to end: a tiny RESULTS.jsonl -> table files, items.jsonl, samples, MLflow run."""

from __future__ import annotations

import glob
import json
from pathlib import Path

import numpy as np
import pytest
from eval_helpers import add_noise

from uniaudio.audio import write_audio
from uniaudio.cli import main
from uniaudio.evaluate.runner import EvaluateConfig, evaluate

SOUNDS = sorted(glob.glob("/usr/share/sounds/freedesktop/stereo/*.oga"))


@pytest.fixture(scope="module")
def tiny_codec(tmp_path_factory):
    """A randomly initialised tiny codec, exported like a trained one (the path matters, not quality)."""
    import torch

    from codec.config import preset
    from codec.export import export_codec
    from codec.model import CodecModel

    torch.manual_seed(0)
    cfg = preset("tiny")
    return str(export_codec(CodecModel(cfg), cfg, tmp_path_factory.mktemp("codec")))


@pytest.fixture
def results(tmp_path, librivox, speech_a):
    """A results file mixing good, broken and invalid items over 5 tasks (paths relative to it)."""
    assert len(SOUNDS) >= 6, "sound-theme-freedesktop missing (requirements/apt.txt)"
    ids = sorted(librivox)
    gen = tmp_path / "gen"
    write_audio(gen / "se_out.wav", add_noise(speech_a[1], 10, seed=1))
    (gen / "corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    rows = [
        {"task": "tts", "id": "good", "output": librivox[ids[1]][0], "text": librivox[ids[1]][1],
         "prompt": librivox[ids[4]][0], "reference": librivox[ids[1]][0]},
        {"task": "tts", "id": "corrupt", "output": "corrupt.wav", "text": "hello there", "prompt": librivox[ids[4]][0]},
        {"task": "se", "id": "noisy", "output": "se_out.wav", "reference": librivox[ids[1]][0]},
        {"task": "se", "id": "lost", "output": "missing.wav", "reference": librivox[ids[1]][0]},
        {"task": "asr", "id": "a1", "output": "he was not an ill disposed young man", "text": librivox[ids[1]][1]},
        {"task": "asr", "id": "a2", "output": "he might even have been made amiable", "text": librivox[ids[4]][1]},
        {"task": "sv", "id": "s1", "output": 1, "label": "same"},
        {"task": "sv", "id": "s2", "output": 0, "label": True},
        *[{"task": "text_to_sound", "id": f"snd{i}", "output": SOUNDS[i], "reference": SOUNDS[i + 3],
           "caption": "a desktop notification sound"} for i in range(3)],
    ]
    path = gen / "results.jsonl"
    with path.open("w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
        f.write("{not json\n")
        f.write(json.dumps({"task": "tts", "id": "good", "output": "dup.wav"}) + "\n")
    return path


def test_runner_writes_the_table_items_samples_and_an_mlflow_run(results, tmp_path, tiny_codec, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    out = tmp_path / "eval"
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    cfg = EvaluateConfig(codec=tiny_codec, tracking_uri=uri, experiment="eval-test", progress=False)
    report = evaluate(results, out, cfg)

    rows = {(r.system, r.task, r.metric): r for r in report.table.rows()}
    # model rows: the exact-copy TTS output is near perfect; the corrupt one is one failure, not a crash
    wer = rows[("model", "tts", "wer")]
    assert wer.n == 1 and wer.failed == 1 and wer.mean < 0.15 and "unreadable" in wer.first_error
    assert rows[("model", "tts", "mcd")].mean == 0.0 and rows[("model", "tts", "mcd")].skipped == 1
    assert rows[("model", "tts", "sim_ref")].mean == pytest.approx(1.0, abs=1e-4)
    assert 0.5 < rows[("model", "tts", "sim_prompt")].mean < 1.0
    pesq = rows[("model", "se", "pesq")]
    assert pesq.n == 1 and pesq.failed == 1 and 1.0 < pesq.mean < 4.0 and "missing" in pesq.first_error
    assert rows[("model", "se", "si_snr")].mean == pytest.approx(10, abs=0.5)
    assert 1.0 < rows[("model", "se", "dnsmos_ovrl")].mean < 5.0
    assert rows[("model", "asr", "wer")].mean == pytest.approx(1 / 16)  # pooled: 0 + 1 edits over 8 + 8 words
    assert rows[("model", "sv", "accuracy")].mean == 0.5
    fd = rows[("model", "text_to_sound", "fd")]
    assert fd.n == 3 and fd.mean > 0 and fd.failed == 0
    assert rows[("model", "?", "invalid_items")].failed == 1
    assert rows[("model", "tts", "invalid_items")].failed == 1  # the duplicate id
    # codec upper-bound rows exist for every audio task with references, and never for asr / sv
    assert rows[("codec_resynthesis", "tts", "wer")].n == 1
    assert rows[("codec_resynthesis", "se", "pesq")].n == 2  # both se items have a reference
    assert rows[("codec_resynthesis", "text_to_sound", "fd")].n == 3
    assert not any(k[0] == "codec_resynthesis" and k[1] in ("asr", "sv") for k in rows)

    saved = json.loads((out / "results.json").read_text())
    assert saved["n_items"] == 11 and len(saved["invalid_lines"]) == 2 and len(saved["rows"]) == len(rows)
    assert (out / "results.csv").read_text().startswith("system,task,metric,mean")
    items = [json.loads(line) for line in (out / "items.jsonl").read_text().splitlines()]
    good = next(i for i in items if i["id"] == "good" and i["system"] == "model")
    assert "hypothesis" in good["details"] and good["scores"]["mcd"] == 0.0
    lost = next(i for i in items if i["id"] == "lost" and i["system"] == "model")
    assert set(lost["errors"]) >= {"pesq", "stoi", "si_snr", "dnsmos_ovrl", "mcd"}
    pngs = sorted(p.name for p in (out / "samples").rglob("*.png"))
    assert "good.png" in pngs and "noisy.png" in pngs and "corrupt.png" not in pngs
    assert (out / "samples" / "tts" / "good.codec_resynthesis.wav").is_file()

    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    run = client.get_run(report.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.metrics["tts/wer"] == pytest.approx(wer.mean)
    assert run.data.metrics["sv/accuracy"] == 0.5 and run.data.metrics["tts/wer.failed"] == 1
    assert "codec_resynthesis/se/pesq" in run.data.metrics
    assert run.data.params["codec"] == tiny_codec and run.data.params["n_items"] == "11"
    logged = {a.path for a in client.list_artifacts(report.run_id, "evaluation")}
    assert logged == {"evaluation/results.json", "evaluation/results.csv", "evaluation/items.jsonl"}
    tts_samples = {Path(a.path).name for a in client.list_artifacts(report.run_id, "samples/tts")}
    assert {"good.png", "good.model.wav", "good.reference.wav"} <= tts_samples


def test_cli_evaluate(results, tmp_path, capsys):
    out = tmp_path / "cli_eval"
    code = main(["evaluate", str(results), "--out", str(out), "--metrics", "wer,accuracy", "--no-mlflow"])
    printed = capsys.readouterr().out
    assert code == 0
    assert "accuracy" in printed and "evaluated 11 items (2 invalid lines" in printed
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert {r["metric"] for r in rows} <= {"wer", "accuracy", "invalid_items"}
    assert not (out / "mlflow.db").exists()
    assert main(["evaluate", str(results), "--metrics", "bleu", "--no-mlflow"]) == 2
    assert main(["evaluate", str(tmp_path / "none.jsonl"), "--no-mlflow"]) == 2
    assert main(["evaluate", "--list"]) == 0 and "text_to_sound" in capsys.readouterr().out


def test_codec_resynthesis_batches_like_single_items(tiny_codec, speech_a):
    from uniaudio.evaluate.resynthesis import load_codec, resynthesize_batch

    codec = load_codec(tiny_codec)
    wavs = [speech_a[1][:16000], speech_a[4][:12345]]
    batched = resynthesize_batch(codec, wavs, n_q=3)
    alone = [resynthesize_batch(codec, [w], n_q=3)[0] for w in wavs]
    assert [len(b) for b in batched] == [16000, 12345]
    for b, a in zip(batched, alone):
        assert np.allclose(b, a, atol=1e-4)
