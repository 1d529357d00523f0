"""All tokenizers' settings in one config, building them, and the tokenizer-set version.

``TokenizersConfig`` is a :class:`uniaudio.config.ConfigBase` (YAML + ``--set phone.backend=cmudict``).
:func:`build_tokenizers` returns the enabled tokenizers by name; :func:`tokenizer_set_version` is the
hash the token store's ``tokenizer_version`` column holds: every enabled tokenizer's version plus the
codec checkpoint's content hash and the codec settings. It reads assets (inventory, weights, k-means
files) to hash them but loads no model.

>>> cfg = TokenizersConfig()
>>> sorted(build_tokenizers(cfg))
['phone', 'sing', 'text', 'text_emb']
>>> v = tokenizer_set_version(cfg, codec_hash="abc")
>>> v == tokenizer_set_version(cfg, codec_hash="abc") != tokenizer_set_version(cfg, codec_hash="abd")
True
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from uniaudio.config import ConfigBase

from .base import Tokenizer, hash_json
from .codec_tokens import CodecTokConfig, CodecTokenizer
from .phones import PhoneConfig, PhoneTokenizer
from .prompt import PROMPT_FRAMES
from .semantic import SemanticConfig, SemanticTokenizer
from .singing import SingConfig, SingTokenizer
from .text import ByteTextTokenizer, TextConfig
from .text_emb import TextEmbConfig, TextEmbeddingTokenizer

SET_ALGO = 1


class PromptConfig(ConfigBase):
    """The 3-second audio prompt rule (``prompt.py``); used when examples are built."""

    frames: int = Field(PROMPT_FRAMES, ge=1)
    seed: int = Field(0, ge=0)


class TokenizersConfig(ConfigBase):
    """Settings of every modality tokenizer (one section each)."""

    phone: PhoneConfig = PhoneConfig()
    text: TextConfig = TextConfig()
    text_emb: TextEmbConfig = TextEmbConfig()
    semantic: SemanticConfig = SemanticConfig()
    sing: SingConfig = SingConfig()
    codec: CodecTokConfig = CodecTokConfig()
    prompt: PromptConfig = PromptConfig()


def build_tokenizers(cfg: TokenizersConfig, codec_dir: str | Path | None = None, check: bool = True) -> dict[str, Tokenizer]:
    """The enabled tokenizers, keyed ``phone``, ``text``, ``text_emb``, ``semantic``, ``sing`` and
    ``codec`` (only when ``codec_dir`` is given). Cheap: no model is loaded. With ``check`` each one
    verifies its assets exist, raising :class:`~uniaudio.tokenizers.base.TokenizerUnavailable`."""
    out: dict[str, Tokenizer] = {}
    if cfg.phone.enabled:
        out["phone"] = PhoneTokenizer(cfg.phone)
    if cfg.text.enabled:
        out["text"] = ByteTextTokenizer(cfg.text)
    if cfg.text_emb.enabled:
        out["text_emb"] = TextEmbeddingTokenizer(cfg.text_emb)
    if cfg.semantic.enabled:
        out["semantic"] = SemanticTokenizer(cfg.semantic)
    if cfg.sing.enabled:
        out["sing"] = SingTokenizer(cfg.sing)
    if codec_dir is not None and cfg.codec.enabled:
        out["codec"] = CodecTokenizer(cfg.codec, codec_dir=codec_dir)
    if check:
        for tok in out.values():
            tok.check()
    return out


def tokenizer_set_version(cfg: TokenizersConfig, codec_hash: str) -> str:
    """``tok-<16 hex>`` over every enabled non-codec tokenizer's version, ``codec_hash`` (the codec
    checkpoint's content hash) and the codec adapter settings. The prompt rule is applied when examples
    are built, not stored with the tokens, so it is not part of this version."""
    toks = build_tokenizers(cfg, codec_dir=None)
    payload = {
        "algo": SET_ALGO,
        "tokenizers": {name: tok.version for name, tok in sorted(toks.items())},
        "codec": {"hash": codec_hash, "n_q": cfg.codec.n_q, "enabled": cfg.codec.enabled},
    }
    return f"tok-{hash_json(payload)}"
