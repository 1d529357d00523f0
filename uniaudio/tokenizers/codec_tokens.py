"""Codec tokens: an adapter over :class:`codec.Codec` turning variable-length waveforms into
``int16 [F, n_q]`` code arrays (F = ``ceil(T/320)``, 50 Hz; codebook k's local id = its code, 0-1023).

Batching: items are sorted by length and packed into batches whose padded size (``B * T_max``) stays
under ``max_batch_samples``, so one long item does not make a whole batch of short ones pad to it; the
codec's own padding masks make a batched item encode like the same item alone. Results come back in
input order. The codec loads lazily once per process (per checkpoint directory and device).

The token store keeps one column per codebook (``codes_0``, ``codes_1``, ...): ``codes[:, k]``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
from pydantic import Field

from uniaudio.config import ConfigBase

from .base import TokenizeError, Tokenizer, TokenizerUnavailable, cached_asset

CODEBOOK_RANGE = 1024  # vocab v1: 1024 ids per codebook
MAX_CODEBOOKS = 16


class CodecTokConfig(ConfigBase):
    """Settings of the codec-token adapter (the checkpoint directory is passed separately)."""

    enabled: bool = True
    n_q: int = Field(3, ge=1, le=MAX_CODEBOOKS)
    device: str = "cpu"
    max_batch_samples: int = Field(16_000 * 240, ge=1)  # padded samples per encoder call (4 min of audio)


class CodecTokenizer(Tokenizer):
    """16 kHz float ``[T]`` audio -> int16 codes ``[ceil(T/320), n_q]``."""

    name = "codec"
    modality = "audio"
    ALGO = 1

    def __init__(self, cfg: CodecTokConfig | None = None, codec_dir: str | Path | None = None, codec: Any = None):
        self.cfg = cfg or CodecTokConfig()
        if not 1 <= self.cfg.n_q <= MAX_CODEBOOKS:
            raise TokenizerUnavailable(f"codec tokens: n_q={self.cfg.n_q} outside 1..{MAX_CODEBOOKS} (vocab v1)")
        self.codec_dir = str(codec_dir) if codec_dir is not None else None
        self._codec = codec

    def check(self) -> None:
        if self._codec is None:
            if not self.codec_dir:
                raise TokenizerUnavailable("codec tokens: no codec checkpoint directory given (--codec DIR)")
            if "://" not in self.codec_dir and not Path(self.codec_dir).is_dir():
                raise TokenizerUnavailable(f"codec tokens: codec directory {self.codec_dir!r} does not exist")

    @property
    def codec(self):
        if self._codec is None:
            self.check()

            def load():
                from codec import Codec

                return Codec.load(self.codec_dir, device=self.cfg.device)

            self._codec = cached_asset(("codec", self.codec_dir, self.cfg.device), load)
            self._validate(self._codec)
        return self._codec

    def _validate(self, codec) -> None:
        if codec.codebook_size > CODEBOOK_RANGE:
            raise TokenizerUnavailable(f"codec tokens: codebook size {codec.codebook_size} > {CODEBOOK_RANGE} (vocab v1)")
        if self.cfg.n_q > codec.max_codebooks:
            raise TokenizerUnavailable(f"codec tokens: n_q={self.cfg.n_q} but the codec has {codec.max_codebooks} codebooks")

    def _version_payload(self) -> dict:
        return {"codec": self.codec.content_hash, "n_q": self.cfg.n_q}

    def num_frames(self, num_samples: int) -> int:
        return int(self.codec.num_frames(int(num_samples)))

    def tokenize(self, wav: np.ndarray) -> np.ndarray:
        return self.tokenize_batch([wav])[0]

    def tokenize_batch(self, wavs: Sequence[np.ndarray]) -> list[np.ndarray]:
        import torch

        arrays = []
        for i, w in enumerate(wavs):
            a = np.asarray(w, dtype=np.float32)
            if a.ndim != 1 or a.size == 0:
                raise TokenizeError("bad_audio", f"item {i}: expected non-empty mono [T] audio, got shape {list(a.shape)}")
            if not np.isfinite(a).all():
                raise TokenizeError("bad_audio", f"item {i}: NaN or Inf samples")
            arrays.append(a)
        codec = self.codec
        out: list[np.ndarray | None] = [None] * len(arrays)
        for batch in _length_batches([len(a) for a in arrays], self.cfg.max_batch_samples):
            t_max = max(len(arrays[i]) for i in batch)
            x = np.zeros((len(batch), t_max), dtype=np.float32)
            for row, i in enumerate(batch):
                x[row, : len(arrays[i])] = arrays[i]
            lengths = torch.tensor([len(arrays[i]) for i in batch], dtype=torch.long)
            codes = codec.encode(torch.from_numpy(x), lengths, n_q=self.cfg.n_q).cpu().numpy()
            frames = np.asarray(codec.num_frames(lengths.numpy()))
            for row, i in enumerate(batch):
                c = codes[row, :, : int(frames[row])]
                if c.size == 0 or c.min() < 0 or c.max() >= codec.codebook_size:
                    raise RuntimeError(f"codec returned codes outside 0..{codec.codebook_size - 1} for an item of {len(arrays[i])} samples")
                out[i] = np.ascontiguousarray(c.T.astype(np.int16))
        return out  # type: ignore[return-value]


def _length_batches(lengths: Sequence[int], max_samples: int) -> list[list[int]]:
    """Indices sorted by length, cut into batches with ``len(batch) * longest <= max_samples``
    (an item longer than the budget gets a batch of its own)."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batches: list[list[int]] = []
    cur: list[int] = []
    for i in order:
        if cur and (len(cur) + 1) * lengths[i] > max_samples:
            batches.append(cur)
            cur = []
        cur.append(i)
    if cur:
        batches.append(cur)
    return batches
