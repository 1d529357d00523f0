"""Semantic units: MFCC features at 50 Hz, k-means fit/transform round trip, saved model, HuBERT path."""

import numpy as np
import pytest

from uniaudio.tokenizers import (
    FeatureConfig, SemanticConfig, SemanticTokenizer, TokenizeError, TokenizerUnavailable,
    fit_kmeans, fit_semantic_kmeans, num_frames,
)  # fmt: skip
from uniaudio.tokenizers.kmeans import KMeansModel
from uniaudio.tokenizers.semantic import frame_features


def test_kmeans_recovers_well_separated_clusters(tmp_path):
    rng = np.random.default_rng(1)
    true_centers = rng.normal(0, 10, (8, 5))
    labels = rng.integers(0, 8, 6000)
    x = (true_centers[labels] + rng.normal(0, 0.3, (6000, 5))).astype(np.float32)
    model = fit_kmeans(x, 8, seed=0, batch_size=512, max_iter=30)
    pred = model.predict(x)
    # Each true cluster maps to exactly one predicted unit and vice versa (a perfect partition).
    pairs = set(zip(labels.tolist(), pred.tolist()))
    assert len(pairs) == 8 and len({p for _, p in pairs}) == 8
    found = np.sort(model.centers[np.argsort(model.centers[:, 0])], axis=0)
    assert np.abs(found - np.sort(true_centers[np.argsort(true_centers[:, 0])], axis=0)).max() < 0.2
    path = model.save(tmp_path / "km.npz")
    again = KMeansModel.load(path)
    assert np.array_equal(again.predict(x), pred) and again.digest == model.digest
    assert fit_kmeans(x, 8, seed=0, batch_size=512, max_iter=30).digest == model.digest  # deterministic


def test_kmeans_bad_input(tmp_path):
    with pytest.raises(ValueError, match="between 1 and"):
        fit_kmeans(np.zeros((3, 2), np.float32), 5)
    with pytest.raises(ValueError, match="NaN"):
        fit_kmeans(np.full((10, 2), np.nan, np.float32), 2)
    bad = tmp_path / "bad.npz"
    np.savez(bad, weights=np.zeros(3))
    with pytest.raises(ValueError, match="not a uniaudio-kmeans"):
        KMeansModel.load(bad)


@pytest.mark.parametrize("n", [1, 319, 320, 321, 16000, 16001, 48000])
def test_feature_frame_count_is_codec_count(n):
    wav = np.random.default_rng(n).normal(0, 0.1, n).astype(np.float32)
    assert frame_features(wav, FeatureConfig()).shape == (num_frames(n), 39) == (-(-n // 320), 39)
    assert frame_features(wav, FeatureConfig(kind="logmel", deltas=False)).shape == (num_frames(n), 40)


@pytest.fixture(scope="module")
def fitted(tmp_path_factory, librivox_wavs):
    path = tmp_path_factory.mktemp("km") / "semantic_k32.npz"
    model = fit_semantic_kmeans(librivox_wavs, 32, path, seed=0)
    return path, model


def test_fit_transform_round_trip_on_real_speech(fitted, librivox_wavs):
    path, model = fitted
    assert model.k == 32 and model.meta["features"]["kind"] == "mfcc" and model.meta["used"] == 32
    tok = SemanticTokenizer(SemanticConfig(enabled=True, kmeans_path=str(path)))
    one_second = tok.tokenize(librivox_wavs[0][16000:32000])
    assert one_second.shape == (50,) and one_second.dtype == np.int16
    full = [tok.tokenize(w) for w in librivox_wavs]
    assert [len(u) for u in full] == [num_frames(len(w)) for w in librivox_wavs]
    assert len(np.unique(np.concatenate(full))) >= 24  # speech uses most units
    # Speech frames are not independent: consecutive frames share a unit far more than chance (1/32).
    same = np.mean([np.mean(u[1:] == u[:-1]) for u in full])
    assert same > 0.2
    # A fresh tokenizer on the reloaded file gives identical output and version.
    tok2 = SemanticTokenizer(SemanticConfig(enabled=True, kmeans_path=str(path)))
    assert all(np.array_equal(tok2.tokenize(w), u) for w, u in zip(librivox_wavs, full))
    assert tok2.version == tok.version
    # Gain does not change the units much (CMVN): same unit on >= 90 % of frames at -12 dB.
    quiet = tok.tokenize(librivox_wavs[1] * 0.25)
    assert np.mean(quiet == full[1]) > 0.9


def test_dedup_and_version(fitted, librivox_wavs):
    path, _ = fitted
    plain = SemanticTokenizer(SemanticConfig(enabled=True, kmeans_path=str(path)))
    dedup = SemanticTokenizer(SemanticConfig(enabled=True, kmeans_path=str(path), dedup=True))
    u, d = plain.tokenize(librivox_wavs[1]), dedup.tokenize(librivox_wavs[1])
    assert len(d) < len(u) and np.all(d[1:] != d[:-1])
    assert plain.version != dedup.version


def test_semantic_errors(tmp_path, fitted):
    with pytest.raises(TokenizerUnavailable, match="no k-means model"):
        SemanticTokenizer(SemanticConfig(enabled=True)).check()
    with pytest.raises(TokenizerUnavailable, match="does not exist"):
        SemanticTokenizer(SemanticConfig(enabled=True, kmeans_path=str(tmp_path / "x.npz"))).tokenize(np.zeros(100))
    tok = SemanticTokenizer(SemanticConfig(enabled=True, kmeans_path=str(fitted[0])))
    with pytest.raises(TokenizeError) as err:
        tok.tokenize(np.zeros(0, np.float32))
    assert err.value.reason == "bad_audio"
    with pytest.raises(ValueError, match="semantic units must number"):
        fit_semantic_kmeans([np.zeros(16000, np.float32)], 2048, tmp_path / "big.npz")


def _tiny_hubert(path, seed=0):
    """A randomly initialised 10-layer HuBERT (hidden 32) saved as a local transformers folder."""
    import torch
    from transformers import HubertConfig, HubertModel

    torch.manual_seed(seed)
    cfg = HubertConfig(hidden_size=32, num_hidden_layers=10, num_attention_heads=2, intermediate_size=64,
                       conv_dim=(16,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2)
    HubertModel(cfg).save_pretrained(path)
    return str(path)


def test_hubert_code_path(tmp_path, librivox_wavs):
    with pytest.raises(TokenizerUnavailable, match="no local weights directory"):
        frame_features(np.zeros(16000, np.float32), FeatureConfig(kind="hubert"), None)
    hub = _tiny_hubert(tmp_path / "hubert")
    for n in (320, 401, 16000, 16321):
        assert frame_features(np.ones(n, np.float32) * 0.1, FeatureConfig(kind="hubert"), hub).shape == (num_frames(n), 32)
    km = fit_semantic_kmeans(librivox_wavs[1:3], 8, tmp_path / "hub_km.npz", features=FeatureConfig(kind="hubert"), hubert_dir=hub)
    assert km.meta["features"]["kind"] == "hubert" and "hubert_weights" in km.meta
    tok = SemanticTokenizer(SemanticConfig(enabled=True, kmeans_path=str(tmp_path / "hub_km.npz"), hubert_dir=hub))
    assert tok.tokenize(librivox_wavs[4]).shape == (num_frames(len(librivox_wavs[4])),)
    km_path = str(tmp_path / "hub_km.npz")
    copy = _tiny_hubert(tmp_path / "copy")  # the same weights elsewhere: same version
    assert tok.version == SemanticTokenizer(SemanticConfig(enabled=True, kmeans_path=km_path, hubert_dir=copy)).version
    other = SemanticTokenizer(SemanticConfig(enabled=True, kmeans_path=km_path, hubert_dir=_tiny_hubert(tmp_path / "o", seed=1)))
    assert other.version != tok.version
    with pytest.raises(TokenizerUnavailable, match="other weights"):
        other.tokenize(librivox_wavs[4])
