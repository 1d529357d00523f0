"""Token-budget batching with length buckets, and task-weighted resampling. Pure and seeded.

Batches are cut so that ``batch_size x longest_example <= max_frames`` (the padded cost the model
pays), from a buffer of examples sorted by length, so padding stays low; the batch order inside a
buffer is then shuffled so consecutive steps do not march from short to long.

>>> import numpy as np
>>> exs = [Item(f"e{i}", "tts", n, None) for i, n in enumerate([10, 50, 12, 48, 11, 52])]
>>> [[e.n_frames for e in b] for b in token_budget_batches(exs, max_frames=100, rng=np.random.default_rng(0))]
[[52], [10, 11, 12], [48, 50]]
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator, Mapping, NamedTuple, Sequence

import numpy as np


class Item(NamedTuple):
    """What batching needs to know of an example (``payload`` is the decoded Sequence)."""

    example_id: str
    task: str
    n_frames: int
    payload: Any


def token_budget_batches(
    examples: Sequence[Item], max_frames: int, rng: np.random.Generator, max_batch_size: int = 1024
) -> list[list[Item]]:
    """Sort by length, cut greedily under the padded-frame budget, shuffle the batch order."""
    ordered = sorted(examples, key=lambda e: (e.n_frames, e.example_id))
    batches: list[list[Item]] = []
    cur: list[Item] = []
    for e in ordered:
        longest = max([e.n_frames] + [c.n_frames for c in cur])
        if cur and ((len(cur) + 1) * longest > max_frames or len(cur) >= max_batch_size):
            batches.append(cur)
            cur = []
        cur.append(e)
    if cur:
        batches.append(cur)
    order = rng.permutation(len(batches))
    return [batches[i] for i in order]


def task_repeat_factors(
    counts: Mapping[str, int], weights: Mapping[str, float] | None = None, alpha: float | None = None
) -> dict[str, float]:
    """Expected copies of each example per epoch, per task.

    ``alpha`` resamples tasks to ``p_t ~ n_t ** alpha`` (1 = as stored, 0 = uniform over tasks, the
    paper's fine-tuning stage keeps earlier tasks at a small share); ``weights`` then multiply each
    task's factor (e.g. ``{"tts": 0.05}`` keeps 5 % of TTS examples).
    """
    total = sum(counts.values())
    factors = {t: 1.0 for t in counts}
    if alpha is not None and total:
        z = sum(n**alpha for n in counts.values() if n)
        factors = {t: ((n**alpha / z) * total / n if n else 0.0) for t, n in counts.items()}
    for t, w in (weights or {}).items():
        if w < 0:
            raise ValueError(f"task weight for {t!r} must be >= 0, got {w}")
        if t in factors:
            factors[t] *= w
    return factors


def resample(
    examples: Iterable[Item], factors: Mapping[str, float], rng: np.random.Generator
) -> Iterator[Item]:
    """Emit each example floor(f) times, plus once more with probability frac(f) (f = its task's factor)."""
    for e in examples:
        f = factors.get(e.task, 1.0)
        copies = int(f) + int(rng.random() < (f - int(f)))
        for _ in range(copies):
            yield e
