"""Residual vector quantizer: EMA codebooks, k-means initialisation, dead-code restart, commitment loss.

Codebooks are buffers updated by exponential moving averages (decay 0.99, Laplace smoothing), not by
gradients. Everything that must agree across data-parallel ranks goes through :mod:`codec.distrib`:
EMA statistics are summed over ranks, k-means runs on the frames gathered from all ranks, and dead
codes are restarted from gathered frames chosen on rank 0 and broadcast. Random choices use a
generator seeded from a counter kept in the state dict, so resuming from a checkpoint replays them.

>>> import torch
>>> rvq = ResidualVQ(dim=8, n_q=4, codebook_size=16, kmeans_iters=2)
>>> z = torch.randn(2, 8, 50)
>>> out = rvq(z, n_q=3)                     # training mode: initialises and updates codebooks
>>> tuple(out.quantized.shape), tuple(out.codes.shape)
((2, 8, 50), (2, 3, 50))
>>> _ = rvq.eval()                           # eval: no updates, same codes as encode()
>>> torch.equal(rvq(z, n_q=3).codes, rvq.encode(z, 3))
True
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from codec import distrib


def kmeans(x: torch.Tensor, k: int, iters: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Lloyd's k-means on ``x [N, D]`` -> (means [k, D], counts [k]). Empty clusters keep their seed."""
    x = torch.unique(x, dim=0)  # identical frames (digital silence) would seed duplicate codes
    n = x.shape[0]
    pick = torch.randperm(n, generator=gen)[:k] if n >= k else torch.randint(n, (k,), generator=gen)
    means = x[pick.to(x.device)].clone()
    counts = torch.zeros(k, device=x.device)
    for _ in range(iters):
        assign = _nearest(x, means)
        counts = torch.bincount(assign, minlength=k).to(x.dtype)
        sums = torch.zeros_like(means).index_add_(0, assign, x)
        means = torch.where(counts.unsqueeze(1) > 0, sums / counts.clamp_min(1).unsqueeze(1), means)
    return means, counts


def _nearest(x: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    # ||x - e||^2 = ||x||^2 - 2 x.e + ||e||^2; the ||x||^2 term does not change the argmin
    dist = codebook.square().sum(1).unsqueeze(0) - 2 * x @ codebook.t()
    return dist.argmin(dim=1)


class EuclideanCodebook(nn.Module):
    """One codebook ``[K, D]`` with EMA updates; call with flat vectors ``[N, D]``."""

    def __init__(self, dim: int, codebook_size: int, decay: float = 0.99, epsilon: float = 1e-5,
                 kmeans_iters: int = 50, kmeans_max_frames: int = 10_000, dead_threshold: float = 2.0,
                 seed: int = 0, dead_fraction: float = 0.0):
        super().__init__()
        self.decay, self.epsilon, self.size = decay, epsilon, codebook_size
        self.kmeans_iters, self.kmeans_max_frames, self.dead_threshold = kmeans_iters, kmeans_max_frames, dead_threshold
        self.dead_fraction = dead_fraction
        self.seed = seed
        self.register_buffer("inited", torch.zeros(()))
        self.register_buffer("rng_counter", torch.zeros((), dtype=torch.long))
        self.register_buffer("cluster_size", torch.zeros(codebook_size))
        self.register_buffer("embed", torch.randn(codebook_size, dim))
        self.register_buffer("embed_avg", self.embed.clone())

    def _generator(self) -> torch.Generator:
        # rank-specific stream, reproducible across resumes because the counter is checkpointed
        self.rng_counter += 1
        g = torch.Generator()
        g.manual_seed(self.seed * 1_000_003 + int(self.rng_counter) * 7919 + distrib.rank())
        return g

    def assign(self, x: torch.Tensor) -> torch.Tensor:
        return _nearest(x.to(self.embed.dtype), self.embed)

    @torch.no_grad()
    def _init(self, x: torch.Tensor) -> None:
        gen = self._generator()
        per_rank = max(1, self.kmeans_max_frames // distrib.world_size())
        local = x[torch.randperm(x.shape[0], generator=gen)[:per_rank].to(x.device)]
        pool = distrib.all_gather_rows(local.float())
        means, counts = kmeans(pool, self.size, self.kmeans_iters, gen)
        distrib.broadcast_(means)  # k-means is seeded per rank: rank 0's result wins
        distrib.broadcast_(counts)
        self.embed.copy_(means)
        self.embed_avg.copy_(means * counts.unsqueeze(1))
        self.cluster_size.copy_(counts)
        self.inited.fill_(1.0)

    @torch.no_grad()
    def _ema_update(self, x: torch.Tensor, idx: torch.Tensor) -> None:
        counts = torch.bincount(idx, minlength=self.size).to(self.embed.dtype)
        sums = torch.zeros_like(self.embed).index_add_(0, idx, x.to(self.embed.dtype))
        distrib.all_reduce_sum_(counts)
        distrib.all_reduce_sum_(sums)
        self.cluster_size.mul_(self.decay).add_(counts, alpha=1 - self.decay)
        self.embed_avg.mul_(self.decay).add_(sums, alpha=1 - self.decay)
        total = self.cluster_size.sum()
        smoothed = (self.cluster_size + self.epsilon) / (total + self.size * self.epsilon) * total
        self.embed.copy_(self.embed_avg / smoothed.unsqueeze(1))

    def dead_limit(self) -> float:
        """EMA usage below which a code is dead: ``dead_fraction`` of the mean usage when that is set,
        else the absolute ``dead_threshold`` (published: 2 frames; why that can restart every code at every
        step: :meth:`codec.config.CodecConfig.dead_code_warning`)."""
        if self.dead_fraction > 0:
            return self.dead_fraction * float(self.cluster_size.sum()) / self.size
        return self.dead_threshold

    @torch.no_grad()
    def _restart_dead(self, x: torch.Tensor) -> int:
        """Replace codes whose EMA usage fell below :meth:`dead_limit` by frames of the current batch."""
        limit = self.dead_limit()
        dead = self.cluster_size < limit
        n_dead = int(dead.sum())  # identical on every rank: the statistics were all-reduced
        if n_dead == 0:
            return 0
        gen = self._generator()
        local = x[torch.randint(x.shape[0], (min(n_dead, x.shape[0]),), generator=gen).to(x.device)]
        pool = torch.unique(distrib.all_gather_rows(local.to(self.embed.dtype)), dim=0)  # no duplicate codes
        new = pool[torch.randint(pool.shape[0], (n_dead,), generator=gen).to(x.device)]
        distrib.broadcast_(new)
        self.embed[dead] = new
        # a consistent EMA state "the dead limit's worth of mass at the new vector", so the EMA update below
        # does not pull the restarted code back to its stale average
        self.cluster_size[dead] = limit
        self.embed_avg[dead] = new * limit
        return n_dead

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, int]:
        """-> (quantized [N, D] (no grad), codes [N], number of codes restarted)."""
        x = x.detach()
        restarted = 0
        if self.training:
            if not bool(self.inited):
                self._init(x)
            # restart before assigning, so a restarted code (a current frame) can win frames this step
            restarted = self._restart_dead(x)
        idx = self.assign(x)
        q = F.embedding(idx, self.embed).to(x.dtype)
        if self.training:
            self._ema_update(x, idx)
        return q, idx, restarted


@dataclass
class RVQOutput:
    quantized: torch.Tensor  # [B, D, F], straight-through: gradient flows to the input unchanged
    codes: torch.Tensor  # [B, n_q, F] long
    commit_loss: torch.Tensor  # scalar, mean over the used codebooks
    restarted: int  # dead codes restarted this call (training only)


class ResidualVQ(nn.Module):
    """Up to ``n_q`` codebooks, each quantizing the residual the previous ones left."""

    def __init__(self, dim: int, n_q: int = 12, codebook_size: int = 1024, decay: float = 0.99,
                 epsilon: float = 1e-5, kmeans_iters: int = 50, kmeans_max_frames: int = 10_000,
                 dead_threshold: float = 2.0, seed: int = 0, dead_fraction: float = 0.0):
        super().__init__()
        self.n_q, self.codebook_size, self.dim = n_q, codebook_size, dim
        self.layers = nn.ModuleList(
            EuclideanCodebook(dim, codebook_size, decay, epsilon, kmeans_iters, kmeans_max_frames,
                              dead_threshold, seed=seed * 100 + i, dead_fraction=dead_fraction)
            for i in range(n_q)
        )

    def _check(self, n_q: int) -> int:
        if not 1 <= n_q <= self.n_q:
            raise ValueError(f"n_q={n_q} is outside 1..{self.n_q} (this codec's codebooks)")
        return n_q

    def forward(self, z: torch.Tensor, n_q: int | None = None) -> RVQOutput:
        n_q = self._check(n_q or self.n_q)
        B, D, T = z.shape
        x = z.permute(0, 2, 1).reshape(-1, D)
        residual, total = x, torch.zeros_like(x)
        commit = x.new_zeros(())
        codes, restarted = [], 0
        for layer in self.layers[:n_q]:
            q, idx, r = layer(residual)
            # the residual keeps its gradient path to z, q is a constant: pulls z toward the codes
            commit = commit + F.mse_loss(residual, q)
            residual = residual - q
            total = total + q
            codes.append(idx)
            restarted += r
        quantized = x + (total - x).detach()
        return RVQOutput(
            quantized=quantized.reshape(B, T, D).permute(0, 2, 1),
            codes=torch.stack(codes, 1).reshape(B, T, n_q).permute(0, 2, 1),
            commit_loss=commit / n_q,
            restarted=restarted,
        )

    @torch.no_grad()
    def encode(self, z: torch.Tensor, n_q: int) -> torch.Tensor:
        """``z [B, D, F]`` -> codes ``[B, n_q, F]`` (no codebook updates)."""
        B, D, T = z.shape
        return self.encode_rows(z.permute(0, 2, 1).reshape(-1, D), n_q).reshape(B, T, -1).permute(0, 2, 1)

    @torch.no_grad()
    def encode_rows(self, x: torch.Tensor, n_q: int) -> torch.Tensor:
        """Latent rows ``[N, D]`` -> codes ``[N, n_q]``; the time-major encoder's output needs no transpose."""
        n_q = self._check(n_q)
        residual = x
        codes = []
        for layer in self.layers[:n_q]:
            idx = layer.assign(residual)
            residual = residual - F.embedding(idx, layer.embed).to(residual.dtype)
            codes.append(idx)
        return torch.stack(codes, 1)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """codes ``[B, n_q, F]`` -> latents ``[B, D, F]`` (sum of the selected code vectors)."""
        n_q = self._check(codes.shape[1])
        out = None
        for i in range(n_q):
            e = F.embedding(codes[:, i], self.layers[i].embed)  # [B, F, D]
            out = e if out is None else out + e
        return out.permute(0, 2, 1)
