"""Simulation recipes chosen by name: ``uniaudio simulate --recipe NAME`` (and a tasks file's docs).

A recipe turns one source row (16 kHz, its audio = the clean target) into the paired ``source`` audio a
new task's model takes as input. :func:`simulate_recipe` writes ``<out>/manifest.jsonl`` + wavs in the
layout of :mod:`pipelines.simulation.driver` (row audio = target, ``paired.source`` = input, drawn
parameters in ``extra``), read back by the ``manifest`` reader. Registered here:

* ``bandlimit``: low-pass by resampling to ``rate`` Hz (default 8000: an 8 kHz telephone-band copy)
  and back to 16 kHz, the source of speech bandwidth extension (docs/NEW_TASK.md).
* The five AUDIT audio edits (:mod:`pipelines.simulation.audit`), each with its instruction in the
  row's ``instruction``: ``add`` / ``drop`` (params ``event`` = a wav path, ``label``,
  ``ebr_db``), ``replace`` (``event`` + ``label`` placed in the row's audio, swapped for ``new_event`` +
  ``new_label``), ``inpaint`` (``mask_min_s``, ``mask_max_s``) and ``super_resolution`` (``rates``,
  comma-separated Hz). An edit recipe returns an :class:`~pipelines.simulation.audit.EditPair`: its own
  target (add: background + event), not the row's audio, and the region where the pair differs.

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

from pipelines.simulation.audit import EditSkipped
from uniaudio.audio import SAMPLE_RATE, AudioError, load_audio, resample, write_audio

Recipe = Callable[[np.ndarray, np.random.Generator, dict[str, Any]], Any]  # (source, extra) or an EditPair


def bandlimit(wav: np.ndarray, rng: np.random.Generator, params: dict[str, Any]) -> tuple[np.ndarray, dict]:
    rate = int(params.get("rate", 8000))
    if not 1000 <= rate < SAMPLE_RATE:
        raise ValueError(f"bandlimit: rate must be in [1000, {SAMPLE_RATE}) Hz, got {rate}")
    low = resample(resample(wav, SAMPLE_RATE, rate), rate, SAMPLE_RATE)[: len(wav)]
    return np.pad(low, (0, len(wav) - len(low))).astype(np.float32), {"rate": rate}


def _event(params: dict[str, Any], key: str) -> tuple[np.ndarray, str]:
    path, label = params.get(key), params.get("label" if key == "event" else "new_label")
    if not path or not label:
        raise ValueError(f"this recipe needs --param {key}=WAV and --param {'label' if key == 'event' else 'new_label'}=TEXT")
    return load_audio(str(path), SAMPLE_RATE), str(label)


def _ebr(params: dict[str, Any], rng: np.random.Generator) -> float:
    return float(params["ebr_db"]) if "ebr_db" in params else float(rng.uniform(-5.0, 5.0))


def _add_drop(op: str):
    def recipe(wav: np.ndarray, rng: np.random.Generator, params: dict[str, Any]):
        from pipelines.simulation import audit
        from pipelines.simulation.edits import audio_edit

        event, label = _event(params, "event")
        return audit.from_add_drop(audio_edit(wav, event, label, op, _ebr(params, rng), rng))

    return recipe


def replace(wav: np.ndarray, rng: np.random.Generator, params: dict[str, Any]):
    from pipelines.simulation import audit

    (old, old_label), (new, new_label) = _event(params, "event"), _event(params, "new_event")
    return audit.replace(wav, old, new, old_label, new_label, _ebr(params, rng), rng)


def inpaint(wav: np.ndarray, rng: np.random.Generator, params: dict[str, Any]):
    from pipelines.simulation import audit

    return audit.inpaint(wav, rng, (float(params.get("mask_min_s", 0.5)), float(params.get("mask_max_s", 1.5))))


def super_resolution(wav: np.ndarray, rng: np.random.Generator, params: dict[str, Any]):
    from pipelines.simulation import audit

    rates = params.get("rates", "4000,8000")
    rates = tuple(int(r) for r in (rates.split(",") if isinstance(rates, str) else rates))
    if not rates or not all(1000 <= r < SAMPLE_RATE for r in rates):
        raise ValueError(f"super_resolution: rates must be in [1000, {SAMPLE_RATE}) Hz, got {rates}")
    return audit.super_resolution(wav, rng, rates)


RECIPES: dict[str, Recipe] = {"bandlimit": bandlimit, "add": _add_drop("add"), "drop": _add_drop("drop"),
                              "replace": replace, "inpaint": inpaint, "super_resolution": super_resolution}


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
        try:
            res = recipe(wav, rng, params)
        except (AudioError, EditSkipped) as err:  # this row only; a bad parameter (ValueError) stops the run
            problems.append(f"{row.utt_id}: {err}")
            continue
        instruction = None
        if isinstance(res, tuple):
            (src, drawn), tgt = res, wav
        else:  # an edit recipe (pipelines.simulation.audit.EditPair): its own target and instruction
            src, tgt, instruction = res.source, res.target, res.instruction
            drawn = {"op": res.op, **res.params, "region_s": list(res.region_s), "band_hz": list(res.band_hz)}
        utt = f"{name}-{i:06d}"
        write_audio(out / "wav" / f"{utt}.wav", tgt)
        write_audio(out / "wav" / f"{utt}.source.wav", src)
        rec = {"utt_id": utt, "audio": f"wav/{utt}.wav", "paired": {"source": f"wav/{utt}.source.wav"},
               "extra": {"recipe": name, "seed": seed, "index": i, "from": f"{row.dataset}/{row.utt_id}", **drawn}}
        rec.update({k: v for k, v in (("text", row.text), ("speaker", row.speaker), ("instruction", instruction)) if v})
        records.append(rec)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "manifest.jsonl"
    path.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in records), encoding="utf-8")
    return path, problems
