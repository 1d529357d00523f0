"""The time-chunked early encoder stages (codec/chunked_encode.py) against the module path: codes and
latents must be **bitwise** equal (torch.equal), for odd lengths, batches, both end paddings, the
published layout and the project's presets; and the path must step aside where it does not apply."""

from __future__ import annotations

import logging
import math

import pytest
import torch

from codec import chunked_encode as ce
from codec.seanet import SEANetEncoder


@pytest.fixture(autouse=True)
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    ce._checked.clear()
    yield
    torch.set_num_threads(n)


@pytest.fixture
def calls(monkeypatch):
    """Whether each encoder forward took the chunked path (in a process whose allocator is untuned,
    whatever other tests in this session did)."""
    from uniaudio import allocator

    monkeypatch.setattr(allocator, "_applied", None)
    seen = []
    early = ce.early_stages

    def counted(*a, **k):
        out = early(*a, **k)
        if ce.ENABLED:  # not the reference run of _both
            seen.append(out[0] is not None)
        return out

    monkeypatch.setattr(ce, "early_stages", counted)
    return seen


def _both(fn):
    ce.ENABLED = False
    try:
        ref = fn()
    finally:
        ce.ENABLED = True
    return ref, fn()


def _encoder(channels: int, end_padding: str, wn: bool = False) -> SEANetEncoder:
    torch.manual_seed(channels)
    return SEANetEncoder(channels=channels, dimension=16, end_padding=end_padding, weight_norm=wn).eval()


def _chunk(samples: int, stages: int) -> int:
    """``samples``, or more where this CPU's ELU vector width needs it: every chunk must hold at least one
    vector of the last chunked stage (16 values with AVX2, 32 with AVX-512), else the path steps aside."""
    return max(samples, ce.elu_vector_width() * math.prod(_encoder(4, "zeros").strides[:stages]))


LENGTHS = [100, 321, 1280, 2047, 2560, 5120, 7043, 9600, 12345]


@pytest.mark.parametrize("end_padding", ["reflect", "zeros"])
@pytest.mark.parametrize("stages,chunk", [(2, 512), (3, 800), (2, 8192)])
def test_latents_bitwise_equal(monkeypatch, calls, end_padding, stages, chunk):
    monkeypatch.setattr(ce, "STAGES", stages)
    monkeypatch.setattr(ce, "CHUNK_SAMPLES", _chunk(chunk, stages))
    enc = _encoder(4, end_padding)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for B in (1, 3):
            for T in LENGTHS:
                T = T if end_padding == "reflect" else -(-T // 320) * 320
                x = torch.randn(B, 1, T, generator=g) * 0.5
                ref, got = _both(lambda: enc(x))
                assert torch.equal(ref, got), (B, T)
    assert ce._checked[enc] is True
    if chunk < 1000:
        assert sum(calls) >= 6  # the chunked path really ran (short inputs take the module path)
    assert not all(calls)


@pytest.mark.parametrize("channels,wn", [(8, True), (6, False)])
def test_ragged_tails_and_weight_norm(monkeypatch, calls, channels, wn):
    """Channel counts whose ``B * C * T`` is not a multiple of the ELU vector width exercise the
    flattened ELU's scalar tail; weight norm is computed once per forward. Two stages: at three, the
    first input's stage-2 convs are small enough for PyTorch's native backend, which the chunks do not
    reproduce, so that call rightly falls back (test_module_path_where_it_does_not_apply)."""
    monkeypatch.setattr(ce, "CHUNK_SAMPLES", 640)
    monkeypatch.setattr(ce, "STAGES", 2)
    enc = _encoder(channels, "reflect", wn)
    with torch.no_grad():
        for B, T in [(1, 4001), (3, 6403), (2, 9999)]:
            x = torch.randn(B, 1, T) * 0.5
            ref, got = _both(lambda: enc(x))
            assert torch.equal(ref, got), (B, T)
    assert all(calls) and len(calls) == 3


def test_batch_16_uses_onednn_for_1x1(monkeypatch, calls):
    """At batch >= 16 PyTorch runs even unstrided 1x1 convs on oneDNN; per-item chunks must follow."""
    monkeypatch.setattr(ce, "CHUNK_SAMPLES", _chunk(640, ce.STAGES))
    enc = _encoder(4, "zeros")
    x = torch.randn(16, 1, 3200)
    with torch.no_grad():
        ref, got = _both(lambda: enc(x))
    assert torch.equal(ref, got) and calls == [True]


@pytest.mark.parametrize("name", ["tiny", "default"])
@pytest.mark.parametrize("end_padding", ["zeros", "reflect"])
def test_codec_codes_bitwise_equal(monkeypatch, calls, name, end_padding):
    from codec import Codec
    from codec.config import CodecConfig, load_config, preset
    from codec.model import CodecModel

    monkeypatch.setattr(ce, "CHUNK_SAMPLES", 2048)
    cfg = load_config(CodecConfig, overrides=[f"model.end_padding={end_padding}"], base=preset(name))
    torch.manual_seed(0)
    codec = Codec.from_generator(CodecModel(cfg), cfg)
    wav = torch.randn(3, 9001) * 0.3
    enc, q = codec.model.encoder, codec.model.quantizer
    with torch.no_grad():
        for x in (wav[:1, :8960], wav, wav[:, :8000]):
            T = x.shape[-1] if end_padding == "reflect" else -(-x.shape[-1] // 320) * 320
            xin = torch.nn.functional.pad(x, (0, T - x.shape[-1])).unsqueeze(1)
            z_ref, z = _both(lambda: enc(xin))
            assert torch.equal(z_ref, z)
            assert torch.equal(q.encode(z_ref, 4), q.encode(z, 4))
            c_ref, c = _both(lambda: codec.encode(x, n_q=4))
            assert torch.equal(c_ref, c)
    assert all(calls) and len(calls) >= 6


def test_published_layout(monkeypatch, calls):
    """The full-size published layout (32 filters, D=256, reflect end padding) at the real chunk size."""
    enc = SEANetEncoder(channels=32, dimension=256, end_padding="reflect", weight_norm=False).eval()
    x = torch.randn(1, 1, 3 * ce.CHUNK_SAMPLES + 1234) * 0.3
    with torch.no_grad():
        ref, got = _both(lambda: enc(x))
    assert torch.equal(ref, got) and calls == [True]


def test_module_path_where_it_does_not_apply(monkeypatch, calls):
    monkeypatch.setattr(ce, "CHUNK_SAMPLES", 640)
    enc = _encoder(4, "reflect")
    x = torch.randn(2, 1, 6400)
    with torch.no_grad():
        torch.set_num_threads(2)
        assert ce.early_stages(enc, x) == (None, 0)
        torch.set_num_threads(1)
        assert ce.early_stages(enc, x, torch.tensor([6400, 3000])) == (None, 0)  # ragged batch
        assert ce.early_stages(enc, x.double()) == (None, 0)
        assert ce.early_stages(enc, x[..., :600]) == (None, 0)  # shorter than two chunks
        small = SEANetEncoder(channels=8, dimension=16, end_padding="reflect", weight_norm=False).eval()
        assert ce.early_stages(small, torch.randn(1, 1, 4001)) == (None, 0)  # a conv on the native backend
    assert ce.early_stages(enc, x) == (None, 0)  # autograd on
    from uniaudio import allocator

    monkeypatch.setattr(allocator, "_applied", True)  # keep_freed_memory() took effect: chunks do not pay
    with torch.no_grad():
        assert ce.early_stages(enc, x) == (None, 0)
    assert calls == [False] * 7


def test_self_check_falls_back(monkeypatch, caplog, calls):
    monkeypatch.setattr(ce, "CHUNK_SAMPLES", _chunk(640, ce.STAGES))
    enc = _encoder(4, "reflect")
    real = ce.module_early_stages
    monkeypatch.setattr(ce, "module_early_stages", lambda *a: real(*a) + 1e-7)  # a build whose values differ
    with torch.no_grad(), caplog.at_level(logging.WARNING, logger="codec.chunked_encode"):
        x = torch.randn(1, 1, 6400)
        assert ce.early_stages(enc, x) == (None, 0)
        assert ce.early_stages(enc, x) == (None, 0)
    assert ce._checked[enc] is False and calls == [False, False]
    assert len([r for r in caplog.records if "differs" in r.message]) == 1
