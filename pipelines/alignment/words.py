"""Word and phone alignment of real speech to its transcript: faster-whisper words, refined by phones.

1. **Words**: the packaged Whisper-base (``uniaudio.evaluate.asr``, CTranslate2, offline) transcribes
   the audio with word timestamps. Its words are matched to the transcript's words (lower-cased
   letters and digits, ``difflib`` longest matching blocks); a transcript word whisper did not
   produce gets the gap between its matched neighbours, split by letter count. Fewer than
   ``min_match`` of the transcript's words matched = the audio does not say the transcript (or the
   recogniser failed): :class:`AlignmentError` ``alignment_failed``, which callers quarantine.
2. **Phones**: CMUdict phones of each word (OOV via espeak-ng, as the phone tokenizer does) placed by
   the segmentation of :mod:`pipelines.alignment.segment`, which also moves each word's boundaries to
   where its first / last phone starts / ends (silences between words are excluded from words).

Measured on festival-synthesized speech against festival's own segment times
(``benchmarks/alignment_boundaries.py``; numbers in docs/TASKS_GUIDE.md, speech edit).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from uniaudio.audio import SAMPLE_RATE


class AlignmentError(ValueError):
    """The transcript cannot be aligned to the audio; ``reason`` is the quarantine reason."""

    def __init__(self, detail: str, reason: str = "alignment_failed"):
        self.reason, self.detail = reason, detail
        super().__init__(f"{reason}: {detail}")


@dataclass(frozen=True)
class Alignment:
    words: list[str]  # the transcript's words
    word_times: list[tuple[float, float]]  # seconds, per word
    phones: list[list[str]] = field(default_factory=list)  # ARPAbet per word
    phone_times: list[list[tuple[float, float]]] = field(default_factory=list)
    matched: float = 1.0  # share of transcript words whisper recognised
    method: str = "whisper+segment"

    def to_dict(self) -> dict:
        return {"words": self.words, "word_times": [[round(a, 3), round(b, 3)] for a, b in self.word_times],
                "phones": self.phones, "phone_times": [[[round(a, 3), round(b, 3)] for a, b in w] for w in self.phone_times],
                "matched": round(self.matched, 3), "method": self.method}


def norm(word: str) -> str:
    return "".join(c for c in word.lower() if c.isalnum())


def transcript_words(text: str) -> list[str]:
    """Whitespace words that carry letters or digits (punctuation-only tokens dropped)."""
    return [w for w in (text or "").split() if norm(w)]


def whisper_words(wav: np.ndarray, language: str = "en") -> list[tuple[str, float, float]]:
    """(word, start_s, end_s) from the packaged Whisper with word timestamps."""
    from uniaudio.evaluate.asr import get_whisper

    x = np.ascontiguousarray(wav, dtype=np.float32)
    base = (language or "en").split("-")[0].lower()
    language = {"cmn": "zh", "mandarin": "zh"}.get(base, base)  # a dataset language -> whisper's code
    max_tokens = int(10 * min(30.0, x.size / SAMPLE_RATE)) + 20
    segs, _ = get_whisper().transcribe(x, language=language, beam_size=5, temperature=0.0, word_timestamps=True,
                                       condition_on_previous_text=False, vad_filter=False, max_new_tokens=max_tokens)
    return [(w.word.strip(), float(w.start), float(w.end)) for s in segs for w in (s.words or [])]


def match_words(words: Sequence[str], heard: Sequence[tuple[str, float, float]], duration_s: float,
                min_match: float = 0.5) -> tuple[list[tuple[float, float]], float]:
    """Transcript words + recognised (word, start, end) -> a time per transcript word (module doc)."""
    if not words:
        raise AlignmentError("the transcript has no words")
    want = [norm(w) for w in words]
    got = [norm(w) for w, _, _ in heard]
    times: list[tuple[float, float] | None] = [None] * len(words)
    for blk in difflib.SequenceMatcher(a=want, b=got, autojunk=False).get_matching_blocks():
        for j in range(blk.size):
            _, a, b = heard[blk.b + j]
            times[blk.a + j] = (a, max(b, a + 0.02))
    matched = sum(t is not None for t in times) / len(words)
    if matched < min_match:
        raise AlignmentError(f"whisper heard {' '.join(got[:12])!r}, matching {matched:.0%} of {len(words)} "
                             f"transcript words (< {min_match:.0%})")
    i = 0
    while i < len(words):  # fill runs of unmatched words between their matched neighbours
        if times[i] is not None:
            i += 1
            continue
        j = i
        while j < len(words) and times[j] is None:
            j += 1
        lo = times[i - 1][1] if i > 0 else 0.0
        hi = times[j][0] if j < len(words) else duration_s
        hi = max(hi, lo + 0.02 * (j - i))
        weights = np.array([max(len(want[k]), 1) for k in range(i, j)], dtype=np.float64)
        edges = lo + (hi - lo) * np.concatenate([[0.0], np.cumsum(weights) / weights.sum()])
        for k in range(i, j):
            times[k] = (float(edges[k - i]), float(edges[k - i + 1]))
        i = j
    return [t for t in times if t is not None], matched


def word_phones(words: Sequence[str]) -> list[list[str]]:
    """ARPAbet (no stress) of each transcript word, through the phone tokenizer's CMUdict backend."""
    from uniaudio.tokenizers.g2p import CmudictG2P

    per, _ = CmudictG2P(stress=False).words([norm(w) or w for w in words])
    out = [[p for ws in entry for p in ws] for entry in per]
    bad = [w for w, p in zip(words, out) if not p]
    if bad:
        raise AlignmentError(f"no pronunciation for {', '.join(bad[:5])}", reason="g2p_failed")
    return out


def align(wav: np.ndarray, text: str, language: str = "en", min_match: float = 0.5,
          heard: Sequence[tuple[str, float, float]] | None = None) -> Alignment:
    """Words and phones of ``text`` in ``wav`` (16 kHz mono); raises :class:`AlignmentError`."""
    from pipelines.alignment.segment import segment

    wav = np.asarray(wav, dtype=np.float32)
    if wav.ndim != 1 or wav.size < SAMPLE_RATE // 10:
        raise AlignmentError(f"audio of shape {list(wav.shape)} is too short to align")
    words = transcript_words(text)
    if heard is None:
        heard = whisper_words(wav, language)
    coarse, matched = match_words(words, heard, len(wav) / SAMPLE_RATE, min_match)
    phones = word_phones(words)
    try:
        seg = segment(wav, phones, coarse)
    except ValueError as err:
        raise AlignmentError(str(err)) from None
    return Alignment(list(words), seg.words, phones, seg.phones, matched)
