"""Text ids for ASR targets (and any text output): the UTF-8 bytes of the NFC-normalised text.

Byte ids 0-255 sit in the vocab v1 ``text`` range (4096 ids, room for a BPE later). Bytes need no
vocabulary file, never produce an unknown id, and decode back exactly.

>>> tok = ByteTextTokenizer()
>>> ids = tok.tokenize("Héllo")
>>> ids.tolist(), tok.decode(ids)
([72, 195, 169, 108, 108, 111], 'Héllo')
"""

from __future__ import annotations

import unicodedata

import numpy as np
from pydantic import Field

from uniaudio.config import ConfigBase

from .base import TokenizeError, Tokenizer

TEXT_RANGE = 4096


class TextConfig(ConfigBase):
    """Settings of the byte-level text tokenizer."""

    enabled: bool = True
    normalize: bool = True  # NFC, collapse whitespace, strip: one spelling per string
    lowercase: bool = False
    max_bytes: int = Field(1024, ge=1)  # longer text is rejected (reason text_too_long), not silently cut


class ByteTextTokenizer(Tokenizer):
    """Text -> int16 UTF-8 byte ids; :meth:`decode` inverts it."""

    name = "text_bytes"
    modality = "text"
    ALGO = 1

    def __init__(self, cfg: TextConfig | None = None):
        self.cfg = cfg or TextConfig()

    def _version_payload(self) -> dict:
        return {"cfg": self.cfg.to_dict(), "unicode": unicodedata.unidata_version}

    def normalize(self, text: str) -> str:
        if self.cfg.normalize:
            text = " ".join(unicodedata.normalize("NFC", text).split())
        return text.lower() if self.cfg.lowercase else text

    def tokenize(self, text: str) -> np.ndarray:
        if not isinstance(text, str) or not text.strip():
            raise TokenizeError("empty_text", "the text is empty or whitespace")
        data = self.normalize(text).encode("utf-8")
        if len(data) > self.cfg.max_bytes:
            raise TokenizeError("text_too_long", f"{len(data)} bytes > max_bytes={self.cfg.max_bytes}")
        return np.frombuffer(data, dtype=np.uint8).astype(np.int16)

    def decode(self, ids, errors: str = "replace") -> str:
        """Ids -> text. Ids outside 0-255 (e.g. a model sampling a reserved text id) are dropped;
        broken UTF-8 sequences become U+FFFD with ``errors="replace"`` (``"strict"`` raises)."""
        arr = np.asarray(ids).astype(np.int64).ravel()
        arr = arr[(arr >= 0) & (arr < 256)]
        return arr.astype(np.uint8).tobytes().decode("utf-8", errors=errors)
