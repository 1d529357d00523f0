"""``uniaudio codec encode/decode --codec s3://...``: the codec read from the bucket (node cache), codes
identical to the local checkpoint's; input audio and codes may live in the bucket too."""

from __future__ import annotations

import numpy as np
import torch

from codec.config import preset
from codec.export import export_codec
from codec.model import CodecModel
from uniaudio.audio import write_audio
from uniaudio.cli import main
from uniaudio.stores import uri as uris


def test_codec_encode_decode_from_the_bucket(s3_bucket, tmp_path):
    torch.manual_seed(0)
    cfg = preset("tiny")
    export_codec(CodecModel(cfg), cfg, tmp_path / "out" / "codec")
    uris.upload_dir(tmp_path / "out", f"{s3_bucket}/codec-run")  # as `codec train --out s3://...` leaves it
    wav = tmp_path / "in.wav"
    write_audio(wav, 0.1 * np.sin(np.linspace(0, 800, 16000)).astype(np.float32))
    ref, got = tmp_path / "ref.npy", tmp_path / "got.npy"
    assert main(["codec", "encode", str(wav), str(ref), "--codec", str(tmp_path / "out" / "codec")]) == 0
    assert main(["codec", "encode", str(wav), str(got), "--codec", f"{s3_bucket}/codec-run"]) == 0
    assert np.array_equal(np.load(ref), np.load(got))
    assert main(["codec", "decode", str(got), str(tmp_path / "o.wav"), "--codec", f"{s3_bucket}/codec-run/codec"]) == 0
    assert (tmp_path / "o.wav").stat().st_size > 44
