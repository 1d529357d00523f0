"""Text normalisation and word / character error rates.

Normalisation (applied to hypothesis and reference alike, so WER counts words, not formatting):
Unicode NFKC, lowercase, apostrophes removed inside words (``don't`` -> ``dont``, so "don't" and
"dont" agree), every other punctuation or symbol character replaced by a space (``cold-hearted`` ->
``cold hearted``), whitespace collapsed. Numbers are *not* spelled out and abbreviations are not
expanded (``Mr.`` stays ``mr``): Whisper's English normaliser does not ship offline, so a transcript
that spells "mister" costs one substitution. Both sides get the same treatment, so the bias is small
and equal across systems.

Rates are returned as :class:`Ratio` (edits, reference length) so that a table can pool them over a
test set (corpus WER = total edits / total reference words, as papers report), not average per-item
rates (which over-weights short utterances).

>>> normalize_text("Mr. John Dashwood's cold-hearted, SELFISH  plan!")
'mr john dashwoods cold hearted selfish plan'
>>> wer("the cat sat", "the cat sat down").value   # one deletion over four reference words
0.25
>>> cer("abc", "abd").value
0.3333333333333333
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Sequence

_APOSTROPHES = "'\u2019\u2018\u02bc`"
_APOS_RE = re.compile(rf"(?<=\w)[{_APOSTROPHES}](?=\w)")


@dataclass(frozen=True)
class Ratio:
    """An error count over a reference length; tables pool these (sum num / sum den)."""

    num: float
    den: float

    @property
    def value(self) -> float:
        # An empty reference with an empty hypothesis is perfect; with words, every word is an insertion.
        if self.den == 0:
            return 0.0 if self.num == 0 else float(self.num)
        return self.num / self.den


def normalize_text(text: str) -> str:
    """Lowercase, drop in-word apostrophes, punctuation/symbols -> space, collapse whitespace."""
    t = unicodedata.normalize("NFKC", text).lower()
    t = _APOS_RE.sub("", t)
    t = "".join(" " if unicodedata.category(ch)[0] in "PS" else ch for ch in t)
    return " ".join(t.split())


def edit_distance(ref: Sequence, hyp: Sequence) -> int:
    """Levenshtein distance (substitutions + deletions + insertions) between two sequences."""
    if len(ref) < len(hyp):
        ref, hyp = hyp, ref
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, start=1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, start=1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def wer(hypothesis: str, reference: str) -> Ratio:
    """Word edits / reference words, after :func:`normalize_text`."""
    ref = normalize_text(reference).split()
    hyp = normalize_text(hypothesis).split()
    return Ratio(edit_distance(ref, hyp), len(ref))


def cer(hypothesis: str, reference: str) -> Ratio:
    """Character edits / reference characters (single spaces between words count as characters)."""
    ref = normalize_text(reference)
    hyp = normalize_text(hypothesis)
    return Ratio(edit_distance(ref, hyp), len(ref))
