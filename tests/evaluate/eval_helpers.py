"""Helpers shared by the evaluation tests (imported as ``from eval_helpers import ...``)."""

from __future__ import annotations

import numpy as np


def add_noise(wav: np.ndarray, snr_db: float, seed: int = 0) -> np.ndarray:
    """``wav`` plus white Gaussian noise at ``snr_db`` (deterministic per seed)."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(wav.shape)
    p_sig = float(np.mean(np.square(wav, dtype=np.float64)))
    noise *= np.sqrt(p_sig / (10 ** (snr_db / 10)) / np.mean(noise**2))
    return (wav + noise).astype(np.float32)
