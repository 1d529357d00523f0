"""Shared fixtures of the pipeline tests: ONE local Ray instance per session, a tiny codec checkpoint,
and a builder of tiny corpora in the ``manifest`` reader's layout."""

import json
import logging
import os
from pathlib import Path

import numpy as np
import pytest
import yaml


@pytest.fixture(scope="session")
def tiny_codec(tmp_path_factory):
    """A codec checkpoint of the ``tiny`` preset: seeded random weights, codebooks k-means-initialised
    by one training-mode forward on a few tones (no training), so codes depend on the audio."""
    import torch

    from codec.config import preset
    from codec.export import export_codec
    from codec.model import CodecModel

    torch.manual_seed(0)
    cfg = preset("tiny")
    model = CodecModel(cfg).train()
    x = torch.stack([torch.from_numpy(tone(1.0, freq=f, seed=i)) for i, f in enumerate((100, 200, 350, 600, 1000, 1700, 2900))])
    with torch.no_grad():
        model(x.unsqueeze(1), n_q=cfg.quantizer.n_q)
    return str(export_codec(model, cfg, tmp_path_factory.mktemp("codec")))


def tone(seconds: float, sr: int = 16000, freq: float = 220.0, seed: int = 0, channels: int = 1, level: float = 0.2):
    """A tone plus a little noise: non-silent, deterministic."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    x = level * np.sin(2 * np.pi * freq * t) + 0.01 * rng.standard_normal(t.size)
    x = x.astype("float32")
    return np.stack([x] * channels) if channels > 1 else x


def write_dataset(root: Path, rows: list[dict], audio: dict[str, tuple]) -> Path:
    """``audio``: relative path -> (wav, sr) written as 16-bit wav (bytes are written as-is);
    ``rows``: manifest.jsonl records."""
    from uniaudio.audio import write_audio

    root.mkdir(parents=True, exist_ok=True)
    for rel, data in audio.items():
        if isinstance(data, bytes):
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(data)
        else:
            write_audio(root / rel, data[0], data[1])
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def write_spec(path: Path, entries: list[dict]) -> Path:
    path.write_text(yaml.safe_dump({"datasets": [{"reader": "manifest", "options": {}, **e} for e in entries]}))
    return path


@pytest.fixture
def corpus_tools():
    """The helpers above, for tests (conftest modules are not importable)."""
    return {"tone": tone, "write_dataset": write_dataset, "write_spec": write_spec}
