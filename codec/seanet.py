"""SEANet encoder/decoder (non-causal, reflect padding, ELU, residual blocks, 2-layer LSTM).

Every conv pads its input itself and then runs unpadded, so a batch of items of different lengths can
pass through with **per-item** padding: ``lengths`` (valid samples/frames per item at the current
resolution) makes each item's right edge reflect at its own end, exactly as if the item were alone.
Positions past an item's length hold garbage that never reaches its valid positions (the next layer
pads from the valid region again, transposed convs see zeros there, and the LSTM is causal). This is
what makes batched ``Codec.encode`` equal per-item encoding up to float round-off.

>>> import torch
>>> enc = SEANetEncoder(channels=4, dimension=8, strides=[2, 4, 5, 8])
>>> tuple(enc(torch.zeros(2, 1, 16000)).shape)
(2, 8, 50)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrizations

from codec import chunked_encode


def reflect_index(q: torch.Tensor, length: torch.Tensor) -> torch.Tensor:
    """Map positions ``q`` (any integers) into ``[0, length)`` by mirror folding about the ends.

    Equals ``F.pad(mode="reflect")`` for padding shorter than the length, and stays defined (folding
    again) for longer padding and for length 1.
    """
    length = length.clamp_min(1)
    period = (2 * (length - 1)).clamp_min(1)
    m = torch.remainder(q, period)
    idx = torch.where(m < length, m, period - m)
    return torch.where(length == 1, torch.zeros_like(idx), idx)


def pad1d(x: torch.Tensor, left: int, right: int, lengths: torch.Tensor | None = None,
          zero_extend: bool = False, item_right: torch.Tensor | None = None) -> torch.Tensor:
    """Reflect-pad ``x [B, C, T]`` by (left, right); with ``lengths`` the right edge of item b is lengths[b].

    ``zero_extend``: an item no longer than its padding is first extended with zeros to one sample
    more than the padding and reflected about that end (the published SoundStream's rule for very
    short inputs); ``item_right [B]`` is each item's own right padding for that rule (default
    ``right``). Without it the mirror folds again (see :func:`reflect_index`).
    """
    if left == 0 and right == 0:
        return x
    T = x.shape[-1]
    if lengths is None and T > max(left, right):
        return F.pad(x, (left, right), mode="reflect")
    if lengths is None:
        lengths = torch.full((x.shape[0],), T, device=x.device, dtype=torch.long)
    lengths = lengths.to(x.device).long().unsqueeze(1)
    q = torch.arange(-left, T + right, device=x.device).unsqueeze(0)  # [1, T']
    if not zero_extend:
        idx = reflect_index(q, lengths)  # [B, T']
        return torch.gather(x, 2, idx.unsqueeze(1).expand(-1, x.shape[1], -1))
    own = torch.full_like(lengths, right) if item_right is None else item_right.to(x.device).long().unsqueeze(1)
    short = own.clamp_min(left) + 1
    idx = reflect_index(q, torch.where(lengths < short, short, lengths))
    x = F.pad(x, (0, max(0, int(short.max()) - T)))
    out = torch.gather(x, 2, idx.unsqueeze(1).expand(-1, x.shape[1], -1))
    return out * (idx < lengths).unsqueeze(1).to(out.dtype)


def elu_pad1d(x: torch.Tensor, left: int, right: int, lengths: torch.Tensor | None = None,
              zero_extend: bool = False, item_right: torch.Tensor | None = None) -> torch.Tensor:
    """``pad1d(F.elu(x), left, right, lengths)``; at inference, one memory pass instead of two.

    ELU commutes with reflect padding, so without autograd the activation is written straight into
    the interior of the padded buffer and only the few edge columns are copied. Stage 0 of the
    encoder works on 32 x 16000 values per second of audio, where such passes are a large share of
    the CPU time.
    """
    T = x.shape[-1]
    if torch.is_grad_enabled() or lengths is not None or T <= max(left, right) or (left == 0 and right == 0):
        return pad1d(F.elu(x), left, right, lengths, zero_extend, item_right)  # ELU(0) = 0 commutes
    buf = x.new_empty(x.shape[:-1] + (T + left + right,))
    torch.ops.aten.elu.out(x, 1.0, 1, 1, out=buf[..., left : left + T])
    if left:
        buf[..., :left] = buf[..., left + 1 : 2 * left + 1].flip(-1)
    if right:
        buf[..., left + T :] = buf[..., left + T - 1 - right : left + T - 1].flip(-1)
    return buf


def mask_time(x: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
    """Zero every position at or past each item's length (no-op without lengths)."""
    if lengths is None:
        return x
    keep = torch.arange(x.shape[-1], device=x.device).unsqueeze(0) < lengths.to(x.device).unsqueeze(1)
    return x * keep.unsqueeze(1).to(x.dtype)


def _norm(module: nn.Conv1d | nn.ConvTranspose1d, use: bool) -> nn.Module:
    """Variance-preserving init, then weight norm.

    Weights ~ N(0, 1/fan_in) with fan_in = in_channels x kernel (divided by the stride for a
    transposed conv, whose outputs each see kernel/stride taps), zero biases. With PyTorch's default
    init the encoder's output std at init is ~1/150 of the input's (measured), the latents are
    bias-dominated and nearly constant over time, and the EMA codebooks collapse onto one or two
    codes while the encoder drifts faster than the frames spread. This init lets content reach the
    latents from step 0.
    """
    w = module.weight
    k = w.shape[-1]
    if isinstance(module, nn.ConvTranspose1d):
        fan_in = w.shape[0] * k / module.stride[0]
    else:
        fan_in = w.shape[1] * k
    with torch.no_grad():
        w.normal_(0.0, fan_in ** -0.5)
        if module.bias is not None:
            module.bias.zero_()
    return parametrizations.weight_norm(module) if use else module


class PadConv1d(nn.Module):
    """Conv1d with non-causal reflect padding ("same" length, or T/stride when T is a multiple of it).

    ``extend`` (the published SoundStream's rule, set by an encoder with ``end_padding="reflect"``):
    the right padding grows so that the last output frame is complete, T -> ceil(T / stride) frames
    for any T, and items shorter than the padding are zero-extended first (:func:`pad1d`).
    """

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, dilation: int = 1, wn: bool = True):
        super().__init__()
        self.conv = _norm(nn.Conv1d(cin, cout, kernel, stride=stride, dilation=dilation), wn)
        self.kernel = (kernel - 1) * dilation + 1  # effective
        self.total = self.kernel - stride
        self.pad_right = self.total // 2
        self.pad_left = self.total - self.pad_right
        self.stride = stride
        self.extend = False

    def right_padding(self, T):
        """The right padding for a ``T``-long input (int or tensor of lengths; with ``extend``: up to
        the last whole frame)."""
        if not self.extend:
            return self.pad_right
        frames = -((self.kernel - self.total - T) // self.stride) + 1  # ceil((T - k + total) / s) + 1
        return self.pad_right + (frames - 1) * self.stride + self.kernel - self.total - T

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None, elu: bool = False) -> torch.Tensor:
        """``elu=True`` applies ELU to the input first (fused with the padding at inference)."""
        right = self.right_padding(x.shape[-1])
        own = self.right_padding(lengths) if self.extend and lengths is not None else None
        pad = elu_pad1d if elu else pad1d
        return self.conv(pad(x, self.pad_left, right, lengths, self.extend, own))


class PadConvTranspose1d(nn.Module):
    """Transposed conv (kernel 2r, stride r) trimmed so that T frames become exactly T*r samples."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, wn: bool = True):
        super().__init__()
        self.conv = _norm(nn.ConvTranspose1d(cin, cout, kernel, stride=stride), wn)
        total = kernel - stride
        self.trim_right = total // 2
        self.trim_left = total - self.trim_right

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        # zeros past each item's end make its valid output identical to decoding it alone
        y = self.conv(mask_time(x, lengths))
        return y[..., self.trim_left : y.shape[-1] - self.trim_right]


class ResidualBlock(nn.Module):
    """ELU -> conv k (C -> C/compress) -> ELU -> conv 1 (-> C), plus a learned 1x1 shortcut."""

    def __init__(self, dim: int, kernel: int, compress: int, wn: bool):
        super().__init__()
        hidden = max(1, dim // compress)
        self.conv1 = PadConv1d(dim, hidden, kernel, wn=wn)
        self.conv2 = PadConv1d(hidden, dim, 1, wn=wn)
        self.shortcut = PadConv1d(dim, dim, 1, wn=wn)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        y = self.conv2(self.conv1(x, lengths, elu=True), lengths, elu=True)
        if torch.is_grad_enabled():
            return self.shortcut(x, lengths) + y
        return y.add_(self.shortcut(x, lengths))  # inference: no extra buffer


class SLSTM(nn.Module):
    """Unidirectional multi-layer LSTM over time with a residual skip (causal: padding cannot leak back)."""

    def __init__(self, dim: int, layers: int):
        super().__init__()
        self.lstm = nn.LSTM(dim, dim, layers) if layers > 0 else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.lstm is None:
            return x
        y, _ = self.lstm(x.permute(2, 0, 1))
        return y.permute(1, 2, 0) + x


def _scale(lengths: torch.Tensor | None, stride: int, ceil: bool) -> torch.Tensor | None:
    """Valid frames after a strided conv: floor(L / s), or ceil(L / s) when the conv extends its padding."""
    if lengths is None:
        return None
    return (-torch.div(-lengths, stride, rounding_mode="floor") if ceil else torch.div(lengths, stride, rounding_mode="floor")).long()


class SEANetEncoder(nn.Module):
    """``wav [B, 1, T]`` (T a multiple of prod(strides)) -> ``latents [B, D, T / prod(strides)]``.

    ``end_padding="reflect"`` (the published SoundStream): any T, ``ceil(T / hop)`` frames, each
    conv extending its own reflect padding to whole frames; ``"zeros"``: the caller zero-pads to
    whole frames (:meth:`codec.api.Codec.encode`).
    """

    def __init__(self, channels: int = 32, dimension: int = 128, strides: list[int] = (2, 4, 5, 8),
                 kernel_size: int = 7, last_kernel_size: int = 7, residual_kernel_size: int = 3,
                 compress: int = 2, lstm_layers: int = 2, weight_norm: bool = True, end_padding: str = "zeros"):
        super().__init__()
        self.end_padding = end_padding
        self.strides = list(strides)
        self.hop_length = math.prod(self.strides)
        self.conv_in = PadConv1d(1, channels, kernel_size, wn=weight_norm)
        self.blocks = nn.ModuleList()
        self.downs = nn.ModuleList()
        ch = channels
        for s in self.strides:
            self.blocks.append(ResidualBlock(ch, residual_kernel_size, compress, weight_norm))
            self.downs.append(PadConv1d(ch, ch * 2, kernel=2 * s, stride=s, wn=weight_norm))
            ch *= 2
        self.lstm = SLSTM(ch, lstm_layers)
        self.conv_out = PadConv1d(ch, dimension, last_kernel_size, wn=weight_norm)
        for m in self.modules():
            if isinstance(m, PadConv1d):
                m.extend = end_padding == "reflect"

    def forward(self, wav: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """``lengths``: valid samples per item (multiples of the hop unless ``end_padding="reflect"``),
        or None when all are full."""
        x, done = chunked_encode.early_stages(self, wav, lengths)  # inference on one CPU thread: the same
        if x is None:  # values, computed chunk by chunk over time (codec/chunked_encode.py); else (None, 0)
            x = self.conv_in(wav, lengths)
        for block, down, s in list(zip(self.blocks, self.downs, self.strides))[done:]:
            x = block(x, lengths)
            x = down(x, lengths, elu=True)
            lengths = _scale(lengths, s, ceil=self.end_padding == "reflect")
        x = self.lstm(x)
        return self.conv_out(x, lengths, elu=True)


class SEANetDecoder(nn.Module):
    """``latents [B, D, F]`` -> ``wav [B, 1, F * prod(strides)]`` (mirror of the encoder, no output activation)."""

    def __init__(self, channels: int = 32, dimension: int = 128, strides: list[int] = (2, 4, 5, 8),
                 kernel_size: int = 7, last_kernel_size: int = 7, residual_kernel_size: int = 3,
                 compress: int = 2, lstm_layers: int = 2, weight_norm: bool = True):
        super().__init__()
        self.ratios = list(reversed(list(strides)))
        ch = channels * 2 ** len(self.ratios)
        self.conv_in = PadConv1d(dimension, ch, kernel_size, wn=weight_norm)
        self.lstm = SLSTM(ch, lstm_layers)
        self.ups = nn.ModuleList()
        self.blocks = nn.ModuleList()
        for r in self.ratios:
            self.ups.append(PadConvTranspose1d(ch, ch // 2, kernel=2 * r, stride=r, wn=weight_norm))
            self.blocks.append(ResidualBlock(ch // 2, residual_kernel_size, compress, weight_norm))
            ch //= 2
        self.conv_out = PadConv1d(ch, 1, last_kernel_size, wn=weight_norm)

    def forward(self, z: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """``lengths``: valid frames per item, or None when all are full."""
        x = self.lstm(self.conv_in(z, lengths))
        for up, block, r in zip(self.ups, self.blocks, self.ratios):
            x = up(F.elu(x), lengths)
            lengths = None if lengths is None else lengths * r
            x = block(x, lengths)
        return self.conv_out(x, lengths, elu=True)


def remove_weight_norm(module: nn.Module) -> nn.Module:
    """Fold every weight-norm parametrization into a plain weight (inference form; faster)."""
    from torch.nn.utils import parametrize

    for m in module.modules():
        if parametrize.is_parametrized(m, "weight"):
            parametrize.remove_parametrizations(m, "weight", leave_parametrized=True)
    return module
