"""The opt-in time-major CPU encode plan (codec/fast_encode.py, ``Codec(fast_cpu=True)``) against the module path.

Stated tolerance (docs/CODEC.md, "Encode speed"): the plan runs the same weights with other oneDNN
kernels (channels-last brgemm convs instead of blocked direct convs), so latents differ by float
summation order only (asserted: within 1e-5 absolute for unit-scale latents); codes are identical
except where a frame sits on a near-tie between two codes, which the test checks for every
differing code. The 1x1 convs are bit-identical (same GEMM as the module path's).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from codec.fast_encode import FastEncoder, _channels_last, _time_major, pad_time_major
from codec.seanet import pad1d


def _near_tie_only(codec, z: torch.Tensor, a: torch.Tensor, b: torch.Tensor, rel: float = 1e-3) -> None:
    layers = codec.model.quantizer.layers
    for f in torch.nonzero((a != b).any(0)).flatten().tolist():
        k = int(torch.nonzero(a[:, f] != b[:, f])[0])
        r = z[:, f] - sum(layers[j].embed[a[j, f]] for j in range(k)) if k else z[:, f]
        da = float((r - layers[k].embed[a[k, f]]).square().sum())
        db = float((r - layers[k].embed[b[k, f]]).square().sum())
        assert abs(da - db) <= rel * max(da, db, 1e-6), (f, k, da, db)


def test_plan_matches_module_path(full_codec, speech):
    lengths = [48000, 11017, 4321, 700]
    x = torch.zeros(len(lengths), max(lengths))
    for i, n in enumerate(lengths):
        x[i, :n] = torch.from_numpy(speech[i * 50000 : i * 50000 + n])
    before = full_codec.encode(x, torch.tensor(lengths), n_q=12)  # the default: module path
    try:
        full_codec.fast_cpu = True
        after = full_codec.encode(x, torch.tensor(lengths), n_q=12)
    finally:
        full_codec.fast_cpu = False
    assert torch.equal(before < 0, after < 0)
    same = int((before == after).sum()) / before.numel()
    assert same >= 0.97, same
    for i, n in enumerate(lengths):
        f = full_codec.num_frames(n)
        wav = x[i : i + 1, : f * 320].clone().unsqueeze(1)
        wav[..., n:] = 0
        with torch.no_grad():
            z_mod = full_codec.model.encoder(wav)
            z_fast = full_codec._plan(wav).transpose(1, 2)
        assert float((z_mod - z_fast).abs().max()) <= 1e-5
        _near_tie_only(full_codec, z_mod[0], before[i, :, :f], after[i, :, :f])


def test_one_by_one_convs_are_bit_identical():
    x = torch.randn(1, 48, 3000)
    w, b = torch.randn(32, 48, 1), torch.randn(32)
    tm = torch.addmm(b, x[0].t().contiguous(), w[:, :, 0].t().contiguous())
    assert torch.equal(tm.t(), F.conv1d(x, w, b)[0])


@pytest.mark.parametrize("zero_extend", [False, True])
def test_time_major_padding_equals_pad1d(zero_extend):
    torch.manual_seed(0)
    x = torch.randn(3, 5, 40)
    lengths = [40, 17, 3]
    rights = [4, 6, 5]
    got = pad_time_major(x.transpose(1, 2).contiguous(), 4, 6, elu=True, lengths=lengths, rights=rights, zero_extend=zero_extend)
    want = pad1d(F.elu(x), 4, 6, torch.tensor(lengths), zero_extend, torch.tensor(rights)).transpose(1, 2)
    for i, (n, r) in enumerate(zip(lengths, rights)):
        # ELU's vectorised and scalar tails differ in the last bit: the padding layout is what is checked
        torch.testing.assert_close(got[i, : 4 + n + r], want[i, : 4 + n + r], rtol=0, atol=1e-6)


def test_channels_last_round_trip():
    x = torch.randn(2, 50, 8)
    cl = _channels_last(x)
    assert cl.shape == (2, 8, 1, 50) and cl.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(_time_major(cl), x)


def test_bf16_autocast_keeps_the_module_path(full_codec, speech):
    """Autocast (the GPU tokenization path; CPU autocast here) bypasses the fp32 plan and still encodes batches."""
    wav = torch.from_numpy(speech[:32000].reshape(2, 16000))
    fp32 = full_codec.encode(wav, n_q=3)
    try:
        full_codec.autocast_dtype = torch.bfloat16
        bf16 = full_codec.encode(wav, torch.tensor([16000, 9000]), n_q=3)
    finally:
        full_codec.autocast_dtype = None
    assert bf16.shape == (2, 3, 50) and bool((bf16[1, :, 29:] == -1).all())
    assert float((bf16[0] == fp32[0]).float().mean()) >= 0.5


def test_plan_is_rebuilt_after_to():
    from codec import Codec
    from codec.config import preset
    from codec.model import CodecModel

    cfg = preset("tiny")
    codec = Codec.from_generator(CodecModel(cfg), cfg)
    codec.encode(torch.zeros(3200), n_q=1)
    assert codec._plan is None  # off by default
    codec.fast_cpu = True
    codec.encode(torch.zeros(3200), n_q=1)
    assert isinstance(codec._plan, FastEncoder)
    codec.to("cpu")
    assert codec._plan is None
