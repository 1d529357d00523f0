"""Scoring one item: decode its audio once, run its task's families, record values / failures / skips.

Nothing here raises for a bad item: a missing or corrupt wav, a PESQ that finds no speech, an ASR
crash all become per-metric error strings in :class:`ItemScore`, which the table counts as failures.
Only ``KeyboardInterrupt``-style exceptions escape.

Baseline systems reuse the same code by overriding the output: ``ground_truth`` scores the reference
itself (the floor of WER, the ceiling of similarity), ``codec_resynthesis`` scores the reference after
the codec round trip (what a perfect LM could reach, see :mod:`uniaudio.evaluate.resynthesis`).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from uniaudio.evaluate.registry import families_for
from uniaudio.evaluate.results import ResultItem

#: Decoded wavs kept in memory (prompts and references repeat across items and systems).
AUDIO_CACHE_ITEMS = 64


def describe_error(err: BaseException) -> str:
    """A short, single-line reason for the table and items.jsonl."""
    msg = str(err).strip().splitlines()[0] if str(err).strip() else ""
    text = f"{type(err).__name__}: {msg}" if msg else type(err).__name__
    return text[:300]


class Caches:
    """Per-run caches keyed by file path: decoded audio (LRU), load errors, speaker embeddings."""

    def __init__(self, max_audio: int = AUDIO_CACHE_ITEMS):
        self.max_audio = max_audio
        self.audio: OrderedDict[str, np.ndarray] = OrderedDict()
        self.audio_errors: dict[str, Exception] = {}
        self.speaker: dict[str, np.ndarray] = {}
        self.embeddings: dict[str, np.ndarray] = {}  # Fréchet-distance embeddings

    def load(self, path: str) -> np.ndarray:
        from uniaudio.audio import load_audio

        if path in self.audio_errors:
            raise self.audio_errors[path]
        if path in self.audio:
            self.audio.move_to_end(path)
            return self.audio[path]
        try:
            wav = load_audio(path)
        except Exception as err:  # noqa: BLE001 - AudioError and anything soundfile/soxr throws
            self.audio_errors[path] = err
            raise
        self.audio[path] = wav
        if len(self.audio) > self.max_audio:
            self.audio.popitem(last=False)
        return wav


@dataclass
class ItemScore:
    """One item's scores under one system."""

    system: str
    task: str
    id: str
    values: dict[str, Any] = field(default_factory=dict)  # float or Ratio
    errors: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        from uniaudio.evaluate.text import Ratio

        vals = {k: (v.value if isinstance(v, Ratio) else v) for k, v in self.values.items()}
        return {"system": self.system, "task": self.task, "id": self.id, "scores": vals,
                "errors": self.errors, "skipped": self.skipped, **({"details": self.details} if self.details else {})}


class ItemContext:
    """What a family sees: the item, its audio (decoded once), speaker embeddings (cached by path)."""

    def __init__(self, item: ResultItem, caches: Caches, output_wav: np.ndarray | None = None,
                 output_path: str | None = None):
        self.item, self.caches = item, caches
        self._output_wav = output_wav
        self._output_path = output_path if output_path is not None else (
            item.output if item.audio_output and output_wav is None else None)
        self.details: dict[str, Any] = {}

    def path(self, name: str) -> str | None:
        """File path behind ``"output"`` or an item field (``"a|b"`` = the first present)."""
        if name == "output":
            return self._output_path
        return self.item.first(name)

    def audio(self, name: str) -> np.ndarray:
        if name == "output" and self._output_wav is not None:
            return self._output_wav
        path = self.path(name)
        if path is None:
            raise ValueError(f"item has no {name}")
        return self.caches.load(path)

    def speaker_embedding(self, name: str) -> np.ndarray:
        from uniaudio.evaluate.speaker import embed

        path = self.path(name)
        if path is None:  # an in-memory output (codec resynthesis): nothing to key a cache on
            return embed(self.audio(name))
        if path not in self.caches.speaker:
            self.caches.speaker[path] = embed(self.audio(name))
        return self.caches.speaker[path]


def score_item(item: ResultItem, caches: Caches, selected: set[str] | None = None, system: str = "model",
               output_wav: np.ndarray | None = None, output_path: str | None = None) -> ItemScore:
    """Run every per-item family of the item's task (restricted to ``selected`` metric names)."""
    score = ItemScore(system, item.task, item.id)
    ctx = ItemContext(item, caches, output_wav, output_path)
    for fam in families_for(item.task):
        if fam.set_level:
            continue
        wanted = [m for m in fam.metrics if selected is None or m.name in selected]
        runnable = [m for m in wanted if all(item.has(n) for n in m.needs)]
        score.skipped += [m.name for m in wanted if m not in runnable]
        if not runnable:
            continue
        names = tuple(m.name for m in runnable)
        try:
            out = fam.compute(ctx, names)
        except Exception as err:  # noqa: BLE001 - one bad item never stops the evaluation
            for n in names:
                score.errors[n] = describe_error(err)
            continue
        for n in names:
            v = out.get(n)
            if isinstance(v, Exception):
                score.errors[n] = describe_error(v)
            elif v is None:
                score.errors[n] = "not computed"
            elif isinstance(v, float) and not np.isfinite(v):
                score.errors[n] = f"non-finite value {v}"
            else:
                score.values[n] = v
    score.details.update(ctx.details)
    return score


def failed_item(item: ResultItem, reason: str, selected: set[str] | None = None, system: str = "model") -> ItemScore:
    """An item none of whose metrics could run (e.g. the codec failed on its reference)."""
    score = ItemScore(system, item.task, item.id)
    for fam in families_for(item.task):
        if fam.set_level:
            continue
        for m in fam.metrics:
            if selected is not None and m.name not in selected:
                continue
            if all(item.has(n) for n in m.needs):
                score.errors[m.name] = reason
            else:
                score.skipped.append(m.name)
    return score
