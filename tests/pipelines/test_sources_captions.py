"""The `captions` reader on AudioCaps- and MusicCaps-shaped CSVs."""

import numpy as np
import pytest

from pipelines.sources import DatasetEntry, read_dataset
from uniaudio.audio import write_audio
from uniaudio.config import ConfigError


def tone(path, freq=440.0, n=3200):
    write_audio(path, (0.1 * np.sin(2 * np.pi * freq * np.arange(n) / 16000)).astype("float32"))


def read(root, **options):
    return read_dataset(DatasetEntry(name="cap", reader="captions", root=str(root), tasks=["sound"], options=options))


def codes(res):
    return sorted(((p.utt_id or ""), p.code) for p in res.problems)


def test_default_columns(tmp_path):
    root = tmp_path / "clips"
    tone(root / "audio" / "dog.wav")
    tone(root / "audio" / "rain.flac")
    tone(tmp_path / "secret.wav")
    (root / "captions.csv").write_text(
        "audio,caption,start_s,end_s\n"
        "audio/dog.wav,A dog barks twice,0.0,0.2\n"
        "audio/rain.flac,\"Rain falls, then thunder\",,\n"
        "audio/dog.wav,Another caption of the same clip,,\n"   # duplicate derived id
        "audio/none.wav,Missing clip,,\n"
        "../secret.wav,Escape attempt,,\n"
        "audio/rain.flac,,,\n"                                  # empty caption
        "audio/rain.flac,x,one,two\n"                           # bad numbers
        "audio/rain.flac,y,nan,\n"                              # not a time
        "audio/rain.flac,too,many,cells,here\n"
    )
    res = read(root)
    assert [(r.utt_id, r.caption, r.start_s, r.end_s) for r in res.rows] == [
        ("audio/dog", "A dog barks twice", 0.0, 0.2), ("audio/rain", "Rain falls, then thunder", None, None)]
    assert codes(res) == sorted([("audio/dog", "duplicate_id"), ("audio/none", "missing_audio"),
                                 ("../secret", "path_escape"), ("audio/rain", "missing_caption"),
                                 ("audio/rain", "malformed_line"), ("audio/rain", "malformed_line"),
                                 ("", "malformed_line")])
    assert res.rows[0].text is None and res.rows[0].speaker is None


def test_audiocaps_and_musiccaps_mappings(tmp_path):
    root = tmp_path / "audiocaps"
    tone(root / "wav" / "abc123_30.wav")
    tone(root / "wav" / "xyz789_0.wav")
    (root / "train.csv").write_text(
        "audiocap_id,youtube_id,start_time,caption\n"
        "91139,abc123,30,A woman talks and then an animal growls\n"
        "91140,abc123,30,An adult female speaks and a dog growls\n"   # same clip, second caption: kept
        "91141,xyz789,0,Wind blows\n"
        "91142,nope,0,Clip never downloaded\n")
    opts = dict(file="train.csv", columns={"utt_id": "audiocap_id"},
                audio_template="wav/{youtube_id}_{start_time}.wav", segment=False)
    res = read(root, **opts)
    assert [(r.utt_id, r.audio_uri.endswith("abc123_30.wav")) for r in res.rows] == [
        ("91139", True), ("91140", True), ("91141", False)]
    assert codes(res) == [("91142", "missing_audio")]
    fps = [r.fingerprint for r in res.rows]
    assert len(set(fps)) == 3 and fps == [r.fingerprint for r in read(root, **opts).rows]

    mc = tmp_path / "musiccaps"
    tone(mc / "music" / "-0Gj8-vB1q4.wav", n=16000)
    (mc / "musiccaps-public.csv").write_text(
        "ytid,start_s,end_s,audioset_positive_labels,aspect_list,caption\n"
        "-0Gj8-vB1q4,0,0.5,/m/0140xf,\"['low quality', 'sustained strings']\",\"The low quality recording features strings.\"\n")
    res = read(mc, file="musiccaps-public.csv", columns={"utt_id": "ytid"}, audio_template="music/{ytid}.wav")
    assert [(r.utt_id, r.start_s, r.end_s) for r in res.rows] == [("-0Gj8-vB1q4", 0.0, 0.5)] and not res.problems


def test_config_errors(tmp_path):
    (tmp_path / "captions.csv").write_text("file,text\nx.wav,hello\n")
    with pytest.raises(ConfigError, match="lacks column"):
        read(tmp_path)
    with pytest.raises(ConfigError, match="unknown role"):
        read(tmp_path, columns={"sound": "file"})
    with pytest.raises(ConfigError, match="missing or outside"):
        read(tmp_path, file="../elsewhere.csv")
    tone(tmp_path / "x.wav")
    assert [r.caption for r in read(tmp_path, columns={"audio": "file", "caption": "text"}).rows] == ["hello"]
