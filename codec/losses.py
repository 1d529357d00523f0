"""Codec losses: multi-resolution STFT (full band and PQMF sub-band), mel L1, least-squares GAN, feature matching.

>>> import torch
>>> from codec.config import preset
>>> crit = ReconstructionLoss(preset("tiny").loss)
>>> y = torch.randn(2, 1, 16000)
>>> parts = crit(y, y)
>>> round(float(parts["multi_mel"]), 6), round(float(parts["multi_resolution_stft"]), 6)
(0.0, 0.0)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from codec.config import LossConfig
from codec.mel_loss import MultiScaleMelLoss
from codec.spectral import PQMF, MelSpectrogram, stft_magnitude


class MultiResolutionSTFTLoss(nn.Module):
    """Mean over resolutions of spectral convergence + L1 of log magnitudes."""

    def __init__(self, fft_sizes: list[int], win_lengths: list[int], hop_lengths: list[int]):
        super().__init__()
        if not len(fft_sizes) == len(win_lengths) == len(hop_lengths):
            raise ValueError("STFT loss: fft_sizes, win_lengths and hop_lengths need the same length")
        self.res = list(zip(fft_sizes, win_lengths, hop_lengths))
        for i, (_, win, _) in enumerate(self.res):
            self.register_buffer(f"window{i}", torch.hann_window(win), persistent=False)

    def forward(self, y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``[N, T]`` signals -> scalar."""
        total = y.new_zeros(())
        for i, (n_fft, win, hop) in enumerate(self.res):
            w = getattr(self, f"window{i}")
            mag_hat = stft_magnitude(y_hat, n_fft, hop, win, w)
            mag = stft_magnitude(y, n_fft, hop, win, w)
            sc = torch.linalg.norm(mag - mag_hat, dim=(1, 2)) / torch.linalg.norm(mag, dim=(1, 2)).clamp_min(1e-7)
            total = total + sc.mean() + F.l1_loss(torch.log(mag_hat), torch.log(mag))
        return total / len(self.res)


class ReconstructionLoss(nn.Module):
    """The non-adversarial generator losses; returns a dict of *unweighted* components."""

    def __init__(self, cfg: LossConfig, sample_rate: int = 16000):
        super().__init__()
        self.full = MultiResolutionSTFTLoss(cfg.stft_fft_sizes, cfg.stft_win_lengths, cfg.stft_hop_lengths)
        self.pqmf = PQMF(cfg.subbands)
        self.sub = MultiResolutionSTFTLoss(cfg.subband_fft_sizes, cfg.subband_win_lengths, cfg.subband_hop_lengths)
        self.mel = MelSpectrogram(sample_rate, cfg.mel_fft, cfg.mel_hop, cfg.mel_win, cfg.mel_bins, log=True)
        self.multi_mel = MultiScaleMelLoss(cfg.multi_mel_windows, cfg.multi_mel_bins, sample_rate)
        self.cfg = cfg

    def forward(self, y_hat: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """``y_hat, y [B, 1, T]``; a component whose weight is 0 is not computed (except the full-band
        STFT loss, always logged as a reference number, without a gradient when its weight is 0)."""
        with torch.set_grad_enabled(torch.is_grad_enabled() and self.cfg.multi_resolution_stft > 0):
            out = {"multi_resolution_stft": self.full(y_hat.squeeze(1), y.squeeze(1))}
        if self.cfg.subband_stft > 0:
            sb_hat, sb = self.pqmf(y_hat), self.pqmf(y)
            out["subband_stft"] = self.sub(sb_hat.flatten(0, 1), sb.flatten(0, 1))
        if self.cfg.mel > 0:
            out["mel"] = mel_distance(self.mel, y_hat.squeeze(1), y.squeeze(1))
        if self.cfg.multi_mel > 0:
            out["multi_mel"] = self.multi_mel(y_hat.squeeze(1), y.squeeze(1))
        if self.cfg.waveform > 0:
            out["waveform"] = F.l1_loss(y_hat, y)
        return out


def mel_distance(mel: MelSpectrogram, y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """L1 between log-mel spectrograms (natural log, floor 1e-5): the mel loss and the validation metric."""
    return F.l1_loss(mel(y_hat), mel(y))


Scores = list[tuple[torch.Tensor, list[torch.Tensor]]]


def generator_adversarial_loss(fake: Scores) -> torch.Tensor:
    """Least squares: mean over scales of mean((D(y_hat) - 1)^2)."""
    return sum(torch.mean((s - 1) ** 2) for s, _ in fake) / len(fake)


def discriminator_loss(real: Scores, fake: Scores) -> torch.Tensor:
    """Least squares: mean over scales of mean((D(y) - 1)^2) + mean(D(y_hat)^2)."""
    return sum(torch.mean((r - 1) ** 2) + torch.mean(f**2) for (r, _), (f, _) in zip(real, fake)) / len(real)


def feature_matching_loss(real: Scores, fake: Scores) -> torch.Tensor:
    """L1 between real (constant) and generated feature maps, averaged over every layer of every scale."""
    terms = [F.l1_loss(ff, rf.detach()) for (_, rfs), (_, ffs) in zip(real, fake) for rf, ff in zip(rfs, ffs)]
    return sum(terms) / len(terms)


def si_snr(est: torch.Tensor, ref: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Scale-invariant SNR in dB per item, ``[B, T]`` -> ``[B]``."""
    est = est - est.mean(-1, keepdim=True)
    ref = ref - ref.mean(-1, keepdim=True)
    proj = (est * ref).sum(-1, keepdim=True) / (ref.square().sum(-1, keepdim=True) + eps) * ref
    noise = est - proj
    return 10 * torch.log10((proj.square().sum(-1) + eps) / (noise.square().sum(-1) + eps))
