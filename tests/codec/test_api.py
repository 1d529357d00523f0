"""Codec inference API: frame rate, shapes for every n_q, batched encode = per-item encode."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from codec import PAD_CODE, Codec


def test_one_second_is_fifty_frames(full_codec, speech):
    codes = full_codec.encode(torch.from_numpy(speech[:16000]), n_q=3)
    assert codes.shape == (3, 50) and codes.dtype == torch.long
    assert full_codec.num_frames(16000) == 50 and full_codec.frame_rate == 50 and full_codec.hop_length == 320
    assert full_codec.decode(codes).shape == (16000,)


@pytest.mark.parametrize("n_q", range(1, 13))
def test_shapes_for_every_n_q(full_codec, speech, n_q):
    wav = torch.from_numpy(speech[: 2 * 16000].reshape(2, 16000))
    codes = full_codec.encode(wav, n_q=n_q)
    assert codes.shape == (2, n_q, 50)
    assert int(codes.min()) >= 0 and int(codes.max()) < full_codec.codebook_size == 1024
    # the first codebooks do not depend on how many follow (residual coding)
    assert torch.equal(codes[:, :1], full_codec.encode(wav, n_q=1))
    assert full_codec.decode(codes).shape == (2, 16000)


def test_batched_encode_equals_per_item(full_codec, speech):
    """Items of different lengths (not multiples of the hop) padded into one batch, with garbage in
    the padding: latents match encoding each item alone up to float round-off, padded frames are
    PAD_CODE, and every code that differs is a near-tie between two codes (round-off decides it)."""
    lengths = [16000, 11017, 4321, 320 * 7, 700]
    T = max(lengths)
    batch = torch.randn(len(lengths), T)  # the padding region holds noise: it must not matter
    offsets = [0, 20000, 40000, 60000, 80000]
    for i, (n, o) in enumerate(zip(lengths, offsets)):
        batch[i, :n] = torch.from_numpy(speech[o : o + n])
    codes = full_codec.encode(batch, torch.tensor(lengths), n_q=12)
    with torch.no_grad():
        z_batch = full_codec.model.encoder(_framed(batch, lengths), full_codec.num_frames(torch.tensor(lengths)) * 320)
    same = same_lm = total = 0
    for i, n in enumerate(lengths):
        f = full_codec.num_frames(n)
        alone = full_codec.encode(batch[i, :n], n_q=12)
        assert alone.shape == (12, f)
        assert (codes[i, :, f:] == PAD_CODE).all()
        same += int((codes[i, :, :f] == alone).sum())
        same_lm += int((codes[i, :3, :f] == alone[:3]).sum())
        total += alone.numel()
        with torch.no_grad():
            z_alone = full_codec.model.encoder(_framed(batch[i : i + 1, :n], [n]))
        torch.testing.assert_close(z_batch[i : i + 1, :, :f], z_alone, atol=1e-4, rtol=1e-4)
        _assert_only_near_ties(full_codec, z_alone[0], alone, codes[i, :, :f])
    assert same / total >= 0.97 and same_lm / (total // 4) >= 0.99, (same, same_lm, total)


def _assert_only_near_ties(codec, z: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> None:
    """At the first codebook where two code sequences of a frame differ, both codes must be (almost)
    equally close to that frame's residual: relative distance gap < 1e-4."""
    layers = codec.model.quantizer.layers
    for f in torch.nonzero((a != b).any(0)).flatten().tolist():
        k = int(torch.nonzero(a[:, f] != b[:, f])[0])
        r = z[:, f] - sum(layers[j].embed[a[j, f]] for j in range(k)) if k else z[:, f]
        da = float((r - layers[k].embed[a[k, f]]).square().sum())
        db = float((r - layers[k].embed[b[k, f]]).square().sum())
        assert abs(da - db) <= 1e-4 * max(da, db, 1e-6), (f, k, da, db)


def _framed(x: torch.Tensor, lengths) -> torch.Tensor:
    """Zero past each length and pad to whole frames, as Codec.encode does."""
    frames = -(-max(lengths) // 320)
    out = torch.zeros(x.shape[0], 1, frames * 320)
    for i, n in enumerate(lengths):
        out[i, 0, :n] = x[i, :n]
    return out


def test_batched_decode_equals_per_item(full_codec, speech):
    codes = full_codec.encode(torch.from_numpy(speech[: 3 * 16000].reshape(3, 16000)), n_q=3)
    codes[1, :, 30:] = PAD_CODE
    codes[2, :, 7:] = PAD_CODE
    wav = full_codec.decode(codes)
    for i, f in enumerate([50, 30, 7]):
        alone = full_codec.decode(codes[i, :, :f])
        torch.testing.assert_close(wav[i, : f * 320], alone, atol=1e-4, rtol=1e-4)
        assert (wav[i, f * 320 :] == 0).all()


def test_bad_inputs_are_clear_errors(full_codec):
    with pytest.raises(ValueError, match="n_q"):
        full_codec.encode(torch.zeros(16000), n_q=13)
    with pytest.raises(ValueError, match="NaN"):
        full_codec.encode(torch.full((16000,), float("nan")))
    with pytest.raises(ValueError, match="lengths"):
        full_codec.encode(torch.zeros(2, 100), lengths=torch.tensor([100, 0]))
    with pytest.raises(ValueError, match="code ids"):
        full_codec.decode(torch.full((3, 5), 1024))
    bad = torch.zeros(1, 3, 5, dtype=torch.long)
    bad[0, :, 2] = PAD_CODE  # padding in the middle
    with pytest.raises(ValueError, match="trailing"):
        full_codec.decode(bad)


def test_numpy_in_numpy_lengths(full_codec, speech):
    codes = full_codec.encode(speech[:8000][None], np.array([8000]), n_q=2)
    assert codes.shape == (1, 2, 25)
    assert (full_codec.num_frames(np.array([1, 320, 321])) == np.array([1, 1, 2])).all()
