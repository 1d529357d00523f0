"""Shared fixtures for the codec tests: real packaged speech and small codecs."""

from __future__ import annotations

import glob

import numpy as np
import pytest

LIBRIVOX = sorted(glob.glob("/usr/share/pocketsphinx/test/data/librivox/*.wav"))  # 16 kHz LibriVox speech
ASTERISK = sorted(glob.glob("/usr/share/asterisk/sounds/en*/*.wav"))  # 8 kHz prompts (asterisk-core-sounds-en-wav)


@pytest.fixture(scope="session")
def speech_files() -> list[str]:
    if len(LIBRIVOX) < 3:
        pytest.skip("needs pocketsphinx-testdata (requirements/apt.txt)")
    return LIBRIVOX


@pytest.fixture(scope="session")
def speech(speech_files) -> np.ndarray:
    """About 30 s of real 16 kHz speech, float32, concatenated from the LibriVox clips."""
    from uniaudio.audio import load_audio

    return np.concatenate([load_audio(f) for f in speech_files]).astype(np.float32)


@pytest.fixture(scope="session")
def asterisk_files() -> list[str]:
    if len(ASTERISK) < 20:
        pytest.skip("needs asterisk-core-sounds-en-wav (requirements/apt.txt)")
    return ASTERISK


@pytest.fixture(scope="session")
def full_codec(asterisk_files) -> Codec:
    """The full-size (default preset) architecture, codebooks k-means-initialised on the latents of
    other real speech (asterisk prompts) than the LibriVox clips the tests encode."""
    import torch

    from codec import Codec
    from codec.config import CodecConfig, load_config
    from codec.model import CodecModel
    from uniaudio.audio import load_audio

    init = np.concatenate([load_audio(f) for f in asterisk_files[:20]])
    init = init[: len(init) // 320 * 320]
    torch.manual_seed(0)
    cfg = load_config(CodecConfig, overrides=["quantizer.kmeans_iters=5", "quantizer.kmeans_max_frames=3000"])
    model = CodecModel(cfg)
    with torch.no_grad():
        model.train()
        model.quantizer(model.encoder(torch.from_numpy(init).view(1, 1, -1)), cfg.quantizer.n_q)
    return Codec.from_generator(model, cfg)
