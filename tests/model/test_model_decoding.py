"""KV-cache decoding == full forward, for batches whose rows have different prefix lengths.

Tolerance: fp32 on CPU, absolute 1e-4 on logits of magnitude ~1 (observed ~3e-6: the cached path
runs the same ops in a different grouping: attention over a masked, preallocated buffer).
"""

import pytest
import torch

from model_helpers import VOCAB, make_batch, small_config
from uniaudio.model import ModelBatch, OutputRules, build_model
from uniaudio.model.output_mask import END_KIND

ATOL = 1e-4


def teacher_forced_logits(model, batch, max_slots=None):
    """Drive prefill / local_logits / global_step with the batch's own target frames; return, per row,
    the cached logits of every target frame [L_b - P_b, n_q, V]."""
    frames, p, lengths = batch.frames, batch.prefix_lens, batch.lengths
    b, _, n_q = frames.shape
    state = model.prefill(frames, p, batch.cont_values, max_slots=max_slots)
    steps = int((lengths - p).max())
    out = [[] for _ in range(b)]
    rows = torch.arange(b)
    for i in range(steps):
        idx = (p + i).clamp(max=frames.shape[1] - 1)
        frame = frames[rows, idx]  # rows already past their length feed a pad frame (ignored)
        per_k = [model.local_logits(state, frame[:, k - 1] if k else None, k) for k in range(n_q)]
        logits = torch.stack(per_k, dim=1)  # [B, n_q, V]
        for r in range(b):
            if p[r] + i < lengths[r]:
                out[r].append(logits[r])
        model.global_step(state, frame)
    return [torch.stack(o) for o in out]


@pytest.mark.parametrize(
    "n_q, variant",
    [(1, {}), (2, {"attention": "prefix_lm"}), (3, {}), (3, {"attention": "prefix_lm"}),
     (3, {"positions": "learned", "max_frames": 64, "frame_embedding": "concat", "global_to_local": "chunk"}),
     (4, {})],
)
def test_kv_cache_matches_full_forward(n_q, variant):
    model = build_model(small_config(n_q=n_q, **variant)).eval()
    batch = make_batch(n_q=n_q)
    assert len(set(batch.prefix_lens.tolist())) == 4  # unequal prefix lengths -> unequal left padding
    with torch.no_grad():
        full = model(batch.frames, batch.prefix_lens, batch.cont_values)
    cached = teacher_forced_logits(model, batch, max_slots=48)
    for r, got in enumerate(cached):
        p, n = int(batch.prefix_lens[r]), int(batch.lengths[r])
        torch.testing.assert_close(got, full[r, p:n], atol=ATOL, rtol=0)


def test_batched_decoding_equals_one_row_at_a_time():
    model = build_model(small_config()).eval()
    batch = make_batch()
    together = teacher_forced_logits(model, batch)
    for r in range(4):
        n = int(batch.lengths[r])
        single = ModelBatch(batch.frames[r : r + 1, :n], batch.loss_mask[r : r + 1, :n], batch.prefix_lens[r : r + 1],
                            batch.lengths[r : r + 1], batch.cont_values[r : r + 1, :n])
        alone = teacher_forced_logits(model, single)[0]
        torch.testing.assert_close(alone, together[r], atol=ATOL, rtol=0)


def test_greedy_masked_generation_respects_the_output_rules():
    """A minimal generator loop (argmax under the allowed mask) yields well-formed audio frames."""
    model = build_model(small_config()).eval()
    rules = OutputRules(VOCAB, 3)
    batch = make_batch(tasks=("tts", "text_to_sound"))
    state = model.prefill(batch.frames, batch.prefix_lens, batch.cont_values, max_slots=40)
    audio = rules.allowed[rules.kind_index("audio")]
    for _ in range(5):
        toks = []
        for k in range(3):
            logits = model.local_logits(state, toks[-1] if toks else None, k)
            toks.append(logits.masked_fill(~audio[k], float("-inf")).argmax(-1))
        frame = torch.stack(toks, -1)
        for k in range(3):
            assert audio[k, frame[:, k]].all()
        assert not (frame[:, 1:] == VOCAB.end_of("audio")).any()  # the end marker only ever at k = 0
        model.global_step(state, frame)
    assert rules.allowed[END_KIND].sum() == 3


def test_decoding_errors_are_clear():
    model = build_model(small_config()).eval()
    batch = make_batch(tasks=("sv",))
    with pytest.raises(ValueError, match="max_slots"):
        model.prefill(batch.frames, batch.prefix_lens, max_slots=int(batch.prefix_lens[0]) + 1)
    with pytest.raises(ValueError, match="prefix_lens"):
        model.prefill(batch.frames, batch.prefix_lens * 0)
    with pytest.raises(ValueError, match="n_q"):
        model.prefill(batch.frames[..., :2], batch.prefix_lens)
    state = model.prefill(batch.frames, batch.prefix_lens, max_slots=int(batch.prefix_lens[0]) + 2)
    with pytest.raises(ValueError, match="position 0"):
        model.local_logits(state, None, 1)
    model.global_step(state, batch.frames[:, 0])
    with pytest.raises(ValueError, match="full"):
        model.global_step(state, batch.frames[:, 0])


def test_bf16_autocast_caches_and_logits():
    """Under bf16 autocast (as on GPU; CPU autocast here) the caches take bf16 and the cached logits
    stay within bf16 rounding (2e-2 on logits of magnitude < 1) of the full forward pass."""
    model = build_model(small_config()).eval()
    batch = make_batch()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        full = model(batch.frames, batch.prefix_lens, batch.cont_values)
        assert model.prefill(batch.frames, batch.prefix_lens, batch.cont_values).global_kv[0].k.dtype == torch.bfloat16
        cached = teacher_forced_logits(model, batch)
    for r, got in enumerate(cached):
        p, n = int(batch.prefix_lens[r]), int(batch.lengths[r])
        torch.testing.assert_close(got.float(), full[r, p:n].float(), atol=2e-2, rtol=0)
