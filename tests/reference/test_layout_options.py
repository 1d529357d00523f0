"""The ModelConfig option the published layout needs: ``key_bias=False`` (no bias on the key projection)."""

from __future__ import annotations

import torch

from uniaudio.model import ModelConfig, build_model, count_params, params_by_part


def _cfg(**kw) -> ModelConfig:
    base = dict(d_model=48, n_layer=2, n_head=2, n_local_layer=1, frame_embedding="concat", global_to_local="chunk",
                positions="learned", max_frames=64, attention="causal", cont_dim=768, key_bias=False)
    return ModelConfig(**{**base, **kw})


def test_analytic_count_without_key_bias():
    cfg = _cfg()
    assert params_by_part(build_model(cfg, "meta")) == count_params(cfg)
    with_bias = count_params(_cfg(key_bias=True))["total"]
    assert with_bias - count_params(cfg)["total"] == (cfg.n_layer + cfg.n_local_layer) * cfg.d_model


def test_key_stays_without_bias_while_training():
    torch.manual_seed(0)
    model = build_model(_cfg())
    qkv = model.global_stack.blocks[0].attn.qkv
    with torch.no_grad():
        qkv.q_bias.fill_(0.3)
        qkv.v_bias.fill_(-0.2)
    x = torch.randn(2, 5, 48)
    d = 48
    out = qkv(x)
    ref = x @ qkv.weight.T
    assert torch.allclose(out[..., :d], ref[..., :d] + 0.3, atol=1e-6)
    assert torch.allclose(out[..., d:2 * d], ref[..., d:2 * d], atol=1e-6)  # the key: no bias at all
    assert torch.allclose(out[..., 2 * d:], ref[..., 2 * d:] - 0.2, atol=1e-6)
    frames = torch.randint(256, 1280, (2, 4, 3))
    model(frames).float().logsumexp(-1).mean().backward()
    assert qkv.q_bias.grad is not None and qkv.v_bias.grad is not None
    assert not any(n.endswith("qkv.bias") for n, _ in model.named_parameters())
