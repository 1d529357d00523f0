"""The published UniAudio codec imports exactly: golden codes at 1.5 and 6 kbps, decoded audio within 1e-4.

The golden files (tests/assets/reference/codec/, copied from shared/golden/reference) are what the
published code produced from a random-weight SoundStream in its own format. Its encoder outputs almost
only its biases, so the golden codes are one code repeated per codebook: they check the import, the
code layout and the decoder, not the encoder's arithmetic (they still match with the first conv's bias
shifted by 1.0). test_published_calibrated.py compares codes that carry information.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from codec import Codec
from codec.published import import_codec, n_q_for_kbps
from codec.seanet import pad1d
from uniaudio.cli import main
from uniaudio.errors import UserFacingError

GOLDEN = Path(__file__).resolve().parents[1] / "assets" / "reference" / "codec"


@pytest.fixture(scope="module")
def golden() -> dict[str, torch.Tensor]:
    return torch.load(GOLDEN / "codec_io.pt", weights_only=True)


@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> Codec:
    return Codec.load(import_codec(GOLDEN, tmp_path_factory.mktemp("imp") / "codec"))


def test_bitrates_map_to_codebooks():
    assert (n_q_for_kbps(1.5), n_q_for_kbps(6), n_q_for_kbps(0.5)) == (3, 12, 1)


@pytest.mark.parametrize("key,kbps", [("codes_1p5kbps", 1.5), ("codes_6kbps", 6.0)])
def test_codes_identical_to_published(imported, golden, key, kbps):
    codes = imported.encode(golden["wav"][0, 0], n_q=n_q_for_kbps(kbps))
    ref = golden[key][:, 0]  # published: [n_q, B, F], codebook-major
    assert codes.shape == ref.shape == (n_q_for_kbps(kbps), 51)  # 16123 samples -> ceil(/320) frames
    assert torch.equal(codes, ref)


def test_decode_within_1e4_of_published(imported, golden):
    wav = imported.decode(golden["codes_1p5kbps"][:, 0])
    ref = golden["decoded"][0, 0]
    assert wav.shape == ref.shape
    assert float((wav - ref).abs().max()) <= 1e-4


def test_short_input_zero_extension():
    """An input no longer than the padding: zeros to padding + 1 samples, reflected there, the zeros kept."""
    x = torch.arange(1.0, 4.0).reshape(1, 1, 3)
    want = F.pad(F.pad(x, (0, 2)), (4, 4), mode="reflect")[..., :-2]  # the published rule, spelled out
    assert torch.equal(pad1d(x, 4, 4, zero_extend=True), want)
    batch = torch.cat([torch.cat([x, torch.full((1, 1, 5), 9.0)], -1), torch.arange(1.0, 9.0).reshape(1, 1, 8)])
    got = pad1d(batch, 4, 4, torch.tensor([3, 8]), zero_extend=True)
    assert torch.equal(got[:1, :, : want.shape[-1]], want)
    assert torch.equal(got[1:], F.pad(batch[1:], (4, 4), mode="reflect"))


def test_cli_import_then_encode(tmp_path, golden, capsys):
    out = tmp_path / "published"
    assert main(["import-reference", "codec", str(GOLDEN), "--out", str(out)]) == 0
    line = capsys.readouterr().out
    assert "4 filters, D=16, 12 x 1024 codebooks" in line
    import numpy as np
    import soundfile as sf

    wav_path = tmp_path / "in.wav"
    sf.write(wav_path, golden["wav"][0, 0].numpy(), 16000, subtype="FLOAT")
    assert main(["codec", "encode", str(wav_path), str(tmp_path / "c.npy"), "--codec", str(out), "--n-q", "3"]) == 0
    assert np.array_equal(np.load(tmp_path / "c.npy"), golden["codes_1p5kbps"][:, 0].numpy())


def _copy(tmp_path: Path) -> Path:
    d = tmp_path / "universal_model"
    d.mkdir()
    for name in ("config.yaml", "model.pth"):
        shutil.copy(GOLDEN / name, d / name)
    return d


def test_missing_model_pth(tmp_path):
    d = _copy(tmp_path)
    (d / "model.pth").unlink()
    with pytest.raises(UserFacingError, match=r"model\.pth: missing"):
        import_codec(d, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("edit,match", [
    (lambda s: s.__setitem__("encoder.model.3.conv.conv.weight_v", torch.zeros(8, 4, 5)),
     r"tensor encoder\.model\.3\.conv\.conv\.weight_v has shape \(8, 4, 5\), expected \(8, 4, 4\)"),
    (lambda s: s.__setitem__("quantizer.vq.layers.2._codebook.embed", torch.zeros(1024, 8)),
     r"tensor quantizer\.vq\.layers\.2\._codebook\.embed has shape \(1024, 8\), expected \(1024, 16\)"),
    (lambda s: s.pop("decoder.model.1.lstm.weight_hh_l1"), r"tensor decoder\.model\.1\.lstm\.weight_hh_l1 is missing"),
    (lambda s: s.__setitem__("quantizer.vq.layers.12._codebook.embed", torch.zeros(1024, 16)),
     r"unexpected tensor quantizer\.vq\.layers\.12\._codebook\.embed"),
])
def test_bad_state_dict_names_the_tensor(tmp_path, edit, match):
    d = _copy(tmp_path)
    ckpt = torch.load(d / "model.pth", weights_only=True)
    edit(ckpt["codec_model"])
    torch.save(ckpt, d / "model.pth")
    with pytest.raises(UserFacingError, match=match):
        import_codec(d, tmp_path / "out")


def test_corrupt_or_foreign_files_are_one_line(tmp_path):
    d = _copy(tmp_path)
    (d / "model.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(UserFacingError, match=r"model\.pth: not a readable weights-only torch checkpoint"):
        import_codec(d, tmp_path / "out")
    torch.save({"model": {}}, d / "model.pth")
    with pytest.raises(UserFacingError, match=r"expected \{'codec_model': state_dict\}"):
        import_codec(d, tmp_path / "out")
    (d / "config.yaml").write_text("generator: {name: HiFiCodec, config: {}}\n")
    with pytest.raises(UserFacingError, match=r"config\.yaml: expected generator: \{name: SoundStream"):
        import_codec(d, tmp_path / "out")


def test_cli_bad_input_exits_2(tmp_path, capsys):
    d = _copy(tmp_path)
    (d / "model.pth").unlink()
    assert main(["import-reference", "codec", str(d), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "model.pth: missing" in err[0]


def test_reference_implementation_reproduces_golden(golden):
    """The benchmark's baseline (published layout, weight norm unfolded) loads the published state dict
    as it is and gives the golden codes and audio: it is a faithful stand-in for the published code."""
    from codec.soundstream_ref import ReferenceSoundStream

    ref = ReferenceSoundStream(n_filters=4, D=16).eval()
    ref.load_state_dict(torch.load(GOLDEN / "model.pth", weights_only=True)["codec_model"])
    assert torch.equal(ref.encode(golden["wav"], 3), golden["codes_1p5kbps"])
    assert torch.equal(ref.encode(golden["wav"], 12), golden["codes_6kbps"])
    assert float((ref.decode(golden["codes_1p5kbps"]) - golden["decoded"]).abs().max()) <= 1e-4
