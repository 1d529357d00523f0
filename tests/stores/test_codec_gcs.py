"""``uniaudio codec encode/decode --codec gs://...`` (the public CLI on the loopback GCS emulator): the
codec read from the bucket (node cache), the input audio read from the bucket, codes identical to the
local checkpoint's."""

from __future__ import annotations

import numpy as np
import torch

from codec.config import preset
from codec.export import export_codec
from codec.model import CodecModel
from uniaudio.audio import write_audio
from uniaudio.cli import main
from uniaudio.stores import uri as uris


def test_codec_encode_decode_from_the_bucket(gcs_bucket, tmp_path, capsys):
    torch.manual_seed(0)
    cfg = preset("tiny")
    export_codec(CodecModel(cfg), cfg, tmp_path / "out" / "codec")
    uris.upload_dir(tmp_path / "out", f"{gcs_bucket}/codec-run")  # as `codec train --out gs://...` would leave it
    wav = tmp_path / "in.wav"
    write_audio(wav, 0.1 * np.sin(np.linspace(0, 800, 16000)).astype(np.float32))
    uris.put(f"{gcs_bucket}/audio/in.wav", wav.read_bytes())
    ref, got = tmp_path / "ref.npy", tmp_path / "got.npy"
    assert main(["codec", "encode", str(wav), str(ref), "--codec", str(tmp_path / "out" / "codec")]) == 0
    assert main(["codec", "encode", f"{gcs_bucket}/audio/in.wav", str(got), "--codec", f"{gcs_bucket}/codec-run"]) == 0
    assert f"{gcs_bucket}/audio/in.wav: 1.00s" in capsys.readouterr().out
    assert np.array_equal(np.load(ref), np.load(got))
    assert main(["codec", "decode", str(got), str(tmp_path / "o.wav"), "--codec", f"{gcs_bucket}/codec-run/codec"]) == 0
    assert (tmp_path / "o.wav").stat().st_size > 44
    assert any(p.name == "fetch" for p in (tmp_path / "cache").iterdir())  # the codec came via the node cache
