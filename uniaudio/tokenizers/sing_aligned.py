"""Singing with a phone-aligned score (OpenCpop, M4Singer): phones, their durations and note pitches.

Those corpora annotate every phone with its duration and the pitch of the note it is sung on, so the
50 Hz frame grid follows from the annotation directly; no syllable-to-note rule (``singing.py``) is
needed or wanted (it would guess what the annotators measured). Rasterising: phone k covers frames
``round(t_k*50)`` .. ``round(t_{k+1}*50) - 1`` where ``t`` is the running sum of phone durations
(rounding the running sum, not each duration, keeps the total exact); frames past the audio are
truncated and counted, frames the annotation leaves uncovered at the end are silence (``SP``, rest).
Phone spellings: ``<SP>``/``<AP>`` (M4Singer) = ``SP``/``AP`` (OpenCpop); an ``SP`` / ``AP`` phone is
a rest whatever note it is written on. Pitches: MIDI numbers, 0 = rest (M4Singer), or note names
``C#4/Db4`` / ``rest`` (OpenCpop).

>>> s = AlignedScore(phones=("SP", "n", "i"), durations=(0.04, 0.04, 0.06), pitches=("rest", "C4", "C4"))
>>> s.frames(8)
(['SP', 'SP', 'n', 'n', 'i', 'i', 'i', 'SP'], [128, 128, 60, 60, 60, 60, 60, 128], 0)
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from .base import TokenizeError

FRAME_RATE = 50
REST = 128
_SILENT = {"SP": "SP", "<SP>": "SP", "AP": "AP", "<AP>": "AP", "sil": "SP", "<sil>": "SP"}
_NOTE = re.compile(r"^([A-Ga-g])([#b]?)(-?\d+)$")
_STEP = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def midi_of(pitch: Any) -> int:
    """A pitch as the corpora write it -> MIDI number, :data:`REST` for a rest (``0``, ``rest``)."""
    if isinstance(pitch, (int, float)) and not isinstance(pitch, bool):
        p = int(round(pitch))
        if p == 0:
            return REST
        if 0 < p < 128:
            return p
        raise TokenizeError("bad_score", f"MIDI pitch {pitch!r} outside 0-127")
    text = str(pitch).strip()
    if text.lower() in ("rest", "sp", "ap", ""):
        return REST
    if text.isdigit():
        return midi_of(int(text))
    m = _NOTE.match(text.split("/")[0])  # "C#4/Db4": both names of one pitch
    if not m:
        raise TokenizeError("bad_score", f"cannot read note {pitch!r}")
    step, acc, octave = m.groups()
    p = 12 * (int(octave) + 1) + _STEP[step.upper()] + {"#": 1, "b": -1, "": 0}[acc]
    if not 0 <= p < 128:
        raise TokenizeError("bad_score", f"note {pitch!r} outside MIDI 0-127")
    return p


@dataclass(frozen=True)
class AlignedScore:
    """Per phone: its symbol, duration (seconds), the pitch of its note, and whether it is a slur
    (a melisma continuation of the previous syllable's vowel onto a new note)."""

    phones: tuple[str, ...]
    durations: tuple[float, ...]
    pitches: tuple[Any, ...]
    slurs: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        n = len(self.phones)
        if not n:
            raise TokenizeError("no_notes", "the aligned score has no phones")
        if len(self.durations) != n or len(self.pitches) != n or (self.slurs and len(self.slurs) != n):
            raise TokenizeError("bad_score", f"{n} phones but {len(self.durations)} durations, "
                                f"{len(self.pitches)} pitches, {len(self.slurs)} slur flags")
        if any(not (isinstance(d, (int, float)) and math.isfinite(d) and d >= 0) for d in self.durations):
            raise TokenizeError("bad_score", "phone durations must be finite seconds >= 0")

    def to_dict(self) -> dict[str, list]:
        return {"phones": list(self.phones), "durations": list(self.durations), "pitches": list(self.pitches),
                "slurs": list(self.slurs)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Sequence[Any]]) -> "AlignedScore":
        return cls(tuple(d["phones"]), tuple(float(x) for x in d["durations"]), tuple(d["pitches"]),
                   tuple(int(x) for x in d.get("slurs") or ()))

    @property
    def n_notes(self) -> int:
        """Notes sung (not rests): a new note starts at each voiced phone whose pitch or slur changes."""
        n, prev = 0, None
        for ph, p, s in zip(self.phones, self.pitches, self.slurs or (0,) * len(self.phones)):
            m = REST if ph in _SILENT else midi_of(p)
            if m != REST and (m != prev or s):
                n += 1
            prev = m
        return n

    @property
    def n_syllables(self) -> int:
        """Sung syllables: phones that are neither silence nor a Mandarin initial, slurs not counted."""
        from .pinyin import SING_INITIALS

        slurs = self.slurs or (0,) * len(self.phones)
        return sum(1 for p, s in zip(self.phones, slurs) if p not in _SILENT and p not in SING_INITIALS and not s)

    def frames(self, num_frames: int | None = None) -> tuple[list[str], list[int], int]:
        """(phone per frame, MIDI per frame, frames truncated past ``num_frames``)."""
        bounds = [0]
        t = 0.0
        for d in self.durations:
            t += d
            bounds.append(int(math.floor(t * FRAME_RATE + 0.5)))
        total = bounds[-1] if num_frames is None else int(num_frames)
        phones, midi = ["SP"] * total, [REST] * total
        for k, ph in enumerate(self.phones):
            silent = _SILENT.get(ph)
            m = REST if silent else midi_of(self.pitches[k])
            for f in range(bounds[k], min(bounds[k + 1], total)):
                phones[f], midi[f] = (silent or ph), m
        return phones, midi, max(0, bounds[-1] - total)
