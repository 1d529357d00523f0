import numpy as np
import pytest

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
