"""Transformer building blocks shared by the global and the local stacks: pre-norm blocks with fused
SDPA attention, rotary positions and a static-shape key/value cache.

Shapes: ``x [B, T, d]``; inside attention ``q, k, v [B, H, T, dh]``. An attention mask is boolean,
``True`` = may attend, broadcastable to ``[B, H, T_q, T_k]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# --- rotary position embedding ------------------------------------------------------------------


def rope_angles(positions: Tensor, head_dim: int, theta: float) -> tuple[Tensor, Tensor]:
    """cos/sin for integer ``positions [B, T]`` -> two ``[B, 1, T, head_dim]`` fp32 tensors.

    Computed from the positions each call (cheap: T * dh/2), so there is no table to outgrow and
    rows may have different positions (left-padded decoding batches).
    """
    inv_freq = theta ** (-torch.arange(0, head_dim, 2, device=positions.device, dtype=torch.float32) / head_dim)
    ang = positions.to(torch.float32)[..., None] * inv_freq  # [B, T, dh/2]
    ang = torch.cat([ang, ang], dim=-1)[:, None]  # [B, 1, T, dh]
    return ang.cos(), ang.sin()


def apply_rope(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotate ``x [B, H, T, dh]`` by the angles (rotate-half form)."""
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return (x * cos + rotated * sin).to(x.dtype)


# --- key/value cache --------------------------------------------------------------------------


@dataclass
class LayerKV:
    """Preallocated keys/values of one attention layer: ``[B, H, S, dh]``, written in place by slot.

    The buffers never change shape during decoding (CUDA-graph friendly): a step writes one slot with
    ``index_copy_`` and attends over the whole buffer under a mask that hides unwritten slots.
    """

    k: Tensor
    v: Tensor

    @classmethod
    def empty(cls, batch: int, heads: int, slots: int, head_dim: int, like: Tensor) -> "LayerKV":
        shape = (batch, heads, slots, head_dim)
        return cls(like.new_zeros(shape), like.new_zeros(shape))

    def write(self, k: Tensor, v: Tensor, slots: Tensor, visible: int) -> tuple[Tensor, Tensor]:
        """Store ``k, v [B, H, n, dh]`` at ``slots [n]``; return the first ``visible`` slots to attend to."""
        self.k.index_copy_(2, slots, k.to(self.k.dtype))
        self.v.index_copy_(2, slots, v.to(self.v.dtype))
        return self.k[:, :, :visible], self.v[:, :, :visible]


@dataclass
class CacheWrite:
    """Where a decoding call writes its keys/values and how many slots it then attends over."""

    slots: Tensor  # [n] int64 slot indices of the n new positions
    visible: int  # attend over slots [0, visible)


# --- attention --------------------------------------------------------------------------------

AttentionCore = Callable[[Tensor, Tensor, Tensor, "Tensor | None", float, bool], Tensor]


def sdpa_core(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None, dropout_p: float, is_causal: bool) -> Tensor:
    """Fused attention (flash / memory-efficient / CPU kernels picked by PyTorch)."""
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p, is_causal=is_causal)


class KeylessBiasQKV(nn.Linear):
    """The fused qkv projection with biases on the query and value parts only (``key_bias=False``): the
    published UniAudio blocks (Whisper-style) have no key bias, and an imported model must stay so while
    fine-tuning. Its own module, so ZeRO-3's gather hooks see the bias parameters where they are used."""

    def __init__(self, d: int):
        super().__init__(d, 3 * d, bias=False)
        self.q_bias = nn.Parameter(torch.zeros(d))
        self.v_bias = nn.Parameter(torch.zeros(d))

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight, torch.cat([self.q_bias, torch.zeros_like(self.q_bias), self.v_bias]))


class Attention(nn.Module):
    """Multi-head self-attention with a fused qkv projection.

    ``core`` is the attention kernel; it defaults to SDPA and can be swapped for a reference
    formulation (``benchmarks/model_step.py`` does, to time the materialised-matrix version).
    """

    def __init__(self, d: int, n_head: int, bias: bool, attn_dropout: float, dropout: float, key_bias: bool = True):
        super().__init__()
        self.n_head, self.head_dim = n_head, d // n_head
        self.qkv = nn.Linear(d, 3 * d, bias=bias) if key_bias or not bias else KeylessBiasQKV(d)
        self.proj = nn.Linear(d, d, bias=bias)
        self.attn_dropout = attn_dropout
        self.resid_drop = nn.Dropout(dropout)
        self.core: AttentionCore = sdpa_core

    def forward(
        self,
        x: Tensor,
        mask: Tensor | None = None,
        is_causal: bool = False,
        rope: tuple[Tensor, Tensor] | None = None,
        cache: LayerKV | None = None,
        write: CacheWrite | None = None,
    ) -> Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.n_head, self.head_dim).permute(2, 0, 3, 1, 4)
        if rope is not None:
            q, k = apply_rope(q, *rope), apply_rope(k, *rope)
        if cache is not None and write is not None:
            k, v = cache.write(k, v, write.slots, write.visible)
        p = self.attn_dropout if self.training else 0.0
        y = self.core(q, k.to(q.dtype), v.to(q.dtype), mask, p, is_causal)
        return self.resid_drop(self.proj(y.transpose(1, 2).reshape(b, t, d)))


class MLP(nn.Module):
    def __init__(self, d: int, ratio: int, bias: bool, dropout: float):
        super().__init__()
        self.fc = nn.Linear(d, ratio * d, bias=bias)
        self.proj = nn.Linear(ratio * d, d, bias=bias)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.drop(self.proj(F.gelu(self.fc(x))))


class Block(nn.Module):
    """Pre-norm transformer block: ``x + attn(ln(x))``, then ``x + mlp(ln(x))``."""

    def __init__(self, d: int, n_head: int, mlp_ratio: int, bias: bool, attn_dropout: float, dropout: float,
                 key_bias: bool = True):
        super().__init__()
        self.ln_attn = nn.LayerNorm(d)
        self.attn = Attention(d, n_head, bias, attn_dropout, dropout, key_bias)
        self.ln_mlp = nn.LayerNorm(d)
        self.mlp = MLP(d, mlp_ratio, bias, dropout)

    def forward(self, x: Tensor, mask=None, is_causal=False, rope=None, cache=None, write=None) -> Tensor:
        x = x + self.attn(self.ln_attn(x), mask, is_causal, rope, cache, write)
        return x + self.mlp(self.ln_mlp(x))


class Stack(nn.Module):
    """``n`` blocks and a final LayerNorm; passes the same mask / positions / cache slot to every layer."""

    def __init__(self, n: int, d: int, n_head: int, mlp_ratio: int, bias: bool, attn_dropout: float, dropout: float,
                 key_bias: bool = True):
        super().__init__()
        self.blocks = nn.ModuleList(Block(d, n_head, mlp_ratio, bias, attn_dropout, dropout, key_bias) for _ in range(n))
        self.ln_f = nn.LayerNorm(d)
        self.n_head, self.head_dim = n_head, d // n_head

    def forward(
        self,
        x: Tensor,
        mask: Tensor | None = None,
        is_causal: bool = False,
        rope: tuple[Tensor, Tensor] | None = None,
        caches: list[LayerKV] | None = None,
        write: CacheWrite | None = None,
    ) -> Tensor:
        for i, block in enumerate(self.blocks):
            x = block(x, mask, is_causal, rope, caches[i] if caches is not None else None, write)
        return self.ln_f(x)

    def new_caches(self, batch: int, slots: int, like: Tensor) -> list[LayerKV]:
        return [LayerKV.empty(batch, self.n_head, slots, self.head_dim, like) for _ in self.blocks]


def init_weights(module: nn.Module, std: float, n_residual_layers: int) -> None:
    """N(0, std) for Linear/Embedding weights, zero biases, unit LayerNorms; the two residual output
    projections of every block get std / sqrt(2 * n_layers) (GPT-2). The reference meant to do the
    latter but matched parameter names that do not exist, so it never happened."""
    for name, p in module.named_parameters():
        if p.dim() < 2:
            continue
        scale = std / math.sqrt(2 * n_residual_layers) if name.endswith(("attn.proj.weight", "mlp.proj.weight")) else std
        nn.init.normal_(p, 0.0, scale)
    for m in module.modules():
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
