"""Sampling policy: temperature, top-k, top-p, and per-request reproducible noise.

One token per row is drawn from masked logits ``[B, V]`` (disallowed ids already ``-inf``) by the
Gumbel-max trick: ``argmax(logits / T + g)`` with ``g`` standard Gumbel noise is an exact draw from
``softmax(logits / T)``. Top-k and top-p first cut the candidates (top-k on the tempered logits, then
the smallest prefix of them whose probability reaches ``top_p``).

The noise is *counter-based*: ``g`` for candidate token ``v`` of row ``b`` at frame ``t``, local
position ``k`` is a hash of ``(seed_b, t, k, v)`` (xor-shift-multiply rounds over 32-bit words). So a row's draws depend only on its own seed and
logits, never on which other rows share the batch or in which order requests run (batch generation ==
one-by-one generation for fixed seeds, up to float round-off of the logits), the whole step is
vectorised (no per-row ``torch.Generator`` calls), the hash is exact integer arithmetic (the same
draws on CPU and GPU), and there is no host synchronisation (CUDA-graph friendly).

>>> import torch
>>> logits = torch.tensor([[0.0, 5.0, 1.0, float("-inf")]])
>>> seeds = seed_keys(torch.tensor([7]))
>>> t = torch.zeros(1, dtype=torch.long)
>>> sample_tokens(logits, SamplingConfig(top_k=1), seeds, t, 0).tolist()   # top-k 1 = greedy
[1]
>>> int(sample_tokens(logits, SamplingConfig(temperature=1.0, top_k=0), seeds, t, 0)) in (0, 1, 2)
True
"""

from __future__ import annotations

import hashlib

import torch
from pydantic import Field
from torch import Tensor

from uniaudio.config import ConfigBase

_M32 = 0xFFFFFFFF
# Multipliers below 2**31: with 32-bit operands every product stays below 2**63, so int64 tensor
# arithmetic never overflows and the hash is bit-exact on every device.
_C1, _C2 = 0x21F0AAAD, 0x735A2D97
_GOLDEN = 0x9E3779B9


class SamplingConfig(ConfigBase):
    """How a token is chosen from the allowed ids (the paper: top-k 30, temperature 0.8)."""

    top_k: int = Field(30, ge=0)  # 0 = no top-k cut; 1 = greedy
    top_p: float = Field(1.0, gt=0.0, le=1.0)  # nucleus cut after top-k; 1.0 = off
    temperature: float = Field(0.8, ge=0.0)  # 0 = greedy
    seed: int = Field(0, ge=0)  # base seed; a request's own seed is derived from it and the request id

    @property
    def greedy(self) -> bool:
        return self.top_k == 1 or self.temperature == 0.0


def request_seed(base_seed: int, request_id: str) -> int:
    """A request's seed when it names none: a hash of the base seed and its id (so it does not depend
    on the request's position in a batch file)."""
    digest = hashlib.sha256(f"{int(base_seed)}\x00{request_id}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def seed_pair(seeds: Tensor) -> Tensor:
    """``[B]`` non-negative int64 seeds -> ``[B, 2]`` (low, high 32-bit halves)."""
    s = seeds.to(torch.long)
    return torch.stack([s & _M32, (s >> 32) & _M32], dim=-1)


def seed_keys(seeds: Tensor) -> Tensor:
    """``[B]`` non-negative int64 seeds -> ``[B]`` 32-bit hash keys (computed once per batch)."""
    pair = seed_pair(seeds)
    return _mix32(_mix32(pair[:, 0] ^ _GOLDEN) ^ pair[:, 1])


def _mix32(x: Tensor) -> Tensor:
    """A 32-bit integer finaliser (xor-shift-multiply, good avalanche); int64 tensors holding uint32."""
    x = x ^ (x >> 16)
    x = (x * _C1) & _M32
    x = x ^ (x >> 15)
    x = (x * _C2) & _M32
    return x ^ (x >> 15)


def uniform_noise(keys: Tensor, t: Tensor, k: int, ids: Tensor) -> Tensor:
    """Uniform (0, 1) floats ``[B, K]``, a pure function of ``(seed_b, t, k, ids[b, j])``.

    ``keys [B]`` (:func:`seed_keys`), ``t [1]`` the frame index (a device tensor, so a captured CUDA
    graph reads the current value), ``k`` the local position (< 16), ``ids [B, K]`` the candidate ids.
    """
    h = _mix32(keys ^ ((t * 16 + k) & _M32))
    h = _mix32(h[:, None] ^ ids)
    h = _mix32((h + _GOLDEN) & _M32)  # one more round: the last input gets full avalanche
    return ((h >> 8).to(torch.float32) + 0.5) * (1.0 / (1 << 24))


def gumbel_noise(keys: Tensor, t: Tensor, k: int, ids: Tensor) -> Tensor:
    return -torch.log(-torch.log(uniform_noise(keys, t, k, ids)))


def candidate_count(cfg: SamplingConfig, allowed_max: int) -> int:
    """Candidates kept per row before the draw: ``top_k`` (or every allowed id when top-k is off)."""
    return max(1, min(cfg.top_k, allowed_max) if cfg.top_k > 0 else allowed_max)


def sample_tokens(logits: Tensor, cfg: SamplingConfig, keys: Tensor, t: Tensor, k: int,
                  num_candidates: int | None = None, ids: Tensor | None = None) -> Tensor:
    """One id per row from masked logits ``[B, U]`` (``-inf`` = disallowed) -> ``[B]`` int64.

    ``ids [U]`` maps the columns to token ids (default: column j is id j); the noise is keyed by the
    token id, so the same id gets the same noise whichever column subset a batch scores.
    ``num_candidates`` fixes the top-k width (static shapes); default: ``top_k`` or all ``U`` columns.
    Every row must have at least one finite logit.
    """
    if cfg.greedy:
        col = logits.argmax(-1)
        return ids[col] if ids is not None else col
    x = logits.float() / cfg.temperature
    width = num_candidates or candidate_count(cfg, x.shape[-1])
    vals, idx = x.topk(min(width, x.shape[-1]), dim=-1)  # sorted, best first
    if cfg.top_p < 1.0:
        probs = vals.softmax(-1)
        before = probs.cumsum(-1) - probs  # mass of the better candidates
        vals = vals.masked_fill(before >= cfg.top_p, float("-inf"))  # the best one always stays
    tok = ids[idx] if ids is not None else idx
    choice = (vals + gumbel_noise(keys, t, k, tok)).argmax(-1, keepdim=True)
    return tok.gather(-1, choice).squeeze(-1)
