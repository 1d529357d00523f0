"""Residual VQ: quality grows with codebooks, dead codes restart, straight-through gradients,
and codebooks stay identical across data-parallel ranks (real gloo process group)."""

from __future__ import annotations

import os

import pytest
import torch
import torch.multiprocessing as mp

from codec.quantizer import ResidualVQ


@pytest.fixture(scope="module")
def speech_latents(speech) -> torch.Tensor:
    """Latents of real speech from a (randomly initialised, variance-preserving) tiny encoder: [1, D, F]."""
    from codec.config import preset
    from codec.model import CodecModel

    torch.manual_seed(0)
    enc = CodecModel(preset("tiny")).encoder
    x = torch.from_numpy(speech[: len(speech) // 320 * 320]).view(1, 1, -1)
    with torch.no_grad():
        return enc(x)


def test_error_falls_strictly_with_each_codebook(speech_latents):
    """Train the RVQ alone on fixed latents, then reconstruction error must fall at every extra codebook."""
    torch.manual_seed(0)
    z = speech_latents
    D, F = z.shape[1], z.shape[2]
    rvq = ResidualVQ(dim=D, n_q=8, codebook_size=64, kmeans_iters=10, dead_threshold=0.5)
    gen = torch.Generator().manual_seed(0)
    for _ in range(300):
        idx = torch.randint(F, (256,), generator=gen)
        rvq(z[:, :, idx], n_q=8)  # training mode: k-means init, EMA updates, restarts
    rvq.eval()
    errors = []
    for n in range(1, 9):
        zq = rvq.decode(rvq.encode(z, n))
        errors.append(float((zq - z).square().mean() / z.var()))
    assert all(b < a for a, b in zip(errors, errors[1:])), errors
    assert errors[0] < 0.6 and errors[-1] < 0.5 * errors[0], errors  # the codebooks really learned the data


def test_dead_codes_are_restarted_near_the_data(speech_latents):
    torch.manual_seed(0)
    z = speech_latents[:, :, :400]
    rvq = ResidualVQ(dim=z.shape[1], n_q=1, codebook_size=32, kmeans_iters=5, dead_threshold=1.0)
    rvq(z)  # initialise
    cb = rvq.layers[0]
    far = torch.arange(5)
    cb.embed[far] = 100.0  # five codes nobody will ever pick
    cb.embed_avg[far] = 100.0 * cb.cluster_size[far].unsqueeze(1)
    cb.cluster_size[far] = 0.0  # ... and that are dead
    out = rvq(z)
    assert out.restarted >= 5
    data = z[0].t()
    nearest = torch.cdist(cb.embed[far], data).min(dim=1).values
    # each restarted code is a frame of the batch, moved a little by this step's EMA update
    assert (nearest < 0.05 * data.norm(dim=1).mean()).all(), nearest
    # restarted with the threshold's worth of EMA mass (then one EMA step of decay, or more if used)
    assert (cb.cluster_size[far] >= 0.99 - 1e-6).all()


def test_small_batches_thrash_an_absolute_dead_threshold_not_a_relative_one(speech_latents):
    """128 frames per step over 256 codes: the mean EMA usage is 0.5 frames, below the published
    absolute threshold of 2, so that rule restarts nearly every code at every step (the codebook is
    the last batch's frames); the relative rule (5 % of the mean usage) restarts only unused codes,
    and its codebooks quantize the data far better."""
    z = speech_latents
    D, F = z.shape[1], z.shape[2]
    restarts, errors = {}, {}
    for frac in (0.0, 0.05):
        torch.manual_seed(0)
        rvq = ResidualVQ(dim=D, n_q=2, codebook_size=256, kmeans_iters=5, dead_threshold=2.0, dead_fraction=frac)
        gen = torch.Generator().manual_seed(0)
        r = [rvq(z[:, :, torch.randint(F, (128,), generator=gen)]).restarted for _ in range(200)]
        restarts[frac] = sum(r[-50:]) / 50 / 2  # per codebook and step, at the end
        rvq.eval()
        errors[frac] = float((rvq.decode(rvq.encode(z, 2)) - z).square().mean() / z.var())
        if frac:
            assert rvq.layers[0].dead_limit() <= 0.05 * 128 / 256 * 1.01
    assert restarts[0.0] > 0.8 * 256 and restarts[0.05] < 0.05 * 256, restarts
    assert errors[0.05] < 0.5 * errors[0.0], errors


def test_straight_through_and_commitment(speech_latents):
    z = speech_latents[:, :, :200].clone().requires_grad_(True)
    rvq = ResidualVQ(dim=z.shape[1], n_q=3, codebook_size=16, kmeans_iters=2)
    out = rvq(z, n_q=3)
    assert out.commit_loss.item() > 0
    out.quantized.sum().backward()
    torch.testing.assert_close(z.grad, torch.ones_like(z))  # straight-through: identity gradient
    z.grad = None
    rvq(z, n_q=3).commit_loss.backward()  # commitment pulls z toward its codes
    assert z.grad.abs().sum() > 0


def test_eval_mode_does_not_touch_codebooks(speech_latents):
    rvq = ResidualVQ(dim=speech_latents.shape[1], n_q=2, codebook_size=16, kmeans_iters=2)
    rvq(speech_latents)
    rvq.eval()
    before = {k: v.clone() for k, v in rvq.state_dict().items()}
    rvq(speech_latents)
    rvq.encode(speech_latents, 2)
    assert all(torch.equal(before[k], v) for k, v in rvq.state_dict().items())


def _rank_worker(rank: int, world: int, init_file: str, out_dir: str) -> None:
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    torch.manual_seed(0)  # same construction on every rank
    rvq = ResidualVQ(dim=8, n_q=3, codebook_size=32, kmeans_iters=3, dead_threshold=1.0, seed=7)
    gen = torch.Generator().manual_seed(100 + rank)  # but different data per rank
    for _ in range(6):
        rvq(torch.randn(2, 8, 40, generator=gen) + rank, n_q=3)
    torch.save(rvq.state_dict(), os.path.join(out_dir, f"rank{rank}.pt"))
    dist.destroy_process_group()


def test_codebooks_agree_across_ranks(tmp_path):
    """k-means init, EMA statistics and dead-code restarts must leave every rank with the same codebooks."""
    # fork: no re-import of torch per rank (spawn costs ~10 s of CPU on a busy 2-core box)
    mp.start_processes(_rank_worker, args=(2, str(tmp_path / "pg"), str(tmp_path)), nprocs=2, join=True,
                       start_method="fork")
    s0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    s1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    for k in s0:
        if k.endswith("rng_counter"):
            continue
        assert torch.equal(s0[k], s1[k]), k
    assert float(s0["layers.0.inited"]) == 1.0
