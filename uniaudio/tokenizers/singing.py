"""Singing: lyrics + notes -> two frame-aligned 50 Hz sequences (sing_phone ids, sing_midi ids).

Inventory ``data/sing_phones_v1.json``: ``<unk>``, ``SP`` (silence / rest), ``AP`` (breath; reserved
for datasets that annotate breaths, never produced by this rasteriser), then the 39 ARPAbet phonemes
without stress. MIDI ids: note number n -> n (0-127), rest -> 128 (:data:`REST`).

Rule (deterministic):
1. Notes (``score.py``) -> frames: note [start, end) covers frames ``round(start*50)`` ..
   ``round(end*50) - 1`` (at least one frame); every other frame is a rest (MIDI 128, phone SP).
2. Lyrics -> ARPAbet words (CMUdict, OOV via espeak-ng or spelling) -> syllables: one per vowel;
   consonants before the first vowel are its onset, after the last vowel the last coda; between two
   vowels one consonant goes to the next onset, with two or more the first closes the previous syllable
   and the rest open the next. A vowel-less word ("hmm") is one syllable, its last phone the nucleus.
3. Syllables -> notes: notes form groups, a group starting at each note the score marks with a lyric
   (a note without one continues the previous syllable: melisma); without marks every note is a group.
   Syllable j (of S) starts at group ``floor(j*G/S)``: S == G is one syllable per group, S < G lets a
   syllable hold the groups until the next syllable starts, S > G shares a group's frames equally.
4. Within a syllable's note frames: each consonant gets ``consonant_frames`` frames (60 ms at 3),
   reduced so consonants take at most half; the vowel fills the rest. When even one frame per consonant
   does not fit, the vowel keeps one frame and the consonants that do not fit are dropped (counted).

Mandarin lyrics (``SingInput.language`` ``zh``/``cmn``, from the dataset spec) take rule 2 from pinyin:
one syllable per character, its initial the onset and its final the nucleus (OpenCpop's phone set,
:func:`uniaudio.tokenizers.pinyin.sing_syllable`). A phone-aligned score (``SingInput.aligned``: the
OpenCpop / M4Singer annotation) replaces rules 1-4 with the annotated timing
(:mod:`uniaudio.tokenizers.sing_aligned`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Sequence

import numpy as np
from pydantic import Field

from uniaudio.config import ConfigBase

from .arpabet import ARPABET_VOWELS
from .base import TokenizeError, Tokenizer
from .g2p import CmudictG2P, split_text
from .inventory import Inventory, load_inventory
from .pinyin import PinyinG2P, reads_as_mandarin
from .score import Note, read_notes
from .sing_aligned import AlignedScore

FRAME_RATE = 50
REST = 128
SING_PHONE_RANGE = 256
SILENCE = "SP"


class SingConfig(ConfigBase):
    """Settings of the singing tokenizer."""

    enabled: bool = True
    oov: Literal["espeak", "spell"] = "espeak"
    consonant_frames: int = Field(3, ge=1)
    track: int | None = Field(None, ge=0)  # MIDI instrument / MusicXML part index; None = first with notes
    inventory: str = "sing_phones_v1.json"


@dataclass(frozen=True)
class SingInput:
    """One singing item: notes (a MIDI/MusicXML path or a note list), lyrics, and the audio's frame count
    (``ceil(T/320)``; None = up to the last note's end)."""

    notes: str | Path | Sequence[Note]
    lyrics: str
    num_frames: int | None = None
    offset_s: float = 0.0  # audio time of score time 0
    language: str | None = None  # the dataset's language: Mandarin lyrics go through pinyin
    aligned: AlignedScore | None = None  # phone-level annotation (OpenCpop, M4Singer): used instead of notes


@dataclass(frozen=True)
class SingSequence:
    phone_ids: np.ndarray  # int16 [F] sing_phone local ids
    midi_ids: np.ndarray  # int16 [F] MIDI note per frame, 128 = rest
    n_notes: int
    n_syllables: int
    n_dropped_phones: int = 0
    n_truncated_frames: int = 0  # note frames past num_frames (the score is longer than the audio)
    unk: dict[str, int] = field(default_factory=dict)


Syllable = tuple[list[str], str, list[str]]  # onset, nucleus, coda


def syllabify(word: Sequence[str]) -> list[Syllable]:
    """ARPAbet phones of one word (no stress digits) -> syllables (rule 2 of the module doc)."""
    vowels = [i for i, p in enumerate(word) if p in ARPABET_VOWELS]
    if not word:
        return []
    if not vowels:
        return [(list(word[:-1]), word[-1], [])]
    sylls: list[Syllable] = []
    onset = list(word[: vowels[0]])
    for k, v in enumerate(vowels):
        nxt = vowels[k + 1] if k + 1 < len(vowels) else None
        between = list(word[v + 1 : nxt]) if nxt is not None else list(word[v + 1 :])
        if nxt is None:
            coda, next_onset = between, []
        elif len(between) <= 1:
            coda, next_onset = [], between
        else:
            coda, next_onset = between[:1], between[1:]
        sylls.append((onset, word[v], coda))
        onset = next_onset
    return sylls


def allocate(n_frames: int, syl: Syllable, consonant_frames: int) -> tuple[list[str], int]:
    """Frame-level phones for one syllable over ``n_frames`` frames -> (phones, dropped count)."""
    onset, nucleus, coda = syl
    cons = len(onset) + len(coda)
    if n_frames <= 0:
        return [], cons + 1
    per = min(consonant_frames, (n_frames // 2) // cons) if cons else 0
    if cons and per == 0:
        room = n_frames - 1  # one frame per consonant, onset first, while the vowel keeps one
        keep_on = onset[:room]
        keep_co = coda[: max(0, room - len(keep_on))]
        out = keep_on + [nucleus] * (n_frames - len(keep_on) - len(keep_co)) + keep_co
        return out, cons - len(keep_on) - len(keep_co)
    out = [p for p in onset for _ in range(per)]
    out += [nucleus] * (n_frames - per * cons)
    out += [p for p in coda for _ in range(per)]
    return out, 0


def note_frames(notes: Sequence[Note], offset_s: float = 0.0) -> list[tuple[int, int]]:
    """[start, end) frame ranges per note (rule 1)."""
    spans = []
    for n in notes:
        s = int(np.floor((n.start + offset_s) * FRAME_RATE + 0.5))
        e = int(np.floor((n.end + offset_s) * FRAME_RATE + 0.5))
        spans.append((max(s, 0), max(e, s + 1)))
    return spans


class SingTokenizer(Tokenizer):
    """:class:`SingInput` -> :class:`SingSequence` (modalities ``sing_phone`` and ``sing_midi``)."""

    name = "sing"
    modality = "sing_phone"  # also produces sing_midi, aligned frame by frame
    ALGO = 1

    def __init__(self, cfg: SingConfig | None = None):
        self.cfg = cfg or SingConfig()
        self._g2p = CmudictG2P(stress=False, oov=self.cfg.oov)
        self._pinyin = PinyinG2P()
        self._inventory: Inventory | None = None

    @property
    def inventory(self) -> Inventory:
        if self._inventory is None:
            self._inventory = load_inventory(self.cfg.inventory, limit=SING_PHONE_RANGE)
        return self._inventory

    def _version_payload(self) -> dict:
        cfg = self.cfg.to_dict()
        cfg.pop("enabled")
        return {"cfg": cfg, "inventory": self.inventory.digest, "g2p": self._g2p.backend_version(),
                "mandarin": self._pinyin.backend_version(), "frame_rate": FRAME_RATE}

    def syllables(self, lyrics: str, language: str | None = None) -> list[Syllable]:
        if not isinstance(lyrics, str) or not lyrics.strip():
            raise TokenizeError("empty_text", "the lyrics are empty or whitespace")
        if reads_as_mandarin(lyrics, language):
            sylls = [(ph[:-1], ph[-1], []) for ph in self._pinyin.lyric_syllables(lyrics)]
            if not sylls:
                raise TokenizeError("g2p_failed", f"no Mandarin syllable in lyrics {lyrics[:80]!r}")
            return sylls
        words = [t for k, t in split_text(lyrics) if k == "word"]
        per_word, _ = self._g2p.words(words)
        sylls = [s for ws in per_word for w in ws for s in syllabify(w)]
        if not sylls:
            raise TokenizeError("g2p_failed", f"no pronounceable syllable in lyrics {lyrics[:80]!r}")
        return sylls

    def tokenize(self, item: SingInput) -> SingSequence:
        if item.aligned is not None:
            phones_f, midi_f, truncated = item.aligned.frames(item.num_frames)
            ids, unk = self.inventory.encode(phones_f)
            return SingSequence(ids, np.asarray(midi_f, dtype=np.int16), item.aligned.n_notes,
                                item.aligned.n_syllables,
                                0, truncated, dict(unk))
        notes = read_notes(item.notes, self.cfg.track) if isinstance(item.notes, (str, Path)) else list(item.notes)
        if not notes:
            raise TokenizeError("no_notes", "the score has no notes")
        sylls = self.syllables(item.lyrics, item.language)
        spans = note_frames(notes, item.offset_s)
        total = spans[-1][1] if item.num_frames is None else int(item.num_frames)
        phones = [SILENCE] * total
        midi = np.full(total, REST, dtype=np.int16)
        for n, (s, e) in zip(notes, spans):
            midi[s:min(e, total)] = n.pitch
        truncated = sum(max(0, e - max(s, total)) for s, e in spans)

        # Groups of notes (rule 3) -> for each syllable, its frames (the note frames it holds).
        starts = [i for i, n in enumerate(notes) if i == 0 or n.syllable_start is None or n.syllable_start]
        groups = [list(range(a, b)) for a, b in zip(starts, starts[1:] + [len(notes)])]
        n_groups, n_syl = len(groups), len(sylls)
        first_group = [j * n_groups // n_syl for j in range(n_syl)]
        dropped = 0
        for g in sorted(set(first_group)):
            members = [j for j in range(n_syl) if first_group[j] == g]
            later = [first_group[j] for j in range(n_syl) if first_group[j] > g]
            last = min(later) if later else n_groups
            frames = [f for gi in range(g, last) for i in groups[gi] for f in range(*spans[i]) if f < total]
            for part, j in zip(np.array_split(np.asarray(frames, dtype=np.int64), len(members)), members):
                seq, d = allocate(len(part), sylls[j], self.cfg.consonant_frames)
                dropped += d
                for f, p in zip(part.tolist(), seq):
                    phones[f] = p
        ids, unk = self.inventory.encode(phones)
        return SingSequence(ids, midi, len(notes), n_syl, dropped, truncated, dict(unk))
