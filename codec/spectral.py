"""STFT magnitudes, mel filterbanks and a PQMF analysis bank, in plain torch (no torchaudio).

The mel filterbank is the HTK-scale triangular bank (no area normalisation), the same definition
torchaudio's ``melscale_fbanks`` uses, so a magnitude spectrogram times ``mel_filterbank(...)`` equals
torchaudio's ``MelScale``. Every STFT here passes ``return_complex=True`` explicitly (the reference's
legacy calls break on recent torch).

>>> import torch
>>> fb = mel_filterbank(n_freqs=513, n_mels=80, sample_rate=16000)
>>> tuple(fb.shape)
(513, 80)
>>> mel = MelSpectrogram(16000, n_fft=1024, hop_length=160, win_length=800, n_mels=80)
>>> tuple(mel(torch.zeros(2, 16000)).shape)
(2, 80, 101)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def hz_to_mel(f: torch.Tensor | float) -> torch.Tensor:
    return 2595.0 * torch.log10(1.0 + torch.as_tensor(f, dtype=torch.float64) / 700.0)


def mel_to_hz(m: torch.Tensor) -> torch.Tensor:
    return 700.0 * (10.0 ** (m / 2595.0) - 1.0)


def mel_filterbank(n_freqs: int, n_mels: int, sample_rate: int, f_min: float = 0.0, f_max: float | None = None) -> torch.Tensor:
    """Triangular HTK mel filters as a ``[n_freqs, n_mels]`` matrix (float32)."""
    f_max = sample_rate / 2 if f_max is None else f_max
    all_freqs = torch.linspace(0, sample_rate // 2, n_freqs, dtype=torch.float64)
    m_pts = torch.linspace(float(hz_to_mel(f_min)), float(hz_to_mel(f_max)), n_mels + 2, dtype=torch.float64)
    f_pts = mel_to_hz(m_pts)
    f_diff = f_pts[1:] - f_pts[:-1]  # [n_mels + 1]
    slopes = f_pts.unsqueeze(0) - all_freqs.unsqueeze(1)  # [n_freqs, n_mels + 2]
    down = -slopes[:, :-2] / f_diff[:-1]
    up = slopes[:, 2:] / f_diff[1:]
    return torch.clamp(torch.minimum(down, up), min=0.0).float()


def stft_magnitude(x: torch.Tensor, n_fft: int, hop_length: int, win_length: int, window: torch.Tensor,
                   normalized: bool = False, eps: float = 1e-7) -> torch.Tensor:
    """|STFT| of ``x [B, T]`` -> ``[B, n_fft//2+1, frames]`` (centered, reflect padded)."""
    spec = torch.stft(x, n_fft=n_fft, hop_length=hop_length, win_length=win_length, window=window,
                      center=True, pad_mode="reflect", normalized=normalized, return_complex=True)
    # sqrt of a clamped power keeps the gradient finite where the spectrum is exactly zero
    return torch.sqrt(torch.clamp(spec.real.square() + spec.imag.square(), min=eps))


class MelSpectrogram(nn.Module):
    """Magnitude (power 1) mel spectrogram; ``log=True`` returns ``log(clamp(mel, 1e-5))``."""

    def __init__(self, sample_rate: int, n_fft: int, hop_length: int, win_length: int, n_mels: int, log: bool = False):
        super().__init__()
        self.n_fft, self.hop_length, self.win_length, self.log = n_fft, hop_length, win_length, log
        self.register_buffer("window", torch.hann_window(win_length), persistent=False)
        self.register_buffer("fb", mel_filterbank(n_fft // 2 + 1, n_mels, sample_rate), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mag = stft_magnitude(x.float(), self.n_fft, self.hop_length, self.win_length, self.window)
        mel = torch.matmul(mag.transpose(1, 2), self.fb).transpose(1, 2)
        return torch.log(torch.clamp(mel, min=1e-5)) if self.log else mel


class PQMF(nn.Module):
    """Pseudo-QMF analysis bank: ``[B, 1, T] -> [B, subbands, T // subbands]``.

    Cosine-modulated filters built from a Kaiser-windowed sinc prototype with cutoff
    ``cutoff_ratio * pi`` (near-perfect reconstruction for the usual taps/beta choices). Only the
    analysis side is needed: the sub-band STFT loss compares analysed real and generated audio.
    """

    def __init__(self, subbands: int = 6, taps: int = 62, cutoff_ratio: float | None = None, beta: float = 9.0):
        super().__init__()
        self.subbands = subbands
        # a cutoff a bit above pi/(2K) is the usual choice; 0.142 for K=4 scales as ~0.57/K
        cutoff = cutoff_ratio if cutoff_ratio is not None else 0.57 / subbands
        n = torch.arange(taps + 1, dtype=torch.float64) - taps / 2
        omega = math.pi * cutoff
        safe_n = torch.where(n == 0, torch.ones_like(n), n)
        sinc = torch.where(n == 0, torch.full_like(n, cutoff), torch.sin(omega * n) / (math.pi * safe_n))
        proto = sinc * torch.kaiser_window(taps + 1, periodic=False, beta=beta, dtype=torch.float64)
        k = torch.arange(subbands, dtype=torch.float64).unsqueeze(1)
        phase = (2 * k + 1) * math.pi / (2 * subbands) * n.unsqueeze(0) + ((-1.0) ** k) * math.pi / 4
        analysis = 2 * proto.unsqueeze(0) * torch.cos(phase)  # [K, taps+1]
        self.register_buffer("filters", analysis.float().unsqueeze(1), persistent=False)
        self.pad = taps // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, (self.pad, self.pad))
        return F.conv1d(x, self.filters, stride=self.subbands)
