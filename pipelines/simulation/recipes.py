"""Simulation recipes chosen by name: ``uniaudio simulate --recipe NAME`` (and a tasks file's docs).

A recipe turns one source row (16 kHz, its audio = the clean target) into the paired ``source`` audio a
new task's model takes as input. :func:`simulate_recipe` writes ``<out>/manifest.jsonl`` + wavs in the
layout of :mod:`pipelines.simulation.driver` (row audio = target, ``paired.source`` = input, drawn
parameters in ``extra``), read back by the ``manifest`` reader. Registered here:

* ``bandlimit``: low-pass by resampling to ``rate`` Hz (default 8000: an 8 kHz telephone-band copy)
  and back to 16 kHz, the source of speech bandwidth extension (docs/NEW_TASK.md).

>>> import numpy as np
>>> t = np.arange(16000) / 16000
>>> wav = (np.sin(2 * np.pi * 300 * t) + np.sin(2 * np.pi * 6000 * t)).astype(np.float32)
>>> out, extra = RECIPES["bandlimit"](wav, np.random.default_rng(0), {})
>>> spec = np.abs(np.fft.rfft(out))
>>> bool(spec[6000] < 0.01 * spec[300]), extra
(True, {'rate': 8000})
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from uniaudio.audio import SAMPLE_RATE, AudioError, load_audio, resample, write_audio

Recipe = Callable[[np.ndarray, np.random.Generator, dict[str, Any]], tuple[np.ndarray, dict[str, Any]]]


def bandlimit(wav: np.ndarray, rng: np.random.Generator, params: dict[str, Any]) -> tuple[np.ndarray, dict]:
    rate = int(params.get("rate", 8000))
    if not 1000 <= rate < SAMPLE_RATE:
        raise ValueError(f"bandlimit: rate must be in [1000, {SAMPLE_RATE}) Hz, got {rate}")
    low = resample(resample(wav, SAMPLE_RATE, rate), rate, SAMPLE_RATE)[: len(wav)]
    return np.pad(low, (0, len(wav) - len(low))).astype(np.float32), {"rate": rate}


RECIPES: dict[str, Recipe] = {"bandlimit": bandlimit}


def get_recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise KeyError(f"unknown simulation recipe {name!r}; known: {', '.join(RECIPES)}")
    return RECIPES[name]


def simulate_recipe(name: str, rows: Sequence[Any], out: str | Path, params: dict[str, Any] | None = None,
                    seed: int = 0, count: int | None = None) -> tuple[Path, list[str]]:
    """Apply recipe ``name`` to the first ``count`` rows -> (manifest path, problems: one line per skipped row)."""
    recipe, params = get_recipe(name), dict(params or {})
    out = Path(out)
    records, problems = [], []
    for i, row in enumerate(list(rows)[: count if count is not None else len(rows)]):
        try:
            wav = load_audio(row.audio_uri, SAMPLE_RATE, row.start_s, row.end_s)
        except AudioError as err:
            problems.append(f"{row.utt_id}: {err}")
            continue
        rng = np.random.default_rng([seed, i])
        src, drawn = recipe(wav, rng, params)
        utt = f"{name}-{i:06d}"
        write_audio(out / "wav" / f"{utt}.wav", wav)
        write_audio(out / "wav" / f"{utt}.source.wav", src)
        rec = {"utt_id": utt, "audio": f"wav/{utt}.wav", "paired": {"source": f"wav/{utt}.source.wav"},
               "extra": {"recipe": name, "seed": seed, "index": i, "from": f"{row.dataset}/{row.utt_id}", **drawn}}
        rec.update({k: v for k, v in (("text", row.text), ("speaker", row.speaker)) if v})
        records.append(rec)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "manifest.jsonl"
    path.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in records), encoding="utf-8")
    return path, problems
