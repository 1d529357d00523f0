"""Read a melody (one monophonic line of notes, in seconds) from a MIDI file or a MusicXML score.

- MIDI (``.mid``/``.midi``, pretty_midi): the chosen instrument (``track``; default the first
  non-drum instrument that has notes). Lyric meta events (``pm.lyrics``) within 10 ms of a note onset
  mark that note as starting a syllable; with no lyric events the syllable marks are unknown (None).
- MusicXML (``.musicxml``/``.xml``/``.mxl``, music21): the chosen part (``track``; default the first
  part with notes). Seconds come from music21's ``secondsMap`` (tempo marks honoured; 120 qpm when the
  score has none). Tied notes are merged; grace notes are skipped; a note with a lyric starts a
  syllable, a note without one continues the previous syllable (melisma).

Chords and overlaps are reduced to one line: of notes starting together the highest is kept, and a
note starting while the previous one still sounds cuts it short.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

from .base import TokenizeError

LYRIC_TOLERANCE_S = 0.010


@dataclass(frozen=True)
class Note:
    start: float  # seconds
    end: float
    pitch: int  # MIDI note number 0-127
    syllable_start: bool | None = None  # the score marks a lyric syllable on this note (None: unknown)


def monophonic(notes: Sequence[Note], eps: float = 1e-6) -> list[Note]:
    """Reduce to one sounding note at a time (see module doc). If no note is marked as a syllable
    start, the marks are meaningless (a score without lyrics) and become None (unknown)."""
    if not any(n.syllable_start for n in notes):
        notes = [replace(n, syllable_start=None) for n in notes]
    out: list[Note] = []
    for n in sorted(notes, key=lambda n: (n.start, -n.pitch)):
        if n.end - n.start <= eps:
            continue
        if out and abs(n.start - out[-1].start) <= eps:
            continue  # a lower note of a chord
        if out and n.start < out[-1].end - eps:
            out[-1] = replace(out[-1], end=n.start)
        out.append(n)
    return [n for n in out if n.end - n.start > eps]


def read_midi(path: str | Path, track: int | None = None) -> list[Note]:
    import pretty_midi

    try:
        pm = pretty_midi.PrettyMIDI(str(path))
    except Exception as err:  # pretty_midi/mido raise many types for corrupt files
        raise TokenizeError("bad_notes", f"cannot read MIDI {path}: {str(err)[:200]}") from None
    insts = [i for i in pm.instruments if i.notes and not i.is_drum]
    if track is not None:
        if not 0 <= track < len(pm.instruments):
            raise TokenizeError("bad_notes", f"{path}: track {track} not in 0..{len(pm.instruments) - 1}")
        insts = [pm.instruments[track]]
    if not insts or not insts[0].notes:
        raise TokenizeError("no_notes", f"{path}: no pitched notes")
    lyric_times = sorted(ly.time for ly in pm.lyrics)
    notes = []
    for n in insts[0].notes:
        mark = None
        if lyric_times:
            mark = any(abs(t - n.start) <= LYRIC_TOLERANCE_S for t in lyric_times)
        notes.append(Note(float(n.start), float(n.end), int(n.pitch), mark))
    return monophonic(notes)


def read_musicxml(path: str | Path, track: int | None = None) -> list[Note]:
    import music21

    try:
        score = music21.converter.parse(str(path))
    except Exception as err:  # music21 raises many types for malformed scores
        raise TokenizeError("bad_notes", f"cannot read MusicXML {path}: {str(err)[:200]}") from None
    parts = list(getattr(score, "parts", [])) or [score]
    if track is not None:
        if not 0 <= track < len(parts):
            raise TokenizeError("bad_notes", f"{path}: part {track} not in 0..{len(parts) - 1}")
        parts = [parts[track]]
    for part in parts:
        notes = _part_notes(part, music21)
        if notes:
            return monophonic(notes)
    raise TokenizeError("no_notes", f"{path}: no pitched notes")


def _part_notes(part, music21) -> list[Note]:
    notes: list[Note] = []
    for entry in part.flatten().secondsMap:
        el = entry["element"]
        if not isinstance(el, (music21.note.Note, music21.chord.Chord)) or el.duration.isGrace:
            continue
        start, dur = float(entry["offsetSeconds"]), float(entry["durationSeconds"])
        pitch = max(p.midi for p in el.pitches) if isinstance(el, music21.chord.Chord) else el.pitch.midi
        tie = el.tie.type if el.tie is not None else None
        if tie in ("stop", "continue") and notes and notes[-1].pitch == pitch:
            notes[-1] = replace(notes[-1], end=start + dur)
            continue
        notes.append(Note(start, start + dur, int(pitch), bool(el.lyric)))
    return notes


def read_notes(path: str | Path, track: int | None = None) -> list[Note]:
    """Dispatch on the file suffix; raises :class:`TokenizeError` (``bad_notes``/``no_notes``). A score
    in an object store (``s3://``) is read from this node's hash-verified cache copy."""
    from uniaudio.errors import UserFacingError
    from uniaudio.stores import uri as uris

    if uris.is_remote(path):
        try:
            path = uris.fetch(path)
        except (UserFacingError, OSError) as err:
            raise TokenizeError("bad_notes", f"notes file {str(path)!r}: {str(err)[:200]}") from None
    p = Path(path)
    if not p.is_file():
        raise TokenizeError("bad_notes", f"notes file {str(p)!r} does not exist")
    suffix = p.suffix.lower()
    if suffix in (".mid", ".midi"):
        return read_midi(p, track)
    if suffix in (".musicxml", ".xml", ".mxl"):
        return read_musicxml(p, track)
    raise TokenizeError("bad_notes", f"{p.name}: unknown notes format {suffix!r} (expected .mid or .musicxml/.xml/.mxl)")
