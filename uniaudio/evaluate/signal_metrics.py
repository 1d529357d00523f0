"""Reference-based signal metrics for enhancement-type tasks: PESQ (wide-band), STOI, SI-SNR.

All take the estimate and the reference as 16 kHz mono float arrays. Generated audio rarely has
exactly the reference's length (the codec works in 320-sample frames), so both are cut to the shorter
length first (:func:`align`); the start is assumed aligned, which holds for SE / TSE / dereverb whose
output is generated frame-synchronously from the source.

- PESQ: ITU-T P.862.2 wide-band via ``pesq`` (range about 1.0-4.64; needs speech in the reference).
- STOI: classic short-time objective intelligibility via ``pystoi`` (0-1).
- SI-SNR: scale-invariant SNR in dB (zero-mean signals, projection on the reference), capped at
  :data:`SI_SNR_CAP_DB` so that identical signals give a finite, very high number.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> s = rng.standard_normal(16000).astype("float32")
>>> si_snr(s, s) == SI_SNR_CAP_DB, round(si_snr(s + 0.1 * rng.standard_normal(16000), s))
(True, 20)
>>> round(si_snr(3.0 * s, s))   # scale invariant
100
"""

from __future__ import annotations

import numpy as np

from uniaudio.audio import SAMPLE_RATE

SI_SNR_CAP_DB = 100.0
#: PESQ and STOI need this much audio to say anything.
MIN_SAMPLES = SAMPLE_RATE // 4


def align(estimate: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both cut to the shorter length, float64; raises ValueError when that is under 0.25 s."""
    n = min(len(estimate), len(reference))
    if n < MIN_SAMPLES:
        raise ValueError(f"audio too short to compare: {n} samples < {MIN_SAMPLES}")
    return np.asarray(estimate[:n], np.float64), np.asarray(reference[:n], np.float64)


def si_snr(estimate: np.ndarray, reference: np.ndarray) -> float:
    """Scale-invariant SNR in dB, capped at :data:`SI_SNR_CAP_DB`."""
    est, ref = align(estimate, reference)
    est, ref = est - est.mean(), ref - ref.mean()
    ref_energy = float(np.dot(ref, ref))
    if ref_energy == 0.0:
        raise ValueError("reference is silent")
    target = (np.dot(est, ref) / ref_energy) * ref
    noise = est - target
    t, e = float(np.dot(target, target)), float(np.dot(noise, noise))
    if t == 0.0:
        return -SI_SNR_CAP_DB
    # Error energy below cap-dB of the target (identical signals: round-off only) reads as the cap.
    if e <= t * 10 ** (-SI_SNR_CAP_DB / 10):
        return SI_SNR_CAP_DB
    return float(min(SI_SNR_CAP_DB, 10 * np.log10(t / e)))


def pesq_wb(estimate: np.ndarray, reference: np.ndarray) -> float:
    """Wide-band PESQ (MOS-LQO); raises ValueError when PESQ finds no utterance."""
    from pesq import PesqError, pesq

    est, ref = align(estimate, reference)
    if not np.any(ref) or not np.any(est):  # pesq would divide by a zero peak (NaN + warnings)
        raise ValueError("PESQ failed: silent signal")
    try:
        return float(pesq(SAMPLE_RATE, ref.astype(np.float32), est.astype(np.float32), "wb"))
    except PesqError as err:
        raise ValueError(f"PESQ failed: {type(err).__name__}") from None


def stoi(estimate: np.ndarray, reference: np.ndarray, extended: bool = False) -> float:
    """STOI (or ESTOI with ``extended=True``) in 0..1."""
    from pystoi import stoi as _stoi

    est, ref = align(estimate, reference)
    return float(_stoi(ref, est, SAMPLE_RATE, extended=extended))
