"""Output rules (allowed ids), informative-token weights and the masked loss."""

import math

import pytest
import torch

from model_helpers import VOCAB, make_batch, make_sequences, small_config
from uniaudio.model import OutputRules, allowed_mask, build_model, collate, end_frame_mask, lm_loss, masked_token_loss
from uniaudio.model.output_mask import END_KIND, TARGET_MODALITIES
from uniaudio.tasks import TASKS


@pytest.mark.parametrize("n_q", [1, 2, 3, 4])
def test_allowed_mask_audio(n_q):
    m = allowed_mask("audio", n_q, VOCAB)
    end = VOCAB.end_of("audio")
    for k in range(n_q):
        r = VOCAB.codebook_range(k)
        assert m[k, r.start : r.stop].all()
        assert int(m[k].sum()) == 1024 + (k == 0)
        assert bool(m[k, end]) == (k == 0)
        assert not m[k, VOCAB.mask] and not m[k, VOCAB.end]


@pytest.mark.parametrize("modality", ["text", "label"])
def test_allowed_mask_tokens(modality):
    m = allowed_mask(modality, 3, VOCAB)
    r = VOCAB.range(modality)
    assert int(m[0].sum()) == r.size + 1 and m[0, VOCAB.end_of(modality)]
    assert int(m[2].sum()) == r.size and not m[2, VOCAB.end_of(modality)]
    e = end_frame_mask(3, VOCAB)
    assert e.sum() == 3 and e[:, VOCAB.end].all()


def test_every_task_gets_its_target_kind():
    rules = OutputRules(VOCAB, 3)
    for name, task in TASKS.items():
        from uniaudio.sequence import build_sequence  # local: only this test needs the generic builder

        segs = {}
        for s in task.segments:
            if s.modality in ("audio", "audio_prompt"):
                segs[s.name] = torch.randint(0, 1024, (3, 3)).numpy()
            elif VOCAB.is_continuous(s.modality):
                segs[s.name] = torch.randn(2, 384).numpy()
            else:
                segs[s.name] = torch.randint(0, 2, (3,)).numpy()
        b = collate([build_sequence(name, segs, VOCAB)], VOCAB, cont_dim=384)
        kind = int(rules.row_kinds(b.frames, b.prefix_lens)[0])
        assert TARGET_MODALITIES[kind] == task.target.modality, name


def test_informative_tokens_per_target_kind():
    seqs = make_sequences(("tts", "asr", "sv"), target_frames=6)
    b = collate(seqs, VOCAB, cont_dim=384)
    rules = OutputRules(VOCAB, 3)
    kinds = rules.frame_kinds(b.frames, b.prefix_lens)
    inf = rules.informative(b.frames, b.loss_mask, kinds)
    assert inf.sum((1, 2)).tolist() == [3 * 6 + 1, 4 + 1, 1 + 1]  # audio: 3/frame + end marker; text/label: 1/frame
    assert not inf[..., 1:][kinds != rules.kind_index("audio")].any()
    for r in range(3):  # the <end> frame carries no loss; the end marker counts at position 0 only
        last = int(b.lengths[r]) - 1
        assert kinds[r, last] == END_KIND and not inf[r, last].any()
        assert inf[r, last - 1].tolist() == [True, False, False]
        assert not inf[r, : b.prefix_lens[r]].any()


def test_masked_loss_matches_an_explicit_restricted_softmax():
    b = make_batch(("tts",))
    rules = OutputRules(VOCAB, 3)
    model = build_model(small_config())
    out = lm_loss(model, b, rules, local_frames="all")
    logits = model(b.frames, b.prefix_lens, b.cont_values)[0]
    total, count = 0.0, 0
    p, n = int(b.prefix_lens[0]), int(b.lengths[0])
    end = VOCAB.end_of("audio")
    for t in range(p, n - 1):  # content frames and the end-marker frame; not the <end> frame
        for k in range(3 if b.frames[0, t, 0] != end else 1):
            ids = list(range(VOCAB.codebook_range(k).start, VOCAB.codebook_range(k).stop)) + ([end] if k == 0 else [])
            sub = logits[t, k, ids]
            label = ids.index(int(b.frames[0, t, k]))
            total += float((torch.logsumexp(sub, 0) - sub[label]).detach())
            count += 1
    assert out.metrics["n_tokens"] == count
    assert out.loss.item() == pytest.approx(total / count, rel=1e-5)
    assert out.loss.item() == pytest.approx(math.log(1024), abs=0.05)  # an untrained model is uniform-ish


def test_loss_frames_only_equals_all_frames_and_padding_is_ignored():
    b = make_batch()
    rules = OutputRules(VOCAB, 3)
    model = build_model(small_config(attention="prefix_lm"))
    a = lm_loss(model, b, rules, local_frames="all")
    c = lm_loss(model, b, rules, local_frames="loss")
    padded = collate(make_sequences(), VOCAB, cont_dim=384, pad_to=int(b.lengths.max()) + 7)
    d = lm_loss(model, padded, rules)
    for other in (c, d):
        assert other.loss.item() == pytest.approx(a.loss.item(), rel=1e-5)
        assert other.scalars()["acc_c2"] == pytest.approx(a.scalars()["acc_c2"])
    with pytest.raises(ValueError, match="local_frames"):
        lm_loss(model, b, rules, local_frames="some")


def test_first_codebook_weight_and_gradients():
    logits = torch.randn(4, 3, VOCAB.size, requires_grad=True)
    labels = torch.stack([torch.tensor(VOCAB.codebook_range(k).start + 5).repeat(4) for k in range(3)], 1)
    allowed = allowed_mask("audio", 3, VOCAB).expand(4, 3, -1)
    inf = torch.ones(4, 3, dtype=torch.bool)
    plain = masked_token_loss(logits, labels, allowed, inf)
    heavy = masked_token_loss(logits, labels, allowed, inf, first_codebook_weight=3.0)
    m = plain.metrics
    expected = (3 * m["loss_c0"] + m["loss_c1"] + m["loss_c2"]) / 5
    assert heavy.loss.item() == pytest.approx(float(expected), rel=1e-5)
    heavy.loss.backward()
    assert torch.isfinite(logits.grad).all()
    assert logits.grad[~allowed].abs().max() == 0  # no gradient reaches ids decoding would never emit


def test_a_label_outside_the_rules_is_reported():
    b = make_batch(("tts",))
    p = int(b.prefix_lens[0])
    b.frames[0, p, 1] = VOCAB.range("phone").start  # a phone id where codebook 1 must be
    out = lm_loss(build_model(small_config()), b, OutputRules(VOCAB, 3))
    assert out.metrics["n_disallowed"] == 1 and math.isinf(out.loss.item())


@pytest.mark.parametrize("local_frames", ["loss", "all"])
@pytest.mark.parametrize("weight", [1.0, 2.5])
def test_allowed_ids_head_equals_the_full_masked_head(local_frames, weight):
    """Scoring only the allowed ids is the same loss, metrics, per-row stats and gradients as
    scoring all V ids and masking (mixed audio / text / label targets)."""
    b = make_batch()
    rules = OutputRules(VOCAB, 3)
    torch.manual_seed(3)
    model = build_model(small_config(attention="prefix_lm"))
    outs, grads = {}, {}
    for head in ("full", "allowed"):
        model.zero_grad(set_to_none=True)
        out = lm_loss(model, b, rules, first_codebook_weight=weight, local_frames=local_frames, head=head)
        out.loss.backward()
        outs[head], grads[head] = out, {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    full, sub = outs["full"], outs["allowed"]
    assert sub.loss.item() == pytest.approx(full.loss.item(), rel=1e-6)
    assert sub.weight_sum.item() == full.weight_sum.item()
    for k, v in full.scalars().items():
        assert sub.scalars()[k] == pytest.approx(v, rel=1e-5, abs=1e-7), k
    torch.testing.assert_close(sub.row_stats, full.row_stats, rtol=1e-5, atol=1e-6)
    assert grads["full"].keys() == grads["allowed"].keys()
    for n, g in grads["full"].items():
        torch.testing.assert_close(grads["allowed"][n], g, rtol=1e-4, atol=1e-7, msg=n)
    with pytest.raises(ValueError, match="head"):
        lm_loss(model, b, rules, head="some")
