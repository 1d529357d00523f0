"""The batched decoding loop on a random small model: batch == one-by-one, end-marker handling (never a
partial frame), min / max length, greedy determinism, compaction, repeated-token targets."""

import numpy as np
import pytest
import torch

from gen_helpers import VOCAB
from uniaudio.generate.decoder import RowSpec, generate
from uniaudio.generate.sampling import SamplingConfig
from uniaudio.sequence import build_sequence, parse_audio

AUDIO_END = VOCAB.end_of("audio")


def prefixes(seed=0):
    rng = np.random.default_rng(seed)
    codes = lambda n: rng.integers(0, 1024, (n, 3))  # noqa: E731
    return {
        "tts": build_sequence("tts", {"phone": rng.integers(0, 100, 7), "prompt": codes(5)}, VOCAB, with_target=False),
        "se": build_sequence("se", {"source": codes(11)}, VOCAB, with_target=False),
        "text_to_sound": build_sequence("text_to_sound", {"caption": rng.standard_normal((3, 384)).astype(np.float32)},
                                        VOCAB, with_target=False),
        "asr": build_sequence("asr", {"source": codes(4)}, VOCAB, with_target=False),
    }


def mixed_rows(min_frames=2, seed=0):
    p = prefixes(seed)
    mods = {"tts": "audio", "se": "audio", "text_to_sound": "audio", "asr": "text"}
    return [RowSpec(p[t], mods[t], min_frames, 6 + 3 * i, seed=100 + i) for i, t in enumerate(p)]


def boost_end(positions, amount=1e4):
    """Test hook: make the audio end marker overwhelmingly likely at the given local positions."""
    def hook(logits, k, t):
        if k in positions:
            logits = logits.clone()
            logits[:, AUDIO_END] += amount
        return logits
    return hook


def check_audio_frames(frames):
    assert frames.ndim == 2 and frames.shape[1] == 3  # whole frames only
    for k in range(3):
        r = VOCAB.codebook_range(k)
        assert ((frames[:, k] >= r.start) & (frames[:, k] < r.stop)).all(), f"codebook {k} out of range"
    assert parse_audio(frames, VOCAB).shape == frames.shape


def test_batch_equals_one_by_one(model):
    cfg = SamplingConfig(top_k=20, top_p=0.95, temperature=1.0)
    rows = mixed_rows()
    together = generate(model, rows, cfg)
    for row, got in zip(rows, together):
        (alone,) = generate(model, [row], cfg)
        assert np.array_equal(alone.frames, got.frames) and alone.stop == got.stop
    reordered = generate(model, rows[::-1], cfg)[::-1]
    assert all(np.array_equal(a.frames, b.frames) for a, b in zip(reordered, together))


def test_mid_frame_end_marker_is_never_drawn(model):
    """The reference's bug: an end marker drawn at k > 0 cut a frame short. Pushing it at k = 1, 2 must
    change nothing: it is not allowed there, so every row runs to max_frames with whole frames."""
    rows = [r for r in mixed_rows() if r.modality == "audio"]
    outs = generate(model, rows, SamplingConfig(temperature=1.0, top_k=0), logits_hook=boost_end({1, 2}))
    for row, out in zip(rows, outs):
        assert out.stop == "max_frames" and out.frames.shape == (row.max_frames, 3)
        assert not (out.frames == AUDIO_END).any()
        check_audio_frames(out.frames)
    # the hook does bite: under the reference's rule (end marker allowed at every position) it is drawn
    ref_rule = torch.zeros(3, VOCAB.size, dtype=torch.bool)
    for k in range(3):
        r = VOCAB.codebook_range(k)
        ref_rule[k, r.start : r.stop] = True
    ref_rule[:, AUDIO_END] = True
    buggy = [RowSpec(r.prefix, r.modality, r.min_frames, r.max_frames, r.seed, allowed=ref_rule) for r in rows]
    outs = generate(model, buggy, SamplingConfig(temperature=1.0, top_k=0), logits_hook=boost_end({1, 2}))
    assert all((o.frames[:, 1:] == AUDIO_END).all() for o in outs)


def test_end_marker_at_position_zero_ends_after_min_frames(model):
    rows = [r for r in mixed_rows(min_frames=4) if r.modality == "audio"]
    outs = generate(model, rows, SamplingConfig(), logits_hook=boost_end({0, 1, 2}))
    for out in outs:
        assert out.stop == "eos" and out.frames.shape == (4, 3)  # ended at the first allowed frame
        check_audio_frames(out.frames)


def test_min_and_max_length_are_respected(model):
    p = prefixes()["se"]
    rows = [RowSpec(p, "audio", lo, hi, seed=s) for s, (lo, hi) in enumerate([(0, 1), (3, 3), (2, 9), (5, 7)])]
    outs = generate(model, rows, SamplingConfig(temperature=1.5, top_k=0))
    for row, out in zip(rows, outs):
        assert row.min_frames <= len(out.frames) <= row.max_frames
        if out.stop == "max_frames":
            assert len(out.frames) == row.max_frames
        if len(out.frames):
            check_audio_frames(out.frames)
    assert outs[1].frames.shape == (3, 3)


def test_greedy_is_deterministic_and_matches_argmax(model):
    rows = mixed_rows()
    a = generate(model, rows, SamplingConfig(top_k=1))
    b = generate(model, [RowSpec(r.prefix, r.modality, r.min_frames, r.max_frames, seed=r.seed + 7) for r in rows],
                 SamplingConfig(top_k=1, temperature=2.0))
    assert all(np.array_equal(x.frames, y.frames) for x, y in zip(a, b))  # seeds and temperature do not matter
    # first frame of the se row, by hand: argmax of the masked local logits, position by position
    row = rows[1]
    state = model.prefill(torch.from_numpy(row.prefix.frames)[None], torch.tensor([row.prefix.prefix_len]), None,
                          max_slots=row.prefix.prefix_len + 4)
    prev = None
    for k in range(3):
        r = VOCAB.codebook_range(k)
        logits = model.local_logits(state, prev, k)[0]
        prev = (logits[r.start : r.stop].argmax() + r.start)[None]
        assert int(prev) == a[1].frames[0, k]


def test_compaction_changes_nothing(model):
    cfg = SamplingConfig(temperature=1.0)
    rows = [RowSpec(r.prefix, r.modality, 1, m, r.seed) for r, m in zip(mixed_rows() * 2, [2, 3, 12, 4, 2, 14, 3, 5])]
    compact = generate(model, rows, cfg, compact=True)
    static = generate(model, rows, cfg, compact=False)
    assert all(np.array_equal(x.frames, y.frames) and x.stop == y.stop for x, y in zip(compact, static))


def test_text_targets_repeat_their_token_and_stay_in_range(model):
    rows = [r for r in mixed_rows() if r.modality == "text"]
    (out,) = generate(model, rows, SamplingConfig(temperature=1.0, top_k=0))
    assert len(out.frames) >= 2 and (out.frames == out.frames[:, :1]).all()
    r = VOCAB.range("text")
    assert ((out.frames >= r.start) & (out.frames < r.stop)).all()


def test_bad_rows_are_clear_errors(model):
    p = prefixes()["se"]
    with pytest.raises(ValueError, match="min_frames"):
        generate(model, [RowSpec(p, "audio", 5, 2, seed=0)], SamplingConfig())
    with pytest.raises(ValueError, match="no rows"):
        generate(model, [], SamplingConfig())
    wide = build_sequence("text_to_sound", {"caption": np.zeros((2, 768), np.float32)}, VOCAB, with_target=False)
    with pytest.raises(ValueError, match="width"):
        generate(model, [RowSpec(wide, "audio", 1, 2, seed=0)], SamplingConfig())
