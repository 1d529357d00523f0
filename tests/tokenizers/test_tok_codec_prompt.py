"""Codec-token adapter against the real codec (tiny preset, random weights) and the 3-s prompt rule."""

import numpy as np
import pytest

from uniaudio.tokenizers import CodecTokConfig, CodecTokenizer, PromptChoice, SpeakerIndex, TokenizeError, TokenizerUnavailable
from uniaudio.tokenizers.codec_tokens import _length_batches


@pytest.fixture(scope="module")
def tiny_codec_dir(tmp_path_factory):
    import torch

    from codec.config import preset
    from codec.export import export_codec
    from codec.model import CodecModel

    torch.manual_seed(0)
    cfg = preset("tiny")
    return str(export_codec(CodecModel(cfg), cfg, tmp_path_factory.mktemp("codec")))


def test_codec_adapter_shapes_order_and_batching(tiny_codec_dir, librivox_wavs):
    from uniaudio.vocab import load_vocab

    wavs = [librivox_wavs[1][:16000], librivox_wavs[4], librivox_wavs[1][:321], librivox_wavs[1][:3000]]
    small_batches = CodecTokenizer(CodecTokConfig(max_batch_samples=40_000), codec_dir=tiny_codec_dir)
    out = small_batches.tokenize_batch(wavs)
    assert [o.shape for o in out] == [(50, 3), (-(-len(wavs[1]) // 320), 3), (2, 3), (10, 3)]
    from uniaudio.tokenizers import num_frames

    assert [o.shape[0] for o in out] == [num_frames(len(w)) for w in wavs]  # the semantic/singing grid
    assert all(o.dtype == np.int16 and o.min() >= 0 and o.max() < 1024 for o in out)
    one_batch = CodecTokenizer(CodecTokConfig(), codec_dir=tiny_codec_dir).tokenize_batch(wavs)
    alone = [small_batches.tokenize(w) for w in wavs]
    for a, b, c in zip(out, one_batch, alone):
        assert np.mean(a == b) >= 0.995 and np.mean(a == c) >= 0.995
    assert np.array_equal(out[0], small_batches.tokenize(wavs[0]))
    v = load_vocab()
    assert v.codec_to_global(out[0]).shape == (50, 3)  # the store/vocab contract: [F, n_q] local codes
    assert small_batches.version == CodecTokenizer(CodecTokConfig(n_q=3), codec_dir=tiny_codec_dir).version
    assert CodecTokenizer(CodecTokConfig(n_q=2), codec_dir=tiny_codec_dir).version != small_batches.version


def test_codec_adapter_errors(tiny_codec_dir, tmp_path):
    tok = CodecTokenizer(codec_dir=tiny_codec_dir)
    with pytest.raises(TokenizeError) as err:
        tok.tokenize_batch([np.zeros(100, np.float32), np.zeros(0, np.float32)])
    assert err.value.reason == "bad_audio"
    with pytest.raises(TokenizeError):
        tok.tokenize(np.array([0.0, np.nan], np.float32))
    with pytest.raises(TokenizerUnavailable, match="does not exist"):
        CodecTokenizer(codec_dir=str(tmp_path / "none")).tokenize(np.zeros(320, np.float32))
    with pytest.raises(TokenizerUnavailable, match="no codec checkpoint"):
        CodecTokenizer().check()
    with pytest.raises(TokenizerUnavailable, match="codebooks"):
        CodecTokenizer(CodecTokConfig(n_q=16), codec_dir=tiny_codec_dir).tokenize(np.zeros(320, np.float32))


def test_length_batches_budget():
    lengths = [100, 5000, 300, 200, 4000]
    batches = _length_batches(lengths, 1000)
    assert sorted(i for b in batches for i in b) == list(range(5))
    assert all(len(b) * max(lengths[i] for i in b) <= 1000 or len(b) == 1 for b in batches)


ROWS = [("a1", "A", 400), ("a2", "A", 200), ("a3", "A", 100), ("b1", "B", 500), ("c1", "C", 100), ("c2", "C", 80), ("n1", None, 300)]


def test_prompt_never_target_and_prefers_long():
    idx = SpeakerIndex(ROWS)
    for seed in range(200):
        for utt in ("a1", "a2", "a3"):
            c = idx.pick(utt, seed)
            assert c.utt_id != utt and c.utt_id in ("a1", "a2")  # a3 (2 s) is never chosen: others >= 3 s
            frames = dict((u, f) for u, _, f in ROWS)[c.utt_id]
            assert c.num_frames == 150 and 0 <= c.start_frame <= frames - 150
    assert {idx.pick("a3", s).utt_id for s in range(50)} == {"a1", "a2"}  # both long ones are used


def test_prompt_deterministic_and_order_independent():
    a, b = SpeakerIndex(ROWS), SpeakerIndex(list(reversed(ROWS)))
    assert [a.pick("a3", s) for s in range(20)] == [b.pick("a3", s) for s in range(20)]
    assert len({a.pick("a3", s).start_frame for s in range(20)}) > 5  # the seed matters


def test_prompt_edge_cases():
    idx = SpeakerIndex(ROWS)
    assert idx.pick("b1", 0) is None  # single-utterance speaker
    assert idx.pick("n1", 0) is None  # no speaker
    assert idx.pick("c1", 0) == PromptChoice("c2", 0, 80)  # nothing >= 3 s: the other one, whole
    with pytest.raises(KeyError):
        idx.pick("zz", 0)
    with pytest.raises(ValueError, match="duplicate"):
        SpeakerIndex([("x", "A", 10), ("x", "A", 20)])
    codes = np.arange(400 * 3).reshape(400, 3)
    c = idx.pick("a2", 7)
    assert np.array_equal(c.crop(codes), codes[c.start_frame : c.start_frame + 150])
    with pytest.raises(ValueError):
        PromptChoice("a1", 300, 150).crop(codes)
