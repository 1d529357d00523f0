"""ARPAbet helpers for the CMUdict backend: espeak-ng IPA -> ARPAbet, and letter spelling.

Used only for words CMUdict does not know (out-of-vocabulary): espeak-ng's letter-to-sound rules
pronounce them in IPA and :func:`ipa_to_arpabet` maps that IPA to ARPAbet, so the CMUdict backend
never mixes symbol sets. The map covers the phones espeak-ng emits for ``en-us`` and ``en-gb``;
a word with any other phone falls back to spelling its letters (:func:`spell_word`).

>>> ipa_to_arpabet(["k", "ˈ", "æ", "t"])
['K', 'AE1', 'T']
>>> ipa_to_arpabet(["b", "ˈ", "ʌ", "ʔ", "n̩"], stress=False)
['B', 'AH', 'T', 'AH', 'N']
"""

from __future__ import annotations

from typing import Mapping, Sequence

# The 39 ARPAbet phonemes of CMUdict; vowels carry a stress digit (0 none, 1 primary, 2 secondary).
ARPABET_VOWELS = ("AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW")
ARPABET_CONSONANTS = (
    "B", "CH", "D", "DH", "F", "G", "HH", "JH", "K", "L", "M", "N", "NG",
    "P", "R", "S", "SH", "T", "TH", "V", "W", "Y", "Z", "ZH",
)  # fmt: skip

# espeak-ng IPA phone (stress mark already split off) -> ARPAbet phones without stress digits.
# Choices where IPA is finer than ARPAbet: flap ɾ and glottal stop ʔ -> T (CMUdict spells "butter" with
# T), syllabic n̩ -> AH N, rhotic diphthongs -> vowel + R, nasal vowels -> vowel + N.
IPA_TO_ARPABET: Mapping[str, tuple[str, ...]] = {
    "p": ("P",), "b": ("B",), "t": ("T",), "d": ("D",), "k": ("K",), "ɡ": ("G",), "g": ("G",),
    "f": ("F",), "v": ("V",), "θ": ("TH",), "ð": ("DH",), "s": ("S",), "z": ("Z",), "ʃ": ("SH",),
    "ʒ": ("ZH",), "h": ("HH",), "x": ("K",), "tʃ": ("CH",), "dʒ": ("JH",), "m": ("M",), "n": ("N",),
    "nʲ": ("N",), "ŋ": ("NG",), "l": ("L",), "ɬ": ("L",), "ɹ": ("R",), "r": ("R",), "w": ("W",),
    "j": ("Y",), "ɾ": ("T",), "ʔ": ("T",), "n̩": ("AH", "N"), "əl": ("AH", "L"),
    "i": ("IY",), "iː": ("IY",), "ɪ": ("IH",), "ᵻ": ("IH",), "eɪ": ("EY",), "e": ("EY",), "ɛ": ("EH",),
    "æ": ("AE",), "a": ("AE",), "ɑ": ("AA",), "ɑː": ("AA",), "ɒ": ("AA",), "ɔ": ("AO",), "ɔː": ("AO",),
    "oʊ": ("OW",), "əʊ": ("OW",), "oː": ("OW",), "o": ("OW",), "ʊ": ("UH",), "u": ("UW",), "uː": ("UW",),
    "ʌ": ("AH",), "ə": ("AH",), "ɐ": ("AH",), "ɚ": ("ER",), "ɜː": ("ER",), "ɜ": ("ER",),
    "aɪ": ("AY",), "aʊ": ("AW",), "ɔɪ": ("OY",), "iə": ("IY", "AH"), "aɪə": ("AY", "AH"),
    "aɪɚ": ("AY", "ER"), "eə": ("EH", "R"), "ʊə": ("UH", "R"), "oːɹ": ("AO", "R"), "ɔːɹ": ("AO", "R"),
    "ɑːɹ": ("AA", "R"), "ɛɹ": ("EH", "R"), "ɪɹ": ("IH", "R"), "ʊɹ": ("UH", "R"), "ɑ̃": ("AA", "N"),
    "ɔ̃": ("AO", "N"),
}  # fmt: skip

STRESS_MARKS = {"ˈ": "1", "ˌ": "2"}


def is_vowel(arpa: str) -> bool:
    return arpa.rstrip("012") in ARPABET_VOWELS


def ipa_to_arpabet(ipa: Sequence[str], stress: bool = True) -> list[str] | None:
    """Map one word's IPA phones (stress marks as separate items) to ARPAbet; ``None`` if a phone has no
    mapping. Only the first vowel after a stress mark takes its digit; other vowels get 0."""
    out: list[str] = []
    pending = "0"
    for ph in ipa:
        if ph in STRESS_MARKS:
            pending = STRESS_MARKS[ph]
            continue
        mapped = IPA_TO_ARPABET.get(ph)
        if mapped is None:
            return None
        for a in mapped:
            if a in ARPABET_VOWELS:
                out.append(a + pending if stress else a)
                pending = "0"
            else:
                out.append(a)
    return out


_DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def spell_word(word: str, lexicon: Mapping[str, list[list[str]]], stress: bool = True) -> list[str]:
    """Pronounce a word letter by letter using CMUdict's letter entries (``"b."`` -> ``B IY1``) and
    digit names; characters with no entry are skipped. Returns [] when nothing can be spelled."""
    out: list[str] = []
    for ch in word.lower():
        if ch.isdigit():
            prons = lexicon.get(_DIGITS[int(ch)]) if ch in "0123456789" else None
        else:
            prons = lexicon.get(ch + ".")
        if prons:
            out.extend(prons[0])
    return out if stress else [p.rstrip("012") for p in out]


def arpabet_symbols() -> list[str]:
    """Every ARPAbet symbol a CMUdict backend can emit: vowels with and without stress digits, consonants."""
    syms = []
    for v in ARPABET_VOWELS:
        syms += [v, v + "0", v + "1", v + "2"]
    return syms + list(ARPABET_CONSONANTS)
