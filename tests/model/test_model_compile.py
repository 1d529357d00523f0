"""torch.compile-friendliness: the training loss and the decoding steps trace as single graphs
(``fullgraph=True`` fails on any graph break, e.g. Python branching on tensor values)."""

import pytest
import torch

from model_helpers import VOCAB, make_batch, small_config
from uniaudio.model import OutputRules, build_model, decoding, lm_loss


@pytest.mark.slow
def test_training_loss_and_decoding_steps_compile_without_graph_breaks():
    model = build_model(small_config(attention="prefix_lm"))
    batch = make_batch()
    rules = OutputRules(VOCAB, 3)
    loss_fn = torch.compile(lambda m, b: lm_loss(m, b, rules, local_frames="all").loss, backend="eager", fullgraph=True)
    assert loss_fn(model, batch).item() == pytest.approx(lm_loss(model, batch, rules).loss.item(), rel=1e-5)

    model.eval()
    state = model.prefill(batch.frames, batch.prefix_lens, batch.cont_values, max_slots=40)
    step = torch.compile(decoding.global_step, backend="eager", fullgraph=True)
    local = torch.compile(decoding.local_logits, backend="eager", fullgraph=True)
    frame = batch.frames[:, 5]
    for _ in range(2):
        logits = [local(model, state, frame[:, k - 1] if k else None, k) for k in range(3)]
        assert all(torch.isfinite(x).all() for x in logits)
        step(model, state, frame)
