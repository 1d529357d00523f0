"""Tokenizer config, building, the tokenizer-set version, and the modules' doctests."""

import doctest
import importlib

import pytest

from uniaudio.config import ConfigError, load_config
from uniaudio.tokenizers import TokenizersConfig, TokenizerUnavailable, build_tokenizers, tokenizer_set_version


def test_build_default_and_overrides():
    toks = build_tokenizers(TokenizersConfig())
    assert sorted(toks) == ["phone", "sing", "text", "text_emb"]
    assert {t.modality for t in toks.values()} == {"phone", "sing_phone", "text", "text_emb"}
    cfg = load_config(TokenizersConfig, overrides=["phone.backend=cmudict", "text_emb.enabled=false"])
    toks = build_tokenizers(cfg)
    assert "text_emb" not in toks and toks["phone"].tokenize("cat").symbols == ("K", "AE1", "T")


def test_bad_config_names_the_field():
    with pytest.raises(ConfigError, match="codec.n_q"):
        load_config(TokenizersConfig, overrides=["codec.n_q=0"])
    with pytest.raises(ConfigError, match="phone.backend"):
        load_config(TokenizersConfig, overrides=["phone.backend=g2p_en"])
    with pytest.raises(ConfigError, match="unknown field"):
        load_config(TokenizersConfig, overrides=["phone.lang=de"])


def test_missing_assets_fail_at_build(tmp_path):
    with pytest.raises(TokenizerUnavailable, match="k-means"):
        build_tokenizers(load_config(TokenizersConfig, overrides=["semantic.enabled=true"]))
    with pytest.raises(TokenizerUnavailable, match="codec"):
        build_tokenizers(TokenizersConfig(), codec_dir=str(tmp_path / "missing"))


def test_set_version_tracks_everything():
    base = TokenizersConfig()
    v = tokenizer_set_version(base, "h1")
    assert v.startswith("tok-") and v == tokenizer_set_version(TokenizersConfig(), "h1")
    assert tokenizer_set_version(base, "h2") != v
    for override in ("phone.dedup=true", "codec.n_q=4", "text_emb.max_tokens=50", "sing.enabled=false"):
        assert tokenizer_set_version(load_config(TokenizersConfig, overrides=[override]), "h1") != v, override
    # Settings that do not change any stored token keep the version.
    for override in ("text_emb.batch_size=4", "codec.max_batch_samples=1000", "prompt.seed=3"):
        assert tokenizer_set_version(load_config(TokenizersConfig, overrides=[override]), "h1") == v, override


def test_tokenizers_pickle_small_after_use():
    """Ray ships tokenizers to workers: after use they must still pickle small (models stay in the
    per-process cache, not on the instance) and keep their version."""
    import pickle

    toks = build_tokenizers(TokenizersConfig())
    toks["phone"].tokenize("hello there")
    toks["text_emb"].tokenize("hello")
    for name, tok in toks.items():
        blob = pickle.dumps(tok)
        assert len(blob) < 20_000, name
        assert pickle.loads(blob).version == tok.version


MODULES = ["arpabet", "features", "g2p", "inventory", "kmeans", "phones", "pinyin", "prompt", "registry", "sing_aligned", "text",
           "__init__"]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    mod = importlib.import_module("uniaudio.tokenizers" if name == "__init__" else f"uniaudio.tokenizers.{name}")
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
