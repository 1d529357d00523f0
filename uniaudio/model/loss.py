"""Training loss: masked-softmax cross-entropy on the loss span, with per-codebook loss and accuracy.

Training computes exactly what decoding samples from: the logits of every token go through the same
allowed-id mask (:mod:`uniaudio.model.output_mask`) before the softmax, so probability mass is never
spent on ids generation would forbid. Only informative tokens count (all n_q positions of audio
content frames; position 0 of repeated-token frames; nothing for the forced ``<end>`` frame).

The loss is ``sum_i w_i * nll_i / sum_i w_i`` over informative tokens, with ``w = first_codebook_weight``
at local position 0 and 1 elsewhere. ``nll_sum`` / ``weight_sum`` are returned too, so data-parallel
ranks can average exactly (sum both across ranks, then divide).

Scoring only the allowed ids (``head="allowed"``, the default with ``local_frames="loss"``): a
masked softmax puts zero mass on ``-inf`` ids, so the loss, its gradients and the argmax only ever
need the allowed ids of each informative token. Tokens are grouped by (target kind, local position)
and the head scores each group over that group's ids only (codebook k's 1025 ids of 23,552 for
audio), which is the same loss with a fraction of the head's cost; ``head="full"`` scores all V ids
and masks (``benchmarks/model_step.py`` times both side by side; the tests check they agree).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from uniaudio.model.batch import ModelBatch
from uniaudio.model.multiscale import HeadSubsets
from uniaudio.model.output_mask import OutputRules

IGNORE = -100


@dataclass
class LossOutput:
    loss: Tensor  # scalar, differentiable
    nll_sum: Tensor  # weighted sum of token NLLs (detached)
    weight_sum: Tensor  # sum of token weights (detached)
    metrics: dict[str, Tensor] = field(default_factory=dict)  # detached scalars: acc, loss_c0, acc_c0, ...
    # detached [B, 4] per batch row: (weighted nll sum, weight sum, correct tokens, informative tokens),
    # for per-task metrics (sum the rows of a task, across ranks too, then divide)
    row_stats: Tensor | None = None

    def scalars(self) -> dict[str, float]:
        """Metrics as Python floats (one device sync), for logging."""
        return {k: float(v) for k, v in self.metrics.items()}


def masked_token_loss(
    logits: Tensor, labels: Tensor, allowed: Tensor, informative: Tensor, first_codebook_weight: float = 1.0,
    rows: Tensor | None = None, n_rows: int = 0,
) -> LossOutput:
    """``logits [N, n_q, V]``, ``labels [N, n_q]``, ``allowed bool [N, n_q, V]``, ``informative bool [N, n_q]``.

    ``rows [N]`` (the batch row of each frame) adds per-row sums in ``row_stats [n_rows, 4]``."""
    n, n_q, v = logits.shape
    masked = logits.float().masked_fill(~allowed, float("-inf"))
    target = torch.where(informative, labels, torch.full_like(labels, IGNORE))
    nll = F.cross_entropy(masked.reshape(-1, v), target.reshape(-1), ignore_index=IGNORE, reduction="none").view(n, n_q)
    w = informative.float()
    if first_codebook_weight != 1.0:
        w = torch.cat([w[:, :1] * first_codebook_weight, w[:, 1:]], dim=1)
    nll_sum = (nll * w).sum()
    weight_sum = w.sum()
    loss = nll_sum / weight_sum.clamp(min=1e-8)

    with torch.no_grad():
        correct = (masked.argmax(-1) == labels) & informative
        label_ok = allowed.gather(-1, labels.clamp(0, v - 1)[..., None]).squeeze(-1)
        count = informative.sum(0).float()  # [n_q]
        metrics = {
            "loss": loss.detach(),
            "acc": correct.sum() / informative.sum().clamp(min=1),
            "n_tokens": informative.sum().float(),
            "n_disallowed": (informative & ~label_ok).sum().float(),  # > 0 = a data bug (loss is inf)
        }
        per_loss = (nll * informative).sum(0) / count.clamp(min=1)
        per_acc = correct.sum(0) / count.clamp(min=1)
        for k in range(n_q):
            metrics[f"loss_c{k}"] = per_loss[k]
            metrics[f"acc_c{k}"] = per_acc[k]
        row_stats = None
        if rows is not None:
            per_frame = torch.stack([(nll * w).sum(1), w.sum(1), correct.sum(1).float(), informative.sum(1).float()], 1)
            row_stats = per_frame.new_zeros(n_rows, 4).index_add_(0, rows, per_frame)
    return LossOutput(loss, nll_sum.detach(), weight_sum.detach(), metrics, row_stats)


def _subsets(rules: OutputRules, kinds: Tensor, informative: Tensor, labels: Tensor):
    """Group the informative tokens by (kind, local position): the head's plan, and per token (in
    plan order) its label's index in its group's ids (``-1`` when the label is not allowed)."""
    n_q = informative.shape[-1]
    tok = informative.reshape(-1).nonzero().squeeze(1)  # flat (frame * n_q + k)
    group = kinds.reshape(-1)[tok // n_q] * n_q + tok % n_q
    order = torch.sort(group, stable=True).indices
    tok, group = tok[order], group[order]
    present, counts = torch.unique_consecutive(group, return_counts=True)
    bounds, ids, pos = [], [], []
    start = 0
    flat_labels = labels.reshape(-1)[tok]
    for g, c in zip(present.tolist(), counts.tolist()):  # the host sync: group sizes
        allowed = rules.allowed_ids(g // n_q, g % n_q)
        lab = flat_labels[start:start + c]
        at = torch.searchsorted(allowed, lab).clamp(max=allowed.numel() - 1)
        pos.append(torch.where(allowed[at] == lab, at, torch.full_like(at, -1)))
        bounds.append((start, start + c))
        ids.append(allowed)
        start += c
    pos_t = torch.cat(pos) if pos else tok.new_zeros(0)
    return HeadSubsets(tok, bounds, ids), pos_t


def subset_token_loss(
    group_logits: list[Tensor], plan: HeadSubsets, label_pos: Tensor, n_q: int,
    first_codebook_weight: float = 1.0, rows: Tensor | None = None, n_rows: int = 0,
) -> LossOutput:
    """:func:`masked_token_loss` from the logits of the allowed ids only (one tensor per group of
    ``plan``); ``rows`` maps the plan's frames (``plan.tokens // n_q``) to batch rows."""
    nll_parts, correct_parts = [], []
    for (a, b), lg in zip(plan.bounds, group_logits):
        lg = lg.float()
        p = label_pos[a:b]
        ok = p >= 0
        nll = F.cross_entropy(lg, p.clamp(min=0), reduction="none")
        nll_parts.append(torch.where(ok, nll, torch.full_like(nll, float("inf"))))
        with torch.no_grad():
            correct_parts.append((lg.argmax(-1) == p) & ok)
    device = plan.tokens.device
    nll = torch.cat(nll_parts) if nll_parts else torch.zeros(0, device=device)
    correct = torch.cat(correct_parts) if correct_parts else torch.zeros(0, dtype=torch.bool, device=device)
    k = plan.tokens % n_q
    w = torch.ones_like(nll)
    if first_codebook_weight != 1.0:
        w = torch.where(k == 0, torch.full_like(w, first_codebook_weight), w)
    nll_sum = (nll * w).sum()
    weight_sum = w.sum()
    loss = nll_sum / weight_sum.clamp(min=1e-8)
    with torch.no_grad():
        m = nll.numel()
        count = torch.zeros(n_q, device=device).index_add_(0, k, torch.ones_like(nll))
        metrics = {
            "loss": loss.detach(),
            "acc": correct.sum() / max(m, 1),
            "n_tokens": torch.tensor(float(m), device=device),
            "n_disallowed": (label_pos < 0).sum().float(),  # > 0 = a data bug (loss is inf)
        }
        per_loss = torch.zeros(n_q, device=device).index_add_(0, k, nll.detach()) / count.clamp(min=1)
        per_acc = torch.zeros(n_q, device=device).index_add_(0, k, correct.float()) / count.clamp(min=1)
        for j in range(n_q):
            metrics[f"loss_c{j}"] = per_loss[j]
            metrics[f"acc_c{j}"] = per_acc[j]
        row_stats = None
        if rows is not None:
            per_tok = torch.stack([nll.detach() * w, w, correct.float(), torch.ones_like(w)], 1)
            row_stats = per_tok.new_zeros(n_rows, 4).index_add_(0, rows[plan.tokens // n_q], per_tok)
    return LossOutput(loss, nll_sum.detach(), weight_sum.detach(), metrics, row_stats)


def lm_loss(
    model: torch.nn.Module,
    batch: ModelBatch,
    rules: OutputRules,
    first_codebook_weight: float = 1.0,
    local_frames: Literal["loss", "all"] = "loss",
    head: Literal["allowed", "full"] | None = None,
) -> LossOutput:
    """Forward ``batch`` through ``model`` and compute the masked loss.

    ``local_frames="loss"`` runs the local stack and the head only on frames with informative tokens
    (the local stack of a prefix frame never reaches the loss, so this is the same loss for less
    compute); it needs one host sync and has a data-dependent shape. ``"all"`` keeps every shape
    static (for ``torch.compile`` without dynamic shapes / CUDA graphs).

    ``head="allowed"`` (default with ``"loss"``) scores only each informative token's allowed ids
    (see the module doc); ``"full"`` (default with ``"all"``: static shapes) scores all V ids.
    """
    frames, n_q = batch.frames, batch.frames.shape[-1]
    kinds = rules.frame_kinds(frames, batch.prefix_lens)
    informative = rules.informative(frames, batch.loss_mask, kinds)
    flat_inf = informative.reshape(-1, n_q)
    flat_kinds = kinds.reshape(-1)
    labels = frames.reshape(-1, n_q)
    b, t = frames.shape[:2]
    if local_frames not in ("loss", "all"):
        raise ValueError(f"local_frames must be 'loss' or 'all', got {local_frames!r}")
    head = head or ("allowed" if local_frames == "loss" else "full")
    if head == "allowed":
        index = flat_inf.any(-1).nonzero().squeeze(1) if local_frames == "loss" else None
        if index is not None:
            labels, flat_kinds, flat_inf = labels[index], flat_kinds[index], flat_inf[index]
        plan, label_pos = _subsets(rules, flat_kinds, flat_inf, labels)
        group_logits = model(frames, batch.prefix_lens, batch.cont_values, local_index=index, head_subsets=plan)
        rows = (index if index is not None else torch.arange(b * t, device=frames.device)) // t
        return subset_token_loss(group_logits, plan, label_pos, n_q, first_codebook_weight, rows, b)
    if head != "full":
        raise ValueError(f"head must be 'allowed' or 'full', got {head!r}")
    if local_frames == "loss":
        index = flat_inf.any(-1).nonzero().squeeze(1)
        logits = model(frames, batch.prefix_lens, batch.cont_values, local_index=index)
        labels, flat_kinds, flat_inf = labels[index], flat_kinds[index], flat_inf[index]
        rows = index // t
    elif local_frames == "all":
        logits = model(frames, batch.prefix_lens, batch.cont_values).reshape(-1, n_q, rules.vocab.size)
        rows = torch.arange(b * t, device=frames.device) // t
    else:
        raise ValueError(f"local_frames must be 'loss' or 'all', got {local_frames!r}")
    return masked_token_loss(logits, labels, rules.allowed[flat_kinds], flat_inf, first_codebook_weight, rows, b)
