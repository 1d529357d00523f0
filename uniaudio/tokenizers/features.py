"""Frame features at 50 Hz for semantic units: MFCC or log-mel (+ deltas, per-utterance CMVN) in torch.

As in HuBERT's first iteration (k-means on MFCC + delta + delta-delta), but on the codec's frame grid:
hop 320 samples at 16 kHz (50 Hz), 25 ms Hann window, 512-point FFT, pre-emphasis 0.97, HTK mel
filters (40 by default, 20 Hz - 8 kHz), log, DCT-II (orthonormal) keeping ``n_mfcc`` coefficients
(c0 included). Deltas use the usual regression over +-2 frames. CMVN normalises each dimension to zero
mean, unit variance over the utterance, so the units do not depend on the recording gain.

Frame count is ``ceil(T / 320)`` — the codec's — frame i being centred on sample 320*i.

>>> import numpy as np
>>> mfcc_features(np.zeros(16000, dtype=np.float32) + 0.01, FeatureConfig()).shape
(50, 39)
"""

from __future__ import annotations

from pydantic import Field

import math
from typing import Literal

import numpy as np

from uniaudio.config import ConfigBase

SAMPLE_RATE = 16_000
HOP = 320
WIN = 400
N_FFT = 512


class FeatureConfig(ConfigBase):
    """Which frame features the semantic k-means works on (stored inside the k-means model file)."""

    kind: Literal["mfcc", "logmel", "hubert"] = "mfcc"
    n_mels: int = Field(40, ge=1)
    n_mfcc: int = Field(13, ge=1)
    deltas: bool = True  # append delta and delta-delta (mfcc/logmel)
    cmvn: bool = True  # per-utterance mean/variance normalisation (mfcc/logmel)
    hubert_layer: int = Field(9, ge=0)


def num_frames(num_samples: int) -> int:
    """Frames on the 50 Hz grid for ``num_samples`` at 16 kHz: ``ceil(T / 320)`` (the codec's count)."""
    return -(-int(num_samples) // HOP)


def _hz_to_mel(f):
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def _mel_to_hz(m):
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(n_mels: int, n_fft: int = N_FFT, sr: int = SAMPLE_RATE, f_min: float = 20.0, f_max: float | None = None) -> np.ndarray:
    """Triangular HTK-scale mel filters, ``[n_freqs, n_mels]`` (no area normalisation)."""
    f_max = f_max or sr / 2
    freqs = np.linspace(0, sr / 2, n_fft // 2 + 1)
    pts = _mel_to_hz(np.linspace(_hz_to_mel(f_min), _hz_to_mel(f_max), n_mels + 2))
    lo, mid, hi = pts[:-2], pts[1:-1], pts[2:]
    up = (freqs[:, None] - lo) / (mid - lo)
    down = (hi - freqs[:, None]) / (hi - mid)
    return np.maximum(0.0, np.minimum(up, down)).astype(np.float32)


def dct_matrix(n_mfcc: int, n_mels: int) -> np.ndarray:
    """Orthonormal DCT-II, ``[n_mels, n_mfcc]``."""
    n = np.arange(n_mels)
    k = np.arange(n_mfcc)
    m = np.cos(math.pi / n_mels * (n[:, None] + 0.5) * k[None, :]) * math.sqrt(2.0 / n_mels)
    m[:, 0] /= math.sqrt(2.0)
    return m.astype(np.float32)


def deltas(x: np.ndarray, width: int = 2) -> np.ndarray:
    """Regression deltas over +-``width`` frames of ``[F, D]`` (edges replicated)."""
    pad = np.pad(x, ((width, width), (0, 0)), mode="edge")
    num = sum(n * (pad[width + n : width + n + len(x)] - pad[width - n : width - n + len(x)]) for n in range(1, width + 1))
    return num / (2 * sum(n * n for n in range(1, width + 1)))


def log_mel(wav: np.ndarray, n_mels: int) -> np.ndarray:
    """``[T]`` float audio at 16 kHz -> ``[ceil(T/320), n_mels]`` natural-log mel energies."""
    import torch

    x = torch.as_tensor(np.asarray(wav, dtype=np.float32))
    x = torch.cat([x[:1], x[1:] - 0.97 * x[:-1]])  # pre-emphasis: flatter spectrum, as MFCC front ends do
    # Zero (not reflect) centre padding: valid for any length, even shorter than the window.
    spec = torch.stft(
        torch.nn.functional.pad(x, (N_FFT // 2, N_FFT // 2)), N_FFT, hop_length=HOP, win_length=WIN,
        window=torch.hann_window(WIN), center=False, return_complex=True,
    )  # fmt: skip
    power = spec.abs().pow(2).T  # [frames, freqs]
    mel = power @ torch.from_numpy(mel_filterbank(n_mels))
    out = torch.log(mel.clamp_min(1e-10)).numpy()
    return out[: num_frames(len(wav))]


def mfcc_features(wav: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """MFCC or log-mel features ``[ceil(T/320), D]`` float32 per ``cfg`` (kind mfcc or logmel)."""
    if cfg.kind not in ("mfcc", "logmel"):
        raise ValueError(f"mfcc_features handles kind mfcc/logmel, got {cfg.kind!r}")
    feats = log_mel(wav, cfg.n_mels)
    if cfg.kind == "mfcc":
        feats = feats @ dct_matrix(cfg.n_mfcc, cfg.n_mels)
    if cfg.deltas:
        d1 = deltas(feats)
        feats = np.concatenate([feats, d1, deltas(d1)], axis=1)
    if cfg.cmvn:
        feats = (feats - feats.mean(0)) / (feats.std(0) + 1e-5)
    return feats.astype(np.float32)
