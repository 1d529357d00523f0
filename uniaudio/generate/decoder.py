"""The batched generation loop over the model's step API (KV-cached global steps, a local loop per frame).

One :class:`FrameDecoder` generates the targets of a batch of rows whose prefixes have different lengths
(one prefill; the model left-pads them internally). Per frame: for local positions k = 0..n_q-1 the
local logits are masked to the ids allowed there, then a token is drawn (:mod:`.sampling`); the frame
is appended with one global step. Rules that make every output well formed:

* **End marker only at local position 0** (the reference checked it only at the *last* position, so a
  marker drawn mid-frame gave a token count that was not a multiple of n_q and crashed the codec): the
  allowed mask (:func:`uniaudio.model.allowed_mask`, the training rule) has the target's end marker at
  k = 0 only. When k = 0 draws it, the row ends and the whole frame becomes the end-marker frame
  (``<audio_end>`` x n_q, as in training); tokens drawn at k > 0 of that frame are discarded.
* **Min / max length per row**: before ``min_frames`` content frames the end marker is masked; at
  ``max_frames`` the end is forced (the row's ``stop`` is then ``"max_frames"``).
* **Repeated-token targets** (text for asr, label for sv) are drawn at k = 0 and copied to the other
  positions (training packs them that way and only scores position 0).
* Finished rows keep feeding end-marker frames (static shapes) until every row is done; in eager mode
  the batch is compacted (finished rows dropped from the caches) once at most half of it is still live.

**Classifier-free guidance** (a row with an ``uncond`` prefix and ``cfg_scale`` w != 1): the unconditional
prefix (:func:`uniaudio.conditioning_dropout.drop_conditions`) runs as an extra row of the same batch,
with its own KV-cache row. At every sampling point (each local position, the end decision included)
the row's logits are ``u + w * (c - u)`` *before* the logits hook, the allowed-id / end masks,
temperature, top-k and top-p; the drawn token is fed to both rows. Rows with w = 1 (or no ``uncond``)
take exactly the unguided path, so guided and unguided requests can share a batch.

Each row draws its noise from its own seed (:func:`.sampling.uniform_noise`), so a row's output does
not depend on the other rows of its batch. ``step`` is pure device work with static shapes; on CUDA it
can be captured once as a CUDA graph and replayed per frame (``cuda_graph=True``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal, Sequence as Seq

import numpy as np
import torch
from torch import Tensor

from uniaudio.generate.sampling import SamplingConfig, candidate_count, sample_tokens, seed_keys
from uniaudio.model.batch import collate
from uniaudio.model.output_mask import OutputRules
from uniaudio.sequence import Sequence
from uniaudio.vocab import CODEC_MODALITIES

#: ``hook(logits [B, V] raw, k, t [1]) -> logits``: lets tests (and research code) edit the raw logits
#: before the allowed-id mask is applied. Guided rows arrive already mixed (``u + w * (c - u)``).
LogitsHook = Callable[[Tensor, int, Tensor], Tensor]


@dataclass
class RowSpec:
    """One row to generate: its prefix (``build_sequence(..., with_target=False)``) and its policy."""

    prefix: Sequence
    modality: str  # target modality: "audio", "text" or "label"
    min_frames: int  # content frames before the end marker may be drawn
    max_frames: int  # the end is forced after this many content frames
    seed: int
    allowed: Tensor | None = None  # bool [n_q, V]: replaces the modality's rule (e.g. sv labels 0/1 only)
    uncond: Sequence | None = None  # CFG: the prefix with the guidance conditions dropped
    cfg_scale: float = 1.0  # CFG scale w; 1.0 = unguided (the uncond prefix is then not run)

    @property
    def guided(self) -> bool:
        return self.uncond is not None and self.cfg_scale != 1.0


@dataclass
class RowOutput:
    frames: np.ndarray  # int64 [F, n_q] content frames (global ids), end marker excluded
    stop: Literal["eos", "max_frames"]


def _check_rows(rows: Seq[RowSpec], n_q: int) -> None:
    if not rows:
        raise ValueError("no rows to generate")
    for i, r in enumerate(rows):
        if r.prefix.n_q != n_q:
            raise ValueError(f"row {i}: prefix has n_q={r.prefix.n_q}, the model {n_q}")
        if r.max_frames < 1 or not 0 <= r.min_frames <= r.max_frames:
            raise ValueError(f"row {i}: need 0 <= min_frames <= max_frames and max_frames >= 1, "
                             f"got {r.min_frames}, {r.max_frames}")
        if r.seed < 0:
            raise ValueError(f"row {i}: seeds must be >= 0, got {r.seed}")
        if r.guided and (r.uncond.n_q != n_q or r.uncond.task != r.prefix.task):
            raise ValueError(f"row {i}: the unconditional prefix must be of the same task and n_q as the prefix")


class FrameDecoder:
    """Generation state of one batch. Use :func:`generate` unless you need the step-level API."""

    def __init__(self, model, rows: Seq[RowSpec], sampling: SamplingConfig, rules: OutputRules | None = None,
                 logits_hook: LogitsHook | None = None):
        cfg = model.config
        _check_rows(rows, cfg.n_q)
        self.model, self.sampling, self.hook = model, sampling, logits_hook
        self.n_q = cfg.n_q
        dev = self.device = next(model.parameters()).device
        vocab = model.vocab
        rules = (rules or OutputRules(vocab, cfg.n_q)).to(dev)

        # model rows: the B rows, then one unconditional row per guided row (g_src = its row)
        guided = [i for i, r in enumerate(rows) if r.guided]
        prefixes = [r.prefix for r in rows] + [rows[i].uncond for i in guided]
        self.g_src = torch.tensor(guided, dtype=torch.long, device=dev)
        self.g_scale = torch.tensor([[rows[i].cfg_scale] for i in guided], dtype=torch.float32, device=dev)
        has_cont = any(len(p.cont_positions) for p in prefixes)
        widths = {p.cont_values.shape[1] for p in prefixes if len(p.cont_positions)}
        if widths - {cfg.cont_dim}:
            raise ValueError(f"continuous conditions have width {sorted(widths)}; the model expects {cfg.cont_dim}")
        batch = collate(prefixes, vocab, cont_dim=cfg.cont_dim if has_cont else None).to(dev)
        self.max_steps = max(r.max_frames for r in rows) + 1  # content frames + the end-marker frame
        s0 = int(batch.prefix_lens.max()) + 1
        cont = batch.cont_values
        if cont is not None:  # the continuous projection runs in the weights' dtype (bf16 on GPU)
            cont = cont.to(next(model.parameters()).dtype)
        self.state = model.prefill(batch.frames, batch.prefix_lens, cont, max_slots=s0 + self.max_steps)

        kinds = [rules.kind_index(r.modality) for r in rows]
        allowed = rules.allowed[torch.tensor(kinds, device=dev)].clone()  # [B, n_q, V]
        for i, r in enumerate(rows):
            if r.allowed is not None:
                allowed[i] = r.allowed.to(dev)
        self.width = candidate_count(sampling, int(allowed.sum(-1).max()))
        self.end_ids = torch.tensor([vocab.end_of(r.modality) for r in rows], device=dev)
        # Score only the ids some row may take at position k (~1k of the ~23k): masking, top-k and the
        # draw then run on [B, U_k] instead of [B, V]
        union = allowed.any(0)
        self.cand = [union[k].nonzero().flatten() for k in range(self.n_q)]  # [U_k] global ids, sorted
        self.cand_allowed = [allowed[:, k].index_select(1, c) for k, c in enumerate(self.cand)]  # [B, U_k]
        self.end_pos = (self.cand[0][None, :] == self.end_ids[:, None]).long().argmax(-1)  # end id's column
        self.repeated = torch.tensor([r.modality not in CODEC_MODALITIES for r in rows], device=dev)
        self.min_frames = torch.tensor([r.min_frames for r in rows], device=dev)
        self.max_frames = torch.tensor([r.max_frames for r in rows], device=dev)
        self.keys = seed_keys(torch.tensor([r.seed for r in rows], device=dev))
        b = len(rows)
        self.finished = torch.zeros(b, dtype=torch.bool, device=dev)
        self.forced = torch.zeros(b, dtype=torch.bool, device=dev)
        self.out = torch.full((b, self.max_steps, self.n_q), vocab.pad, dtype=torch.long, device=dev)
        self.t = torch.zeros(1, dtype=torch.long, device=dev)
        self.rows = list(range(b))  # original index of each live row (compaction drops some)
        self.done: dict[int, RowOutput] = {}
        self.steps = 0  # host copy of t
        # local_logits reads state.cond; global_step rebinds it. Keep one static buffer so that a
        # captured CUDA graph reads the value the previous replay wrote.
        self._cond = self.state.cond.clone()
        self.state.cond = self._cond
        self._graph = None
        self._all_rep = bool(self.repeated.all())  # no row needs local positions k > 0

    # --- one frame ---------------------------------------------------------------------------------
    def step(self) -> None:
        """Generate one frame for every row and append it (pure device work, no host sync)."""
        neg = float("-inf")
        toks: list[Tensor] = []
        guided = len(self.g_src) > 0  # host-side: fixed for the life of a batch (or a captured graph)
        for k in range(self.n_q):
            if k > 0 and self._all_rep:
                toks.append(toks[0])
                continue
            prev = toks[-1] if toks else None
            if guided and prev is not None:  # the unconditional rows continue with their row's token
                prev = torch.cat([prev, prev.index_select(0, self.g_src)])
            logits = self.model.local_logits(self.state, prev, k).float()
            if guided:
                logits = self._guide(logits)
            if self.hook is not None:
                logits = self.hook(logits, k, self.t)
            logits = logits.index_select(1, self.cand[k]).masked_fill(~self.cand_allowed[k], neg)
            if k == 0:  # no end before min_frames
                end = logits.gather(1, self.end_pos[:, None])
                end = torch.where((self.t < self.min_frames)[:, None], torch.full_like(end, neg), end)
                logits = logits.scatter(1, self.end_pos[:, None], end)
            tok = sample_tokens(logits, self.sampling, self.keys, self.t, k, self.width, ids=self.cand[k])
            if k == 0:
                tok = torch.where(self.t >= self.max_frames, self.end_ids, tok)
            else:
                tok = torch.where(self.repeated, toks[0], tok)
            toks.append(tok)
        frame = torch.stack(toks, dim=-1)
        is_end = frame[:, 0] == self.end_ids
        self.forced |= is_end & ~self.finished & (self.t >= self.max_frames)
        self.finished |= is_end
        # an ended row feeds the end-marker frame: the marker at every position, as in training
        frame = torch.where(self.finished[:, None], self.end_ids[:, None].expand_as(frame), frame)
        self.out.index_copy_(1, self.t, frame[:, None])
        if guided:
            frame = torch.cat([frame, frame.index_select(0, self.g_src)])
        self.model.global_step(self.state, frame)
        self._cond.copy_(self.state.cond)
        self.state.cond = self._cond
        self.t += 1

    def _guide(self, logits: Tensor) -> Tensor:
        """``[B + G, V]`` model logits -> ``[B, V]``: guided rows get ``u + w * (c - u)`` (in fp32)."""
        b = self.finished.shape[0]
        c, u = logits[:b].index_select(0, self.g_src), logits[b:]
        return logits[:b].index_copy(0, self.g_src, u + self.g_scale * (c - u))

    # --- the loop ----------------------------------------------------------------------------------
    def run(self, check_every: int = 1, compact: bool = True, cuda_graph: bool = False) -> list[RowOutput]:
        """Step until every row has ended; returns the outputs in row order."""
        if cuda_graph and self.device.type == "cuda":
            self._capture()
            compact = False  # a captured graph has fixed shapes
        while self.steps < self.max_steps:
            if self._graph is not None:
                self._graph.replay()
                self.state.length += 1
            else:
                self.step()
            self.steps += 1
            last = self.steps == self.max_steps
            if last or self.steps % check_every == 0:
                live = ~self.finished
                n_live = int(live.sum())
                if n_live == 0:
                    break
                if compact and not last and n_live <= len(self.rows) // 2:
                    self._compact(live)
        self._collect(torch.ones_like(self.finished))
        return [self.done[i] for i in sorted(self.done)]

    def _collect(self, which: Tensor) -> None:
        """Move the outputs of rows ``which`` (bool [B]) to the host results."""
        out = self.out[:, : self.steps].cpu().numpy()
        ends = self.end_ids.cpu().numpy()
        forced = self.forced.cpu().numpy()
        for j in which.nonzero().flatten().tolist():
            col = out[j, :, 0]
            stop = np.nonzero(col == ends[j])[0]
            n = int(stop[0]) if len(stop) else out.shape[1]
            self.done[self.rows[j]] = RowOutput(out[j, :n].copy(), "max_frames" if forced[j] else "eos")

    def _compact(self, live: Tensor) -> None:
        """Drop finished rows from every per-row tensor (caches included): later steps cost less."""
        self._collect(~live)
        keep = live.nonzero().flatten()
        g_keep = live.index_select(0, self.g_src).nonzero().flatten()  # unconditional rows of live rows
        rows_keep = torch.cat([keep, len(live) + g_keep])  # model rows: kept rows, then their uncond rows
        new_index = live.long().cumsum(0) - 1
        self.g_src = new_index.index_select(0, self.g_src.index_select(0, g_keep))
        self.g_scale = self.g_scale.index_select(0, g_keep)
        st = self.state
        for kv in (*st.global_kv, *st.local_kv):
            kv.k, kv.v = kv.k.index_select(0, rows_keep), kv.v.index_select(0, rows_keep)
        st.pad, st.hidden = st.pad.index_select(0, rows_keep), st.hidden.index_select(0, rows_keep)
        self._cond = self._cond.index_select(0, rows_keep)
        st.cond = self._cond
        for name in ("end_ids", "end_pos", "repeated", "min_frames", "max_frames", "keys", "finished", "forced", "out"):
            setattr(self, name, getattr(self, name).index_select(0, keep))
        self.cand_allowed = [a.index_select(0, keep) for a in self.cand_allowed]
        self.rows = [self.rows[j] for j in keep.tolist()]
        self._all_rep = bool(self.repeated.all())

    def _capture(self) -> None:
        """Record :meth:`step` as a CUDA graph (after warm-up steps, whose effects are then undone)."""
        st = self.state
        saved = (self._cond.clone(), st.slot.clone(), st.length)
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(2):  # warm-up (cuBLAS workspaces, lazy inits) on a side stream
                self.step()
        torch.cuda.current_stream().wait_stream(side)
        self._reset(saved)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            self.step()
        self._reset(saved)  # capture does not run the kernels, but it moved the host counters
        self._graph = graph

    def _reset(self, saved) -> None:
        cond, slot, length = saved
        self._cond.copy_(cond)
        self.state.slot.copy_(slot)
        self.state.length = length
        self.t.zero_()
        self.finished.zero_()
        self.forced.zero_()
        self.out.fill_(self.model.vocab.pad)
        # KV slots written by the warm-up lie at or after the first generated slot: each is rewritten
        # before any query may attend to it.


def generate(model, rows: Seq[RowSpec], sampling: SamplingConfig, *, rules: OutputRules | None = None,
             logits_hook: LogitsHook | None = None, check_every: int | None = None, compact: bool = True,
             cuda_graph: bool = False) -> list[RowOutput]:
    """Generate every row's target frames in one batch. ``check_every`` = frames between host checks
    for "all rows ended" (default 1 on CPU, 16 on GPU, where a check is a device sync)."""
    dec = FrameDecoder(model, rows, sampling, rules, logits_hook)
    if check_every is None:
        check_every = 16 if dec.device.type == "cuda" else 1
    with torch.no_grad():
        return dec.run(check_every=check_every, compact=compact, cuda_graph=cuda_graph)
