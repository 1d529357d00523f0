import numpy as np
import pytest
import soundfile as sf

from uniaudio.audio import AudioError, check_audio, load_audio, read_audio, write_audio


def tone(sr, seconds=1.0, amp=0.3):
    t = np.arange(int(sr * seconds)) / sr
    return (amp * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


@pytest.mark.parametrize("sr", [8000, 16000, 44100, 48000])
def test_load_resamples_to_16k(tmp_path, sr):
    p = tmp_path / "a.wav"
    write_audio(p, tone(sr), sr)
    wav = load_audio(str(p))
    assert wav.dtype == np.float32 and abs(len(wav) - 16000) <= 1
    assert 0.15 < np.abs(wav).max() < 0.35


def test_stereo_downmix_and_segment(tmp_path):
    p = tmp_path / "s.flac"
    x = tone(16000, 2.0)
    write_audio(p, np.stack([x, x]), 16000)
    assert read_audio(str(p))[0].shape == (2, 32000)
    seg = load_audio(str(p), start_s=0.5, end_s=1.0)
    assert len(seg) == 8000


def test_bad_inputs(tmp_path):
    with pytest.raises(AudioError, match="missing"):
        load_audio(str(tmp_path / "none.wav"))
    corrupt = tmp_path / "c.wav"
    corrupt.write_bytes(b"RIFF\x00\x00garbage" * 10)
    with pytest.raises(AudioError) as e:
        load_audio(str(corrupt))
    assert e.value.reason == "unreadable"
    p = tmp_path / "a.wav"
    write_audio(p, tone(16000), 16000)
    with pytest.raises(AudioError, match="empty_segment"):
        load_audio(str(p), start_s=2.0, end_s=3.0)


def test_check_audio_limits():
    check_audio("ok", tone(16000))
    with pytest.raises(AudioError, match="too_short"):
        check_audio("x", tone(16000, 0.1))
    with pytest.raises(AudioError, match="silent"):
        check_audio("x", np.zeros(16000, np.float32))
    with pytest.raises(AudioError, match="too_long"):
        check_audio("x", np.ones(16000 * 61, np.float32) * 0.1)


def _truncated_wav(path, seconds=1.15, keep=0.5):
    """A 16 kHz PCM_16 wav whose data chunk is cut to ``keep`` of what its header declares."""
    sf.write(path, (0.3 * np.sin(np.arange(int(seconds * 16000)) / 5)).astype("float32"), 16000)
    raw = path.read_bytes()
    data_at = raw.index(b"data") + 8
    path.write_bytes(raw[: data_at + int((len(raw) - data_at) * keep) // 2 * 2])


def test_truncated_wav_is_refused_with_that_reason(tmp_path):
    from uniaudio.audio import wav_truncation

    p = tmp_path / "cut.wav"
    _truncated_wav(p)
    declared, present = wav_truncation(str(p))
    assert abs(declared - 1.15) < 1e-3 and abs(present - 0.575) < 1e-2
    with pytest.raises(AudioError, match="truncated .header says 1.15 s, the file holds 0.57 s") as e:
        load_audio(str(p))
    assert e.value.reason == "truncated"
    whole = tmp_path / "whole.wav"
    sf.write(whole, np.zeros(1600, "float32"), 16000)
    assert wav_truncation(str(whole)) is None and wav_truncation(__file__) is None


def test_truncated_wav_is_quarantined_by_tokenize_decode(tmp_path):
    from pipelines.tokenize.decode import AudioCheckConfig, decode_row

    p = tmp_path / "cut.wav"
    _truncated_wav(p)
    row = decode_row({"source_uri": str(p), "start_s": None, "end_s": None}, AudioCheckConfig())
    assert (row["q_stage"], row["q_reason"]) == ("decode", "truncated") and row.get("wav") is None
