"""Opt-in CPU inference plan of the SEANet encoder (``Codec(fast_cpu=True)``): time-major, prepared weights.

Why: ``Codec.encode`` on CPU tokenization nodes sets the cost of tokenizing a corpus. Profiling the
module path (``SEANetEncoder.forward``, NCW tensors, one thread) showed three avoidable costs:
the 1x1 convs ran on PyTorch's slow im2col path (oneDNN is skipped for unstrided 1x1 convs with small
batches on one thread) at 3-6 GMAC/s; oneDNN's convs reorder NCW inputs and outputs into their
channels-last layout inside every call; and the residual add, the ELUs and the paddings were separate
passes over activations of 32 x 16,000 values per second of audio. This plan keeps every activation
time-major (``[B, T, C]``, which is oneDNN's native ``nwc`` layout seen as a channels-last
``[B, C, 1, T]``), runs the k > 1 convs as oneDNN 2-D convs on it with weights laid out once, runs
each residual block's two 1x1 convs as two GEMMs accumulating into one output (the shortcut add is
free), writes every ELU straight into the padded buffer of the next conv, and runs the residual VQ on
the ``[B * F, D]`` rows without a transpose. Same weights; the 1x1 GEMMs are bit-identical to the
module path's, but oneDNN runs channels-last convs with other kernels (brgemm instead of blocked
direct convs), so latents differ by float summation order (~3e-6 absolute measured) and codes at
near-ties can flip. Measured gain 3-12 % (docs/CODEC.md "Encode speed"): not worth changing the default's
codes for, hence opt-in.

Per-item end padding (``lengths``) works as in :mod:`codec.seanet`: each item's edges are reflected
at its own end (and zero-extended first for the published ``end_padding="reflect"`` rule).

>>> import torch
>>> from codec.seanet import SEANetEncoder
>>> enc = SEANetEncoder(channels=4, dimension=8).eval()
>>> x = torch.randn(2, 1, 3200)
>>> with torch.inference_mode():
...     torch.allclose(FastEncoder(enc)(x).transpose(1, 2), enc(x), atol=1e-5)
True
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from codec.seanet import PadConv1d, SEANetEncoder, _scale, reflect_index


def _elu_into(x: torch.Tensor, out: torch.Tensor) -> None:
    torch.ops.aten.elu.out(x, 1.0, 1, 1, out=out)


def pad_time_major(x: torch.Tensor, left: int, right: int, elu: bool, lengths: list[int] | None = None,
                   rights: list[int] | None = None, zero_extend: bool = False) -> torch.Tensor:
    """``x [B, T, C]`` (any strides) -> ``[B, left + T + right, C]``: ELU'd (if ``elu``), reflect-padded.

    With ``lengths``, item b's right edge reflects at ``lengths[b]`` with its own right padding
    ``rights[b]``; ``zero_extend`` is the published rule for an item no longer than its padding
    (:func:`codec.seanet.pad1d`).
    """
    B, T, C = x.shape
    buf = x.new_empty(B, left + T + right, C)
    mid = buf[:, left:left + T]
    if elu:
        _elu_into(x, mid)
    else:
        mid.copy_(x)
    if lengths is None and T > max(left, right):
        if left:
            buf[:, :left] = buf[:, left + 1:2 * left + 1].flip(1)
        if right:
            buf[:, left + T:] = buf[:, left + T - 1 - right:left + T - 1].flip(1)
        return buf
    lengths = lengths or [T] * B
    rights = rights or [right] * B
    for b, (n, r) in enumerate(zip(lengths, rights)):
        q = torch.cat([torch.arange(-left, 0), torch.arange(n, n + r)])
        eff = max(left, r) + 1 if zero_extend and n <= max(left, r) else n
        idx = reflect_index(q, torch.tensor(eff))
        src = buf[b, left + idx.clamp_max(n - 1)]
        if zero_extend:
            src = src * (idx < n).unsqueeze(1).to(src.dtype)
        buf[b, left + q] = src
    return buf


def _channels_last(x: torch.Tensor) -> torch.Tensor:
    """``[B, T, C]`` contiguous -> the same memory as a channels-last ``[B, C, 1, T]``."""
    return x.permute(0, 2, 1).unsqueeze(2)


def _time_major(y: torch.Tensor) -> torch.Tensor:
    """A conv2d output ``[B, C, 1, T]`` -> ``[B, T, C]`` (a view when oneDNN kept channels-last)."""
    t = y.squeeze(2).permute(0, 2, 1)
    return t if t.is_contiguous() else t.contiguous()


class _Conv:
    """One :class:`PadConv1d`, weights laid out once for the time-major plan."""

    def __init__(self, m: PadConv1d):
        w = m.conv.weight.detach()
        self.m = m
        self.bias = m.conv.bias.detach()
        self.w4 = w.unsqueeze(2).contiguous(memory_format=torch.channels_last)
        self.dilation = m.conv.dilation[0]

    def rights(self, lengths: list[int] | None) -> list[int] | None:
        return None if lengths is None else [int(self.m.right_padding(n)) for n in lengths]

    def __call__(self, x: torch.Tensor, lengths: list[int] | None, elu: bool) -> torch.Tensor:
        m = self.m
        xp = pad_time_major(x, m.pad_left, m.right_padding(x.shape[1]), elu, lengths, self.rights(lengths), m.extend)
        y = F.conv2d(_channels_last(xp), self.w4, self.bias, stride=(1, m.stride), dilation=(1, self.dilation))
        return _time_major(y)


class _Block:
    """Residual block: ELU -> conv k -> ELU -> 1x1, plus the 1x1 shortcut accumulated into the same GEMM output."""

    def __init__(self, block):
        self.conv1 = _Conv(block.conv1)
        self.w2 = block.conv2.conv.weight.detach()[:, :, 0].t().contiguous()  # [hidden, C]
        self.ws = block.shortcut.conv.weight.detach()[:, :, 0].t().contiguous()  # [C, C]
        self.bias = (block.conv2.conv.bias + block.shortcut.conv.bias).detach()

    def __call__(self, x: torch.Tensor, lengths: list[int] | None) -> torch.Tensor:
        B, T, C = x.shape
        h = self.conv1(x, lengths, elu=True)
        F.elu(h, inplace=True)
        y = torch.addmm(self.bias, h.reshape(B * T, -1), self.w2)
        y.addmm_(x.reshape(B * T, C), self.ws)
        return y.view(B, T, C)


class FastEncoder:
    """Callable ``wav [B, 1, T] -> latents [B, F, D]`` (time-major), for CPU inference without autograd."""

    def __init__(self, enc: SEANetEncoder):
        self.enc = enc
        self.conv_in = _Conv(enc.conv_in)
        self.blocks = [_Block(b) for b in enc.blocks]
        self.downs = [_Conv(d) for d in enc.downs]
        self.conv_out = _Conv(enc.conv_out)
        self.ceil = enc.end_padding == "reflect"

    def __call__(self, wav: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        enc = self.enc
        lens = None if lengths is None else lengths.cpu().long()
        x = self.conv_in(wav.reshape(wav.shape[0], -1, 1), _list(lens), elu=False)
        for block, down, s in zip(self.blocks, self.downs, enc.strides):
            x = block(x, _list(lens))
            x = down(x, _list(lens), elu=True)
            lens = _scale(lens, s, ceil=self.ceil)
        if enc.lstm.lstm is not None:
            t = x.transpose(0, 1)
            y, _ = enc.lstm.lstm(t)
            x = y.add_(t).transpose(0, 1)
        return self.conv_out(x, _list(lens), elu=True)


def _list(lengths: torch.Tensor | None) -> list[int] | None:
    return None if lengths is None else lengths.tolist()
