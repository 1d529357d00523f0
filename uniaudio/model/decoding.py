"""Incremental decoding: a preallocated global KV cache, a local loop per frame, batched over rows with
different prefix lengths. The step API the generator drives (no sampling policy here)::

    state = model.prefill(frames, prefix_lens, cont_values, max_slots)  # state.hidden predicts the next frame
    while ...:
        tok = []
        for k in range(n_q):                                           # in order, every frame
            logits = model.local_logits(state, tok[-1] if tok else None, k)   # [B, V], unmasked
            tok.append(choose(logits + mask_bias[k]))                  # policy: the generator's
        model.global_step(state, torch.stack(tok, -1))                 # append the frame

Layout: rows are **left-padded** so that every row's prefix ends at the same cache slot and all rows
write the same slot at each step (one ``index_copy_`` per layer, static shapes: CUDA-graph friendly).
Row b's first ``pad[b]`` slots are padding; its positions (RoPE / learned) are ``slot - pad[b]``, so
they equal the positions of an unpadded full forward. Masks hide padding and unwritten slots.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from uniaudio.model.layers import CacheWrite, LayerKV
from uniaudio.model.masks import prefill_mask, step_mask

if TYPE_CHECKING:  # pragma: no cover
    from uniaudio.model.multiscale import MultiScaleLM


@dataclass
class DecodeState:
    """Everything a decoding batch carries between steps (all tensors on the model's device)."""

    global_kv: list[LayerKV]  # per global layer, [B, H, max_slots, dh]
    local_kv: list[LayerKV]  # per local layer, [B, H_local, n_q, dh]; rewritten every frame
    pad: Tensor  # [B] left padding of each row
    slot: Tensor  # [1] the slot the next global_step writes
    hidden: Tensor  # [B, d] global state that predicts the next frame
    cond: Tensor  # [B, n_q, d] local conditioning derived from ``hidden``
    max_slots: int
    length: int  # host copy of ``slot`` (bounds check without a device sync)

    @property
    def batch_size(self) -> int:
        return int(self.pad.shape[0])


def _cache_dtype(x: Tensor) -> torch.dtype:
    dev = x.device.type
    return torch.get_autocast_dtype(dev) if torch.is_autocast_enabled(dev) else x.dtype


def left_align(frames: Tensor, prefix_lens: Tensor, cont_values: Tensor | None, sos: int, pad_id: int):
    """Right-padded prefixes ``frames [B, T, n_q]`` -> left-padded global inputs ``[B, S, n_q]``
    (``S = max(prefix_len) + 1``: the SOS frame then the prefix), the pad per row and the positions."""
    b, t, n_q = frames.shape
    s = int(prefix_lens.max()) + 1
    pad = s - 1 - prefix_lens
    slot = torch.arange(s, device=frames.device)
    src = slot[None, :] - pad[:, None] - 1  # frame index held by each slot; -1 = SOS, < -1 = padding
    idx = src.clamp(0, t - 1)
    gathered = frames.gather(1, idx[..., None].expand(b, s, n_q))
    in_frames = torch.where(src[..., None] >= 0, gathered, torch.where(src[..., None] == -1, sos, pad_id))
    in_cont = None
    if cont_values is not None:
        c = cont_values.gather(1, idx[..., None].expand(b, s, cont_values.shape[-1]))
        in_cont = torch.where(src[..., None] >= 0, c, torch.zeros_like(c))
    positions = (slot[None, :] - pad[:, None]).clamp(min=0)
    return in_frames, in_cont, pad, positions


@torch.no_grad()
def prefill(
    model: "MultiScaleLM",
    frames: Tensor,
    prefix_lens: Tensor,
    cont_values: Tensor | None = None,
    max_slots: int | None = None,
) -> DecodeState:
    """Run the prefixes (``frames [B, T, n_q]`` right-padded, row b's prefix = its first
    ``prefix_lens[b]`` frames, ending with ``<target_start>``) and allocate the caches.

    ``max_slots`` = cache length in frames: ``max(prefix_lens) + 1`` (SOS) plus the frames to generate.
    Keep it fixed across calls to keep shapes static. Default: room for the prefix plus as many frames.
    """
    if frames.dim() != 3 or frames.shape[-1] != model.config.n_q:
        raise ValueError(f"frames must be [B, T, n_q={model.config.n_q}], got {tuple(frames.shape)}")
    prefix_lens = prefix_lens.to(frames.device)
    if int(prefix_lens.min()) < 1 or int(prefix_lens.max()) > frames.shape[1]:
        raise ValueError(f"prefix_lens must lie in [1, {frames.shape[1]}], got {prefix_lens.tolist()}")
    in_frames, in_cont, pad, positions = left_align(frames, prefix_lens, cont_values, model.sos_id, model.pad_id)
    s0 = in_frames.shape[1]
    max_slots = max_slots or 2 * s0
    if max_slots <= s0:
        raise ValueError(f"max_slots={max_slots} leaves no room to generate after a {s0}-slot prefill")
    if model.pos_emb is not None and max_slots > model.config.max_frames:
        raise ValueError(f"max_slots={max_slots} exceeds the learned position table ({model.config.max_frames})")
    b = frames.shape[0]
    x = model.embed(in_frames, in_cont, positions)
    like = x.new_empty(0, dtype=_cache_dtype(x))
    g_kv = model.global_stack.new_caches(b, max_slots, like)
    l_kv = model.local_stack.new_caches(b, model.config.n_q, like)
    write = CacheWrite(torch.arange(s0, device=x.device), s0)
    mask = prefill_mask(s0, pad, model.config.attention == "prefix_lm")
    out = model.global_stack(x, mask=mask, rope=model.rope(positions), caches=g_kv, write=write)
    hidden = out[:, -1].contiguous()
    slot = torch.full((1,), s0, dtype=torch.long, device=x.device)
    # hidden / cond are buffers that global_step overwrites in place (a captured graph keeps reading them)
    return DecodeState(g_kv, l_kv, pad, slot, hidden, model.link(hidden).contiguous(), max_slots, s0)


@torch.no_grad()
def global_step(model: "MultiScaleLM", state: DecodeState, frame: Tensor) -> Tensor:
    """Append ``frame [B, n_q]`` (the frame just generated); ``state.hidden`` and ``state.cond`` are
    updated in place (static buffers for CUDA graphs) and ``state.hidden`` is returned."""
    if state.length >= state.max_slots:
        raise ValueError(f"the KV cache is full ({state.max_slots} slots); prefill with a larger max_slots")
    positions = (state.slot - state.pad)[:, None]  # [B, 1]
    x = model.embed(frame[:, None], None, positions)
    mask = step_mask(state.max_slots, state.pad, state.slot)
    out = model.global_stack(
        x, mask=mask, rope=model.rope(positions), caches=state.global_kv, write=CacheWrite(state.slot, state.max_slots)
    )
    state.hidden.copy_(out[:, 0])
    state.cond.copy_(model.link(state.hidden))
    state.slot += 1
    state.length += 1
    return state.hidden


@torch.no_grad()
def local_logits(model: "MultiScaleLM", state: DecodeState, prev_token: Tensor | None, k: int) -> Tensor:
    """Raw logits ``[B, V]`` of local position ``k`` of the current frame.

    ``prev_token [B]`` is the token chosen at position ``k-1`` (ignored at ``k = 0``, where the input
    is ``<local_sos>``). Call k = 0, 1, ..., n_q-1 in order: position k's keys go to local cache slot k
    and it attends to slots <= k, all written during this frame.
    """
    n_q = model.config.n_q
    if not 0 <= k < n_q:
        raise ValueError(f"local position {k} outside 0..{n_q - 1}")
    if k > 0 and prev_token is None:
        raise ValueError(f"local position {k} needs the token chosen at position {k - 1}")
    if k == 0:
        prev_token = torch.full((state.batch_size,), model.local_sos_id, device=state.pad.device, dtype=torch.long)
    x = model.drop(state.cond[:, k] + model.local_emb(prev_token) + model.local_pos[k])
    slots = torch.arange(n_q, device=x.device)
    mask = (slots <= k)[None, None, None, :]
    write = CacheWrite(torch.full((1,), k, dtype=torch.long, device=x.device), n_q)
    out = model.local_stack(x[:, None], mask=mask, caches=state.local_kv, write=write)
    return model.head(out[:, 0])
