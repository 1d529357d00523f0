"""Mandarin grapheme-to-phoneme through pypinyin: tone-aware initials and finals.

Two phone styles, because the two consumers need different things:

- **Speech (TTS, the ``phone`` modality)**: the standard pinyin scheme's initials and finals
  (``strict``: no ``y``/``w`` initials, ``ü`` as ``v``, full finals ``iou``/``uei``/``uen``), the final
  carrying the tone digit 1-4, 5 = neutral. 张 ``zhang1`` -> ``zh-`` ``ang1``; 一 ``yi1`` -> ``i1``.
  Initials are written with a trailing ``-`` (the textbook notation of a 声母) because the shared
  phone inventory also holds espeak-ng's IPA, where ``b``, ``j``, ``x``, ``r``, ``z``... are other sounds
  (pinyin ``b`` is IPA [p], ``j`` is [tɕ]): one symbol per sound keeps a bilingual model unambiguous.
- **Singing (the ``sing_phone`` modality)**: the OpenCpop / M4Singer phone set, toneless (the melody
  carries pitch): ``y``/``w`` as initials, written finals (``iu``, ``ui``, ``un``), ``ü`` as ``v``.
  Those corpora ship their phones in this set, so G2P'd lyrics and annotated ones share ids.

Text: pypinyin's own word segmentation (mmseg over its phrase dictionary, which also picks polyphone
readings) gives words; ``|`` separates words and Chinese / ASCII pause punctuation gives ``<sil>`` as
in :mod:`uniaudio.tokenizers.phones`. Digits are read digit by digit (一二三); other non-Hanzi runs
(Latin words) are counted as out-of-vocabulary and skipped. A text made only of toned pinyin syllables
(AISHELL-3's annotation ``guang3 zhou1``) is read as given (:meth:`PinyinG2P.from_syllables`), so
annotated readings beat G2P guesses.

>>> g = PinyinG2P()
>>> g.symbols("张三，你好。")[0]
['zh-', 'ang1', '|', 's-', 'an1', '<sil>', 'n-', 'i3', 'h-', 'ao3', '<sil>']
>>> sing_syllable("jun1"), sing_syllable("yu2"), sing_syllable("shi4")
(['j', 'vn'], ['y', 'v'], ['sh', 'i'])
"""

from __future__ import annotations

import re
from functools import lru_cache

from .base import TokenizeError, TokenizerUnavailable

MANDARIN_LANGUAGES = frozenset({"zh", "cmn", "zh-cn", "zh-hans", "cmn-hans", "cmn-latn-pinyin", "mandarin"})
INITIAL_MARK = "-"
WORD_BOUNDARY, PAUSE = "|", "<sil>"
TONES = "12345"
SING_INITIALS = frozenset("b p m f d t n l g k h j q x zh ch sh r z c s y w".split())
_HAN = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_PAUSES = "，。！？；：、,.!?;:…—（）()《》「」『』“”\"'"
_TOKEN = re.compile(rf"(?P<han>[{_HAN}]+)|(?P<digit>[0-9]+)|(?P<pause>[{re.escape(_PAUSES)}]+)|(?P<other>[^\s{_HAN}0-9{re.escape(_PAUSES)}]+)")
_HAN_CHAR = re.compile(rf"[{_HAN}]")
_DIGITS = "零一二三四五六七八九"
_SYLLABLE = re.compile(r"^[a-zü]+[1-5]?$")
_PINYIN_TEXT = re.compile(r"^\s*(?:[a-zü]+[1-5]\s*)+$")  # every syllable toned: "guang3 zhou1"


def is_mandarin(language: str | None) -> bool:
    return bool(language) and language.lower() in MANDARIN_LANGUAGES


def reads_as_mandarin(text: str, language: str | None) -> bool:
    """Mandarin by the dataset's language, or — with no language given (a generation request) — by
    script: text with Han characters (no other G2P of this project can read them)."""
    return is_mandarin(language) or (language is None and isinstance(text, str) and _HAN_CHAR.search(text) is not None)


def _pypinyin():
    try:
        import pypinyin
        from pypinyin.contrib import tone_convert
        from pypinyin.seg.mmseg import seg
    except ImportError as err:  # pragma: no cover - pypinyin is a dependency
        raise TokenizerUnavailable(f"pypinyin is not installed (needed for Mandarin): {err}") from None
    return pypinyin, tone_convert, seg


def speech_syllable(syl: str) -> list[str]:
    """One toned pinyin syllable (``zhang1``, ``nv3``; no digit = neutral) -> [initial-, final+tone]."""
    _, tc, _ = _pypinyin()
    syl = syl.strip().lower().replace("ü", "v").replace("u:", "v")
    if not _SYLLABLE.match(syl):
        raise TokenizeError("g2p_failed", f"not a pinyin syllable: {syl!r}")
    tone = syl[-1] if syl[-1] in TONES else "5"
    base = syl.rstrip(TONES)
    initial = tc.to_initials(base, strict=True)
    final = tc.to_finals(base, strict=True)
    if not final:  # an erhua "r" written alone, or a bare nasal interjection (嗯 "ng", 呣 "m")
        final, initial = (("er", "") if base == "r" else (base, ""))
    out = [initial + INITIAL_MARK] if initial else []
    return out + [final + tone]


def sing_syllable(syl: str) -> list[str]:
    """One pinyin syllable -> OpenCpop-style toneless phones (``jun`` -> ``j vn``, ``wo`` -> ``w o``)."""
    _, tc, _ = _pypinyin()
    base = syl.strip().lower().replace("ü", "v").replace("u:", "v").rstrip(TONES)
    if not re.match(r"^[a-z]+$", base):
        raise TokenizeError("g2p_failed", f"not a pinyin syllable: {syl!r}")
    initial = tc.to_initials(base, strict=False)
    final = tc.to_finals(base, strict=False) or ("er" if base == "r" else base)
    if initial in ("j", "q", "x", "y") and final.startswith("u"):
        final = "v" + final[1:]  # ü written u after j q x y: OpenCpop spells it v
    return ([initial] if initial else []) + [final]


@lru_cache(maxsize=1)
def speech_symbols() -> tuple[str, ...]:
    """Every speech symbol pypinyin's dictionary can produce (initials-, finals x tones), sorted."""
    return tuple(sorted(_all_phones(speech_syllable, toned=True)))


@lru_cache(maxsize=1)
def sing_symbols() -> tuple[str, ...]:
    """Every OpenCpop-style singing phone of pypinyin's dictionary, sorted."""
    return tuple(sorted(_all_phones(sing_syllable, toned=False)))


def _all_phones(split, toned: bool) -> set[str]:
    from pypinyin.pinyin_dict import pinyin_dict

    pp, tc, _ = _pypinyin()
    bases = {tc.to_normal(r) for readings in pinyin_dict.values() for r in readings.split(",")}
    out: set[str] = set()
    for b in bases:
        if not re.match(r"^[a-zü]+$", b):
            continue
        for tone in (TONES if toned else "5"):
            try:
                out.update(split(b + tone))
            except TokenizeError:
                pass
    return out


class PinyinG2P:
    """Mandarin text (Hanzi) or pinyin syllables -> speech phones with ``|`` / ``<sil>`` (module doc)."""

    def backend_version(self) -> str:
        from importlib.metadata import version

        return f"pypinyin-{version('pypinyin')}"

    def _han_words(self, run: str) -> list[list[str]]:
        pp, _, seg = _pypinyin()
        words = []
        for w in seg.cut(run):
            syls = pp.lazy_pinyin(w, style=pp.Style.TONE3, neutral_tone_with_five=True, errors="ignore")
            phones = [p for s in syls for p in speech_syllable(s)]
            if phones:
                words.append(phones)
        return words

    def symbols(self, text: str) -> tuple[list[str], int, int]:
        """Text -> (symbols, number of words, number of skipped non-Mandarin runs)."""
        if not isinstance(text, str) or not text.strip():
            raise TokenizeError("empty_text", "the transcript is empty or whitespace")
        if _PINYIN_TEXT.match(text):  # already pinyin (a corpus annotation): no G2P guess
            return self.from_syllables(text.split())
        out: list[str] = []
        n_words = n_oov = 0
        for m in _TOKEN.finditer(text):
            kind, tok = m.lastgroup, m.group()
            if kind == "pause":
                if out and out[-1] != PAUSE:
                    out.append(PAUSE)
                continue
            if kind == "other":
                n_oov += 1
                continue
            words = self._han_words(tok if kind == "han" else "".join(_DIGITS[int(d)] for d in tok))
            for w in words:
                if out and out[-1] != PAUSE:
                    out.append(WORD_BOUNDARY)
                out.extend(w)
                n_words += 1
        if n_words == 0:
            raise TokenizeError("g2p_failed", f"no Mandarin syllable in {text[:80]!r}")
        return out, n_words, n_oov

    def from_syllables(self, syllables: list[str]) -> tuple[list[str], int, int]:
        """Annotated pinyin (one toned syllable per character, as AISHELL-3 ships it) -> symbols; each
        syllable is one word (the annotation has no word boundaries)."""
        out: list[str] = []
        for s in syllables:
            if out:
                out.append(WORD_BOUNDARY)
            out.extend(speech_syllable(s))
        if not out:
            raise TokenizeError("empty_text", "no pinyin syllable given")
        return out, len(syllables), 0

    def lyric_syllables(self, lyrics: str) -> list[list[str]]:
        """Lyrics -> one OpenCpop-style phone list per sung character (pauses and non-Hanzi dropped)."""
        pp, _, _ = _pypinyin()
        han = "".join(m.group() for m in _TOKEN.finditer(lyrics) if m.lastgroup in ("han",))
        syls = pp.lazy_pinyin(han, style=pp.Style.NORMAL, errors="ignore")
        return [sing_syllable(s) for s in syls]
