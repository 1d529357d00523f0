"""Music of the demo corpus: real scores from the music21 corpus rendered with FluidSynth, captioned.

Two kinds of piece: Bach four-part chorales (arranged for an ensemble: organ, string quartet,
woodwinds, brass, choir, piano...) and dance tunes from Ryan's Mammoth Collection (1883: reels,
jigs, hornpipes, strathspeys; one melody on a lead instrument). Each clip gets a tempo, an optional
transposition and an instrumentation from its seed; the caption is built from exactly those facts plus
the key music21 finds in the score (transposed with it), e.g. "A slow chorale for string quartet in
F sharp minor, in 4/4 at about 66 BPM". The notes are written next to the audio as MIDI (``notes``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from pipelines.demo.common import Job, ScratchDir, finish_file, rng_for, run_tool, source_path

SR_RENDER = 32_000  # FluidSynth renders above the target rate; soxr then band-limits to 16 kHz

# name, GM programs for soprano/alto/tenor/bass (one entry = every part), phrase for captions
ENSEMBLES = (
    ("church organ", (19,), "for church organ"),
    ("piano", (0,), "on solo piano"),
    ("string quartet", (40, 40, 41, 42), "for string quartet"),
    ("woodwind quartet", (73, 68, 71, 70), "for woodwind quartet (flute, oboe, clarinet, bassoon)"),
    ("brass quartet", (56, 56, 60, 57), "for brass quartet"),
    ("choir", (52,), "sung by a wordless choir"),
    ("harpsichord", (6,), "on harpsichord"),
    ("string orchestra", (48,), "for string orchestra"),
    ("electric piano", (4,), "on electric piano"),
    ("vibraphone", (11,), "on vibraphone"),
)
LEADS = (("fiddle", 110), ("flute", 73), ("tin whistle", 72), ("accordion", 21), ("harmonica", 22),
         ("banjo", 105), ("nylon-string guitar", 24), ("bagpipes", 109), ("mandolin-like plucked strings", 25),
         ("pan flute", 75))
# Quarter-note tempo ranges by tune type (a reel is played in cut time, so its quarters run fast).
FOLK_TEMPO = {"Reel": (168, 200), "Jig": (150, 180), "Slipjig": (150, 170), "Hornpipe": (120, 150),
              "Strathspey": (100, 126), "Clog": (120, 144), "Fling": (120, 140)}
FOLK_KIND = {"Reel": "reel", "Jig": "jig", "Slipjig": "slip jig", "Hornpipe": "hornpipe",
             "Strathspey": "Scottish strathspey", "Clog": "clog dance", "Fling": "Highland fling"}


def _corpus_dir() -> Path:
    import music21

    return Path(music21.__file__).parent / "corpus"


def chorale_paths() -> list[Path]:
    return sorted((_corpus_dir() / "bach").glob("bwv*.mxl"))


def folk_paths() -> list[Path]:
    return sorted(p for p in (_corpus_dir() / "ryansMammoth").glob("*.abc") if _tune_type(p) in FOLK_TEMPO)


def _tune_type(path: Path) -> str | None:
    m = re.search(r"(Reel|Slipjig|Jig|Hornpipe|Strathspey|Clog|Fling)(The)?$", path.stem)
    return m.group(1) if m else None


def tempo_word(bpm: float) -> str:
    return "slow" if bpm < 72 else "moderate" if bpm < 108 else "lively" if bpm < 150 else "fast"


def key_name(tonic: str, mode: str) -> str:
    """music21 spells F# / B- ; captions say "F sharp" / "B flat"."""
    name = tonic[0].upper() + tonic[1:].replace("#", " sharp").replace("-", " flat")
    return f"{name} {mode}"


def score_notes(path: str):
    """(notes [(start_q, end_q, midi pitch, part index)], key (tonic, mode), time signature, part count)."""
    from music21 import converter

    score = converter.parse(path)
    score = score.stripTies()
    key = score.analyze("key")
    ts = score.recurse().getElementsByClass("TimeSignature").first()
    notes = []
    parts = list(score.parts) or [score]
    for i, part in enumerate(parts):
        for n in part.flatten().notes:
            start = float(n.offset)
            end = start + float(n.quarterLength)
            for p in n.pitches:
                notes.append((start, end, int(p.midi), i))
    notes.sort()
    return notes, (key.tonic.name, key.mode), (ts.ratioString if ts is not None else "4/4"), len(parts)


def write_midi(path: str, notes, bpm: float, programs: tuple[int, ...], n_parts: int, clip_s: float,
               transpose: int, seed: int) -> int:
    """Notes (quarter-length times) -> MIDI at ``bpm`` cut to ``clip_s``; returns the note count kept."""
    import pretty_midi

    rng = rng_for(seed, "velocity")
    pm = pretty_midi.PrettyMIDI(initial_tempo=bpm)
    insts = []
    for i in range(n_parts):
        prog = programs[i] if len(programs) == n_parts else programs[0]
        inst = pretty_midi.Instrument(program=prog, name=f"part{i}")
        insts.append(inst)
        pm.instruments.append(inst)
    sec = 60.0 / bpm
    kept = 0
    for start_q, end_q, pitch, part in notes:
        start, end = start_q * sec, min(end_q * sec, clip_s)
        if start >= clip_s - 0.05 or end <= start:
            continue
        vel = int(72 + rng.integers(0, 24)) if part == 0 else int(60 + rng.integers(0, 20))  # melody on top
        insts[part].notes.append(pretty_midi.Note(velocity=vel, pitch=min(127, max(0, pitch + transpose)), start=start, end=end))
        kept += 1
    pm.write(path)
    return kept


def render_job(score: str, kind: str, dst_wav: str, dst_mid: str, clip_s: float, seed: int) -> dict:
    """Parse, arrange, write MIDI, render with FluidSynth, finish to 16 kHz; caption from the facts."""
    from music21 import pitch as m21pitch

    rng = rng_for(seed, "music", os.path.basename(score))
    notes, (tonic, mode), ts, n_parts = score_notes(score)
    transpose = int(rng.integers(-4, 5))
    if kind == "chorale":
        name, programs, phrase = ENSEMBLES[int(rng.integers(len(ENSEMBLES)))]
        bpm = float(rng.integers(56, 112))
    else:
        ttype = _tune_type(Path(score)) or "Reel"
        name, program = LEADS[int(rng.integers(len(LEADS)))]
        programs, phrase = (program,), f"played on {name}"
        lo, hi = FOLK_TEMPO[ttype]
        bpm = float(rng.integers(lo, hi + 1))
    new_tonic = m21pitch.Pitch(tonic).transpose(transpose).name
    key = key_name(new_tonic, mode)
    kept = write_midi(dst_mid, notes, bpm, programs, n_parts, clip_s, transpose, seed)
    if kept == 0:
        raise RuntimeError(f"demo corpus: no notes in the first {clip_s}s of {score}")
    with ScratchDir() as tmp:
        raw = str(tmp / "render.wav")
        run_tool([source_path("fluidsynth"), "-ni", "-q", "-F", raw, "-r", str(SR_RENDER), "-g", "0.6",
                  source_path("soundfont"), dst_mid], f"music {os.path.basename(score)}")
        duration = finish_file(raw, dst_wav, rms_dbfs=-20.0, max_s=clip_s + 1.0)
    tw = tempo_word(bpm)
    if kind == "chorale":
        templates = ["A {tw} chorale {phrase} in {key}, in {ts} at about {bpm} BPM.",
                     "{Tw} four-part hymn harmony {phrase}, {key}, {bpm} beats per minute.",
                     "A Baroque chorale in {key} {phrase}; {tw} tempo, {ts} time.",
                     "Calm, {tw} sacred music {phrase} in the key of {key}."]
        kind_word = "chorale"
    else:
        kind_word = FOLK_KIND.get(_tune_type(Path(score)) or "Reel", "dance tune")
        templates = ["A {tw} traditional {kind} {phrase} in {key}, {ts} time, about {bpm} BPM.",
                     "An Irish-style {kind} melody {phrase}; {key}, {tw} tempo.",
                     "Solo {name} playing a {tw} folk {kind} in {key}.",
                     "A {tw} fiddle-tune style {kind} {phrase} in the key of {key}, in {ts}."]
    fields = {"tw": tw, "Tw": tw.capitalize(), "phrase": phrase, "key": key, "ts": ts, "bpm": int(bpm), "name": name,
              "kind": kind_word}
    caption = str(rng.choice(templates)).format(**fields)
    return {"duration_s": duration, "caption": caption,
            "extra": {"score": f"music21:{Path(score).parent.name}/{Path(score).name}", "kind": kind, "instrument": name,
                      "programs": list(programs), "bpm": bpm, "key": key, "time_signature": ts, "transpose": transpose}}


def plan_music(folder: Path, n_chorales: int, n_folk: int, clip_s: float, seed: int) -> list[tuple[dict, Job]]:
    """Pick pieces with the build seed and plan one render job per clip."""
    out = []
    for kind, paths, n in (("chorale", chorale_paths(), n_chorales), ("folk", folk_paths(), n_folk)):
        if not paths:
            raise RuntimeError("demo corpus: the music21 corpus is missing (pip package music21 ships it)")
        picks = sorted(rng_for(seed, "music-pick", kind).choice(len(paths), min(n, len(paths)), replace=False).tolist())
        for idx in picks:
            path = paths[idx]
            utt = f"{kind}-{re.sub(r'[^A-Za-z0-9]+', '_', path.stem)}"
            item = {"utt_id": utt, "audio": f"wav/{utt}.wav", "notes": f"midi/{utt}.mid"}
            kwargs = {"score": str(path), "kind": kind, "dst_wav": str(folder / item["audio"]),
                      "dst_mid": str(folder / item["notes"]), "clip_s": clip_s, "seed": seed}
            (folder / "midi").mkdir(parents=True, exist_ok=True)
            out.append((item, Job(render_job, kwargs, cost=8.0)))
    return out
