"""Checkpoint directory (weights + config + content hash) and the `uniaudio codec encode|decode` CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch

from codec import Codec
from codec.config import preset
from codec.export import META_FILE, WEIGHTS_FILE, export_codec, read_codec_dir
from codec.model import CodecModel
from uniaudio.audio import write_audio
from uniaudio.cli import main
from uniaudio.errors import UserFacingError


@pytest.fixture(scope="module")
def codec_dir(tmp_path_factory, speech):
    torch.manual_seed(0)
    cfg = preset("tiny")
    model = CodecModel(cfg)
    model.train()
    with torch.no_grad():  # initialise the codebooks on real speech
        model.quantizer(model.encoder(torch.from_numpy(speech[: 320 * 600]).view(1, 1, -1)))
    return export_codec(model, cfg, tmp_path_factory.mktemp("codec"), extra={"step": 0})


def test_roundtrip_and_content_hash(codec_dir, tmp_path, speech):
    cfg, state, meta = read_codec_dir(codec_dir)
    assert meta["frame_rate"] == 50 and meta["hop_length"] == 320 and meta["codebook_size"] == 1024
    assert not any("parametrizations" in k for k in state)  # weight norm folded for inference
    assert any(k.endswith("embed") for k in state)  # codebook buffers are part of the weights
    codec = Codec.load(str(codec_dir))
    assert codec.content_hash == meta["content_hash"] and codec.max_codebooks == 4
    # the same weights exported again give the same hash; loading through file:// works too
    model = CodecModel(cfg, weight_norm=False)
    model.load_state_dict(state)
    again = export_codec(model, cfg, tmp_path / "again")
    assert json.loads((again / META_FILE).read_text())["content_hash"] == meta["content_hash"]
    wav = torch.from_numpy(speech[:16000])
    assert torch.equal(codec.encode(wav), Codec.load(f"file://{again}").encode(wav))


def test_tampered_or_incomplete_checkpoints_are_clear_errors(codec_dir, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / META_FILE).write_text((codec_dir / META_FILE).read_text())
    with pytest.raises(UserFacingError, match="not a codec checkpoint"):
        Codec.load(str(bad))
    blob = bytearray((codec_dir / WEIGHTS_FILE).read_bytes())
    blob[-100] ^= 0xFF  # flip bits inside the last tensor
    (bad / WEIGHTS_FILE).write_bytes(bytes(blob))
    with pytest.raises(UserFacingError, match="content hash"):
        Codec.load(str(bad))
    meta = json.loads((codec_dir / META_FILE).read_text())
    meta["format_version"] = 99
    (bad / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(UserFacingError, match="format"):
        Codec.load(str(bad))


def test_cli_encode_decode(codec_dir, tmp_path, speech_files, capsys):
    npy, out = tmp_path / "codes.npy", tmp_path / "rt.wav"
    assert main(["codec", "encode", speech_files[1], str(npy), "--codec", str(codec_dir)]) == 0
    codes = np.load(npy)
    n = sf.info(speech_files[1]).frames
    assert codes.shape == (3, -(-n // 320)) and codes.dtype == np.int16 and codes.min() >= 0
    assert main(["codec", "decode", str(npy), str(out), "--codec", str(codec_dir)]) == 0
    info = sf.info(str(out))
    assert info.samplerate == 16000 and info.frames == codes.shape[1] * 320
    assert main(["codec", "encode", speech_files[1], str(npy), "--codec", str(codec_dir), "--n-q", "4"]) == 0
    assert np.load(npy).shape[0] == 4


@pytest.mark.parametrize("kind,expected", [("corrupt", "unreadable"), ("silent", "silent"),
                                           ("short", "too_short"), ("missing", "missing")])
def test_cli_rejects_bad_audio(codec_dir, tmp_path, capsys, kind, expected):
    path = tmp_path / f"{kind}.wav"
    if kind == "corrupt":
        path.write_bytes(b"RIFF....WAVEfmt definitely not audio")
    elif kind == "silent":
        write_audio(path, np.zeros(16000, dtype=np.float32))
    elif kind == "short":
        write_audio(path, np.full(800, 0.2, dtype=np.float32))  # 0.05 s
    rc = main(["codec", "encode", str(path), str(tmp_path / "x.npy"), "--codec", str(codec_dir)])
    err = capsys.readouterr().err
    assert rc == 2 and expected in err and "Traceback" not in err
    assert not (tmp_path / "x.npy").exists()


def test_cli_rejects_bad_codes(codec_dir, tmp_path, capsys):
    cases = {"range.npy": np.full((3, 10), 5000, dtype=np.int64), "float.npy": np.zeros((3, 10)),
             "shape.npy": np.zeros(10, dtype=np.int16)}
    for name, arr in cases.items():
        np.save(tmp_path / name, arr)
        assert main(["codec", "decode", str(tmp_path / name), str(tmp_path / "o.wav"), "--codec", str(codec_dir)]) == 2
    (tmp_path / "junk.npy").write_bytes(b"not numpy")
    assert main(["codec", "decode", str(tmp_path / "junk.npy"), str(tmp_path / "o.wav"), "--codec", str(codec_dir)]) == 2
    assert main(["codec", "encode", "x.wav", "y.npy", "--codec", str(tmp_path)]) == 2  # not a codec dir
    err = capsys.readouterr().err
    assert "code ids" in err and "integer codes" in err and "not a codec checkpoint" in err
