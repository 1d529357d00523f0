"""Multi-frequency discriminator (MFD): one 2-D CNN per STFT resolution.

Per scale (spec §1.2): a normalised Hann STFT with window = n_fft = 4 x hop, the magnitude mel-warped
with as many mel bands as frequency bins, then two input channels (``double`` domain): the linear
magnitude and ``clamp((20 log10 |X| - 20 + 100) / 100, 0, 1)``. Seven weight-normed 3x3 convs with
reflection padding and LeakyReLU(0.2); channels h/32 ... h, 1 and strides (1,2,1,2,1,2,1). The spec
gives one stride per layer; we stride both the frequency and the time axis (it keeps the large scales
affordable; the parameter count, 5.26 M at the default size, does not depend on it).

>>> import torch
>>> d = MultiFrequencyDiscriminator(hops=[32, 64], hidden=[32, 64])
>>> outs = d(torch.zeros(2, 1, 8000))
>>> len(outs), outs[0][0].shape[1], len(outs[0][1])
(2, 1, 6)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrizations

from codec.spectral import mel_filterbank, stft_magnitude


class FrequencyDiscriminator(nn.Module):
    def __init__(self, hop: int, hidden: int, domain: str = "double", mel_warp: bool = True, sample_rate: int = 16000):
        super().__init__()
        self.hop, self.n_fft, self.domain = hop, 4 * hop, domain
        n_freq = self.n_fft // 2 + 1
        self.register_buffer("window", torch.hann_window(self.n_fft), persistent=False)
        fb = mel_filterbank(n_freq, n_freq, sample_rate) if mel_warp else torch.eye(n_freq)
        self.register_buffer("fb", fb, persistent=False)
        in_ch = 2 if domain == "double" else 1
        chans = [max(1, hidden // d) for d in (32, 16, 8, 4, 2, 1)] + [1]
        strides = [1, 2, 1, 2, 1, 2, 1]
        layers, c = [], in_ch
        for out, s in zip(chans, strides):
            layers.append(parametrizations.weight_norm(nn.Conv2d(c, out, 3, stride=s)))
            c = out
        self.convs = nn.ModuleList(layers)

    def spectrogram(self, wav: torch.Tensor) -> torch.Tensor:
        """``[B, T]`` -> input map ``[B, C, freq, frames]``."""
        mag = stft_magnitude(wav.float(), self.n_fft, self.hop, self.n_fft, self.window, normalized=True)
        mag = torch.matmul(mag.transpose(1, 2), self.fb).transpose(1, 2)
        log = torch.clamp((20 * torch.log10(mag.clamp_min(1e-5)) - 20 + 100) / 100, 0.0, 1.0)
        if self.domain == "linear":
            return mag.unsqueeze(1)
        if self.domain == "log":
            return log.unsqueeze(1)
        return torch.stack([mag, log], dim=1)

    def forward(self, wav: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        x = self.spectrogram(wav)
        feats = []
        for i, conv in enumerate(self.convs):
            # reflect needs 2+ positions; tiny maps (very short inputs) fall back to replicate
            x = conv(F.pad(x, (1, 1, 1, 1), mode="reflect" if min(x.shape[-2:]) > 1 else "replicate"))
            if i < len(self.convs) - 1:
                x = F.leaky_relu(x, 0.2)
                feats.append(x)
        return x, feats


class MultiFrequencyDiscriminator(nn.Module):
    """``wav [B, 1, T]`` -> list over scales of ``(score map, feature maps)``."""

    def __init__(self, hops: list[int], hidden: list[int], domain: str = "double", mel_warp: bool = True):
        super().__init__()
        self.discs = nn.ModuleList(FrequencyDiscriminator(h, c, domain, mel_warp) for h, c in zip(hops, hidden))

    @classmethod
    def from_config(cls, cfg) -> "MultiFrequencyDiscriminator":
        return cls(cfg.disc.hops, cfg.disc.hidden, cfg.disc.domain, cfg.disc.mel_warp)

    def forward(self, wav: torch.Tensor) -> list[tuple[torch.Tensor, list[torch.Tensor]]]:
        x = wav.squeeze(1)
        return [d(x) for d in self.discs]


class Discriminators(nn.Module):
    """The discriminators named by ``cfg.disc.kinds``, called as one: their score lists are joined, so
    every loss (least squares, feature matching) averages over all sub-discriminators alike."""

    def __init__(self, members: dict[str, nn.Module]):
        super().__init__()
        self.members = nn.ModuleDict(members)

    @classmethod
    def from_config(cls, cfg) -> "Discriminators":
        from codec.disc_band import MultiBandSTFTDiscriminator
        from codec.disc_period import MultiPeriodDiscriminator

        d = cfg.disc
        build = {"mfd": lambda: MultiFrequencyDiscriminator.from_config(cfg),
                 "mpd": lambda: MultiPeriodDiscriminator(d.mpd_periods, d.mpd_channels),
                 "mrd": lambda: MultiBandSTFTDiscriminator(d.mrd_windows, d.mrd_channels)}
        return cls({k: build[k]() for k in d.kinds})

    def forward(self, wav: torch.Tensor) -> list[tuple[torch.Tensor, list[torch.Tensor]]]:
        return [out for m in self.members.values() for out in m(wav)]
