"""Mel-cepstral distance (MCD, dB) between generated and reference speech, DTW-aligned.

Mel-cepstra here are MFCC-style, computed in numpy so no SPTK/WORLD is needed: 25 ms Hann windows
every 10 ms (512-point FFT), magnitude spectrum through the project's 80-band HTK mel filterbank
(:func:`codec.spectral.mel_filterbank`), natural log (floor 1e-5), then the cosine series
``c_m = 1/N * sum_n log|X_n| cos(pi m (n + 1/2) / N)`` over the N = 80 bands, i.e. a DCT-II scaled like
a true cepstrum (the coefficients of log|X| as a cosine series), coefficients 1..24 kept (c0, the
frame energy, is dropped so loudness does not count). The per-frame distance is the usual
``10 / ln 10 * sqrt(2 * sum_d (c_d - c'_d)^2)``.

Alignment: the two sequences are aligned with dynamic time warping over that distance (steps
(1,0), (0,1), (1,1), equal weights) and the MCD is the mean distance along the warping path. DTW is
used for every task, also for equal-length pairs (SE/TSE/dereverb), so numbers are comparable across
tasks; on time-aligned pairs the path is (nearly) the diagonal. Silent frames are not removed.

With that scaling values land in the usual MCD range (a few dB between different sentences of one
speaker), but the frequency warping is the HTK mel filterbank, not SPTK's all-pass (alpha = 0.42)
mel-cepstrum, so absolute values are not interchangeable with papers' MCD; compare systems under
this one protocol.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> x = rng.standard_normal(16000).astype("float32") * 0.1
>>> mcd(x, x)
0.0
>>> mcd(x, x + 0.05 * rng.standard_normal(16000)) > 0
True
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from uniaudio.audio import SAMPLE_RATE

N_FFT, WIN, HOP, N_MELS, N_CEPS = 512, 400, 160, 80, 24
#: DTW keeps two float64 [N, M] tables: beyond this many cells (~2 x 128 MB, e.g. 40 s vs 40 s) the
#: pair is refused (a runaway generation fails this metric instead of exhausting memory).
MAX_DTW_CELLS = 16_000_000
_K = 10.0 / math.log(10.0) * math.sqrt(2.0)


@lru_cache(maxsize=1)
def _filters() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from scipy.fft import dct

    from codec.spectral import mel_filterbank

    fb = mel_filterbank(N_FFT // 2 + 1, N_MELS, SAMPLE_RATE).numpy().astype(np.float64)  # [freqs, mels]
    window = np.hanning(WIN + 1)[:-1]  # periodic Hann, as torch.hann_window
    # scipy's unnormalised DCT-II is 2 * sum_n x_n cos(...): divide by 2N for the cepstral scaling.
    basis = dct(np.eye(N_MELS), type=2, axis=0)[1 : N_CEPS + 1] / (2 * N_MELS)  # [ceps, mels]
    return fb, window, basis


def mel_cepstrum(wav: np.ndarray) -> np.ndarray:
    """16 kHz mono audio -> ``[frames, 24]`` mel-cepstra (c1..c24), float64."""
    x = np.asarray(wav, dtype=np.float64)
    if x.ndim != 1 or x.size < WIN:
        raise ValueError(f"need at least {WIN} mono samples, got shape {x.shape}")
    fb, window, basis = _filters()
    x = np.pad(x, (N_FFT // 2, N_FFT // 2), mode="reflect")
    n_frames = 1 + (x.size - N_FFT) // HOP
    idx = np.arange(n_frames)[:, None] * HOP + (N_FFT - WIN) // 2 + np.arange(WIN)[None, :]
    spec = np.abs(np.fft.rfft(x[idx] * window, n=N_FFT, axis=1))  # [frames, freqs]
    logmel = np.log(np.maximum(spec @ fb, 1e-5))
    return logmel @ basis.T


def dtw_path(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Minimum-cost monotone path through ``cost [N, M]`` from (0, 0) to (N-1, M-1) -> (rows, cols).

    Each row of the accumulated cost is one vectorised pass: the horizontal chain
    ``D[i, j] = min(a[j], c[i, j] + D[i, j-1])`` equals ``S[j] + cummin(a[k] - S[k])`` with S the
    running sum of the row, so the O(N M) table costs N numpy calls instead of N M Python steps.
    """
    n, m = cost.shape
    acc = np.empty((n, m))
    s = np.cumsum(cost[0])
    acc[0] = s
    for i in range(1, n):
        c = cost[i]
        diag = np.concatenate(([np.inf], acc[i - 1, :-1]))
        a = c + np.minimum(acc[i - 1], diag)
        s = np.cumsum(c)
        acc[i] = s + np.minimum.accumulate(a - s)
    # Backtrack from the end; ties prefer the diagonal, which keeps equal-length paths on it.
    rows, cols = [n - 1], [m - 1]
    i, j = n - 1, m - 1
    while i > 0 or j > 0:
        if i == 0:
            j -= 1
        elif j == 0:
            i -= 1
        else:
            steps = (acc[i - 1, j - 1], acc[i - 1, j], acc[i, j - 1])
            k = int(np.argmin(steps))
            i, j = (i - 1, j - 1) if k == 0 else (i - 1, j) if k == 1 else (i, j - 1)
        rows.append(i)
        cols.append(j)
    return np.array(rows[::-1]), np.array(cols[::-1])


def mcd(estimate: np.ndarray, reference: np.ndarray) -> float:
    """DTW-aligned mel-cepstral distance in dB (0 for identical audio)."""
    a, b = mel_cepstrum(estimate), mel_cepstrum(reference)
    if len(a) * len(b) > MAX_DTW_CELLS:
        raise ValueError(f"too long for DTW: {len(a)} x {len(b)} frames > {MAX_DTW_CELLS} cells")
    from scipy.spatial.distance import cdist

    # cdist takes the differences directly (no |a|^2 + |b|^2 - 2ab round-off): identical frames give 0.
    cost = _K * cdist(a, b)
    rows, cols = dtw_path(cost)
    return float(cost[rows, cols].mean())
