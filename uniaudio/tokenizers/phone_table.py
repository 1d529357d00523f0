"""The published UniAudio phone table and lexicon (a Kaldi ``lang_nosp`` dir) as a phone tokenizer option.

The published LMs were trained on word-position-dependent ARPAbet phones (``SIL N_B OW1_E``) numbered by
the published phone tokenizer: the first column of its phone table in file order, then ``<UNK>``
(../shared/UNIAUDIO.md §2.3). :func:`import_lang_dir` turns a lang dir into an *imported phone dir*::

    phones.json       the inventory here: ["<unk>", table...] (so published phone i is local id i + 1,
                      published <UNK> is <unk> = 0)
    lexicon.txt       WORD P1_B P2_I ... P3_E (position-dependent; from phones/align_lexicon.txt, or a
                      lexicon.txt / lexiconp.txt whose phones get _B/_I/_E/_S added)
    phone_table.json  the published order of the names, the silence / OOV symbols, source hashes

and :class:`LexiconG2P` (``PhoneConfig(backend="lexicon", lexicon=DIR, inventory=DIR/phones.json)``)
pronounces text with it: uppercase words looked up in the lexicon, ``SIL`` at the start, at every pause
punctuation and at the end, OOV words as the lang dir's OOV pronunciation (the published text-to-phone
helper's rules). No word-boundary symbol: the position suffixes mark the words.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from uniaudio.errors import UserFacingError

INVENTORY, LEXICON, TABLE = "phones.json", "lexicon.txt", "phone_table.json"
PUBLISHED_UNK = "<UNK>"
SUFFIXES = ("_B", "_I", "_E", "_S")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_phone_table(path: Path) -> list[str]:
    """First column of every non-empty line, in file order, first occurrence kept (the published rule)."""
    if not path.is_file():
        raise UserFacingError(f"{path}: no such file (a Kaldi lang dir holds phones.txt)")
    names: list[str] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        parts = line.split()
        if parts and parts[0] not in names:
            names.append(parts[0])
    if not names:
        raise UserFacingError(f"{path}: empty phone table")
    return names


def _positional(phones: list[str], table: set[str]) -> list[str]:
    """Add _B/_I/_E/_S to position-independent phones (those the table lacks as they are)."""
    if all(p in table for p in phones):
        return phones
    if len(phones) == 1:
        return [phones[0] + "_S"]
    return [phones[0] + "_B", *(p + "_I" for p in phones[1:-1]), phones[-1] + "_E"]


def read_lexicon(lang: Path, table: set[str]) -> tuple[dict[str, list[str]], Path]:
    """WORD -> position-dependent phones (first pronunciation of each word), and the file read."""
    align = lang / "phones" / "align_lexicon.txt"
    plain = [lang / n for n in ("lexicon.txt", "lexiconp.txt")]
    src = align if align.is_file() else next((p for p in plain if p.is_file()), None)
    if src is None:
        raise UserFacingError(f"{lang}: no lexicon (phones/align_lexicon.txt, lexicon.txt or lexiconp.txt)")
    lex: dict[str, list[str]] = {}
    for n, line in enumerate(src.read_text(encoding="utf-8").splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        word, rest = parts[0], parts[1:]
        if src == align:
            rest = rest[1:]  # "WORD WORD P1 P2 ...": the word is repeated
        elif src.name == "lexiconp.txt" or (rest and _is_float(rest[0])):
            rest = rest[1:]  # pronunciation probability
        if not rest:
            raise UserFacingError(f"{src}:{n}: word {word!r} has no phones")
        phones = rest if src == align else _positional(rest, table)  # align_lexicon: already positional
        unknown = [p for p in phones if p not in table]
        if unknown:
            raise UserFacingError(f"{src}:{n}: phone {unknown[0]!r} of {word!r} is not in the phone table")
        lex.setdefault(word.upper(), phones)
    return lex, src


def _is_float(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def import_lang_dir(lang_dir: str | Path, out: str | Path) -> Path:
    """Write the imported phone dir (see the module doc) for ``lang_dir``; returns ``out``."""
    lang, dst = Path(lang_dir), Path(out)
    if not lang.is_dir():
        raise UserFacingError(f"{lang}: not a directory (expected the unpacked lang_nosp)")
    table_file = lang / "phones.txt"
    table = read_phone_table(table_file)
    published = table + ([PUBLISHED_UNK] if PUBLISHED_UNK not in table else [])
    if len(published) + 1 > 1024:
        raise UserFacingError(f"{table_file}: {len(published)} phones do not fit the 1024-id phone range")
    lex, lex_file = read_lexicon(lang, set(table))
    sil = "SIL" if "SIL" in table else None
    oov_word = (lang / "oov.txt").read_text(encoding="utf-8").split()[0].upper() if (lang / "oov.txt").is_file() else None
    dst.mkdir(parents=True, exist_ok=True)
    symbols = ["<unk>", *[p for p in published if p != PUBLISHED_UNK]]
    (dst / INVENTORY).write_text(json.dumps(symbols, ensure_ascii=False, indent=0) + "\n")
    (dst / LEXICON).write_text("".join(f"{w} {' '.join(p)}\n" for w, p in sorted(lex.items())), encoding="utf-8")
    meta = {"published": published, "sil": sil, "oov_word": oov_word if oov_word in lex else None,
            "sources": {str(table_file): _sha(table_file), str(lex_file): _sha(lex_file)}}
    (dst / TABLE).write_text(json.dumps(meta, ensure_ascii=False, indent=1) + "\n")
    return dst


def published_to_local(phone_dir: str | Path) -> list[int]:
    """Local phone id here of every published phone id (``<UNK>`` -> ``<unk>`` = 0)."""
    d = Path(phone_dir)
    if not (d / TABLE).is_file() or not (d / INVENTORY).is_file():
        raise UserFacingError(f"{d}: not an imported phone dir (run 'uniaudio import-reference phones LANG_DIR --out DIR')")
    meta = json.loads((d / TABLE).read_text(encoding="utf-8"))
    symbols = json.loads((d / INVENTORY).read_text(encoding="utf-8"))
    index = {s: i for i, s in enumerate(symbols)}
    return [0 if p == PUBLISHED_UNK else index[p] for p in meta["published"]]


class LexiconG2P:
    """Text -> the published position-dependent phones, through an imported phone dir's lexicon."""

    def __init__(self, phone_dir: str | Path):
        d = Path(phone_dir)
        for name in (LEXICON, TABLE):
            if not (d / name).is_file():
                raise UserFacingError(f"{d}: not an imported phone dir ({name} missing; run "
                                      f"'uniaudio import-reference phones LANG_DIR --out {d}')")
        meta = json.loads((d / TABLE).read_text(encoding="utf-8"))
        self.sil: str | None = meta.get("sil")
        self.lexicon: dict[str, list[str]] = {}
        for line in (d / LEXICON).read_text(encoding="utf-8").splitlines():
            parts = line.split()
            if parts:
                self.lexicon[parts[0]] = parts[1:]
        self.oov = self.lexicon.get(meta["oov_word"]) if meta.get("oov_word") else None
        self._digest = _sha(d / LEXICON)[:16]

    def backend_version(self) -> str:
        return f"lexicon-{self._digest}"

    def symbols(self, items: list[tuple[str, str]]) -> tuple[list[str], int, int]:
        """``split_text`` items -> (phones, words, OOV words)."""
        out: list[str] = [self.sil] if self.sil else []
        n_words = n_oov = 0
        for kind, tok in items:
            if kind == "pause":
                if self.sil and out and out[-1] != self.sil:
                    out.append(self.sil)
                continue
            phones = self.lexicon.get(tok.upper())
            if phones is None:
                n_oov += 1
                phones = self.oov or []
            out.extend(phones)
            n_words += 1
        if self.sil and out and out[-1] != self.sil:
            out.append(self.sil)
        return out, n_words, n_oov
