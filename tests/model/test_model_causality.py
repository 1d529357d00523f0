"""Causality of the global and local stacks, and the prefix-LM mask, over shapes and options."""

import pytest
import torch

from model_helpers import make_batch, small_config
from uniaudio.model import build_model

VARIANTS = [
    {},
    {"frame_embedding": "concat", "global_to_local": "chunk"},
    {"positions": "learned", "max_frames": 64},
    {"attention": "prefix_lm"},
]


def perturb(frames: torch.Tensor, where: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Replace the selected tokens by other codec ids (always a different id)."""
    noise = torch.randint(256, 256 + 1024, frames.shape, generator=gen)
    noise = torch.where(noise == frames, noise + 1, noise)
    return torch.where(where, noise, frames)


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: "-".join(f"{k}={x}" for k, x in v.items()) or "default")
@pytest.mark.parametrize("n_q", [1, 2, 3, 4])
def test_future_frames_do_not_change_past_logits(n_q, variant):
    model = build_model(small_config(n_q=n_q, **variant)).eval()
    batch = make_batch(n_q=n_q)
    frames, p = batch.frames, batch.prefix_lens
    gen = torch.Generator().manual_seed(1)
    t = int(p.max()) + 1  # inside every row's target (after the prefix block, so prefix-LM is causal here)
    with torch.no_grad():
        ref = model(frames, p, batch.cont_values)
        pos = torch.arange(frames.shape[1])[None, :, None]
        later = perturb(frames, (pos > t).expand_as(frames), gen)
        out = model(later, p, batch.cont_values)
        torch.testing.assert_close(ref[:, : t + 1], out[:, : t + 1], atol=1e-6, rtol=0)
        assert (ref[:, t + 2 :] - out[:, t + 2 :]).abs().max() > 1e-3  # the test can fail

        # global: frame t itself is not seen by the global state of position t
        h_ref = model.global_hidden(frames, p, batch.cont_values)
        same_t = perturb(frames, (pos == t).expand_as(frames), gen)
        h_out = model.global_hidden(same_t, p, batch.cont_values)
        torch.testing.assert_close(h_ref[:, : t + 1], h_out[:, : t + 1], atol=1e-6, rtol=0)
        assert (h_ref[:, t + 1] - h_out[:, t + 1]).abs().max() > 1e-4

        # local: token k of frame t only reaches local positions > k of that frame
        for k in range(n_q):
            tok = torch.zeros_like(frames, dtype=torch.bool)
            tok[:, t, k] = True
            out = model(perturb(frames, tok, gen), p, batch.cont_values)
            torch.testing.assert_close(ref[:, t, : k + 1], out[:, t, : k + 1], atol=1e-6, rtol=0)
            if k + 1 < n_q:
                assert (ref[:, t, k + 1 :] - out[:, t, k + 1 :]).abs().max() > 1e-4


@pytest.mark.parametrize("n_q", [1, 3])
def test_prefix_lm_prefix_sees_itself_never_the_target(n_q):
    batch = make_batch(n_q=n_q)
    frames, p = batch.frames, batch.prefix_lens
    gen = torch.Generator().manual_seed(2)
    pos = torch.arange(frames.shape[1])[None, :, None]
    p_min = int(p.min())
    late_prefix = perturb(frames, (pos == p_min - 2).expand_as(frames), gen)  # a prefix frame of every row
    target = perturb(frames, (pos >= p[:, None, None]).expand_as(frames), gen)  # every target frame
    for attention, sees_later_prefix in (("prefix_lm", True), ("causal", False)):
        model = build_model(small_config(n_q=n_q, attention=attention)).eval()
        with torch.no_grad():
            ref = model.global_hidden(frames, p, batch.cont_values)
            h_late = model.global_hidden(late_prefix, p, batch.cont_values)
            h_tgt = model.global_hidden(target, p, batch.cont_values)
        early = ref[:, 1 : p_min - 2] - h_late[:, 1 : p_min - 2]  # positions holding earlier prefix frames
        assert (early.abs().max() > 1e-4) == sees_later_prefix
        for b in range(frames.shape[0]):  # prefix positions [0, prefix_len] never see a target frame
            torch.testing.assert_close(ref[b, : p[b] + 1], h_tgt[b, : p[b] + 1], atol=1e-6, rtol=0)
