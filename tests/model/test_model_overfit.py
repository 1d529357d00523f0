"""A tiny model memorises one batch of real sequences (4 tasks: audio, continuous, text, label targets)."""

import math

import torch

from model_helpers import VOCAB, make_batch
from uniaudio.model import OutputRules, build_model, get_preset, lm_loss


def test_tiny_model_overfits_one_batch():
    batch = make_batch(("tts", "text_to_sound", "asr", "sv"), seed=3)
    model = build_model(get_preset("tiny").model_copy(update={"dropout": 0.1}))
    rules = OutputRules(VOCAB, 3)
    opt = torch.optim.AdamW(model.parameters(), lr=5e-3, weight_decay=0.0, fused=True)
    first = None
    for _ in range(60):
        out = lm_loss(model, batch, rules)
        first = first if first is not None else out.loss.item()
        opt.zero_grad(set_to_none=True)
        out.loss.backward()
        opt.step()
    assert abs(first - math.log(1024)) < 0.1  # starts at chance under the codebook mask
    model.eval()
    with torch.no_grad():
        final = lm_loss(model, batch, rules).scalars()
    assert final["loss"] < 0.05, final
    assert final["acc"] == 1.0 and all(final[f"acc_c{k}"] == 1.0 for k in range(3))
