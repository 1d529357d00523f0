"""Sampling policy: greedy, top-k / top-p cuts, exact sampling distribution, counter-based noise."""

import numpy as np
import pytest
import torch

from uniaudio.config import ConfigError, load_config
from uniaudio.generate.sampling import (
    SamplingConfig,
    request_seed,
    sample_tokens,
    seed_keys,
    seed_pair,
    uniform_noise,
)

T0 = torch.zeros(1, dtype=torch.long)


def draws(logits, cfg, n=4000):
    """Draw once for each of n seeds (one row per seed) from the same logits."""
    rows = logits.expand(n, -1).clone()
    return sample_tokens(rows, cfg, seed_keys(torch.arange(n)), T0, 0)


def test_top_k_1_and_zero_temperature_are_greedy_and_deterministic():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(16, 50, generator=g)
    seeds = seed_keys(torch.arange(16))
    for cfg in (SamplingConfig(top_k=1, temperature=1.3), SamplingConfig(temperature=0.0, top_k=0)):
        a = sample_tokens(logits, cfg, seeds, T0, 0)
        b = sample_tokens(logits, cfg, seed_keys(torch.arange(100, 116)), T0 + 5, 2)
        assert torch.equal(a, logits.argmax(-1)) and torch.equal(a, b)


def test_samples_follow_the_tempered_softmax():
    logits = torch.tensor([[2.0, 1.0, 0.0, -1.0, float("-inf")]])
    for temp in (1.0, 0.5):
        got = torch.bincount(draws(logits, SamplingConfig(top_k=0, temperature=temp)), minlength=5).float() / 4000
        want = torch.softmax(logits / temp, -1)[0]
        assert got[4] == 0  # a disallowed id is never drawn
        assert (got - want).abs().max() < 0.03, (got, want)


def test_top_k_and_top_p_cut_the_candidates():
    logits = torch.log(torch.tensor([[0.4, 0.3, 0.2, 0.06, 0.04]]))
    top2 = set(draws(logits, SamplingConfig(top_k=2, temperature=1.0)).tolist())
    assert top2 == {0, 1}
    # nucleus 0.75: 0.4 + 0.3 = 0.7 < 0.75, so the third (0.2) is still needed; the rest is cut
    nucleus = torch.bincount(draws(logits, SamplingConfig(top_k=0, top_p=0.75, temperature=1.0)), minlength=5)
    assert nucleus[3:].sum() == 0 and (nucleus[:3] > 0).all()
    probs = nucleus[:3].float() / nucleus.sum()
    assert (probs - torch.tensor([0.4, 0.3, 0.2]) / 0.9).abs().max() < 0.03
    tiny_p = draws(logits, SamplingConfig(top_k=0, top_p=0.01, temperature=1.0))
    assert set(tiny_p.tolist()) == {0}  # the best candidate always survives


def test_noise_is_a_function_of_seed_frame_position_and_token():
    ids = torch.arange(1000).expand(3, -1)
    seeds = seed_keys(torch.tensor([1, 2, 1]))
    u = uniform_noise(seeds, T0, 0, ids)
    assert torch.equal(u[0], u[2]) and not torch.equal(u[0], u[1])
    assert not torch.equal(u[0], uniform_noise(seeds, T0 + 1, 0, ids)[0])
    assert not torch.equal(u[0], uniform_noise(seeds, T0, 1, ids)[0])
    assert ((u > 0) & (u < 1)).all()
    flat = uniform_noise(seed_keys(torch.arange(50)), T0, 0, torch.arange(2000).expand(50, -1)).flatten()
    hist = torch.histc(flat, bins=10, min=0, max=1) / flat.numel()
    assert (hist - 0.1).abs().max() < 0.005  # uniform: 100k draws, each bin within 5 % of 1/10
    assert abs(float(torch.corrcoef(torch.stack([flat[:-1], flat[1:]]))[0, 1])) < 0.01


def test_a_rows_draw_does_not_depend_on_its_batch():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(6, 300, generator=g)
    seeds = torch.tensor([11, 22, 33, 44, 55, 66])
    cfg = SamplingConfig(top_k=40, top_p=0.9, temperature=1.0)
    together = sample_tokens(logits, cfg, seed_keys(seeds), T0, 1)
    for i in (0, 3, 5):
        alone = sample_tokens(logits[i : i + 1], cfg, seed_keys(seeds[i : i + 1]), T0, 1)
        assert int(alone) == int(together[i])
    rev = sample_tokens(logits.flip(0), cfg, seed_keys(seeds.flip(0)), T0, 1)
    assert torch.equal(rev.flip(0), together)


def test_request_seed_and_config_validation():
    assert request_seed(0, "a") == request_seed(0, "a") != request_seed(0, "b") != request_seed(1, "b")
    assert 0 <= request_seed(7, "x") < 2**63
    for bad in ("top_p=0", "top_k=-1", "temperature=-0.5"):
        with pytest.raises(ConfigError):
            load_config(SamplingConfig, overrides=[bad])
    big = seed_pair(torch.tensor([2**62 + 12345]))
    assert big.tolist() == [[(2**62 + 12345) & 0xFFFFFFFF, (2**62) >> 32]]
    assert np.isfinite(uniform_noise(seed_keys(torch.tensor([2**62 + 12345])), T0, 0, torch.arange(5)[None]).numpy()).all()


def test_scoring_a_column_subset_draws_the_same_token():
    """The decoder scores only the ids allowed somewhere in its batch; noise keyed by token id makes
    that invisible."""
    g = torch.Generator().manual_seed(2)
    logits = torch.randn(8, 300, generator=g)
    logits[:, :50] = float("-inf")
    logits[:, 120:] = float("-inf")
    keys = seed_keys(torch.arange(8))
    cols = torch.arange(40, 130)
    for cfg in (SamplingConfig(top_k=0, temperature=1.0), SamplingConfig(top_k=10, top_p=0.8), SamplingConfig(top_k=1)):
        full = sample_tokens(logits, cfg, keys, T0 + 3, 2)
        sub = sample_tokens(logits[:, cols], cfg, keys, T0 + 3, 2, ids=cols)
        assert torch.equal(full, sub) and ((full >= 50) & (full < 120)).all()
