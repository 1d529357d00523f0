"""Multi-band multi-resolution STFT discriminator (MRD, as in DAC): complex spectrograms split into bands.

At each STFT resolution the discriminator sees the *complex* spectrogram (real and imaginary parts as
two channels, so phase errors are visible, unlike magnitude-only discriminators), and each frequency
band (fractions of the bins, low bands narrow) gets its own conv stack: low and high frequencies have
different statistics, and separate weights learn each faster than one shared stack. The band outputs
are joined along frequency and a last conv gives the score map. Layout ``[B, 2, frames, bins]``;
kernels (3, 9) stride 2 along frequency only, LeakyReLU(0.1), weight norm.

>>> import torch
>>> d = MultiBandSTFTDiscriminator(windows=[128, 256], channels=4)
>>> outs = d(torch.zeros(2, 1, 4000))
>>> len(outs), outs[0][0].shape[1], len(outs[0][1])
(2, 1, 25)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrizations

BANDS = ((0.0, 0.1), (0.1, 0.25), (0.25, 0.5), (0.5, 0.75), (0.75, 1.0))


def _wn(c_in: int, c_out: int, kernel: tuple[int, int], stride: tuple[int, int] = (1, 1)) -> nn.Module:
    pad = (kernel[0] // 2, kernel[1] // 2)
    return parametrizations.weight_norm(nn.Conv2d(c_in, c_out, kernel, stride, padding=pad))


class BandSTFTDiscriminator(nn.Module):
    """One STFT resolution: window = n_fft, hop = window / 4, Hann, not normalised."""

    def __init__(self, window: int, channels: int, bands=BANDS, depth: int = 3):
        super().__init__()
        self.window = window
        n_bins = window // 2 + 1
        self.bands = [(int(lo * n_bins), int(hi * n_bins)) for lo, hi in bands]
        if any(hi - lo < 1 for lo, hi in self.bands):
            raise ValueError(f"MRD window {window} is too small for {len(bands)} bands")
        self.register_buffer("hann", torch.hann_window(window), persistent=False)

        def stack() -> nn.ModuleList:
            return nn.ModuleList([_wn(2, channels, (3, 9))] + [_wn(channels, channels, (3, 9), (1, 2)) for _ in range(depth)]
                                 + [_wn(channels, channels, (3, 3))])

        self.band_convs = nn.ModuleList(stack() for _ in self.bands)
        self.post = _wn(channels, 1, (3, 3))

    def forward(self, wav: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """``[B, T]`` -> ``(score [B, 1, frames, f], features)``."""
        spec = torch.stft(wav.float(), self.window, self.window // 4, self.window, self.hann, center=True,
                          pad_mode="reflect", return_complex=True)  # [B, bins, frames]
        x = torch.view_as_real(spec).permute(0, 3, 2, 1)  # [B, 2, frames, bins]
        feats, outs = [], []
        for (lo, hi), convs in zip(self.bands, self.band_convs):
            h = x[..., lo:hi]
            for conv in convs:
                h = F.leaky_relu(conv(h), 0.1)
                feats.append(h)
            outs.append(h)
        return self.post(torch.cat(outs, dim=-1)), feats


class MultiBandSTFTDiscriminator(nn.Module):
    """``wav [B, 1, T]`` -> list over resolutions of ``(score map, feature maps)``."""

    def __init__(self, windows: list[int], channels: int):
        super().__init__()
        if not windows:
            raise ValueError("MRD needs at least one window")
        self.discs = nn.ModuleList(BandSTFTDiscriminator(w, channels) for w in windows)

    def forward(self, wav: torch.Tensor) -> list[tuple[torch.Tensor, list[torch.Tensor]]]:
        x = wav.squeeze(1)
        return [d(x) for d in self.discs]
