"""Semantic units: k-means cluster ids of 50 Hz frame features (``int16 [ceil(T/320)]``).

Two steps, as in HuBERT / UniAudio:
1. :func:`fit_semantic_kmeans` extracts features from a set of utterances and fits k-means (its own
   step, run once per corpus); the saved model file records which features it was fitted on.
2. :class:`SemanticTokenizer` loads that model and maps each frame of new audio to its nearest unit.

Features (``FeatureConfig.kind``): ``mfcc`` (default; 13 MFCC + deltas + CMVN = 39 dims, HuBERT's
first-iteration target) or ``logmel``, both in ``features.py``; or ``hubert``: layer-9 states of a
HuBERT model from a local transformers folder (``hubert_dir``, e.g. facebook/hubert-base-ls960). HuBERT's
convolutional front end yields ``floor((T-400)/320)+1`` frames; the waveform is zero-padded on the right
so it yields at least ``ceil(T/320)`` and the extra frames are cut, keeping the codec's frame count.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from uniaudio.config import ConfigBase

from .base import TokenizeError, Tokenizer, TokenizerUnavailable, cached_asset, dir_sha256, require_dir
from .features import HOP, WIN, FeatureConfig, mfcc_features, num_frames
from .kmeans import KMeansModel, fit_kmeans

SEMANTIC_RANGE = 1024


class SemanticConfig(ConfigBase):
    """Settings of the semantic tokenizer (the feature settings live in the k-means model file)."""

    enabled: bool = False  # needs a fitted k-means model: run fit_semantic_kmeans first
    kmeans_path: str | None = None
    hubert_dir: str | None = None  # local transformers HuBERT folder, for models fitted on hubert features
    dedup: bool = False  # UniAudio keeps duplicates (durations) for VC
    device: str = "cpu"


def _hubert(hubert_dir: str | None, device: str):
    path = str(require_dir(hubert_dir, "semantic units (hubert)", ["config.json"]))

    def load():
        from transformers import HubertModel
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()

        try:
            return HubertModel.from_pretrained(path, local_files_only=True).eval().to(device)
        except (OSError, ValueError) as err:
            raise TokenizerUnavailable(f"semantic units (hubert): cannot load {path}: {err}") from None

    return cached_asset(("hubert", path, device), load)


def frame_features(wav: np.ndarray, feats: FeatureConfig, hubert_dir: str | None = None, device: str = "cpu") -> np.ndarray:
    """``[T]`` float32 audio at 16 kHz -> ``[ceil(T/320), D]`` features of the configured kind."""
    wav = np.asarray(wav, dtype=np.float32)
    if wav.ndim != 1 or wav.size == 0:
        raise TokenizeError("bad_audio", f"expected non-empty mono [T] audio, got shape {list(wav.shape)}")
    if not np.isfinite(wav).all():
        raise TokenizeError("bad_audio", "NaN or Inf samples")
    if feats.kind != "hubert":
        return mfcc_features(wav, feats)
    import torch

    model = _hubert(hubert_dir, device)
    f = num_frames(len(wav))
    need = (f - 1) * HOP + WIN  # shortest input for which the conv stack yields f frames
    x = torch.from_numpy(np.pad(wav, (0, max(0, need - len(wav)))))[None].to(device)
    with torch.inference_mode():
        hs = model(x, output_hidden_states=True).hidden_states
    if not 0 < feats.hubert_layer < len(hs):
        raise TokenizerUnavailable(f"semantic units (hubert): layer {feats.hubert_layer} not in 1..{len(hs) - 1}")
    return hs[feats.hubert_layer][0, :f].float().cpu().numpy()


def _as_wav(item) -> np.ndarray:
    if isinstance(item, (str, Path)):
        from uniaudio.audio import load_audio

        return load_audio(str(item))
    return np.asarray(item, dtype=np.float32)


def fit_semantic_kmeans(
    wavs: Iterable[np.ndarray | str],
    k: int,
    out_path: str | Path,
    features: FeatureConfig | None = None,
    hubert_dir: str | None = None,
    seed: int = 0,
    max_frames: int = 500_000,
    **kmeans_args,
) -> KMeansModel:
    """Fit the semantic k-means on ``wavs`` (16 kHz float arrays or audio paths) and save it at
    ``out_path``. At most ``max_frames`` frames (a seeded random subset) are used for fitting."""
    features = features or FeatureConfig()
    if not 2 <= k <= SEMANTIC_RANGE:
        raise ValueError(f"k={k}: semantic units must number 2..{SEMANTIC_RANGE} (the vocab range)")
    chunks = [frame_features(_as_wav(w), features, hubert_dir) for w in wavs]
    if not chunks:
        raise ValueError("fit_semantic_kmeans: no audio given")
    x = np.concatenate(chunks)
    rng = np.random.default_rng(seed)
    if len(x) > max_frames:
        x = x[np.sort(rng.choice(len(x), max_frames, replace=False))]
    model = fit_kmeans(x, k, seed=seed, **kmeans_args)
    model.meta["features"] = features.to_dict()
    model.meta["n_utterances"] = len(chunks)
    if features.kind == "hubert":
        model.meta["hubert_weights"] = dir_sha256(require_dir(hubert_dir, "semantic units (hubert)"))
    model.save(out_path)
    return model


class SemanticTokenizer(Tokenizer):
    """16 kHz ``[T]`` float audio -> int16 unit ids ``[ceil(T/320)]`` (or fewer with ``dedup``)."""

    name = "semantic"
    modality = "semantic"
    ALGO = 1

    def __init__(self, cfg: SemanticConfig | None = None):
        self.cfg = cfg or SemanticConfig()
        self._model: KMeansModel | None = None

    def check(self) -> None:
        if not self.cfg.kmeans_path:
            raise TokenizerUnavailable("semantic units: no k-means model (set semantic.kmeans_path; fit one with fit_semantic_kmeans)")
        from uniaudio.stores import uri as uris

        if not uris.is_file(self.cfg.kmeans_path):  # a local path or an object-store URI (any node reads it)
            raise TokenizerUnavailable(f"semantic units: k-means model {self.cfg.kmeans_path!r} does not exist")

    @property
    def model(self) -> KMeansModel:
        if self._model is None:
            self.check()
            from uniaudio.stores import uri as uris

            # a URI is fetched once per node into the hash-verified cache (share-nothing clusters)
            path = str(Path(uris.fetch(self.cfg.kmeans_path)).resolve())
            try:
                self._model = cached_asset(("kmeans", path), lambda: KMeansModel.load(path))
            except ValueError as err:
                raise TokenizerUnavailable(f"semantic units: {err}") from None
            if self._model.k > SEMANTIC_RANGE:
                raise TokenizerUnavailable(f"semantic units: k={self._model.k} exceeds the vocab range {SEMANTIC_RANGE}")
        return self._model

    @property
    def features(self) -> FeatureConfig:
        return FeatureConfig(**self.model.meta.get("features", {}))

    def _version_payload(self) -> dict:
        payload = {"kmeans": self.model.digest, "dedup": self.cfg.dedup}
        if self.features.kind == "hubert":
            payload["hubert"] = dir_sha256(require_dir(self.cfg.hubert_dir, "semantic units (hubert)"))
        return payload

    def tokenize(self, wav: np.ndarray) -> np.ndarray:
        feats = self.features
        if feats.kind == "hubert":
            fitted = self.model.meta.get("hubert_weights")
            if fitted and fitted != dir_sha256(require_dir(self.cfg.hubert_dir, "semantic units (hubert)")):
                raise TokenizerUnavailable("semantic units: hubert_dir holds other weights than the k-means was fitted on")
        x = frame_features(_as_wav(wav), feats, self.cfg.hubert_dir, self.cfg.device)
        ids = self.model.predict(x).astype(np.int16)
        if self.cfg.dedup and ids.size:
            keep = np.ones(ids.size, dtype=bool)
            keep[1:] = ids[1:] != ids[:-1]
            ids = ids[keep]
        return ids

    def tokenize_batch(self, wavs: Sequence[np.ndarray]) -> list[np.ndarray]:
        return [self.tokenize(w) for w in wavs]

    transform = tokenize  # the k-means vocabulary: fit (fit_semantic_kmeans) / transform
