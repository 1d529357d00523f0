"""One codec training step (one generator forward), optimizers, step-based schedules, exact resume state.

This module does not know about Ray: the Ray Train loop (:mod:`codec.ray_train`) and the in-process
tests drive the same :class:`CodecTrainer`. Differences from the reference trainer (spec §9.6): the
generator runs **once** per step (its output feeds the discriminator update detached, then the
generator update), the LR decays per step rather than per epoch, and the single-process path needs
no process group.

>>> import torch
>>> from codec.config import preset
>>> cfg = preset("tiny")
>>> t = CodecTrainer(cfg)
>>> m = t.train_step(0.1 * torch.randn(2, 1, 16000))
>>> t.step, m["n_q"] in cfg.train.bandwidth_n_q, m["loss/total"] > 0
(1, True, True)
"""

from __future__ import annotations

import contextlib
import random
import time
import warnings
from typing import Any

import numpy as np
import torch
from torch import nn

from codec import distrib
from codec.config import CodecConfig, TrainConfig
from codec.discriminator import Discriminators
from codec.losses import (ReconstructionLoss, discriminator_loss, feature_matching_loss,
                          generator_adversarial_loss)
from codec.model import CodecModel


def lr_factor(cfg: TrainConfig):
    """LR multiplier at a given step: linear warm-up, then gamma ** (step / lr_decay_every)."""

    def f(step: int) -> float:
        warm = min(1.0, (step + 1) / cfg.warmup_steps) if cfg.warmup_steps else 1.0
        return warm * cfg.lr_gamma ** (step / cfg.lr_decay_every)

    return f


def n_q_for_step(cfg: TrainConfig, step: int) -> int:
    """Bandwidth (quantizer) dropout: a share ``quantizer_dropout`` of the steps draws n_q from
    ``bandwidth_n_q``, the others use the most codebooks (so the full-bandwidth path trains on most
    steps, as DAC's quantizer dropout 0.5 does). A function of (seed, step) only, so every rank picks
    the same n_q with no communication, and a resumed run replays the same sequence."""
    rng = random.Random(cfg.seed * 1_000_003 + step)
    if cfg.quantizer_dropout < 1.0 and rng.random() >= cfg.quantizer_dropout:
        return max(cfg.bandwidth_n_q)
    return rng.choice(cfg.bandwidth_n_q)


@contextlib.contextmanager
def frozen(module: nn.Module):
    """Temporarily stop gradients into ``module``'s parameters (the discriminator during the G update)."""
    flags = [p.requires_grad for p in module.parameters()]
    for p in module.parameters():
        p.requires_grad_(False)
    try:
        yield module
    finally:
        for p, f in zip(module.parameters(), flags):
            p.requires_grad_(f)


def disc_segment(cfg: CodecConfig, step: int, wav: torch.Tensor, y_hat: torch.Tensor):
    """The part of the crop the discriminators judge: all of it, or ``disc.segment_s`` seconds at an
    offset drawn from (seed, step) (HiFi-GAN-style segments: the adversarial cost scales with the
    length, the reconstruction losses still see the whole crop)."""
    n = int(round(cfg.disc.segment_s * cfg.model.sample_rate))
    if n <= 0 or n >= wav.shape[-1]:
        return wav, y_hat
    off = random.Random(cfg.train.seed * 7_000_003 + step).randrange(wav.shape[-1] - n + 1)
    return wav[..., off:off + n], y_hat[..., off:off + n]


def _split(scores, n: int):
    """Split discriminator outputs of a [real; fake] batch into (real, fake)."""
    real = [(s[:n], [f[:n] for f in fs]) for s, fs in scores]
    fake = [(s[n:], [f[n:] for f in fs]) for s, fs in scores]
    return real, fake


class CodecTrainer:
    """Generator + discriminator + both optimizers/schedulers + step counter."""

    def __init__(self, cfg: CodecConfig, device: torch.device | str = "cpu", ddp: bool = False):
        self.cfg, self.device = cfg, torch.device(device)
        if (why := cfg.dead_code_warning(distrib.world_size())) and distrib.rank() == 0:
            warnings.warn(why, stacklevel=2)
        torch.manual_seed(cfg.train.seed)  # identical initial weights on every rank
        self.generator = CodecModel(cfg).to(self.device)
        self.disc = Discriminators.from_config(cfg).to(self.device)
        self.recon = ReconstructionLoss(cfg.loss, cfg.model.sample_rate).to(self.device)
        t = cfg.train
        kw = dict(lr=t.lr, betas=t.betas, eps=t.eps, weight_decay=t.weight_decay)
        self.opt_g = torch.optim.AdamW(self.generator.parameters(), **kw)
        self.opt_d = torch.optim.AdamW(self.disc.parameters(), **kw)
        self.sched_g = torch.optim.lr_scheduler.LambdaLR(self.opt_g, lr_factor(t))
        self.sched_d = torch.optim.lr_scheduler.LambdaLR(self.opt_d, lr_factor(t))
        self.step = 0
        self.g: nn.Module = self.generator
        self.d: nn.Module = self.disc
        if ddp:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [self.device.index] if self.device.type == "cuda" else None
            # codebooks are buffers kept in sync by the quantizer itself: no per-forward broadcast
            self.g = DDP(self.generator, device_ids=ids, broadcast_buffers=False)
            self.d = DDP(self.disc, device_ids=ids, broadcast_buffers=False)

    def _clip(self, params) -> torch.Tensor:
        limit = self.cfg.train.grad_clip if self.cfg.train.grad_clip > 0 else float("inf")
        return torch.nn.utils.clip_grad_norm_(list(params), limit)

    def train_step(self, wav: torch.Tensor) -> dict[str, float]:
        """One step on ``wav [B, 1, T]`` (T a multiple of the hop). Returns scalar metrics."""
        cfg, w = self.cfg, self.cfg.loss
        t_start = time.perf_counter()
        wav = wav.to(self.device)
        n_q = n_q_for_step(cfg.train, self.step)
        self.g.train()
        self.d.train()
        out = self.g(wav, n_q)  # the only generator forward of the step
        y_hat = out.recon
        gan = self.step >= cfg.train.disc_start_step and (w.adversarial > 0 or w.feature_matching > 0)
        metrics: dict[str, float] = {"n_q": float(n_q), "codes_restarted": float(out.restarted)}
        skipped = 0
        t_disc = time.perf_counter()
        seg_real, seg_fake = disc_segment(cfg, self.step, wav, y_hat)
        if gan:
            real, fake = _split(self.d(torch.cat([seg_real, seg_fake.detach()])), wav.shape[0])
            d_loss = discriminator_loss(real, fake)
            self.opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            d_norm = self._clip(self.disc.parameters())
            if torch.isfinite(d_norm):
                self.opt_d.step()
            else:
                skipped += 1
            metrics.update({"loss/discriminator": d_loss.detach().item(), "grad_norm/discriminator": d_norm.item()})
            self.sched_d.step()
        else:
            # the D schedule follows the global step (a late D starts at the LR of its first step), so it
            # advances before D's first update: PyTorch's "scheduler before optimizer" warning is expected
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Detected call of `lr_scheduler.step", category=UserWarning)
                self.sched_d.step()
        t_disc = time.perf_counter() - t_disc

        parts = self.recon(y_hat, wav)
        if gan:
            # raw module + frozen params: gradients reach y_hat only, and DDP's reducer is not involved
            with frozen(self.disc):
                with torch.no_grad():  # real features are constants of the G loss: no backward through them
                    real = self.disc(seg_real)
                fake = self.disc(seg_fake)
            parts["adversarial"] = generator_adversarial_loss(fake)
            parts["feature_matching"] = feature_matching_loss(real, fake)
        parts["commitment"] = out.commit_loss
        weights = {"adversarial": w.adversarial, "feature_matching": w.feature_matching,
                   "multi_resolution_stft": w.multi_resolution_stft, "subband_stft": w.subband_stft,
                   "mel": w.mel, "multi_mel": w.multi_mel, "waveform": w.waveform, "commitment": w.commitment}
        total = sum(weights[k] * v for k, v in parts.items())
        self.opt_g.zero_grad(set_to_none=True)
        total.backward()
        g_norm = self._clip(self.generator.parameters())
        # a NaN/Inf gradient skips the update (same decision on every rank: grads are all-reduced)
        if torch.isfinite(g_norm):
            self.opt_g.step()
        else:
            skipped += 1
        self.sched_g.step()
        self.step += 1
        metrics.update({f"loss/{k}": v.detach().item() for k, v in parts.items()})
        metrics.update({"loss/total": total.detach().item(), "grad_norm/generator": g_norm.item(),
                        "lr": self.sched_g.get_last_lr()[0], "skipped_updates": float(skipped)})
        # wall seconds of this step: the discriminator update, and the rest (generator forward, its
        # losses including the adversarial pass through the frozen discriminator, backward, update)
        metrics["time/discriminator_s"] = t_disc
        metrics["time/generator_s"] = time.perf_counter() - t_start - t_disc
        return metrics

    # --- exact resume -------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        rng = {"torch": torch.get_rng_state(), "python": _py_state(random.getstate()),
               "numpy": _np_state(np.random.get_state())}
        if torch.cuda.is_available():
            rng["cuda"] = torch.cuda.get_rng_state_all()
        return {"step": self.step, "generator": self.generator.state_dict(), "disc": self.disc.state_dict(),
                "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
                "sched_g": self.sched_g.state_dict(), "sched_d": self.sched_d.state_dict(), "rng": rng}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.load_state_dict(state["generator"])
        self.disc.load_state_dict(state["disc"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.sched_g.load_state_dict(state["sched_g"])
        self.sched_d.load_state_dict(state["sched_d"])
        self.step = int(state["step"])
        rng = state["rng"]
        torch.set_rng_state(rng["torch"])
        random.setstate((rng["python"][0], tuple(rng["python"][1]), rng["python"][2]))
        np.random.set_state((rng["numpy"][0], np.asarray(rng["numpy"][1], dtype=np.uint32), *rng["numpy"][2:]))
        if "cuda" in rng and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng["cuda"])

    def save(self, path) -> None:
        torch.save(self.state_dict(), path)

    def load(self, path) -> None:
        self.load_state_dict(torch.load(path, map_location=self.device, weights_only=True))


def _py_state(s):  # tuples of ints load fine with weights_only; keep it plain
    return [s[0], list(s[1]), s[2]]


def _np_state(s):  # ndarray is not a weights_only-safe type: store it as a list
    return [s[0], s[1].tolist(), int(s[2]), int(s[3]), float(s[4])]
