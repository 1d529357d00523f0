"""Speaker similarity: cosine of Resemblyzer d-vectors (GE2E LSTM, 256-d; weights ship in the package).

The paper's protocol used WavLM-TDNN / wavlm-base-plus-sv, whose weights only come from model hubs;
Resemblyzer is the speaker encoder that installs and runs offline here. Its scores are therefore not
numerically comparable with the paper's SIM (expect same-speaker pairs around 0.75-0.95 and
different-speaker pairs around 0.4-0.7), but they rank systems the same way: higher = closer voice.

Pre-processing is Resemblyzer's own (volume normalised to -30 dBFS, long silences trimmed by WebRTC
VAD). When the VAD keeps under 0.5 s (noise, a broken generation) the untrimmed audio is embedded
instead, so bad outputs get a (low) score rather than an error. The encoder loads once per process.

Example::

    sim = cosine(embed(load_audio("a.wav")), embed(load_audio("b.wav")))
"""

from __future__ import annotations

import threading
import warnings

import numpy as np

from uniaudio.audio import SAMPLE_RATE

_LOCK = threading.Lock()
_ENCODER = None
#: Below this many samples after VAD trimming, embed the untrimmed audio instead.
MIN_TRIMMED = SAMPLE_RATE // 2


def _import_resemblyzer():
    # webrtcvad imports pkg_resources (hence setuptools<81) and warns about it; the warning is noise.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import resemblyzer
        from resemblyzer import audio as rz_audio
    return resemblyzer, rz_audio


def get_encoder():
    """The process-wide Resemblyzer ``VoiceEncoder`` on CPU, loaded on first call."""
    global _ENCODER
    with _LOCK:
        if _ENCODER is None:
            resemblyzer, _ = _import_resemblyzer()
            if resemblyzer.hparams.sampling_rate != SAMPLE_RATE:  # pragma: no cover - package invariant
                raise RuntimeError("resemblyzer expects a different sample rate than the project")
            _ENCODER = resemblyzer.VoiceEncoder(device="cpu", verbose=False)
        return _ENCODER


def embed(wav: np.ndarray) -> np.ndarray:
    """16 kHz mono float audio -> L2-normalised 256-d speaker embedding (float32)."""
    x = np.asarray(wav, dtype=np.float32)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"expected non-empty mono audio, got shape {x.shape}")
    if not np.any(x):
        raise ValueError("audio is all zeros: no voice to embed")
    _, rz_audio = _import_resemblyzer()
    enc = get_encoder()
    normed = rz_audio.normalize_volume(x, rz_audio.audio_norm_target_dBFS, increase_only=True)
    trimmed = rz_audio.trim_long_silences(normed)
    use = trimmed if trimmed.size >= MIN_TRIMMED else normed
    return enc.embed_utterance(use.astype(np.float32)).astype(np.float32)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two embeddings (works for un-normalised vectors too)."""
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0 or nb == 0:
        raise ValueError("zero-norm embedding")
    return float(np.dot(a, b) / (na * nb))
