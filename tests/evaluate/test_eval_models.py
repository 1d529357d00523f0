"""The packaged evaluator models on real speech: Whisper WER, Resemblyzer similarity, Fréchet distance."""

from __future__ import annotations

import numpy as np
import pytest
from eval_helpers import add_noise

from uniaudio.audio import load_audio
from uniaudio.evaluate import asr, frechet, speaker
from uniaudio.evaluate.text import Ratio, wer


@pytest.fixture(scope="module")
def whisper():
    return asr.get_whisper()  # loaded once per process; the other tests reuse it


def test_whisper_model_is_assembled_once_into_the_cache(whisper, tmp_path, monkeypatch):
    # Build a second copy in a fresh cache folder: the joined model must be byte-for-byte the two parts.
    monkeypatch.setenv("UNIAUDIO_CACHE", str(tmp_path))
    d = asr.whisper_model_dir()
    parts = [asr._package_data(n) / f"model.bin.part{i}" for i, n in enumerate(asr._PARTS, start=1)]
    assert d.parent == tmp_path and (d / "config.json").is_file() and (d / "vocabulary.txt").is_file()
    assert (d / "model.bin").stat().st_size == sum(p.stat().st_size for p in parts)
    with open(d / "model.bin", "rb") as f:
        head = f.read(1 << 16)
    assert head == parts[0].read_bytes()[: 1 << 16]
    mtime = (d / "model.bin").stat().st_mtime_ns
    assert asr.whisper_model_dir() == d and (d / "model.bin").stat().st_mtime_ns == mtime  # not rebuilt
    assert not list(d.glob(".*"))  # no temp files left behind


def test_whisper_wer_is_low_on_librivox_and_high_on_noise(whisper, librivox):
    ids = sorted(librivox)[:3]
    total = Ratio(0, 0)
    for uid in ids:
        path, text = librivox[uid]
        r = wer(asr.transcribe(load_audio(path)), text)
        total = Ratio(total.num + r.num, total.den + r.den)
    assert total.value < 0.15, total
    rng = np.random.default_rng(0)
    noise = (0.1 * rng.standard_normal(3 * 16000)).astype(np.float32)
    path, text = librivox[ids[0]]
    assert wer(asr.transcribe(noise), text).value > 0.9


def test_same_speaker_is_more_similar_than_different_speakers(speech_a, speech_b, flite_slt):
    a = [speaker.embed(w) for w in speech_a[:3]]
    b = [speaker.embed(w) for w in speech_b[:2]]
    c = speaker.embed(load_audio(flite_slt[0]))
    same_a = speaker.cosine(a[0], a[1]), speaker.cosine(a[1], a[2])
    same_b = speaker.cosine(b[0], b[1])
    cross = [speaker.cosine(x, y) for x in a for y in (*b, c)]
    assert min(*same_a, same_b) > max(cross), (same_a, same_b, cross)
    assert speaker.cosine(a[0], a[0]) == pytest.approx(1.0, abs=1e-5)
    # noise on a voice lowers its similarity to a clean recording of the same speaker, monotonically
    noisy = [speaker.cosine(speaker.embed(add_noise(speech_a[0], snr, seed=7)), a[1]) for snr in (30, 0)]
    assert same_a[0] > noisy[0] > noisy[1]
    with pytest.raises(ValueError):
        speaker.embed(np.zeros(16000, np.float32))


def test_frechet_distance_on_whisper_embeddings(whisper, speech_a, speech_b):
    clean = speech_a[:4]
    ref = np.stack([frechet.embed(w) for w in clean])
    assert ref.shape == (4, 512) and np.all(np.isfinite(ref))
    assert frechet.frechet_distance(ref, ref) == pytest.approx(0.0, abs=1e-6)
    mild = np.stack([frechet.embed(add_noise(w, 20, seed=i)) for i, w in enumerate(clean)])
    heavy = np.stack([frechet.embed(add_noise(w, 0, seed=i)) for i, w in enumerate(clean)])
    fd_mild, fd_heavy = frechet.frechet_distance(mild, ref), frechet.frechet_distance(heavy, ref)
    assert 0.0 < fd_mild < fd_heavy
    with pytest.raises(ValueError, match="at least 2"):
        frechet.frechet_distance(ref[:1], ref)


def test_frechet_embedding_pools_long_clips_chunk_by_chunk(whisper, speech_a, monkeypatch):
    # Shrink the 30 s window to 2 s so the chunking runs on a short clip: the pooled vector must be
    # the frame-weighted mean of the chunks' own embeddings (a trailing sliver < 40 ms is ignored).
    monkeypatch.setattr(frechet, "MAX_MEL_FRAMES", 200)
    clip = speech_a[0][: 5 * 16000]
    chunks = [clip[:32000], clip[32000:64000], clip[64000:]]
    weights = np.array([100, 100, 50])  # encoder states per chunk (2 s = 200 mel frames = 100 states)
    expected = sum(w * frechet.embed(c) for w, c in zip(weights, chunks)) / weights.sum()
    assert np.allclose(frechet.embed(clip), expected, atol=1e-5)
    sliver = speech_a[0][: 4 * 16000 + 300]
    assert np.allclose(frechet.embed(sliver), (frechet.embed(chunks[0]) + frechet.embed(chunks[1])) / 2, atol=1e-5)
    with pytest.raises(ValueError):
        frechet.embed(np.zeros(100, np.float32))
