"""Residual VQ with factorised, L2-normalised codebook lookups (DAC's "improved RVQGAN" quantizer).

Per codebook, the residual ``[N, D]`` is projected to a few dimensions (``code_dim``, e.g. 8), the
nearest code is the one with the highest **cosine** similarity (both sides L2-normalised), and the
chosen code is projected back to D. Why: in 128 dimensions most codes of a 1024-entry codebook are
never the nearest to anything (dead codes, low usage); in 8 dimensions with cosine lookup the codes
spread over a sphere and are used far more evenly, and a lookup costs 16x less. Codes and both
projections learn by gradient (no EMA): the codebook loss pulls the chosen code toward the projected
frame, the commitment loss (x 0.25) pulls the projection toward its code, and the straight-through
estimator in the low-dimensional space lets the reconstruction gradient reach the encoder. Codes
unused for a while (usage EMA below ``dead_threshold``) are restarted from current projected frames,
chosen on rank 0 and broadcast, like the Euclidean codebooks. Same interface as
:class:`codec.quantizer.ResidualVQ` (``forward``, ``encode``, ``encode_rows``, ``decode``).

>>> import torch
>>> rvq = FactorizedResidualVQ(dim=16, n_q=3, codebook_size=32, code_dim=4)
>>> out = rvq(torch.randn(2, 16, 25), n_q=2)
>>> tuple(out.quantized.shape), tuple(out.codes.shape), out.commit_loss.requires_grad
((2, 16, 25), (2, 2, 25), True)
>>> _ = rvq.eval()
>>> z = torch.randn(1, 16, 10)
>>> torch.equal(rvq(z, 3).codes, rvq.encode(z, 3)), torch.allclose(rvq(z, 3).quantized, rvq.decode(rvq.encode(z, 3)), atol=1e-6)
(True, True)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from codec import distrib
from codec.quantizer import RVQOutput

COMMITMENT_BETA = 0.25  # DAC's weight of the commitment term relative to the codebook term


class FactorizedCodebook(nn.Module):
    """One codebook ``[K, d]`` with in/out projections D <-> d; lookups by cosine similarity."""

    def __init__(self, dim: int, codebook_size: int, code_dim: int, dead_threshold: float = 0.05,
                 decay: float = 0.99, seed: int = 0):
        super().__init__()
        self.size, self.decay, self.dead_threshold, self.seed = codebook_size, decay, dead_threshold, seed
        self.in_proj = nn.Linear(dim, code_dim)
        self.out_proj = nn.Linear(code_dim, dim)
        self.codebook = nn.Parameter(torch.randn(codebook_size, code_dim))
        self.register_buffer("inited", torch.zeros(()))
        self.register_buffer("rng_counter", torch.zeros((), dtype=torch.long))
        self.register_buffer("usage", torch.ones(codebook_size))  # EMA of frames per step won by each code

    def _generator(self) -> torch.Generator:
        self.rng_counter += 1
        g = torch.Generator()
        g.manual_seed(self.seed * 1_000_003 + int(self.rng_counter) * 7919 + distrib.rank())
        return g

    def assign(self, z_e: torch.Tensor) -> torch.Tensor:
        """Projected rows ``[N, d]`` -> code ids ``[N]`` (highest cosine similarity)."""
        return (F.normalize(z_e.float(), dim=1) @ F.normalize(self.codebook.float(), dim=1).t()).argmax(1)

    def lookup(self, idx: torch.Tensor) -> torch.Tensor:
        """Code ids -> D-dimensional vectors (the code, projected back)."""
        return self.out_proj(F.embedding(idx, self.codebook))

    @torch.no_grad()
    def _seed_codes(self, z_e: torch.Tensor, which: torch.Tensor) -> None:
        """Set the codes in ``which`` (bool mask) to random projected frames (gathered, rank 0 decides)."""
        n = int(which.sum())
        gen = self._generator()
        local = z_e[torch.randint(z_e.shape[0], (min(n, z_e.shape[0]),), generator=gen).to(z_e.device)]
        pool = distrib.all_gather_rows(local.float())
        new = pool[torch.randint(pool.shape[0], (n,), generator=gen).to(pool.device)].to(self.codebook.dtype)
        distrib.broadcast_(new)
        self.codebook.data[which] = new
        self.usage[which] = 1.0

    def forward(self, residual: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
        """-> (D-dim quantized with gradients, codes, codebook + commitment loss, codes restarted)."""
        z_e = self.in_proj(residual)
        restarted = 0
        if self.training:
            if not bool(self.inited):
                self._seed_codes(z_e.detach(), torch.ones(self.size, dtype=torch.bool, device=z_e.device))
                self.inited.fill_(1.0)
            dead = self.usage < self.dead_threshold
            if bool(dead.any()):  # identical on every rank: usage is all-reduced
                restarted = int(dead.sum())
                self._seed_codes(z_e.detach(), dead)
        idx = self.assign(z_e.detach())
        z_q = F.embedding(idx, self.codebook)
        loss = F.mse_loss(z_q, z_e.detach()) + COMMITMENT_BETA * F.mse_loss(z_e, z_q.detach())
        if self.training:
            with torch.no_grad():
                counts = torch.bincount(idx, minlength=self.size).float()
                distrib.all_reduce_sum_(counts)
                expected = counts.sum() / self.size
                self.usage.mul_(self.decay).add_(counts / expected.clamp_min(1e-9), alpha=1 - self.decay)
        z_st = z_e + (z_q - z_e).detach()  # straight-through in the low-dimensional space
        return self.out_proj(z_st), idx, loss, restarted


class FactorizedResidualVQ(nn.Module):
    """Up to ``n_q`` factorised codebooks, each quantizing what the previous ones left."""

    def __init__(self, dim: int, n_q: int = 12, codebook_size: int = 1024, code_dim: int = 8,
                 dead_threshold: float = 0.05, seed: int = 0):
        super().__init__()
        self.n_q, self.codebook_size, self.dim = n_q, codebook_size, dim
        self.layers = nn.ModuleList(FactorizedCodebook(dim, codebook_size, code_dim, dead_threshold, seed=seed * 100 + i)
                                    for i in range(n_q))

    def _check(self, n_q: int) -> int:
        if not 1 <= n_q <= self.n_q:
            raise ValueError(f"n_q={n_q} is outside 1..{self.n_q} (this codec's codebooks)")
        return n_q

    def forward(self, z: torch.Tensor, n_q: int | None = None) -> RVQOutput:
        n_q = self._check(n_q or self.n_q)
        B, D, T = z.shape
        residual = z.permute(0, 2, 1).reshape(-1, D)
        total = torch.zeros_like(residual)
        loss = residual.new_zeros(())
        codes, restarted = [], 0
        for layer in self.layers[:n_q]:
            q, idx, l, r = layer(residual)
            residual = residual - q
            total = total + q
            loss = loss + l
            codes.append(idx)
            restarted += r
        return RVQOutput(quantized=total.reshape(B, T, D).permute(0, 2, 1),
                         codes=torch.stack(codes, 1).reshape(B, T, n_q).permute(0, 2, 1),
                         commit_loss=loss / n_q, restarted=restarted)

    @torch.no_grad()
    def encode_rows(self, x: torch.Tensor, n_q: int) -> torch.Tensor:
        """Latent rows ``[N, D]`` -> codes ``[N, n_q]``."""
        n_q = self._check(n_q)
        residual, codes = x, []
        for layer in self.layers[:n_q]:
            idx = layer.assign(layer.in_proj(residual))
            residual = residual - layer.lookup(idx).to(residual.dtype)
            codes.append(idx)
        return torch.stack(codes, 1)

    @torch.no_grad()
    def encode(self, z: torch.Tensor, n_q: int) -> torch.Tensor:
        """``z [B, D, F]`` -> codes ``[B, n_q, F]``."""
        B, D, T = z.shape
        return self.encode_rows(z.permute(0, 2, 1).reshape(-1, D), n_q).reshape(B, T, -1).permute(0, 2, 1)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """codes ``[B, n_q, F]`` -> latents ``[B, D, F]`` (sum of the projected codes)."""
        n_q = self._check(codes.shape[1])
        out = sum(self.layers[i].lookup(codes[:, i]) for i in range(n_q))
        return out.permute(0, 2, 1)
