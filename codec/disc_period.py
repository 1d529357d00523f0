"""Multi-period discriminator (MPD, HiFi-GAN): sees the waveform folded by a set of prime periods.

Reshaping ``[B, T]`` into ``[B, 1, T/p, p]`` and convolving along the first axis only (kernel (5, 1))
lets each sub-discriminator judge every p-th sample as one sequence: periodic structure (pitch,
harmonics, phase coherence across periods) that spectrogram discriminators, which drop the phase,
cannot see. Primes (2, 3, 5, 7, 11) keep the periods from overlapping. Each sub-discriminator returns
``(score map, feature maps)`` like the MFD, so the same losses apply.

>>> import torch
>>> d = MultiPeriodDiscriminator(periods=[2, 3], channels=[4, 8, 16])
>>> outs = d(torch.zeros(2, 1, 4000))
>>> len(outs), outs[0][0].shape[1], len(outs[0][1])
(2, 1, 4)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrizations


class PeriodDiscriminator(nn.Module):
    """Strided (5, 1) convs over the folded waveform; the last hidden conv has stride 1."""

    def __init__(self, period: int, channels: list[int]):
        super().__init__()
        self.period = period
        layers, c = [], 1
        for i, out in enumerate(channels + [channels[-1]]):
            stride = 3 if i < len(channels) else 1
            layers.append(parametrizations.weight_norm(nn.Conv2d(c, out, (5, 1), (stride, 1), padding=(2, 0))))
            c = out
        self.convs = nn.ModuleList(layers)
        self.post = parametrizations.weight_norm(nn.Conv2d(c, 1, (3, 1), padding=(1, 0)))

    def forward(self, wav: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """``[B, T]`` -> ``(score [B, 1, T', p], features)``."""
        b, t = wav.shape
        pad = (-t) % self.period
        x = F.pad(wav, (0, pad), mode="reflect" if pad < t else "constant")
        x = x.view(b, 1, -1, self.period)
        feats = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), 0.1)
            feats.append(x)
        return self.post(x), feats


class MultiPeriodDiscriminator(nn.Module):
    """``wav [B, 1, T]`` -> list over periods of ``(score map, feature maps)``."""

    def __init__(self, periods: list[int], channels: list[int]):
        super().__init__()
        if not periods or not channels:
            raise ValueError("MPD needs at least one period and one channel width")
        self.discs = nn.ModuleList(PeriodDiscriminator(p, list(channels)) for p in periods)

    def forward(self, wav: torch.Tensor) -> list[tuple[torch.Tensor, list[torch.Tensor]]]:
        x = wav.squeeze(1).float()
        return [d(x) for d in self.discs]
