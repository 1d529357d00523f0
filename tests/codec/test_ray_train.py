"""Codec training under Ray Train on real speech (slow: minutes on 2 CPU cores).

- a short tiny-width run lowers the validation mel distance by a clear margin from initialisation,
  logs to MLflow (params, losses, per-codebook stats, samples + spectrogram PNGs) and exports a codec;
- with 2 workers (DDP over gloo), training 2 steps, stopping, and re-running the same command to 4
  steps gives bitwise the same codec as 4 uninterrupted steps; so does a run whose rank 1 is killed at
  step 3 (Ray Train restarts the group from the step-2 checkpoint).
"""

from __future__ import annotations

import json

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.integration]


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    import ray

    from uniaudio.ray_init import ensure_ray

    ensure_ray(None, 2)
    yield
    ray.shutdown()


def _cfg(*overrides: str):
    from codec.config import CodecConfig, load_config, preset

    return load_config(CodecConfig, overrides=list(overrides), base=preset("tiny"))


def test_short_training_lowers_mel_distance(tmp_path, speech_files, asterisk_files, monkeypatch, capsys):
    from mlflow.tracking import MlflowClient

    from codec import Codec
    from codec.ray_train import run_training

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    lst = tmp_path / "train.txt"
    lst.write_text("\n".join(asterisk_files[:80] + speech_files) + "\n")
    cfg = _cfg("train.steps=80", "train.batch_size=4", "train.crop_max_s=1.0", "train.val_every=40",
               "train.ckpt_every=40", "train.log_every=20", "train.val_files=4", "train.val_max_s=2.0",
               "train.disc_start_step=40")  # both phases of the tiny recipe: reconstruction only, then GAN
    out = tmp_path / "run"
    summary = run_training(cfg, str(lst), out, workers=1, cpus_per_worker=1.0)
    c = MlflowClient(f"sqlite:///{out}/mlflow.db")
    hist = c.get_metric_history(summary.run_id, "val/mel_distance_q4")
    assert [m.step for m in hist] == [0, 40, 80]
    first, last = hist[0].value, hist[-1].value
    assert last < 0.7 * first, (first, last)
    run = c.get_run(summary.run_id)
    assert run.info.status == "FINISHED" and run.data.params["quantizer.n_q"] == "4"
    for key in ("loss/adversarial", "loss/multi_mel", "loss/waveform", "loss/discriminator", "val/si_snr_q1",
                "val/codebook0_perplexity", "val/codebook3_usage", "data/skipped_files", "val/stft_distance_q3",
                "val/pesq_q3", "val/stoi_q3", "val/wer_q3", "time/data_s", "time/generator_s",
                "time/discriminator_s"):
        assert key in run.data.metrics, key
    gan_steps = [m.step for m in c.get_metric_history(summary.run_id, "loss/discriminator")]
    recon_steps = [m.step for m in c.get_metric_history(summary.run_id, "loss/multi_mel")]
    assert gan_steps and min(gan_steps) >= 40 and min(recon_steps) < 40, (gan_steps, recon_steps)
    arts = [a.path for a in c.list_artifacts(summary.run_id, "samples/step_00000080")]
    assert any(p.endswith("_spectrograms.png") for p in arts) and any(p.endswith("recon_q3.wav") for p in arts)
    assert summary.steps == 80 and summary.metrics["val/mel_distance_q4"] == pytest.approx(last)
    codec = Codec.load(summary.codec_dir)
    assert codec.content_hash == json.loads((out / "codec" / "codec.json").read_text())["content_hash"]


@pytest.mark.parametrize("name", ["tiny", "tiny_paper", "default", "paper", "gpu"])
def test_three_steps_with_each_preset(tmp_path, speech_files, monkeypatch, name):
    """Every preset trains under Ray Train (full-size ones at batch 1 x 1 s) and logs its step timing."""
    from mlflow.tracking import MlflowClient

    from codec.config import CodecConfig, load_config, preset
    from codec.ray_train import run_training

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    lst = tmp_path / "train.txt"
    lst.write_text("\n".join(speech_files) + "\n")
    cfg = load_config(CodecConfig, base=preset(name), overrides=[
        "train.steps=3", "train.batch_size=1", "train.crop_min_s=1.0", "train.crop_max_s=1.0", "train.log_every=1",
        "train.val_files=1", "train.val_max_s=1.0", "train.val_asr=false", "train.sample_artifacts=0",
        "quantizer.kmeans_iters=2", "train.disc_start_step=0"])  # tiny's starts later: every part runs
    summary = run_training(cfg, str(lst), tmp_path / "run", workers=1, cpus_per_worker=1.0)
    assert summary.steps == 3
    run = MlflowClient(f"sqlite:///{tmp_path}/run/mlflow.db").get_run(summary.run_id)
    for key in ("time/data_s", "time/generator_s", "time/discriminator_s", "loss/discriminator", "val/pesq_q3"):
        assert key in run.data.metrics, key


def _spec(tmp_path, files) -> str:
    """A dataset spec (manifest reader) over copies of ``files``: exercises the pipelines.sources path."""
    import shutil

    pytest.importorskip("pipelines.sources")
    root = tmp_path / "data"
    root.mkdir()
    rows = []
    for i, f in enumerate(files):  # the manifest reader resolves audio inside its root
        shutil.copy(f, root / f"s{i}.wav")
        rows.append(json.dumps({"utt_id": f"u{i}", "audio": f"s{i}.wav"}) + "\n")
    (root / "manifest.jsonl").write_text("".join(rows))
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"datasets:\n  - name: speech\n    reader: manifest\n    root: {root}\n    tasks: [tts]\n")
    return str(spec)


def test_resume_with_two_workers_is_exact(tmp_path, speech_files, monkeypatch):
    from codec.ray_train import run_training

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    spec = _spec(tmp_path, speech_files)
    common = ["train.batch_size=2", "train.crop_max_s=1.0", "train.ckpt_every=2", "train.val_every=1000",
              "train.val_files=1", "train.log_every=1"]
    straight = run_training(_cfg("train.steps=4", *common), spec, tmp_path / "a", workers=2)
    first = run_training(_cfg("train.steps=2", *common), spec, tmp_path / "b", workers=2)
    resumed = run_training(_cfg("train.steps=4", *common), spec, tmp_path / "b", workers=2)
    h = [json.loads((tmp_path / d / "codec" / "codec.json").read_text()) for d in ("a", "b")]
    assert first.steps == 2 and resumed.steps == 4 and straight.steps == 4
    assert h[0]["extra"]["step"] == h[1]["extra"]["step"] == 4
    assert h[0]["content_hash"] == h[1]["content_hash"]  # bitwise identical weights and codebooks
    assert resumed.run_id == first.run_id  # the resumed run continues the same MLflow run
    marker = tmp_path / "fault.marker"
    killed = run_training(_cfg("train.steps=4", *common), spec, tmp_path / "c", workers=2,
                          test_hooks={"fault_at_step": 3, "fault_rank": 1, "fault_marker": str(marker)})
    assert marker.exists(), "the fault was not injected"
    assert killed.steps == 4
    assert json.loads((tmp_path / "c" / "codec" / "codec.json").read_text())["content_hash"] == h[0]["content_hash"]
