"""Shared helpers of the model tests: real sequences from the sequence builder, small configs."""

import numpy as np

from uniaudio.model import ModelConfig, collate, get_preset
from uniaudio.sequence import build_sequence
from uniaudio.vocab import load_vocab

VOCAB = load_vocab()


def example(task: str, rng: np.random.Generator, n_q: int = 3, target_frames: int = 6) -> dict:
    """Random but well-formed segment contents for the four target/condition kinds we exercise."""
    codes = lambda n: rng.integers(0, 1024, (n, n_q))  # noqa: E731
    if task == "tts":
        return {"phone": rng.integers(0, 100, 5), "prompt": codes(4), "target": codes(target_frames)}
    if task == "text_to_sound":  # continuous condition (MiniLM width 384)
        return {"caption": rng.standard_normal((3, 384)).astype(np.float32), "target": codes(target_frames)}
    if task == "asr":  # text target
        return {"source": codes(5), "target": rng.integers(0, 256, target_frames - 2)}
    if task == "sv":  # label target
        return {"source": codes(3), "prompt": codes(3), "target": np.array([1])}
    raise KeyError(task)


def make_sequences(tasks=("tts", "text_to_sound", "asr", "sv"), n_q: int = 3, seed: int = 0, target_frames: int = 6):
    rng = np.random.default_rng(seed)
    return [build_sequence(t, example(t, rng, n_q, target_frames), VOCAB, n_q=n_q) for t in tasks]


def make_batch(tasks=("tts", "text_to_sound", "asr", "sv"), n_q: int = 3, seed: int = 0, **kw):
    return collate(make_sequences(tasks, n_q, seed, **kw), VOCAB, cont_dim=384)


def small_config(**overrides) -> ModelConfig:
    """A very small model (d=48 divides by n_q 1..4 and by 4 heads; head dim 12 is even for RoPE)."""
    base = get_preset("tiny").model_copy(update={"d_model": 48, "n_head": 4, "n_local_layer": 2})
    return ModelConfig(**{**base.model_dump(), **overrides})
