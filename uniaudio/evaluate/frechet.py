"""Fréchet distance between a generated set and a reference set of audio, over Whisper-base embeddings.

The paper reports FAD (VGGish) for sound/music and FD (PANNs) for audio edit; neither network's weights
ship offline. The embedding here is the packaged Whisper-base encoder (already loaded for WER): log-mel
of the clip, encoder states, mean-pooled over time -> one 512-d vector per clip. Whisper normally pads
every input to 30 s; we encode the clip at its own length instead (CTranslate2 accepts any even frame
count up to 3000), which is 5-10x faster for short clips and keeps padding states out of the mean.
Clips over 30 s are encoded in 30 s chunks, pooled with weights proportional to their frames.

FD = |mu_g - mu_r|^2 + tr(S_g + S_r - 2 (S_g S_r)^1/2), computed through the symmetric form
``tr((S_r^1/2 S_g S_r^1/2)^1/2)`` with eigen-decompositions: stable for the rank-deficient
covariances of small sets (n < 512), and exactly 0 for identical sets. FD is biased upwards for small
sets: compare values only at equal set sizes (the table reports n).

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> a = rng.standard_normal((200, 4))
>>> round(frechet_distance(a, a), 9)
0.0
>>> round(frechet_distance(a, a + 1.0), 2)   # a pure mean shift of 1 in 4 dims
4.0
"""

from __future__ import annotations

import numpy as np

#: Whisper mel frames per 30 s window, and samples per encoder output frame (hop 160, stride 2).
MAX_MEL_FRAMES = 3000
SAMPLES_PER_STATE = 320
MIN_SAMPLES = 2 * SAMPLES_PER_STATE


def embed(wav: np.ndarray) -> np.ndarray:
    """16 kHz mono float audio -> mean-pooled Whisper-base encoder state, float64 ``[512]``."""
    from uniaudio.evaluate.asr import get_whisper

    x = np.ascontiguousarray(wav, dtype=np.float32)
    if x.ndim != 1 or x.size < MIN_SAMPLES:
        raise ValueError(f"need at least {MIN_SAMPLES} mono samples, got shape {x.shape}")
    model = get_whisper()
    chunk = MAX_MEL_FRAMES * 160
    total, weight = None, 0
    for start in range(0, x.size, chunk):
        piece = x[start : start + chunk]
        if piece.size < MIN_SAMPLES:  # a sliver at the end carries no information
            continue
        feats = model.feature_extractor(piece)  # [80, samples/160 + 1]
        n = min(MAX_MEL_FRAMES, feats.shape[1] - feats.shape[1] % 2)  # the encoder halves the frames
        states = np.asarray(model.encode(np.ascontiguousarray(feats[:, :n]))).astype(np.float64)[0]
        vec = states.mean(axis=0) * states.shape[0]
        total = vec if total is None else total + vec
        weight += states.shape[0]
    return total / weight


def frechet_distance(gen: np.ndarray, ref: np.ndarray) -> float:
    """FD between the Gaussians fitted to the rows of ``gen [n, d]`` and ``ref [m, d]`` (n, m >= 2)."""
    g, r = np.asarray(gen, np.float64), np.asarray(ref, np.float64)
    if g.ndim != 2 or r.ndim != 2 or g.shape[1] != r.shape[1]:
        raise ValueError(f"need two [n, d] matrices with the same d, got {g.shape} and {r.shape}")
    if len(g) < 2 or len(r) < 2:
        raise ValueError(f"need at least 2 clips per set, got {len(g)} generated and {len(r)} reference")
    mu_g, mu_r = g.mean(0), r.mean(0)
    s_g, s_r = np.cov(g, rowvar=False), np.cov(r, rowvar=False)
    w, v = np.linalg.eigh(s_r)
    sqrt_r = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    m = sqrt_r @ s_g @ sqrt_r
    cross = np.sqrt(np.clip(np.linalg.eigvalsh((m + m.T) / 2), 0, None)).sum()
    fd = float(((mu_g - mu_r) ** 2).sum() + np.trace(s_g) + np.trace(s_r) - 2.0 * cross)
    # Identical sets give round-off of either sign; a distance is never negative.
    return max(fd, 0.0)
