"""Additive mixtures at a target energy ratio: noisy speech (SE) and two-speaker mixtures (TSE).

All arrays are mono float32 at 16 kHz. The ratio is measured over whole signals,
``10*log10(sum(target^2) / sum(interference^2))``, and met exactly (to float precision) by scaling
the interference. The returned parts satisfy ``mixture == target + interference`` exactly in float32
(the mixture is computed as that sum after any peak scaling, and peak scaling multiplies every part by
the same factor, so the ratio is unchanged).

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> clean, noise = rng.standard_normal(16000).astype("float32") * 0.1, rng.standard_normal(8000).astype("float32")
>>> m = mix_at_snr(clean, noise, snr_db=5.0, rng=rng)
>>> round(energy_ratio_db(m.target, m.interference), 3), bool(np.array_equal(m.mixture, m.target + m.interference))
(5.0, True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np

from pipelines.sources.manifest import ManifestRow

PEAK = 0.99  # leave headroom so a PCM_16 write never clips


@dataclass(frozen=True)
class Mixture:
    mixture: np.ndarray
    target: np.ndarray  # possibly peak-scaled copy of the input target
    interference: np.ndarray  # scaled, length-fitted interference
    ratio_db: float  # the requested (and achieved) SNR / SIR
    offset: int  # sample of the interference source where the used excerpt starts
    scale: float  # peak-protection factor applied to every part (1.0 = none)


def energy(x: np.ndarray) -> float:
    return float(np.sum(np.square(x, dtype=np.float64)))


def energy_ratio_db(target: np.ndarray, interference: np.ndarray) -> float:
    """SNR / SIR in dB over whole signals."""
    return float(10.0 * np.log10(energy(target) / energy(interference)))


def fit_length(x: np.ndarray, n: int, rng: np.random.Generator, mode: Literal["loop", "pad"] = "loop") -> tuple[np.ndarray, int]:
    """``x`` cut or extended to ``n`` samples, and the offset used.

    Longer inputs are cropped at a random offset. Shorter ones are looped from a random phase
    (``loop``: stationary noise) or placed at a random position in silence (``pad``: a competing
    talker, for whom looping would be unnatural).
    """
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"expected a non-empty mono signal, got shape {x.shape}")
    if len(x) >= n:
        off = int(rng.integers(0, len(x) - n + 1))
        return x[off : off + n].copy(), off
    if mode == "loop":
        off = int(rng.integers(0, len(x)))
        reps = -(-(n + off) // len(x))
        return np.tile(x, reps)[off : off + n].copy(), off
    off = int(rng.integers(0, n - len(x) + 1))
    out = np.zeros(n, dtype=np.float32)
    out[off : off + len(x)] = x
    return out, -off  # negative offset: the source starts |off| samples into the output


def mix_at_snr(
    target: np.ndarray,
    interference: np.ndarray,
    snr_db: float,
    rng: np.random.Generator,
    fit: Literal["loop", "pad"] = "loop",
    peak: float = PEAK,
) -> Mixture:
    """``target + g * interference`` with ``g`` chosen so the energy ratio is ``snr_db``."""
    target = np.asarray(target, dtype=np.float32)
    if target.ndim != 1 or energy(target) == 0.0:
        raise ValueError("target must be a non-silent mono signal")
    seg, off = fit_length(interference, len(target), rng, fit)
    e_int = energy(seg)
    if e_int == 0.0:
        raise ValueError("interference excerpt is silent; cannot reach an SNR")
    gain = np.sqrt(energy(target) / (e_int * 10.0 ** (snr_db / 10.0)))
    noise = (seg.astype(np.float64) * gain).astype(np.float32)
    mix = target + noise
    scale = 1.0
    top = float(np.max(np.abs(mix)))
    if top > peak:
        # One factor for every part keeps both the sum identity and the ratio.
        scale = peak / top
        target = (target * scale).astype(np.float32)
        noise = (noise * scale).astype(np.float32)
        mix = target + noise
    return Mixture(mix, target, noise, float(snr_db), off, scale)


def pick_enrolment(target: ManifestRow, pool: Sequence[ManifestRow], rng: np.random.Generator) -> ManifestRow:
    """Another utterance of ``target.speaker`` for TSE enrolment / audio prompts.

    Never the target utterance itself (same ``utt_id``, or the same audio span under another id):
    the reference implementation's prompt could be cut from the target, leaking the answer.
    """
    if target.speaker is None:
        raise ValueError(f"{target.utt_id}: enrolment needs a speaker label")
    same = (target.audio_uri, target.start_s, target.end_s)
    cands = [
        r for r in pool
        if r.speaker == target.speaker and r.utt_id != target.utt_id and (r.audio_uri, r.start_s, r.end_s) != same
    ]
    if not cands:
        raise ValueError(f"{target.utt_id}: speaker {target.speaker!r} has no other utterance to enrol from")
    return cands[int(rng.integers(0, len(cands)))]


def pick_interferer(target: ManifestRow, pool: Sequence[ManifestRow], rng: np.random.Generator) -> ManifestRow:
    """An utterance of a different speaker (the competing talker of a TSE mixture)."""
    cands = [r for r in pool if r.speaker is not None and r.speaker != target.speaker]
    if not cands:
        raise ValueError(f"{target.utt_id}: no utterance of another speaker to mix with")
    return cands[int(rng.integers(0, len(cands)))]
