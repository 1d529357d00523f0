"""Room impulse responses (pyroomacoustics image-source shoebox rooms) and reverberation.

A room is drawn from ranges (dimensions, RT60, source/microphone positions at least ``min_wall`` m from
every wall and ``min_dist`` m apart), turned into wall absorption and reflection order with Sabine's
formula (``pyroomacoustics.inverse_sabine``), and rendered at 16 kHz. The dereverberation target is
the **dry** clean speech; to keep the pair time-aligned the RIR is cut so its direct-path peak is
sample 0, and scaled so that peak is 1 (the direct sound keeps the dry level).

Lengths: :func:`reverberate` with ``mode="full"`` returns ``len(clean) + len(rir) - 1`` samples (the
whole reverberant tail); ``mode="same"`` returns the first ``len(clean)`` samples, aligned with the dry
target - what the simulation driver writes.

>>> import numpy as np
>>> p = sample_rir_params(np.random.default_rng(0), rt60_range=(0.2, 0.3))
>>> rir = render_rir(p)
>>> float(rir[0]), len(reverberate(np.ones(100, "float32"), rir)) == 100 + len(rir) - 1
(1.0, True)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np

from uniaudio.audio import SAMPLE_RATE


@dataclass(frozen=True)
class RirParams:
    """Everything needed to re-render one RIR (recorded in the manifest row's ``extra``)."""

    room_dim: tuple[float, float, float]
    rt60: float
    source: tuple[float, float, float]
    mic: tuple[float, float, float]
    absorption: float  # energy absorption of every wall (from Sabine)
    max_order: int  # image-source reflection order
    sample_rate: int = SAMPLE_RATE

    def to_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}


def sample_rir_params(
    rng: np.random.Generator,
    dims_range: tuple[tuple[float, float], tuple[float, float], tuple[float, float]] = ((3.0, 8.0), (3.0, 8.0), (2.5, 3.5)),
    rt60_range: tuple[float, float] = (0.2, 0.8),
    min_wall: float = 0.5,
    min_dist: float = 0.5,
    max_order_cap: int | None = None,
    sample_rate: int = SAMPLE_RATE,
    tries: int = 20,
) -> RirParams:
    """Draw a feasible shoebox room; re-draws (from the same ``rng``, so still deterministic) when
    Sabine's formula has no solution for the drawn RT60 in the drawn room."""
    import pyroomacoustics as pra

    for _ in range(tries):
        dim = tuple(float(rng.uniform(lo, hi)) for lo, hi in dims_range)
        rt60 = float(rng.uniform(*rt60_range))
        src = _position(rng, dim, min_wall)
        mic = _position(rng, dim, min_wall)
        if np.linalg.norm(np.subtract(src, mic)) < min_dist:
            continue
        try:
            absorption, max_order = pra.inverse_sabine(rt60, list(dim))
        except ValueError:  # "room may be too large" for such a short RT60
            continue
        if max_order_cap is not None:
            max_order = min(int(max_order), max_order_cap)
        return RirParams(dim, rt60, src, mic, float(absorption), int(max_order), sample_rate)
    raise ValueError(f"no feasible room in {tries} draws for dims {dims_range}, rt60 {rt60_range}")


def _position(rng: np.random.Generator, dim: tuple[float, ...], margin: float) -> tuple[float, float, float]:
    if any(d <= 2 * margin for d in dim):
        raise ValueError(f"room {dim} is too small for a {margin} m wall margin")
    return tuple(float(rng.uniform(margin, d - margin)) for d in dim)  # type: ignore[return-value]


def render_rir(p: RirParams) -> np.ndarray:
    """The RIR of ``p`` as float32, direct-path peak moved to sample 0 and scaled to 1."""
    import pyroomacoustics as pra

    room = pra.ShoeBox(list(p.room_dim), fs=p.sample_rate, materials=pra.Material(p.absorption), max_order=p.max_order)
    room.add_source(list(p.source))
    room.add_microphone(list(p.mic))
    room.compute_rir()
    h = np.asarray(room.rir[0][0], dtype=np.float64)
    # The direct path is the earliest arrival; find its peak inside a window around the geometric
    # delay instead of taking the global maximum, which an early reflection near a wall can exceed.
    dist = float(np.linalg.norm(np.subtract(p.source, p.mic)))
    center = pra.constants.get("frac_delay_length") // 2 + int(round(dist / pra.constants.get("c") * p.sample_rate))
    lo, hi = max(center - 8, 0), min(center + 9, len(h))
    t0 = lo + int(np.argmax(np.abs(h[lo:hi])))
    h = h[t0:]
    return (h / h[0]).astype(np.float32)


def reverberate(clean: np.ndarray, rir: np.ndarray, mode: Literal["full", "same"] = "full") -> np.ndarray:
    """Convolve (FFT). ``full``: ``len(clean)+len(rir)-1`` samples; ``same``: the first ``len(clean)``."""
    from scipy.signal import fftconvolve

    out = fftconvolve(np.asarray(clean, dtype=np.float64), np.asarray(rir, dtype=np.float64), mode="full")
    if mode == "same":
        out = out[: len(clean)]
    elif mode != "full":
        raise ValueError(f"mode must be 'full' or 'same', got {mode!r}")
    return out.astype(np.float32)
