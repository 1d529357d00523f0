"""Tiny wrappers over torch.distributed that are no-ops in a single process.

The codebook EMA statistics, k-means initialisation and dead-code restarts must agree on every rank
(the codebooks are buffers, not DDP parameters), so the quantizer goes through these helpers. They
work with any backend (gloo on CPU, NCCL on GPU) and without any process group at all, which keeps
the single-process path (tests, one worker) free of the reference's `dist.broadcast` crash.
"""

from __future__ import annotations

import torch
import torch.distributed as dist


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def all_reduce_sum_(t: torch.Tensor) -> torch.Tensor:
    """In-place sum over ranks."""
    if is_distributed():
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def broadcast_(t: torch.Tensor, src: int = 0) -> torch.Tensor:
    """In-place copy of rank ``src``'s tensor to every rank."""
    if is_distributed():
        dist.broadcast(t, src=src)
    return t


def all_gather_rows(x: torch.Tensor) -> torch.Tensor:
    """Concatenate ``x [N_r, D]`` from every rank along dim 0 (N_r may differ per rank)."""
    if not is_distributed():
        return x
    n = torch.tensor([x.shape[0]], device=x.device, dtype=torch.long)
    sizes = [torch.zeros_like(n) for _ in range(world_size())]
    dist.all_gather(sizes, n)
    max_n = int(max(s.item() for s in sizes))
    padded = torch.zeros((max_n,) + tuple(x.shape[1:]), device=x.device, dtype=x.dtype)
    padded[: x.shape[0]] = x
    bufs = [torch.zeros_like(padded) for _ in sizes]
    dist.all_gather(bufs, padded)
    return torch.cat([b[: int(s.item())] for b, s in zip(bufs, sizes)], dim=0)
