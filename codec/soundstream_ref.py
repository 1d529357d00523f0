"""An unoptimised, eager SoundStream in the published module layout: the baseline of the encode benchmark.

Why it exists: the speed goal of ``Codec.encode`` is stated against the published implementation "as
a user calls it": weight norm left unfolded (the weight recomputed from ``weight_g``/``weight_v`` by a
hook at every forward), ``nn.Sequential`` stacks of convs and ``nn.ELU`` modules, ``F.pad`` reflect
padding extended to whole frames, and the residual VQ computing the full squared distance per
codebook. This module restates that inference path from the checkpoint format alone (its parameter
names are the published ``state_dict`` keys, so ``load_state_dict(ckpt["codec_model"])`` fits
directly); it shares no code with :mod:`codec.seanet`, so it also cross-checks the importer
(tests/codec/test_published.py runs both against the golden outputs). :func:`calibrate` turns its
random weights into an encoder whose codes follow the input, for comparisons that can fail
(tests/codec/test_published_calibrated.py, the benchmark).

>>> import torch
>>> ref = ReferenceSoundStream(n_filters=4, D=16).eval()
>>> tuple(ref.encode(torch.zeros(1, 1, 16123), n_q=3).shape)   # published layout: [n_q, B, F]
(3, 1, 51)
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

with warnings.catch_warnings():  # the old hook-based API is what the published checkpoints were made with
    warnings.simplefilter("ignore", FutureWarning)
    from torch.nn.utils import weight_norm as _old_weight_norm


def _wn(module: nn.Module) -> nn.Module:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _old_weight_norm(module)


def _reflect(x: torch.Tensor, left: int, right: int) -> torch.Tensor:
    """Reflect padding; an input no longer than the padding is zero-extended to padding + 1 first."""
    widest = max(left, right)
    n = x.shape[-1]
    if n > widest:
        return F.pad(x, (left, right), mode="reflect")
    grow = widest + 1 - n
    return F.pad(F.pad(x, (0, grow)), (left, right), mode="reflect")[..., : n + left + right]


class _Inner(nn.Module):  # holds ``conv`` so the keys read ``...conv.conv.weight_g``
    def __init__(self, conv: nn.Module):
        super().__init__()
        self.conv = _wn(conv)


class _Conv(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1):
        super().__init__()
        self.conv = _Inner(nn.Conv1d(cin, cout, kernel, stride=stride))
        self.kernel, self.stride = kernel, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        total = self.kernel - self.stride
        n = x.shape[-1]
        frames = math.ceil((n - self.kernel + total) / self.stride + 1)
        extra = (frames - 1) * self.stride + self.kernel - total - n
        return self.conv.conv(_reflect(x, total - total // 2, total // 2 + extra))


class _InnerTr(nn.Module):
    def __init__(self, conv: nn.Module):
        super().__init__()
        self.convtr = _wn(conv)


class _ConvTr(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int, stride: int):
        super().__init__()
        self.convtr = _InnerTr(nn.ConvTranspose1d(cin, cout, kernel, stride=stride))
        self.trim = kernel - stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.convtr.convtr(x)
        right = self.trim // 2
        return y[..., self.trim - right : y.shape[-1] - right]


class _ResBlock(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.block = nn.Sequential(nn.ELU(), _Conv(dim, dim // 2, 3), nn.ELU(), _Conv(dim // 2, dim, 1))
        self.shortcut = _Conv(dim, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.block(x)


class _LSTM(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.lstm = nn.LSTM(dim, dim, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = x.permute(2, 0, 1)
        y, _ = self.lstm(t)
        return (y + t).permute(1, 2, 0)


class _Encoder(nn.Module):
    def __init__(self, n_filters: int, D: int, ratios: list[int]):
        super().__init__()
        layers: list[nn.Module] = [_Conv(1, n_filters, 7)]
        ch = n_filters
        for r in reversed(ratios):
            layers += [_ResBlock(ch), nn.ELU(), _Conv(ch, ch * 2, 2 * r, stride=r)]
            ch *= 2
        layers += [_LSTM(ch), nn.ELU(), _Conv(ch, D, 7)]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class _Decoder(nn.Module):
    def __init__(self, n_filters: int, D: int, ratios: list[int]):
        super().__init__()
        ch = n_filters * 2 ** len(ratios)
        layers: list[nn.Module] = [_Conv(D, ch, 7), _LSTM(ch)]
        for r in ratios:
            layers += [nn.ELU(), _ConvTr(ch, ch // 2, 2 * r, r), _ResBlock(ch // 2)]
            ch //= 2
        layers += [nn.ELU(), _Conv(ch, 1, 7)]
        self.model = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.model(z)


class _Codebook(nn.Module):
    def __init__(self, D: int, bins: int):
        super().__init__()
        self.register_buffer("inited", torch.ones(1))
        self.register_buffer("cluster_size", torch.zeros(bins))
        self.register_buffer("embed", torch.randn(bins, D))
        self.register_buffer("embed_avg", self.embed.clone())

    def encode(self, x: torch.Tensor) -> torch.Tensor:  # [B, D, T] -> [B, T]
        B, D, T = x.shape
        flat = x.permute(0, 2, 1).reshape(-1, D)
        e = self.embed.t()
        dist = -(flat.pow(2).sum(1, keepdim=True) - 2 * flat @ e + e.pow(2).sum(0, keepdim=True))
        return dist.max(dim=-1).indices.view(B, T)

    def decode(self, idx: torch.Tensor) -> torch.Tensor:  # [B, T] -> [B, D, T]
        return F.embedding(idx, self.embed).permute(0, 2, 1)


class _Layer(nn.Module):
    def __init__(self, D: int, bins: int):
        super().__init__()
        self._codebook = _Codebook(D, bins)


class _VQ(nn.Module):
    def __init__(self, D: int, bins: int, n_q: int):
        super().__init__()
        self.layers = nn.ModuleList(_Layer(D, bins) for _ in range(n_q))


class _Quantizer(nn.Module):
    def __init__(self, D: int, bins: int, n_q: int):
        super().__init__()
        self.vq = _VQ(D, bins, n_q)


class ReferenceSoundStream(nn.Module):
    """The published generator's inference: ``encode(wav [B,1,T], n_q) -> [n_q, B, F]``, ``decode``."""

    def __init__(self, n_filters: int = 32, D: int = 256, ratios: list[int] = (8, 5, 4, 2), bins: int = 1024,
                 n_q: int = 12):
        super().__init__()
        self.encoder = _Encoder(n_filters, D, list(ratios))
        self.quantizer = _Quantizer(D, bins, n_q)
        self.decoder = _Decoder(n_filters, D, list(ratios))
        # the release's bitrate list, up to what n_q codebooks give (0.5 kbps each)
        bandwidths = [0.5 * k for k in (1, 2, 3, 4, 8, 12) if k <= n_q]
        self.published_config = dict(n_filters=n_filters, D=D, target_bandwidths=bandwidths, ratios=list(ratios),
                                     sample_rate=16000, bins=bins)

    def save(self, dst: str | Path) -> Path:
        """Write this model as the published code lays a codec out: ``config.yaml`` (``generator: {name:
        SoundStream, config: ...}``) and ``model.pth`` (``{"codec_model": state_dict}``) in ``dst``."""
        import yaml

        dst = Path(dst)
        dst.mkdir(parents=True, exist_ok=True)
        doc = {"generator": {"name": "SoundStream", "config": self.published_config}}
        (dst / "config.yaml").write_text(yaml.safe_dump(doc))
        torch.save({"codec_model": self.state_dict()}, dst / "model.pth")
        return dst

    @torch.no_grad()
    def encode(self, wav: torch.Tensor, n_q: int) -> torch.Tensor:
        residual = self.encoder(wav)
        codes = []
        for layer in self.quantizer.vq.layers[:n_q]:
            idx = layer._codebook.encode(residual)
            residual = residual - layer._codebook.decode(idx)
            codes.append(idx)
        return torch.stack(codes)

    @torch.no_grad()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        z = 0.0
        for layer, idx in zip(self.quantizer.vq.layers, codes):
            z = z + layer._codebook.decode(idx)
        return self.decoder(z)


@torch.no_grad()
def calibrate(ref: ReferenceSoundStream, wav: torch.Tensor, seed: int = 0, kmeans_iters: int = 10) -> ReferenceSoundStream:
    """Give a random-weight ``ref`` an encoder whose latents follow its input, and codebooks fitted to them.

    Why: with PyTorch's default init the published layout's random encoder outputs almost only its
    biases (its latent varies over time by ~1e-3 of its norm), and its N(0, 1) codebooks lie far from
    that latent, so every frame gets the same code in every codebook: the golden codes
    (tests/assets/reference/codec) are one code repeated, and comparing such codes between two
    encoders says nothing about their arithmetic. Here every encoder conv gets the weight-norm paper's
    data-dependent init (Salimans & Kingma 2016: ``g`` and the bias set so that its outputs have zero
    mean and unit variance per channel on ``wav``; one pass, each conv seeing the calibrated ones before
    it), then codebook k is k-means (seeded with frames sampled without replacement, ``kmeans_iters``
    Lloyd steps, as EnCodec's codebooks start) of the residual after codebooks 0..k-1: distinct codes
    with near-ties as a trained codec has them. ``wav [B, 1, T]`` needs at least ``bins`` latent frames
    (20.5 s at 16 kHz for 1024 codes; a few times more for useful k-means); it should not be the audio
    encoded afterwards.

    >>> ref = calibrate(ReferenceSoundStream(n_filters=4, D=16, bins=64).eval(), torch.randn(1, 1, 48000))
    >>> len(torch.unique(ref.encode(torch.randn(1, 1, 16000), 2)[1])) > 10
    True
    """
    def standardise(conv: nn.Module, _inputs, out: torch.Tensor) -> torch.Tensor:
        y = out.transpose(0, 1).reshape(out.shape[1], -1)
        mean, std = y.mean(1), y.std(1).clamp_min(1e-8)
        conv.weight_g.div_(std.view(-1, 1, 1))
        conv.bias.sub_(mean).div_(std)
        return (out - mean.view(1, -1, 1)) / std.view(1, -1, 1)  # what the calibrated conv now outputs

    hooks = [m.register_forward_hook(standardise) for m in ref.encoder.modules() if isinstance(m, nn.Conv1d)]
    try:
        ref.encoder(wav)
    finally:
        for h in hooks:
            h.remove()
    z = ref.encoder(wav)
    residual = z.permute(0, 2, 1).reshape(-1, z.shape[1])
    gen = torch.Generator().manual_seed(seed)
    for layer in ref.quantizer.vq.layers:
        book = layer._codebook
        bins = book.embed.shape[0]
        if residual.shape[0] < bins:
            raise ValueError(f"calibration audio gives {residual.shape[0]} latent frames; {bins} codes need at least as many")
        book.embed.copy_(residual[torch.randperm(residual.shape[0], generator=gen)[:bins]])
        for _ in range(kmeans_iters):
            idx = book.encode(residual.t().unsqueeze(0))[0]
            count = torch.bincount(idx, minlength=bins)
            total = torch.zeros_like(book.embed).index_add_(0, idx, residual)
            used = count > 0  # an empty cluster keeps its code
            book.embed[used] = total[used] / count[used].unsqueeze(1)
        book.embed_avg.copy_(book.embed)
        residual = residual - book.embed[book.encode(residual.t().unsqueeze(0))[0]]
    return ref
