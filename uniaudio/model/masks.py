"""Attention masks of the global stack (boolean, ``True`` = may attend), for training and decoding.

Global position ``p`` holds input frame ``p - 1`` (position 0 is the global SOS frame), so the state at
``p`` predicts frame ``p``. With ``prefix_lm`` the block of positions ``[0, prefix_len]`` (the SOS and
every prefix frame, ``<target_start>`` included) is bidirectional; later positions are causal. Prefix
positions therefore never see a target frame, and target positions see the whole prefix.

Training batches are right-padded: a real query only ever attends to keys at or before its own
position (or inside its row's prefix block), so padding is never attended without a padding mask.
Decoding batches are left-padded and use explicit key-validity masks.
"""

from __future__ import annotations

import torch
from torch import Tensor


def prefix_lm_mask(t: int, prefix_lens: Tensor) -> Tensor:
    """``[B, 1, T, T]``: causal, plus the bidirectional block of positions ``[0, prefix_len]``."""
    pos = torch.arange(t, device=prefix_lens.device)
    causal = pos[None, :] <= pos[:, None]  # [T, T] key <= query
    in_prefix = pos[None, :] <= prefix_lens[:, None]  # [B, T]
    block = in_prefix[:, :, None] & in_prefix[:, None, :]
    return (causal[None] | block)[:, None]


def prefill_mask(slots: int, pad: Tensor, prefix_lm: bool) -> Tensor:
    """``[B, 1, S, S]`` for a left-padded prefill of ``S`` slots (row b's first ``pad[b]`` slots are padding).

    Every real slot of a prefill is inside the prefix block, so prefix-LM = all real keys. The
    diagonal is always allowed so that padding queries have at least one key (their outputs are
    discarded; an empty row would make SDPA produce NaN).
    """
    s = torch.arange(slots, device=pad.device)
    key_ok = (s[None, :] >= pad[:, None])[:, None, :]  # [B, 1, S_k]
    allowed = key_ok if prefix_lm else key_ok & (s[None, :] <= s[:, None])[None]
    return (allowed | torch.eye(slots, dtype=torch.bool, device=pad.device)[None])[:, None]


def step_mask(slots: int, pad: Tensor, slot: Tensor) -> Tensor:
    """``[B, 1, 1, S]``: the query written at ``slot`` sees the real slots up to and including itself."""
    s = torch.arange(slots, device=pad.device)
    return ((s[None, :] >= pad[:, None]) & (s[None, :] <= slot))[:, None, None, :]
