"""``uniaudio codec train --data s3://... --out s3://...`` against the loopback S3 server (a real S3 HTTP endpoint on
127.0.0.1): Ray Train's checkpoints, ``run.json`` and the exported codec land in the bucket, nothing in a
local ``s3:`` folder; ``codec encode --codec s3://run`` (the run dir itself, or its ``codec/``) then works
from a fresh process through the node's hash-verified cache; a resume from the bucket's checkpoint gives
the same codec as an uninterrupted run (slow).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest_s3 import s3_bucket, s3_env, s3_server  # noqa: F401  (fixtures by name)

_TINY = ["train.batch_size=1", "train.crop_min_s=0.5", "train.crop_max_s=0.5", "train.log_every=1",
         "train.val_files=1", "train.val_max_s=0.5", "train.val_every=1000", "train.val_asr=false",
         "train.sample_artifacts=0", "quantizer.kmeans_iters=1", "train.ckpt_every=2"]


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    import ray

    yield
    if ray.is_initialized():
        ray.shutdown()


def _cfg(*overrides: str):
    from codec.config import CodecConfig, load_config, preset

    return load_config(CodecConfig, overrides=[*_TINY, *overrides], base=preset("tiny"))


def _train(data, out, steps):
    from codec.ray_train import run_training
    from uniaudio.ray_init import ensure_ray

    ensure_ray(None, 2)  # started after the S3 fixture: every worker inherits the bucket's AWS_* settings
    return run_training(_cfg(f"train.steps={steps}"), data, out, workers=1, cpus_per_worker=1.0)


def test_ray_storage_and_codec_uri(s3_bucket, tmp_path):
    """Unit level: an object-store run dir maps to Ray storage in the bucket, a staging folder under the
    cache dir, and ``--codec s3://run`` resolves to the run's ``codec/`` (not its checkpoints)."""
    import pyarrow.fs as pafs

    from codec.export import META_FILE, codec_uri_in
    from codec.ray_train import ray_storage, run_dirs
    from uniaudio.stores import uri as uris

    run = f"{s3_bucket}/codec_run"
    uri, staging = run_dirs(run + "/")
    assert uri == run and str(staging).startswith(os.environ["UNIAUDIO_CACHE_DIR"])
    st = ray_storage(run)
    assert isinstance(st["storage_filesystem"], pafs.S3FileSystem) and st["storage_path"] == run[5:] + "/ray"
    assert ray_storage(str(tmp_path)) == {"storage_path": str(tmp_path / "ray")}
    assert run_dirs(str(tmp_path / "r")) == (str(tmp_path / "r"), tmp_path / "r")
    uris.put(f"{run}/codec/{META_FILE}", "{}")
    uris.put(f"{run}/ray/codec/checkpoint_000000/{META_FILE}", "{}")
    assert codec_uri_in(run) == f"{run}/codec" and codec_uri_in(f"{run}/codec") == f"{run}/codec"


def test_codec_train_into_the_bucket_then_encode_in_a_fresh_process(s3_bucket, speech_files, tmp_path,
                                                                   monkeypatch):
    from uniaudio.stores import uri as uris

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    for f in speech_files[:2]:  # the training audio too lives only in the bucket
        uris.put(f"{s3_bucket}/audio/{os.path.basename(f)}", open(f, "rb").read())
    lst = f"{s3_bucket}/audio/train.txt"  # entries relative to the list's prefix
    uris.put(lst, "\n".join(os.path.basename(f) for f in speech_files[:2]) + "\n")
    run = f"{s3_bucket}/codec_run"
    from uniaudio.cli import main
    from uniaudio.ray_init import ensure_ray

    ensure_ray(None, 2)  # the CLI joins this instance (started after the S3 fixture set AWS_*)
    args = ["codec", "train", "--data", lst, "--out", run, "--preset", "tiny", "--steps", "2",
            "--cpus-per-worker", "1"]
    assert main(args + [a for o in _TINY for a in ("--set", o)]) == 0
    files = dict(uris.list_files(run))
    assert {"codec/codec.json", "codec/codec.safetensors", "run.json", "skipped_audio.jsonl"} <= set(files)
    assert any(p.startswith("ray/codec/checkpoint_") and p.endswith("train_state.pt") for p in files), sorted(files)
    assert not (tmp_path / "s3:").exists()  # nothing written to a local folder named after the URI
    meta = json.loads(uris.read_text(f"{run}/codec/codec.json"))
    assert meta["extra"]["step"] == 2
    wav = speech_files[0]
    cache = tmp_path / "fresh-cache"
    env = {**os.environ, "UNIAUDIO_CACHE_DIR": str(cache)}
    for form in (run, f"{run}/codec"):  # the training out dir itself, and its codec/
        out = tmp_path / f"codes{len(form)}.npy"
        p = subprocess.run([sys.executable, "-m", "uniaudio", "codec", "encode", wav, str(out), "--codec", form],
                           env=env, capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, p.stderr[-2000:]
        assert f"(codec {meta['content_hash'][:12]})" in p.stdout
    fetched = [f for f in cache.rglob("*") if f.is_file()]
    assert not any("checkpoint_" in str(f) for f in fetched), fetched  # only the codec was fetched


@pytest.mark.slow
def test_resume_from_the_bucket_checkpoint_is_exact(s3_bucket, speech_files, tmp_path, monkeypatch):
    from uniaudio.stores import uri as uris

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    lst = tmp_path / "train.txt"
    lst.write_text("\n".join(speech_files[:2]) + "\n")
    straight = _train(str(lst), f"{s3_bucket}/a", 4)
    first = _train(str(lst), f"{s3_bucket}/b", 2)
    monkeypatch.setenv("UNIAUDIO_CACHE_DIR", str(tmp_path / "other-node"))  # no local state survives
    resumed = _train(str(lst), f"{s3_bucket}/b", 4)
    assert (straight.steps, first.steps, resumed.steps) == (4, 2, 4)
    h = [json.loads(uris.read_text(f"{s3_bucket}/{d}/codec/codec.json")) for d in ("a", "b")]
    assert h[0]["extra"]["step"] == h[1]["extra"]["step"] == 4
    assert h[0]["content_hash"] == h[1]["content_hash"]  # bitwise the same weights and codebooks
