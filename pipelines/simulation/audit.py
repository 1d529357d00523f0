"""The AUDIT audio edits beside add / drop: replace a sound, inpaint a masked region, super-resolve.

AUDIT (Wang et al. 2023, the paper's audio-edit data) builds (instruction, input, output) triplets
for five edits; add / drop live in :mod:`pipelines.simulation.edits`, the other three here, with
AUDIT's instruction wording:

* ``replace`` — "Replace {A} to {B}": event A placed in a background at an event-to-background ratio
  (EBR) is swapped for event B, fitted to A's length and scaled to the same EBR, at the same offset.
  source = background + A, target = background + B; one peak factor on both, so outside A's span the
  two are the same samples.
* ``inpaint`` — "Inpaint": a region of ``mask_s`` seconds (drawn, inside the clip) is zeroed in the
  source; the target is the intact clip. Outside the region source == target exactly.
* ``super_resolution`` — "Perform Super-resolution": the source is the clip low-passed by resampling
  to ``rate`` Hz and back (:func:`pipelines.simulation.recipes.bandlimit`); the target is the full
  band. They differ above ``rate / 2`` Hz, not below it.

Each edit reports where the pair differs: ``region_s`` (a time span; the whole clip for
super-resolution) and ``band_hz`` (a frequency band; the full band for the others), which the tests
check and the manifest records.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> clip = (0.1 * np.sin(np.arange(32000) * 0.05)).astype(np.float32)
>>> e = inpaint(clip, rng, (0.5, 0.5))
>>> a = int(e.region_s[0] * 16000)
>>> e.instruction, round(e.region_s[1] - e.region_s[0], 3), bool(np.array_equal(e.source[:a], e.target[:a])), bool(np.any(e.source[a:a + 8000]))
('Inpaint', 0.5, True, False)
>>> instruction_for_replace("A dog barking.", "Rain falling")
'Replace a dog barking to rain falling'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pipelines.simulation.mixing import PEAK, energy, fit_length, mix_at_snr
from uniaudio.audio import SAMPLE_RATE

OPS = ("replace", "inpaint", "super_resolution")


class EditSkipped(ValueError):
    """This clip cannot make this edit (silent event, clip too short): the row is reported, others go on."""
INSTRUCTIONS = {"inpaint": "Inpaint", "super_resolution": "Perform Super-resolution"}


@dataclass(frozen=True)
class EditPair:
    source: np.ndarray  # what the model is given
    target: np.ndarray  # what it must produce
    op: str
    instruction: str
    region_s: tuple[float, float]  # where in time the pair differs
    band_hz: tuple[float, float] = (0.0, SAMPLE_RATE / 2)  # where in frequency it differs
    params: dict[str, Any] = field(default_factory=dict)  # drawn parameters, for the manifest's extra


def event_region(track: np.ndarray) -> tuple[float, float]:
    """[first, last] non-zero sample of a placed event track, in seconds (where add / drop differ)."""
    nz = np.flatnonzero(track)
    return (float(nz[0]) / SAMPLE_RATE, float(nz[-1] + 1) / SAMPLE_RATE) if nz.size else (0.0, 0.0)


def from_add_drop(e: Any) -> EditPair:
    """An :class:`~pipelines.simulation.edits.AudioEdit` (add / drop) as an :class:`EditPair`."""
    return EditPair(e.source, e.target, e.op, e.instruction, event_region(e.event),
                    params={"ebr_db": e.ebr_db, "peak_scale": e.scale, "event_offset_s": e.offset_s})


def _phrase(label: str) -> str:
    text = " ".join(str(label).split()).rstrip(".!?;:, ")
    if not text:
        raise ValueError("an audio edit needs non-empty event labels")
    if len(text) > 1 and text[0].isupper() and not text[1].isupper():
        text = text[0].lower() + text[1:]  # "A dog" -> "a dog", acronyms kept ("TV static")
    return text


def instruction_for_replace(old: str, new: str) -> str:
    """AUDIT's wording: ``Replace laughter to trumpet``."""
    return f"Replace {_phrase(old)} to {_phrase(new)}"


def replace(background: np.ndarray, old: np.ndarray, new: np.ndarray, old_label: str, new_label: str,
            ebr_db: float, rng: np.random.Generator, peak: float = PEAK) -> EditPair:
    """background + ``old`` -> background + ``new`` at the same place and EBR (module doc)."""
    instruction = instruction_for_replace(old_label, new_label)
    bg = np.asarray(background, dtype=np.float32)
    m = mix_at_snr(bg, old, -ebr_db, rng, fit="pad", peak=np.inf)  # placed, scaled A (no peak step yet)
    span = np.flatnonzero(m.interference)
    if span.size == 0:
        raise EditSkipped("the event to replace is silent")
    a, b = int(span[0]), int(span[-1]) + 1
    new = np.asarray(new, dtype=np.float32)
    seg, _ = fit_length(new, b - a, rng, mode="loop")
    if energy(seg) == 0.0:  # a short span cropped from the event's leading/trailing silence: crop its active part
        active = np.flatnonzero(new)
        if active.size:
            seg, _ = fit_length(new[active[0] : active[-1] + 1], b - a, rng, mode="loop")
    if energy(seg) == 0.0:
        raise EditSkipped("the replacing event is silent")
    gain = np.sqrt(energy(m.interference) / energy(seg))  # the same EBR as A over the whole clip
    b_track = np.zeros_like(bg)
    b_track[a:b] = (seg.astype(np.float64) * gain).astype(np.float32)
    src, tgt = bg + m.interference, bg + b_track
    top = float(max(np.max(np.abs(src)), np.max(np.abs(tgt))))
    scale = peak / top if top > peak else 1.0
    src, tgt = (src * scale).astype(np.float32), (tgt * scale).astype(np.float32)
    tgt[:a], tgt[b:] = src[:a], src[b:]  # the same samples outside the span (one computation, not two)
    return EditPair(src, tgt, "replace", instruction, (a / SAMPLE_RATE, b / SAMPLE_RATE),
                    params={"ebr_db": float(ebr_db), "peak_scale": scale, "old_label": old_label, "new_label": new_label})


def inpaint(clip: np.ndarray, rng: np.random.Generator, mask_s: tuple[float, float] = (0.5, 1.5)) -> EditPair:
    """Zero a drawn region of ``mask_s`` seconds inside ``clip`` (at least 10% of it stays on each side)."""
    clip = np.asarray(clip, dtype=np.float32)
    n = len(clip)
    length = int(round(float(rng.uniform(*mask_s)) * SAMPLE_RATE))
    length = min(length, int(0.8 * n))
    if length <= 0:
        raise EditSkipped(f"clip of {n} samples is too short to inpaint")
    lo, hi = int(0.1 * n), n - int(0.1 * n) - length
    a = int(rng.integers(lo, max(lo, hi) + 1))
    src = clip.copy()
    src[a : a + length] = 0.0
    if not np.any(clip[a : a + length]):
        raise EditSkipped("the masked region is already silent: nothing to inpaint")
    region = (a / SAMPLE_RATE, (a + length) / SAMPLE_RATE)
    return EditPair(src, clip.copy(), "inpaint", INSTRUCTIONS["inpaint"], region, params={"mask_s": list(region)})


def super_resolution(clip: np.ndarray, rng: np.random.Generator, rates: tuple[int, ...] = (4000, 8000)) -> EditPair:
    """Low-pass ``clip`` to a rate drawn from ``rates`` (the source); the full band is the target."""
    from pipelines.simulation.recipes import bandlimit

    rate = int(rates[int(rng.integers(0, len(rates)))])
    src, _ = bandlimit(np.asarray(clip, dtype=np.float32), rng, {"rate": rate})
    return EditPair(src, np.asarray(clip, dtype=np.float32).copy(), "super_resolution", INSTRUCTIONS["super_resolution"],
                    (0.0, len(clip) / SAMPLE_RATE), band_hz=(rate / 2, SAMPLE_RATE / 2), params={"rate": rate})
