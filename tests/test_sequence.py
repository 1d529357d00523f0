"""Every task: build a sequence from random segments, check markers, frames, loss span and the inverse."""

import numpy as np
import pytest

from uniaudio.sequence import build_sequence, mask_span, parse_audio, parse_sequence, parse_tokens
from uniaudio.tasks import TASKS
from uniaudio.vocab import CODEC_MODALITIES, load_vocab

V = load_vocab()


def random_segment(modality: str, rng: np.random.Generator, n_q_store: int = 4):
    n = int(rng.integers(2, 9))
    if modality in CODEC_MODALITIES:
        return rng.integers(0, 1024, size=(n, n_q_store))
    if V.is_continuous(modality):
        return rng.standard_normal((n, 384)).astype(np.float32)
    size = min(V.range(modality).size, 200)
    return rng.integers(0, size, size=n)


def random_example(task: str, seed: int = 0):
    rng = np.random.default_rng(seed)
    return {s.name: random_segment(s.modality, rng) for s in TASKS[task].segments}


@pytest.mark.parametrize("n_q", [1, 3, 4])
@pytest.mark.parametrize("task", sorted(TASKS))
def test_build_and_invert(task, n_q):
    tmpl = TASKS[task]
    ex = random_example(task, seed=len(task) + n_q)
    snapshot = {k: np.array(v, copy=True) for k, v in ex.items()}
    seq = build_sequence(task, ex, V, n_q=n_q)
    f = seq.frames
    assert f.shape[1] == n_q and f.dtype == np.int64
    assert (f[0] == V.start).all() and (f[1] == V.task_id(task)).all()
    assert (f[-1] == V.end).all()
    # every segment sits between its modality's markers
    for seg in tmpl.segments:
        a, b = seq.spans[seg.name]
        assert (f[a - 1] == V.start_of(seg.modality)).all()
        assert (f[b] == V.end_of(seg.modality)).all()
    # frames of non-audio modalities repeat one token n_q times
    for t in range(len(f)):
        if V.modality_of(int(f[t, 0])) != "codec":
            assert (f[t] == f[t, 0]).all() or (f[t] == V.mask).any()
    # loss span = target content + target end marker + <end>; prefix ends with the target start marker
    ta, tb = seq.spans["target"]
    assert seq.prefix_len == ta
    assert (f[seq.prefix_len - 1] == V.start_of(tmpl.target.modality)).all()
    assert not seq.loss_mask[: seq.prefix_len].any() and seq.loss_mask[seq.prefix_len :].all()
    assert seq.loss_mask.sum() == (tb - ta) + 2
    # continuous payload lines up with the placeholder frames
    assert (f[seq.cont_positions] == V.continuous).all()
    assert len(seq.cont_positions) == len(seq.cont_values)
    # inverse
    parsed = parse_sequence(seq, V)
    for seg in tmpl.segments:
        want = ex[seg.name][:, :n_q] if seg.modality in CODEC_MODALITIES else ex[seg.name]
        np.testing.assert_array_equal(parsed[seg.name], want)
    # inputs untouched
    for k in ex:
        np.testing.assert_array_equal(ex[k], snapshot[k])


@pytest.mark.parametrize("task", sorted(TASKS))
def test_prefix_only_matches_full_prefix(task):
    ex = random_example(task, seed=3)
    full = build_sequence(task, ex, V)
    conds = {s.name: ex[s.name] for s in TASKS[task].conditions}
    prefix = build_sequence(task, conds, V, with_target=False)
    assert prefix.prefix_len == prefix.num_frames == full.prefix_len
    np.testing.assert_array_equal(prefix.frames, full.frames[: full.prefix_len])
    assert not prefix.loss_mask.any()


def test_parse_audio_stops_at_end_marker_and_never_returns_partial_frames():
    codes = np.random.default_rng(0).integers(0, 1024, size=(6, 3))
    gen = V.codec_to_global(codes)
    end = np.full((1, 3), V.end_of("audio"))
    tail = V.codec_to_global(codes[:2])
    frames = np.concatenate([gen, end, tail])
    np.testing.assert_array_equal(parse_audio(frames, V), codes)
    # no end marker: everything is audio
    np.testing.assert_array_equal(parse_audio(gen, V), codes)
    # a wrong-codebook token is an error, not silently decoded
    bad = gen.copy()
    bad[1, 2] = bad[1, 0]
    with pytest.raises(ValueError):
        parse_audio(bad, V)


def test_parse_text_tokens():
    ids = np.array([72, 105, 33])
    frames = np.repeat(V.to_global("text", ids)[:, None], 3, axis=1)
    frames = np.concatenate([frames, np.full((1, 3), V.end_of("text")), np.full((1, 3), V.end)])
    np.testing.assert_array_equal(parse_tokens(frames, V, "text"), ids)


def test_speech_edit_mask_is_a_copy():
    codes = np.arange(30).reshape(10, 3)
    masked = mask_span(codes, 2, 5)
    assert (codes >= 0).all(), "mask_span must not modify its input"
    seq = build_sequence("speech_edit", {"phone": np.array([1, 2, 3]), "source": masked, "target": codes}, V)
    a, b = seq.spans["source"]
    src = seq.frames[a:b]
    assert (src[2:5] == V.mask).all() and not (src[:2] == V.mask).any()


@pytest.mark.parametrize(
    "segments,match",
    [
        ({"source": np.zeros((3, 2), int), "target": np.zeros((3, 3), int)}, "codec codes"),
        ({"source": np.zeros((3, 3), int)}, "missing"),
        ({"source": np.full((3, 3), 1024), "target": np.zeros((3, 3), int)}, "1024"),
    ],
)
def test_bad_segments_fail_clearly(segments, match):
    with pytest.raises(ValueError, match=match):
        build_sequence("se", segments, V)


def test_empty_phone_sequence_rejected():
    with pytest.raises(ValueError, match="empty"):
        build_sequence("plain_tts", {"phone": np.array([], int), "target": np.zeros((2, 3), int)}, V)
