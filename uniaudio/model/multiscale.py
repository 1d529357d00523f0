"""The multi-scale transformer: a global transformer over frames and a local one over the n_q tokens
of each frame (MegaByte-style, as in UniAudio). Pure math: no I/O, no sampling policy.

Shapes: ``frames [B, T, n_q]`` int64 global ids; ``cont_values [B, T, D]`` float (read only at frames
whose token 0 is ``<continuous>``); ``logits [B, T, n_q, V]``.

* Global input at position t is frame t-1 (position 0: a ``<global_sos>`` frame), so global state
  ``h[t]`` has seen frames < t and conditions the prediction of frame t.
* Local position k of frame t gets ``link(h[t])_k + local_emb(token k-1 of frame t) + local_pos[k]``
  (``<local_sos>`` at k = 0), so ``logits[t, k]`` depends on frames < t and tokens < k of frame t.

>>> import torch
>>> from uniaudio.model.config import get_preset
>>> m = MultiScaleLM(get_preset("tiny")).eval()
>>> frames = torch.randint(256, 1280, (2, 5, 3))
>>> m(frames).shape
torch.Size([2, 5, 3, 23552])
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from uniaudio.model import decoding
from uniaudio.model.config import ModelConfig
from uniaudio.model.layers import Stack, init_weights, rope_angles
from uniaudio.model.masks import prefix_lm_mask
from uniaudio.vocab import load_vocab


class MultiScaleLM(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = c = config
        self.vocab = v = load_vocab(c.vocab)
        V, d, n_q = v.size, c.d_model, c.n_q
        self.sos_id, self.local_sos_id, self.cont_id, self.pad_id = v.global_sos, v.local_sos, v.continuous, v.pad
        # one table serves every codebook: the codebooks' ids are disjoint ranges of the vocabulary
        self.frame_emb = nn.Embedding(V, d if c.frame_embedding == "sum" else d // n_q)
        self.cont_proj = nn.Linear(c.cont_dim, d)
        self.pos_emb = nn.Embedding(c.max_frames, d) if c.positions == "learned" else None
        self.drop = nn.Dropout(c.dropout)
        self.global_stack = Stack(c.n_layer, d, c.n_head, c.mlp_ratio, c.bias, c.attn_dropout, c.dropout, c.key_bias)
        self.g2l = nn.Linear(d if c.global_to_local == "broadcast" else d // n_q, d, bias=c.bias)
        self.local_emb = nn.Embedding(V, d)
        self.local_pos = nn.Parameter(torch.zeros(n_q, d))
        self.local_stack = Stack(c.n_local_layer, d, c.local_heads, c.mlp_ratio, c.bias, c.attn_dropout, c.dropout,
                                 c.key_bias)
        self.head = VocabHead(d, V, bias=False)
        init_weights(self, c.init_std, c.n_layer)
        init_weights(self.local_stack, c.init_std, c.n_local_layer)

    # --- global ---------------------------------------------------------------------------------
    def embed(self, in_frames: Tensor, in_cont: Tensor | None, positions: Tensor) -> Tensor:
        """Input frames ``[B, S, n_q]`` (already shifted) -> ``[B, S, d]``."""
        tok = self.frame_emb(in_frames)  # [B, S, n_q, w]
        x = tok.sum(-2) if self.config.frame_embedding == "sum" else tok.flatten(-2)
        if in_cont is not None:
            is_cont = (in_frames[..., :1] == self.cont_id)
            cont = self.cont_proj(in_cont.to(self.cont_proj.weight.dtype))  # fp32 payload, any weight dtype
            x = torch.where(is_cont, cont.to(x.dtype), x)
        if self.pos_emb is not None:
            x = x + self.pos_emb(positions)
        return self.drop(x)

    def rope(self, positions: Tensor) -> tuple[Tensor, Tensor] | None:
        if self.config.positions != "rope":
            return None
        return rope_angles(positions, self.config.head_dim, self.config.rope_theta)

    def shift(self, frames: Tensor, cont_values: Tensor | None) -> tuple[Tensor, Tensor | None]:
        """Prepend the global SOS frame and drop the last frame (input t = frame t-1)."""
        sos = frames.new_full((frames.shape[0], 1, frames.shape[2]), self.sos_id)
        in_frames = torch.cat([sos, frames[:, :-1]], dim=1)
        if cont_values is None:
            return in_frames, None
        zero = cont_values.new_zeros((cont_values.shape[0], 1, cont_values.shape[2]))
        return in_frames, torch.cat([zero, cont_values[:, :-1]], dim=1)

    def global_hidden(self, frames: Tensor, prefix_lens: Tensor | None = None, cont_values: Tensor | None = None) -> Tensor:
        """``[B, T, d]`` global states; ``h[:, t]`` has seen frames ``< t`` (plus the prefix with prefix-LM)."""
        b, t, _ = frames.shape
        if self.pos_emb is not None and t > self.config.max_frames:
            raise ValueError(f"{t} frames exceed the learned position table ({self.config.max_frames})")
        positions = torch.arange(t, device=frames.device).expand(b, t)
        x = self.embed(*self.shift(frames, cont_values), positions)
        if self.config.attention == "prefix_lm":
            if prefix_lens is None:
                raise ValueError("attention='prefix_lm' needs prefix_lens")
            return self.global_stack(x, mask=prefix_lm_mask(t, prefix_lens), rope=self.rope(positions))
        return self.global_stack(x, is_causal=True, rope=self.rope(positions))

    # --- local ------------------------------------------------------------------------------------
    def link(self, h: Tensor) -> Tensor:
        """Global state ``[..., d]`` -> local conditioning ``[..., n_q, d]``."""
        n_q, d = self.config.n_q, self.config.d_model
        if self.config.global_to_local == "broadcast":
            return self.g2l(h).unsqueeze(-2).expand(*h.shape[:-1], n_q, d)
        return self.g2l(h.unflatten(-1, (n_q, d // n_q)))

    def local_states(self, h: Tensor, frames: Tensor) -> Tensor:
        """Teacher-forced local pass: ``h [..., d]``, ``frames [..., n_q]`` -> states ``[..., n_q, d]``."""
        lead = frames.shape[:-1]
        sos = frames.new_full((*lead, 1), self.local_sos_id)
        prev = torch.cat([sos, frames[..., :-1]], dim=-1)
        x = self.drop(self.link(h) + self.local_emb(prev) + self.local_pos)
        return self.local_stack(x.reshape(-1, *x.shape[-2:]), is_causal=True).reshape(*lead, *x.shape[-2:])

    def local_logits_all(self, h: Tensor, frames: Tensor) -> Tensor:
        """Teacher-forced local pass: ``h [..., d]``, ``frames [..., n_q]`` -> ``logits [..., n_q, V]``."""
        return self.head(self.local_states(h, frames))

    def forward(
        self,
        frames: Tensor,
        prefix_lens: Tensor | None = None,
        cont_values: Tensor | None = None,
        local_index: Tensor | None = None,
        head_subsets: "HeadSubsets | None" = None,
    ) -> Tensor | list[Tensor]:
        """Logits ``[B, T, n_q, V]``, or ``[N, n_q, V]`` for the flat frame indices ``local_index [N]``
        into ``B*T`` (the local stack and head then run on those frames only, e.g. the loss frames).

        With ``head_subsets`` the head scores only some ids of some tokens: a list with, per group ``g``,
        ``logits [M_g, len(ids_g)]`` of the local tokens ``tokens[start_g:stop_g]`` (flat indices into
        the ``[..., n_q]`` local outputs) over the vocabulary ids ``ids_g`` (see :mod:`uniaudio.model.loss`)."""
        h = self.global_hidden(frames, prefix_lens, cont_values)
        d, n_q = self.config.d_model, self.config.n_q
        if local_index is not None:
            h, frames = h.reshape(-1, d)[local_index], frames.reshape(-1, n_q)[local_index]
        if head_subsets is None:
            return self.local_logits_all(h, frames)
        y = self.local_states(h, frames).reshape(-1, d)[head_subsets.tokens]
        return [self.head(y[a:b], ids) for (a, b), ids in zip(head_subsets.bounds, head_subsets.ids)]

    # --- incremental decoding (see uniaudio/model/decoding.py) -------------------------------------
    def prefill(self, frames, prefix_lens, cont_values=None, max_slots=None) -> "decoding.DecodeState":
        return decoding.prefill(self, frames, prefix_lens, cont_values, max_slots)

    def global_step(self, state: "decoding.DecodeState", frame: Tensor) -> Tensor:
        return decoding.global_step(self, state, frame)

    def local_logits(self, state: "decoding.DecodeState", prev_token: Tensor | None, k: int) -> Tensor:
        return decoding.local_logits(self, state, prev_token, k)


class VocabHead(nn.Linear):
    """The output projection (``nn.Linear``, same parameters); ``head(x, ids)`` scores only the ids
    ``ids`` (a gather of weight rows, so ZeRO-3's hooks on this module still gather the weight)."""

    def forward(self, x: Tensor, ids: Tensor | None = None) -> Tensor:
        if ids is None:
            return super().forward(x)
        return F.linear(x, self.weight[ids], None if self.bias is None else self.bias[ids])


class HeadSubsets:
    """Which local tokens the head scores, grouped by the ids they may take (built by the loss):
    ``tokens [M]`` flat local-token indices sorted by group, ``bounds`` ``[(start, stop)]`` per group,
    ``ids`` the vocabulary ids of each group."""

    def __init__(self, tokens: Tensor, bounds: list[tuple[int, int]], ids: list[Tensor]):
        self.tokens, self.bounds, self.ids = tokens, bounds, ids


def build_model(config: ModelConfig, device: torch.device | str | None = None) -> MultiScaleLM:
    """Build on ``device``; ``"meta"`` allocates nothing (parameter counts of the 1B model on a laptop)."""
    with torch.device(device) if device is not None else contextlib.nullcontext():
        return MultiScaleLM(config)


def autocast_for(device: torch.device | str) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA, plain fp32 elsewhere (CPU bf16 matmuls are slow on most CPUs)."""
    dev = torch.device(device)
    if dev.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()
