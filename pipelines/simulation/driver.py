"""Write simulated pairs as wav files + a ``manifest.jsonl`` per task that the ``manifest`` reader reads.

Inputs are manifest rows (from any reader): ``speech`` (with ``speaker`` and ``text``), ``noise``,
``events`` (labelled by ``caption``, else ``extra["label"]``, else ``text``) and ``backgrounds``
(audio-edit beds; defaults to ``noise``). Output, one dataset folder per task under ``out``::

    out/<task>/manifest.jsonl
    out/<task>/wav/<utt_id>.wav            the target (the row's audio)
    out/<task>/wav/<utt_id>.<role>.wav     paired audio: source, noise, interference, enrolment, event

Row convention (shared with pipelines.tokenize): the row's ``audio`` is what the model must produce;
``paired["source"]`` is the model's audio input. Item ``i`` of ``task`` draws everything from
``numpy.random.default_rng(item_seed)`` where ``item_seed`` derives from ``(seed, task, i)`` and is
recorded in ``extra`` with every drawn parameter and the source utt ids, so any pair can be re-made.
A source that cannot be used (unreadable, silent, no other utterance of its speaker) is reported in the
returned problem list, not skipped silently.
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from pipelines.simulation import audit
from pipelines.simulation.audit import OPS as AUDIT_OPS
from pipelines.simulation.config import SimulationConfig
from pipelines.simulation.edits import audio_edit, pick_edit_span
from pipelines.simulation.mixing import mix_at_snr, pick_enrolment, pick_interferer
from pipelines.simulation.reverb import render_rir, reverberate, sample_rir_params
from pipelines.sources.manifest import ManifestRow, Problem
from uniaudio.audio import SAMPLE_RATE, AudioError, load_audio, write_audio

TASKS = ("se", "tse", "dereverb", "audio_edit", "speech_edit")
_TASK_CODE = {t: i + 1 for i, t in enumerate(TASKS)}


def item_seed(seed: int, task: str, index: int) -> int:
    """The seed of one pair: independent of every other pair and of which tasks are enabled."""
    return int(np.random.SeedSequence([seed, _TASK_CODE[task], index]).generate_state(1)[0])


class _Audio:
    """Small LRU of decoded 16 kHz sources (demo pools reuse the same few files many times)."""

    def __init__(self, size: int = 128):
        self.size, self._cache = size, OrderedDict()

    def __call__(self, row: ManifestRow) -> np.ndarray:
        key = (row.audio_uri, row.start_s, row.end_s)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        wav = load_audio(row.audio_uri, SAMPLE_RATE, row.start_s, row.end_s)
        self._cache[key] = wav
        if len(self._cache) > self.size:
            self._cache.popitem(last=False)
        return wav


def _crop(wav: np.ndarray, crop_s: float | None, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    n = int(crop_s * SAMPLE_RATE) if crop_s else len(wav)
    if len(wav) <= n:
        return wav, 0
    off = int(rng.integers(0, len(wav) - n + 1))
    return wav[off : off + n], off


def _label(row: ManifestRow) -> str:
    label = row.caption or row.extra.get("label") or row.text
    if not label:
        raise ValueError(f"event {row.utt_id!r} has no caption / extra.label / text to name it")
    return str(label)


def _base(row: ManifestRow) -> dict:
    return {"text": row.text, "speaker": row.speaker}


class _Writer:
    def __init__(self, folder: Path, subtype: str):
        self.folder, self.subtype, self.records = folder, subtype, []

    def wav(self, utt: str, role: str | None, wav: np.ndarray) -> str:
        rel = f"wav/{utt}.wav" if role is None else f"wav/{utt}.{role}.wav"
        write_audio(self.folder / rel, wav, SAMPLE_RATE, subtype=self.subtype)
        return rel

    def add(self, utt: str, target: np.ndarray, paired: dict[str, np.ndarray], fields: dict, extra: dict) -> None:
        rec = {"utt_id": utt, "audio": self.wav(utt, None, target)}
        rec.update({k: v for k, v in fields.items() if v})
        if paired:
            rec["paired"] = {role: self.wav(utt, role, w) for role, w in paired.items()}
        rec["extra"] = extra
        self.records.append(rec)

    def close(self) -> Path:
        path = self.folder / "manifest.jsonl"
        self.folder.mkdir(parents=True, exist_ok=True)
        lines = [json.dumps(r, sort_keys=True, ensure_ascii=False) for r in self.records]
        path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        return path


def simulate(
    out: str | Path,
    cfg: SimulationConfig,
    speech: Sequence[ManifestRow],
    noise: Sequence[ManifestRow] = (),
    events: Sequence[ManifestRow] = (),
    backgrounds: Sequence[ManifestRow] | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> tuple[dict[str, Path], list[Problem]]:
    """Make every enabled task's pairs under ``out``; returns ``({task: manifest path}, problems)``."""
    out = Path(out)
    load = _Audio()
    backgrounds = list(noise) if backgrounds is None else list(backgrounds)
    pools = {"se": (speech, noise), "tse": (speech,), "dereverb": (speech,),
             "audio_edit": (backgrounds, events), "speech_edit": (speech,)}
    makers = {"se": _se, "tse": _tse, "dereverb": _dereverb, "audio_edit": _audio_edit, "speech_edit": _speech_edit}
    manifests: dict[str, Path] = {}
    problems: list[Problem] = []
    for task in TASKS:
        tcfg = getattr(cfg, task)
        if tcfg.count == 0:
            continue
        empty = [i for i, pool in enumerate(pools[task]) if not pool]
        if empty:
            raise ValueError(f"simulation task {task!r}: needs a non-empty {['first', 'second'][empty[0]]} source pool")
        writer = _Writer(out / task, cfg.subtype)
        for i in range(tcfg.count):
            utt = f"{task}-{i:06d}"
            s = item_seed(cfg.seed, task, i)
            rng = np.random.default_rng(s)
            try:
                target, paired, fields, extra = makers[task](rng, cfg, load, *pools[task])
            except (AudioError, ValueError) as err:
                problems.append(Problem(f"sim_{task}", utt, f"{task}[{i}]", f"simulation_failed: {err}"))
                continue
            writer.add(utt, target, paired, fields, {"seed": cfg.seed, "item_seed": s, "index": i, **extra})
            if progress:
                progress(task, i)
        manifests[task] = writer.close()
    return manifests, problems


def _pick(rng: np.random.Generator, pool: Sequence[ManifestRow]) -> ManifestRow:
    return pool[int(rng.integers(0, len(pool)))]


def _se(rng, cfg: SimulationConfig, load, speech, noise):
    clean_row, noise_row = _pick(rng, speech), _pick(rng, noise)
    clean, crop = _crop(load(clean_row), cfg.crop_s, rng)
    snr = float(rng.uniform(*cfg.se.snr_db))
    m = mix_at_snr(clean, load(noise_row), snr, rng, fit="loop")
    extra = {"snr_db": snr, "clean_utt": clean_row.utt_id, "noise_utt": noise_row.utt_id,
             "clean_offset_s": crop / SAMPLE_RATE, "noise_offset_s": m.offset / SAMPLE_RATE, "peak_scale": m.scale}
    return m.target, {"source": m.mixture, "noise": m.interference}, _base(clean_row), extra


def _tse(rng, cfg: SimulationConfig, load, speech):
    eligible = [r for r in speech if r.speaker is not None]
    target_row = _pick(rng, eligible) if eligible else None
    if target_row is None:
        raise ValueError("TSE needs speech rows with speaker labels")
    enrol_row = pick_enrolment(target_row, speech, rng)  # raises if the speaker has one utterance only
    inter_row = pick_interferer(target_row, speech, rng)
    target, crop = _crop(load(target_row), cfg.crop_s, rng)
    sir = float(rng.uniform(*cfg.tse.sir_db))
    m = mix_at_snr(target, load(inter_row), sir, rng, fit="pad")
    extra = {"sir_db": sir, "clean_utt": target_row.utt_id, "interference_utt": inter_row.utt_id,
             "enrolment_utt": enrol_row.utt_id, "clean_offset_s": crop / SAMPLE_RATE,
             "interference_offset_s": m.offset / SAMPLE_RATE, "peak_scale": m.scale}
    paired = {"source": m.mixture, "interference": m.interference, "enrolment": load(enrol_row)}
    return m.target, paired, _base(target_row), extra


def _dereverb(rng, cfg: SimulationConfig, load, speech):
    row = _pick(rng, speech)
    clean, crop = _crop(load(row), cfg.crop_s, rng)
    d = cfg.dereverb
    params = sample_rir_params(rng, (d.room_x_m, d.room_y_m, d.room_z_m), d.rt60_s, d.min_wall_m, d.min_dist_m,
                               d.max_order_cap)
    rir = render_rir(params)
    wet = reverberate(clean, rir, mode="same")
    peak = float(max(np.max(np.abs(wet)), np.max(np.abs(clean))))
    scale = 0.99 / peak if peak > 0.99 else 1.0  # the same factor on both keeps the pair consistent
    extra = {"rir": {**params.to_dict(), "rir_len": len(rir)}, "clean_utt": row.utt_id,
             "clean_offset_s": crop / SAMPLE_RATE, "peak_scale": scale}
    return clean * scale, {"source": wet * scale}, _base(row), extra


def _audio_edit(rng, cfg: SimulationConfig, load, backgrounds, events):
    bg_row, ev_row = _pick(rng, backgrounds), _pick(rng, events)
    bg, crop = _crop(load(bg_row), cfg.crop_s, rng)
    op = cfg.audio_edit.ops[int(rng.integers(0, len(cfg.audio_edit.ops)))]
    if op in AUDIT_OPS:
        return _audit_edit(op, rng, cfg, load, bg_row, bg, crop, ev_row, events)
    ebr = float(rng.uniform(*cfg.audio_edit.ebr_db))
    label = _label(ev_row)
    e = audio_edit(bg, load(ev_row), label, op, ebr, rng)
    extra = {"op": op, "ebr_db": ebr, "label": label, "background_utt": bg_row.utt_id, "event_utt": ev_row.utt_id,
             "background_offset_s": crop / SAMPLE_RATE, "event_offset_s": e.offset_s,
             "event_start_s": e.event_start_s, "peak_scale": e.scale, "region_s": list(audit.event_region(e.event))}
    return e.target, {"source": e.source, "event": e.event}, {"instruction": e.instruction}, extra


def _audit_edit(op, rng, cfg: SimulationConfig, load, bg_row, bg, crop, ev_row, events):
    """replace / inpaint / super_resolution (pipelines.simulation.audit); the pair's differing region in extra."""
    c = cfg.audio_edit
    extra = {"op": op, "background_utt": bg_row.utt_id, "background_offset_s": crop / SAMPLE_RATE}
    if op == "replace":
        others = [r for r in events if r.utt_id != ev_row.utt_id and _label(r) != _label(ev_row)]
        if not others:
            raise ValueError("replace needs two events with different labels")
        new_row = _pick(rng, others)
        e = audit.replace(bg, load(ev_row), load(new_row), _label(ev_row), _label(new_row),
                          float(rng.uniform(*c.ebr_db)), rng)
        extra.update(event_utt=ev_row.utt_id, new_event_utt=new_row.utt_id)
    elif op == "inpaint":
        e = audit.inpaint(bg, rng, c.mask_s)
    else:
        e = audit.super_resolution(bg, rng, tuple(c.superres_rates))
    extra.update(e.params, region_s=list(e.region_s), band_hz=list(e.band_hz))
    return e.target, {"source": e.source}, {"instruction": e.instruction}, extra


def _speech_edit(rng, cfg: SimulationConfig, load, speech):
    usable = [r for r in speech if r.text and r.text.split()]
    if not usable:
        raise ValueError("speech edit needs speech rows with transcripts")
    row = _pick(rng, usable)
    wav = load(row)
    words, times = row.text.split(), row.extra.get("word_times")  # [[start_s, end_s], ...] from a synthesizer
    extra = {}
    if times is None:  # real speech: the same aligner as the tokenizer's (pipelines.alignment)
        from pipelines.alignment.words import align

        al = align(wav, row.text, row.extra.get("language") or "en")  # AlignmentError -> a reported problem
        words, times = al.words, al.word_times
        extra = {"word_times": [[round(a, 3), round(b, 3)] for a, b in times], "alignment": al.method}
    span = pick_edit_span(words, len(wav) / SAMPLE_RATE, rng, timings=times, max_words=cfg.speech_edit.max_words)
    return wav, {}, _base(row), {"edit_span": span.to_dict(), "clean_utt": row.utt_id, **extra}


def spec_entries(manifests: dict[str, Path], prefix: str = "sim", spec_dir: str | Path | None = None) -> list[dict]:
    """Dataset-spec entries (``reader: manifest``) for the folders :func:`simulate` wrote."""
    out = []
    for task, path in manifests.items():
        root = str(path.parent)
        if spec_dir is not None:
            root = os.path.relpath(root, spec_dir)
        out.append({"name": f"{prefix}_{task}", "reader": "manifest", "root": root, "tasks": [task]})
    return out
