"""Transcripts that ship with packaged speech: the Asterisk prompt list and the pocketsphinx test sets.

The Asterisk prompts (asterisk-core-sounds-en) are real recordings of one speaker with a transcript
file; their clean, word-only sentences double as the text pool the synthetic voices read, so the
synthetic speakers say the same kind of sentences (partly parallel data, useful for VC checks).
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path

# Transcripts with symbols (*, #, [tones], <beeps>, @) do not describe spoken words one-to-one.
_SPOKEN = re.compile(r"[A-Za-z0-9 ,.'?!;:\-]+")
_WORDS_ONLY = re.compile(r"[A-Za-z ,.'?!;:\-]+")
_ENTRY = re.compile(r"^([A-Za-z0-9_/\-]+):\s*(.*)$")


def asterisk_transcripts(txt_gz: str) -> dict[str, str]:
    """``{prompt key: transcript}`` from ``core-sounds-en.txt.gz`` (``dictate/pause: pause``)."""
    out: dict[str, str] = {}
    with gzip.open(txt_gz, "rt", encoding="utf-8", errors="replace") as f:
        for line in f:
            m = _ENTRY.match(line.rstrip("\n"))
            if m and m.group(2).strip():
                out[m.group(1)] = m.group(2).strip()
    return out


def spoken(text: str) -> bool:
    """True for a transcript of words only (digits allowed), no markup."""
    return bool(_SPOKEN.fullmatch(text)) and any(c.isalpha() for c in text)


def clean_sentence(text: str) -> str:
    """Drop the ellipses the prompt list uses for continuations ("...has left the conference.")."""
    text = re.sub(r"\.\.\.+", " ", text)
    text = " ".join(text.split()).strip(" ,;:")
    return text[:1].upper() + text[1:]


def sentence_pool(transcripts: dict[str, str], min_words: int = 4, max_words: int = 16) -> list[str]:
    """Distinct word-only sentences for the synthetic voices, in a fixed (sorted) order."""
    pool = {clean_sentence(t) for t in transcripts.values() if _WORDS_ONLY.fullmatch(t)}
    return sorted(s for s in pool if min_words <= len(s.split()) <= max_words)


def sphinx_transcription(path: str | Path) -> dict[str, str]:
    """``{file id: transcript}`` from a pocketsphinx ``<s> words </s> (id)`` transcription file."""
    out: dict[str, str] = {}
    for line in Path(path).read_text(encoding="utf-8", errors="replace").splitlines():
        m = re.match(r"^\s*(?:<s>)?(.*?)(?:</s>)?\s*\(([^)]+)\)\s*$", line)
        if m and m.group(1).strip():
            out[m.group(2).strip()] = " ".join(m.group(1).split())
    return out
