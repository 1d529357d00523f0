"""Simulated pairs of the demo corpus, made by :func:`pipelines.simulate.simulate` from the raw datasets.

Pools handed to the simulation (all read back through the readers, so the pairs come from exactly
what the spec exposes):

* speech: every row of ``real_speech`` and ``synth_speech`` (speaker-labelled, transcribed). Rows
  of the festival voice carry ``extra["word_times"]``, festival's own word timings, so speech-edit
  spans on them are exact; speech edit draws from those rows (the other voices give no timings and
  the simulation would fall back to a proportional estimate);
* noise (SE): ALSA's ``Noise.wav``, the effects without voices, and the music clips;
* events (audio edit): every effect, labelled with its name-derived description (the bare noun
  phrase, so the instruction reads "Add the sound of a metal bang");
* backgrounds (audio edit): the music clips and the effects of 2.5 s or more.

The tasks are split over two processes (dereverberation's room simulation is the slow one); each
pair's seed depends only on (seed, task, index), so the split never changes a byte.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from pipelines.demo.common import Job, source_path
from pipelines.demo.sfx import describe

CROP_S = 8.0  # simulated targets are cropped to this (the reference SE recipe uses 7 s)
VOICE_WORDS = ("voice", "saying", "shouting", "screaming", "groaning", "cheering", "laugh", "grunt", "burp", "scream")


def _rows(out: Path, names: list[str]):
    from pipelines.sources import DatasetEntry, read_dataset
    from pipelines.democorpus import RAW_DATASETS

    defs = {d.name: d for d in RAW_DATASETS}
    rows = []
    for name in names:
        d = defs[name]
        res = read_dataset(DatasetEntry(name=name, reader=d.reader, root=str(out / name), tasks=list(d.tasks), options=d.options))
        if res.problems:
            raise RuntimeError(f"demo corpus: {name} reads with problems: {res.problems[:3]}")
        rows.extend(res.rows)
    return rows


def pools(out: Path, items: dict[str, list[dict]]):
    """(speech, speech_edit_speech, noise, events, backgrounds) manifest rows."""
    from pipelines.sources import ManifestRow

    by_id = {(name, it["utt_id"]): it for name, its in items.items() for it in its}
    speech = []
    for row in _rows(out, ["real_speech", "synth_speech"]):
        times = by_id[(row.dataset, row.utt_id)].get("word_times")
        speech.append(replace(row, extra={**row.extra, "word_times": times}) if times else row)
    aligned = [r for r in speech if "word_times" in r.extra]
    sfx = _rows(out, ["sfx"])
    music = _rows(out, ["music"])
    sfx_item = {it["utt_id"]: it for it in items["sfx"]}
    # The events' label is the bare description; the captions reader's caption is a full sentence.
    events = [replace(r, caption=None, extra={**r.extra, "label": describe(Path(sfx_item[r.utt_id]["source"]).stem)}) for r in sfx]
    voiceless = [r for r in sfx if not any(w in (r.caption or "").lower() for w in VOICE_WORDS)]
    noise = [ManifestRow(dataset="alsa", utt_id="alsa-Noise", audio_uri=source_path("alsa_noise"))] + voiceless + music
    long_sfx = {it["utt_id"] for it in items["sfx"] if it["duration_s"] >= 2.5}
    backgrounds = music + [r for r in sfx if r.utt_id in long_sfx]
    return speech, (aligned if len(aligned) >= 2 else speech), noise, events, backgrounds


def simulate_job(out: str, cfg: dict, speech: list, noise: list, events: list, backgrounds: list) -> dict:
    """One process's share of the tasks (``cfg`` is a SimulationConfig as a dict)."""
    from pipelines.simulate import SimulationConfig, simulate

    manifests, problems = simulate(out, SimulationConfig(**cfg), speech, noise, events, backgrounds)
    if problems:
        raise RuntimeError(f"demo corpus: simulation problems: {[p.reason for p in problems[:3]]}")
    return {"manifests": {task: str(p) for task, p in manifests.items()}}


def build_pairs(out: Path, items: dict[str, list[dict]], cfg, pool) -> tuple[list, dict[str, list[dict]]]:
    """Run the simulation; returns the new dataset definitions and their items (for the summary)."""
    import soundfile as sf

    from pipelines.democorpus import DatasetDef

    s = cfg.sizes
    speech, edit_speech, noise, events, backgrounds = pools(out, items)
    base = {"seed": cfg.seed, "crop_s": CROP_S}
    zero = {t: {"count": 0} for t in ("se", "tse", "dereverb", "audio_edit", "speech_edit")}
    sim_out = str(out / "sim")
    jobs = [
        Job(simulate_job, {"out": sim_out, "cfg": {**base, **zero, "dereverb": {"count": s.dereverb}},
                           "speech": speech, "noise": noise, "events": events, "backgrounds": backgrounds},
            cost=3.0 * s.dereverb),
        Job(simulate_job, {"out": sim_out, "cfg": {**base, **zero, "se": {"count": s.se}, "tse": {"count": s.tse},
                                                   "audio_edit": {"count": s.audio_edit}},
                           "speech": speech, "noise": noise, "events": events, "backgrounds": backgrounds},
            cost=float(s.se + s.tse + s.audio_edit)),
        Job(simulate_job, {"out": sim_out, "cfg": {**base, **zero, "speech_edit": {"count": s.speech_edit}},
                           "speech": edit_speech, "noise": noise, "events": events, "backgrounds": backgrounds},
            cost=0.2 * s.speech_edit),
    ]
    manifests: dict[str, Path] = {}
    for res in pool.run(jobs, desc="demo corpus: simulation"):
        manifests.update({t: Path(p) for t, p in res["manifests"].items()})
    defs, sim_items = [], {}
    for task in ("se", "tse", "dereverb", "audio_edit", "speech_edit"):
        if task not in manifests:
            continue
        name = f"sim_{task}"
        folder = manifests[task].parent
        recs = [json.loads(line) for line in manifests[task].read_text(encoding="utf-8").splitlines() if line.strip()]
        sim_items[name] = [{"utt_id": r["utt_id"], "duration_s": sf.info(str(folder / r["audio"])).duration} for r in recs]
        defs.append(DatasetDef(name, "manifest", (task,), {}, root=str(folder.relative_to(out))))
    return defs, sim_items
