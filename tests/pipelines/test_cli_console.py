"""The quiet console of standalone commands (a real subprocess, a real Ray, real MLflow sqlite): ``uniaudio
tokenize`` and ``uniaudio examples`` print a start line, their own summary and nothing third-party; the rest
is in ``STORE/_logs/<command>.log``; ``-v`` brings it back."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
#: what third-party output looks like on a console (Ray's worker prefix, logging/warnings, tqdm, MLflow)
THIRD_PARTY = ("(pid=", "raylet", "UserWarning", "WARNING", "INFO ", "it/s]", "row/s]", "Token authentication",
               "core_worker", "mlflow.store", "Failed to query", "PlacementGroupCleaner", "TrainController")


def _uniaudio(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "uniaudio", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)


def test_tokenize_and_examples_keep_third_party_output_in_the_store_log(tmp_path, ray_session, tiny_codec,
                                                                         corpus_tools):
    rows = [{"utt_id": f"u{i}", "audio": f"u{i}.wav", "text": f"utterance {i}", "speaker": "s"} for i in range(3)]
    corpus_tools["write_dataset"](tmp_path / "a", rows, {f"u{i}.wav": (corpus_tools["tone"](0.8, seed=i), 16000)
                                                         for i in range(3)})
    spec = corpus_tools["write_spec"](tmp_path / "a.yaml", [{"name": "a", "root": "a", "tasks": ["asr"]}])
    tokens, examples = tmp_path / "tokens", tmp_path / "examples"

    res = _uniaudio("tokenize", str(spec), "--store", str(tokens), "--codec", tiny_codec, "--address", ray_session)
    assert res.returncode == 0, res.stdout + res.stderr
    console = (res.stdout + res.stderr).splitlines()
    assert console[0].startswith("tokenize: running (full output: ") and "_logs/tokenize.log" in console[0]
    assert any(ln.startswith("tokenize: 3 manifest rows") for ln in console)  # the plan, said by the job itself
    assert any(ln.startswith("MLflow run id: ") for ln in console) and len(console) <= 8, "\n".join(console)
    assert not [ln for ln in console if any(t in ln for t in THIRD_PARTY)], "\n".join(console)
    assert (tokens / "_logs" / "tokenize.log").stat().st_size > 0

    res = _uniaudio("examples", "--tokens", str(tokens), "--out", str(examples), "--address", ray_session)
    assert res.returncode == 0, res.stdout + res.stderr
    console = (res.stdout + res.stderr).splitlines()
    assert console[0].startswith("examples: running") and "asr: built 3" in res.stdout and len(console) <= 6
    assert not [ln for ln in console if any(t in ln for t in THIRD_PARTY)], "\n".join(console)

    verbose = _uniaudio("examples", "--tokens", str(tokens), "--out", str(examples), "--address", ray_session, "-v")
    assert verbose.returncode == 0 and "running (full output" not in verbose.stdout
    assert "unchanged=3" in verbose.stdout


def test_codec_train_keeps_ray_train_output_in_its_log(tmp_path, corpus_tools):
    """Ray Train's clean-up actors talk after ``fit`` returns: that must land in the log, not on the console."""
    import soundfile as sf

    files = []
    for i in range(2):
        files.append(tmp_path / f"t{i}.wav")
        sf.write(files[-1], corpus_tools["tone"](1.0, seed=i), 16000)
    lst = tmp_path / "train.txt"
    lst.write_text("\n".join(map(str, files)) + "\n")
    tiny = ["train.batch_size=1", "train.crop_min_s=0.5", "train.crop_max_s=0.5", "train.val_files=1",
            "train.val_max_s=0.5", "train.val_asr=false", "train.sample_artifacts=0", "quantizer.kmeans_iters=1"]
    res = _uniaudio("codec", "train", "--data", str(lst), "--out", str(tmp_path / "run"), "--preset", "tiny",
                    "--steps", "2", "--cpus-per-worker", "1", "--num-cpus", "1", *[a for o in tiny for a in ("--set", o)])
    assert res.returncode == 0, res.stdout + res.stderr
    console = (res.stdout + res.stderr).splitlines()
    assert console[0].startswith("codec-train: running") and len(console) <= 6, "\n".join(console)
    assert not [ln for ln in console if any(t in ln for t in THIRD_PARTY)], "\n".join(console)
    assert "TrainController" in (tmp_path / "run" / "logs" / "codec-train.log").read_text()


def test_a_failing_command_names_its_log(tmp_path, tiny_codec):
    spec = tmp_path / "spec.yaml"
    spec.write_text("datasets:\n- {name: a, reader: manifest, root: nowhere, tasks: [asr]}\n")
    res = _uniaudio("tokenize", str(spec), "--store", str(tmp_path / "tokens"), "--codec", tiny_codec)
    assert res.returncode == 2
    assert "tokenize: FAILED (log: " in res.stdout and "_logs/tokenize.log" in res.stdout, res.stdout
    assert "root" in res.stderr and "is not a folder" in res.stderr, res.stderr  # the one-line reason
