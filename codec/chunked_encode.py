"""Time-chunked, bit-identical execution of the SEANet encoder's early stages (CPU, fp32, one thread).

Why: at 16 kHz, stages 0-1 of the full-size encoder hold 32 x T and 64 x T/2 activations (20 MB per
10 s clip each, 160 MB for a batch of 8). Under glibc's default allocator every such layer output is a
fresh ``mmap`` that is page-faulted in 4 KiB at a time and unmapped again on free, which costs about as
much as the arithmetic (:mod:`uniaudio.allocator`). Running all layers of the first ``stages`` stages
item by item on one time chunk before the next keeps every buffer small enough to be reused from the
heap: measured on a 2-core AVX2 VM (docs/CODEC.md "Encode speed"), a batch of 8 x 10 s encodes ~1.5x
faster than the unchunked module path in a plain Python process, the same speed as with
``keep_freed_memory()`` (where chunking gains nothing: the convs and ELUs are compute bound, and the
cache locality it was first built for buys only the 1x1 GEMMs a few ms).

The codes must stay **bit-identical** to the module path (:class:`codec.seanet.SEANetEncoder` run layer
by layer over the whole input), so every element is computed with exactly the same arithmetic:

- **Halos and edges**: each chunk covers a range of output frames of the last chunked stage; the
  input interval of every layer is derived backwards (kernel, stride, ``pad_left`` and
  ``right_padding`` of the *full* input length). Interior chunks read real neighbouring samples; at
  the true signal edges the chunk buffer is reflect-padded from itself, as :func:`codec.seanet.elu_pad1d`
  does.
- **Conv backend**: PyTorch picks a conv's backend from the input *size* (oneDNN for large inputs,
  the native GEMM path for small ones and for unstrided 1x1 convs at batch < 16), and backends round
  differently. Each chunk conv runs on the backend the full-size call selects
  (``torch._C._select_conv_backend``), oneDNN through ``aten.mkldnn_convolution`` called directly.
- **ELU**: PyTorch's vectorised loop computes the last ``n mod W`` values of each inner loop (``W`` = 2
  AVX2 vectors = 16 floats, probed at runtime) with a scalar formula that can differ by 1 ulp. The
  padded ELUs (before k3 and strided convs) have such a tail at the end of every channel row, the
  plain ELU before a 1x1 conv only at the end of the whole flattened tensor. Chunks compute all values
  with vector-width loops and recompute the full call's scalar-tail positions with short calls.
- **Self-check**: the first time an encoder takes this path it is compared with the module path on a
  short random batch with interior chunks, both edges and ragged tails; on any difference the
  encoder keeps the module path for good, with one log warning.

Anything else (autograd, ragged ``lengths``, other dtypes or devices, more than one thread, autocast,
inputs shorter than two chunks, a conv small enough for PyTorch's native backend, a process whose
allocator :func:`uniaudio.allocator.keep_freed_memory` tuned) takes the module path.
"""

from __future__ import annotations

import functools
import logging
import weakref

import torch
import torch.nn.functional as F

log = logging.getLogger(__name__)

#: stages run chunk by chunk (conv_in, blocks 0..STAGES-1, downs 0..STAGES-1); the rest, the LSTM and
#: conv_out run over the whole input as before
STAGES = 3
#: input samples per chunk (rounded to whole frames of the last chunked stage)
CHUNK_SAMPLES = 16384
#: set False to force the module path (A/B measurements)
ENABLED = True

_checked: "weakref.WeakKeyDictionary[torch.nn.Module, bool]" = weakref.WeakKeyDictionary()
_elu_width: int | None = None


def elu_vector_width() -> int:
    """Values per iteration of PyTorch's vectorised ELU loop (16 with AVX2, 32 with AVX-512); 1 if the scalar tail
    formula never differs from the vector one on this build."""
    global _elu_width
    if _elu_width is None:
        x = torch.linspace(-4.0, 0.5, 4096)
        vec = F.elu(x)
        scalar = F.elu(x.repeat_interleave(2)[::2])  # strided input: the scalar loop throughout
        diff = torch.nonzero(vec != scalar).flatten()
        _elu_width = 1
        if len(diff):
            v, want = float(x[diff[0]]), vec[diff[0]]
            _elu_width = next((n for n in range(1, 257) if F.elu(torch.full((n,), v))[0] == want), 0)
    return _elu_width


def _elu_into(src: torch.Tensor, dst: torch.Tensor, V: int) -> None:
    """``dst = elu(src)`` ([C, n] views, n >= V), every value with the vector formula."""
    n = src.shape[-1]
    if n < V:
        raise _Unsupported("chunk narrower than the ELU vector width")
    nv = n - n % V
    if nv:
        torch.ops.aten.elu.out(src[:, :nv], 1.0, 1, 1, out=dst[:, :nv])
    if n % V:  # a loop of exactly V values: one vector iteration
        torch.ops.aten.elu.out(src[:, n - V:], 1.0, 1, 1, out=dst[:, n - V:])


def _scalar_fix(src: torch.Tensor, dst: torch.Tensor, p0: int, z0: int) -> None:
    """Recompute positions >= z0 of ``[C, n]`` views that start at position p0 with the scalar formula
    (a loop shorter than the vector width)."""
    n = src.shape[-1]
    if p0 + n > z0:
        c = max(z0 - p0, 0)
        torch.ops.aten.elu.out(src[:, c:], 1.0, 1, 1, out=dst[:, c:])


def _need(pc, a: int, b: int, L: int) -> tuple[int, int]:
    """Real input positions [lo, hi) that output frames [a, b) of PadConv1d ``pc`` read (input length L)."""
    start = a * pc.stride - pc.pad_left
    return max(start, 0), min((b - 1) * pc.stride - pc.pad_left + pc.kernel, L)


class _Conv:
    """One PadConv1d of the plan: its weights (read once per forward) and its full-size backend."""

    def __init__(self, pc, cin: int, B: int, L: int):
        self.pc, self.L = pc, L
        self.w, self.b = pc.conv.weight, pc.conv.bias
        self.s, self.d = pc.stride, pc.conv.dilation[0]
        full = _backend((B, cin, L + pc.pad_left + pc.right_padding(L)), tuple(self.w.shape), self.s, self.d)
        chunk = _backend((1, cin, 4096), tuple(self.w.shape), self.s, self.d)
        self.mkldnn = full == torch._C._ConvBackend.Mkldnn
        self.gemm = full == chunk == torch._C._ConvBackend.Slow2d and pc.kernel == 1 and self.s == 1
        if self.mkldnn:
            self.w4 = self.w.unsqueeze(2)
        elif self.gemm:  # the native 1x1 conv: output = bias, then one GEMM with beta = 1 (as addmm)
            self.w2 = self.w[:, :, 0]
            self.b2 = (self.b if self.b is not None else self.w.new_zeros(self.w.shape[0])).unsqueeze(1)
        elif full != chunk:
            raise _Unsupported(f"conv backend {full}")

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """``x [C, W]`` (already padded; any row stride) -> ``[C_out, W_out]``."""
        if self.mkldnn:
            y = torch.ops.aten.mkldnn_convolution(x.unsqueeze(0).unsqueeze(2), self.w4, self.b,
                                                  [0, 0], [1, self.s], [1, self.d], 1)
            return y.view(y.shape[1], y.shape[3])
        if self.gemm:
            return torch.addmm(self.b2.expand(-1, x.shape[1]), self.w2, x)
        return F.conv1d(x.unsqueeze(0), self.w, self.b, stride=self.s, dilation=self.d)[0]

    def padded(self, xr: torch.Tensor, a: int, b: int, elu: bool, V: int) -> torch.Tensor:
        """Outputs [a, b) from ``xr``, the real input positions ``_need(a, b)``; with ``elu``, ELU is
        applied first (fused into the reflect padding, as elu_pad1d)."""
        pc, L = self.pc, self.L
        start = a * pc.stride - pc.pad_left
        end = (b - 1) * pc.stride - pc.pad_left + pc.kernel
        lo = max(start, 0)
        W, left, right = end - start, lo - start, max(end - L, 0)
        buf = xr.new_empty(xr.shape[0], W)
        mid = buf[:, left: W - right]
        if elu:
            _elu_into(xr, mid, V)
            if L % V:
                _scalar_fix(xr, mid, lo, L - L % V)  # the full call's per-row scalar tail
        else:
            mid.copy_(xr)
        if left:
            buf[:, :left] = buf[:, left + 1: 2 * left + 1].flip(-1)
        if right:
            buf[:, W - right:] = buf[:, W - 2 * right - 1: W - right - 1].flip(-1)
        return self(buf)


class _Unsupported(Exception):
    pass


@functools.lru_cache(maxsize=256)
def _backend(shape: tuple, w_shape: tuple, s: int, d: int):
    """The backend PyTorch picks for a conv of this input shape (depends on sizes and thread count)."""
    return torch._C._select_conv_backend(torch.empty(shape), torch.empty(w_shape), None, [s], [0], [d],
                                         False, [0], 1)


def _plan(enc, B: int, T: int, stages: int, chunk_samples: int):
    """Per-call geometry: stage lengths, chunk ranges (backwards), convs with their backends."""
    L = [T + enc.conv_in.pad_left + enc.conv_in.right_padding(T) - enc.conv_in.kernel + 1]
    for down in enc.downs[:stages]:
        Li = L[-1]
        L.append((Li + down.pad_left + down.right_padding(Li) - down.kernel) // down.stride + 1)
    hop = 1
    for s in enc.strides[:stages]:
        hop *= s
    frames = max(chunk_samples // hop, 16)
    n_out = L[stages]
    starts = list(range(0, n_out, frames))
    if len(starts) < 2 or min(L) < 32:
        return None
    if n_out - starts[-1] < frames // 2:
        starts.pop()  # a short last chunk joins the one before
    bounds = list(zip(starts, starts[1:] + [n_out]))
    V = elu_vector_width()
    if V == 0 or frames < V:
        raise _Unsupported("ELU vector width")
    for blk in enc.blocks[:stages]:
        if blk.conv2.kernel != 1 or blk.shortcut.kernel != 1 or blk.conv1.stride != 1:
            raise _Unsupported("residual block layout")
    convs = {"in": _Conv(enc.conv_in, 1, B, T)}
    ch = enc.conv_in.conv.out_channels
    for i in range(stages):
        blk = enc.blocks[i]
        convs[i, "c1"] = _Conv(blk.conv1, ch, B, L[i])
        convs[i, "c2"] = _Conv(blk.conv2, blk.conv1.conv.out_channels, B, L[i])
        convs[i, "sc"] = _Conv(blk.shortcut, ch, B, L[i])
        convs[i, "dn"] = _Conv(enc.downs[i], ch, B, L[i])
        ch = enc.downs[i].conv.out_channels
    chunks = []
    for f0, f1 in bounds:
        rng, r = {}, (f0, f1)
        for i in reversed(range(stages)):
            rng[i, "dn"] = r  # frames out of down i
            rng[i, "blk"] = _need(enc.downs[i], *r, L[i])  # block i outputs it reads
            r = rng[i, "x"] = _need(enc.blocks[i].conv1, *rng[i, "blk"], L[i])  # block i inputs
        rng["wav"] = _need(enc.conv_in, *r, T)
        chunks.append(rng)
    return L, ch, convs, chunks, V


def _run(enc, wav: torch.Tensor, stages: int, chunk_samples: int):
    B, _, T = wav.shape
    plan = _plan(enc, B, T, stages, chunk_samples)
    if plan is None:
        return None
    L, ch, convs, chunks, V = plan
    out = wav.new_empty(B, ch, L[stages])
    for b in range(B):  # item by item: one item's chunk stays cache-resident
        for rng in chunks:
            w0, w1 = rng["wav"]
            x = convs["in"].padded(wav[b, :, w0:w1], *rng[0, "x"], elu=False, V=V)
            for i in range(stages):
                x0 = rng[i, "x"][0]
                a, e = rng[i, "blk"]
                h = convs[i, "c1"].padded(x, a, e, elu=True, V=V)
                g = torch.empty_like(h)
                _elu_into(h, g, V)
                tail = (B * h.shape[0] * L[i]) % V  # the full call's one scalar tail: last item, last row
                if b == B - 1 and tail:
                    _scalar_fix(h[-1:], g[-1:], a, L[i] - tail)
                y = convs[i, "c2"](g)
                y.add_(convs[i, "sc"](x[:, a - x0: e - x0]))
                x = convs[i, "dn"].padded(y, *rng[i, "dn"], elu=True, V=V)
            f0, f1 = rng[stages - 1, "dn"]
            out[b, :, f0:f1] = x
    return out


def module_early_stages(enc, wav: torch.Tensor, stages: int) -> torch.Tensor:
    """The module path of the same stages (reference for the self-check and tests)."""
    x = enc.conv_in(wav)
    for i in range(stages):
        x = enc.downs[i](enc.blocks[i](x), elu=True)
    return x


def _self_check(enc, stages: int, chunk_samples: int) -> bool:
    hop = 1
    for s in enc.strides[:stages]:
        hop *= s
    n = max(chunk_samples // hop, 32)  # >= 3 chunks (first, interior, last) and every stage >= 32 long
    T = (2 * n + 3 * n // 4) * hop + 7  # odd: per-row ELU tails at every stage
    g = torch.Generator().manual_seed(0)
    wav = torch.randn(2, 1, T, generator=g) * 0.3
    try:
        got = _run(enc, wav, stages, chunk_samples)
    except _Unsupported as err:
        log.warning("chunked encode unavailable (%s): using the module path", err)
        return False
    ok = got is not None and torch.equal(got, module_early_stages(enc, wav, stages))
    if not ok:
        log.warning("chunked encode differs from the module path on this CPU/PyTorch build: using the module path")
    return ok


def applies(enc, wav: torch.Tensor, lengths) -> bool:
    """Only where it pays (measured, docs/CODEC.md): not once :func:`uniaudio.allocator.keep_freed_memory`
    took effect (then big buffers are reused anyway and the chunking overhead costs ~5 % at batch 8)."""
    from uniaudio import allocator

    return (ENABLED and not allocator.applied() and lengths is None and not torch.is_grad_enabled() and wav.device.type == "cpu"
            and wav.dtype == torch.float32 and wav.dim() == 3 and wav.shape[1] == 1
            and enc.conv_in.conv.weight.dtype == torch.float32 and torch.get_num_threads() == 1
            and not torch.is_autocast_enabled("cpu") and len(enc.strides) >= STAGES)


def early_stages(enc, wav: torch.Tensor, lengths=None) -> tuple[torch.Tensor | None, int]:
    """``(x, k)``: the encoder's activations after conv_in, blocks and downs 0..k-1, computed chunk by
    chunk; ``(None, 0)`` where the module path must run instead."""
    if not applies(enc, wav, lengths):
        return None, 0
    ok = _checked.get(enc)
    if ok is None:
        ok = _checked[enc] = _self_check(enc, STAGES, CHUNK_SAMPLES)
    if not ok:
        return None, 0
    try:
        x = _run(enc, wav, STAGES, CHUNK_SAMPLES)
    except _Unsupported:
        return None, 0
    return (None, 0) if x is None else (x, STAGES)
