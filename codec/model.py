"""The codec generator: SEANet encoder -> residual VQ -> SEANet decoder.

>>> import torch
>>> from codec.config import preset
>>> m = CodecModel.from_config(preset("tiny"))
>>> out = m(torch.zeros(2, 1, 16000), n_q=2)
>>> tuple(out.recon.shape), tuple(out.codes.shape)
((2, 1, 16000), (2, 2, 50))
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from codec.config import CodecConfig
from codec.quantizer import ResidualVQ
from codec.seanet import SEANetDecoder, SEANetEncoder


@dataclass
class CodecOutput:
    recon: torch.Tensor  # [B, 1, T]
    codes: torch.Tensor  # [B, n_q, F]
    commit_loss: torch.Tensor
    restarted: int


class CodecModel(nn.Module):
    """Autoencoder with a residual VQ bottleneck. ``forward`` is the training pass (EMA updates)."""

    def __init__(self, cfg: CodecConfig, weight_norm: bool | None = None):
        super().__init__()
        m, q = cfg.model, cfg.quantizer
        wn = m.weight_norm if weight_norm is None else weight_norm
        shape = dict(channels=m.channels, dimension=m.dimension, strides=m.strides, kernel_size=m.kernel_size,
                     last_kernel_size=m.last_kernel_size, residual_kernel_size=m.residual_kernel_size,
                     compress=m.compress, lstm_layers=m.lstm_layers, weight_norm=wn)
        self.encoder = SEANetEncoder(**shape, end_padding=m.end_padding)
        self.decoder = SEANetDecoder(**shape)
        if q.kind == "factorized":  # same interface; see codec/factorized_vq.py
            from codec.factorized_vq import FactorizedResidualVQ

            self.quantizer = FactorizedResidualVQ(m.dimension, q.n_q, q.codebook_size, q.code_dim, seed=cfg.train.seed)
        else:
            self.quantizer = ResidualVQ(m.dimension, q.n_q, q.codebook_size, q.decay, q.epsilon, q.kmeans_iters,
                                        q.kmeans_max_frames, q.dead_threshold, seed=cfg.train.seed,
                                        dead_fraction=q.dead_fraction)
        self.hop_length = m.hop_length

    @classmethod
    def from_config(cls, cfg: CodecConfig, weight_norm: bool | None = None) -> "CodecModel":
        return cls(cfg, weight_norm)

    def forward(self, wav: torch.Tensor, n_q: int | None = None) -> CodecOutput:
        """``wav [B, 1, T]`` with T a multiple of the hop; one pass = one generator forward."""
        z = self.encoder(wav)
        vq = self.quantizer(z, n_q)
        return CodecOutput(self.decoder(vq.quantized), vq.codes, vq.commit_loss, vq.restarted)

    @torch.no_grad()
    def encode(self, wav: torch.Tensor, n_q: int, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """``wav [B, 1, T]`` -> codes ``[B, n_q, T/hop]``; ``lengths`` in samples (multiples of the hop)."""
        return self.quantizer.encode(self.encoder(wav, lengths), n_q)

    @torch.no_grad()
    def decode(self, codes: torch.Tensor, frame_lengths: torch.Tensor | None = None) -> torch.Tensor:
        """codes ``[B, n_q, F]`` -> ``wav [B, 1, F * hop]``."""
        return self.decoder(self.quantizer.decode(codes), frame_lengths)
