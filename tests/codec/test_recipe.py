"""Recipe 2's parts: multi-scale mel loss, MPD, multi-band STFT discriminator, quantizer dropout, segments."""

from __future__ import annotations

import pytest
import torch

from codec.config import CodecConfig, load_config, preset
from codec.disc_band import MultiBandSTFTDiscriminator
from codec.disc_period import MultiPeriodDiscriminator
from codec.discriminator import Discriminators
from codec.losses import discriminator_loss, feature_matching_loss, generator_adversarial_loss
from codec.mel_loss import MultiScaleMelLoss
from codec.train_step import disc_segment, n_q_for_step


def _discs():
    return {"mpd": MultiPeriodDiscriminator([2, 3, 5], [8, 16, 32]),
            "mrd": MultiBandSTFTDiscriminator([256, 128], 8)}


@pytest.mark.parametrize("kind", ["mpd", "mrd"])
def test_discriminator_shapes(kind):
    d = _discs()[kind]
    outs = d(torch.randn(3, 1, 8000))
    assert len(outs) == (3 if kind == "mpd" else 2)
    for score, feats in outs:
        assert score.shape[0] == 3 and score.shape[1] == 1 and feats
        assert all(f.shape[0] == 3 and torch.isfinite(f).all() for f in feats)


def test_mpd_folds_by_period_and_pads_odd_lengths():
    d = MultiPeriodDiscriminator([3], [4])
    score, feats = d(torch.randn(2, 1, 1001))[0]
    assert score.shape[-1] == 3 and feats[0].shape[-1] == 3  # the period is the last axis


def test_mrd_bands_cover_the_spectrum():
    d = MultiBandSTFTDiscriminator([256], 4).discs[0]
    assert d.bands[0][0] == 0 and d.bands[-1][1] == 129
    assert all(a[1] == b[0] for a, b in zip(d.bands, d.bands[1:]))  # contiguous, no bin dropped
    with pytest.raises(ValueError, match="too small"):
        MultiBandSTFTDiscriminator([16], 4)


def test_multi_scale_mel_loss():
    loss = MultiScaleMelLoss([64, 256, 1024], [10, 40, 80])
    y = 0.1 * torch.randn(2, 8000)
    assert float(loss(y, y)) == 0.0
    # louder by 2x: log10 mel moves by ~log10(2) = 0.3 at every scale
    assert float(loss(2 * y, y)) == pytest.approx(0.301, abs=0.02)
    with pytest.raises(ValueError, match="mel bands"):
        MultiScaleMelLoss([32], [40])


@pytest.mark.parametrize("kind", ["mpd", "mrd"])
def test_gradients_reach_the_generator_output(kind):
    d = _discs()[kind]
    real = 0.1 * torch.randn(2, 1, 8000)
    fake = (0.1 * torch.randn(2, 1, 8000)).requires_grad_(True)
    r, f = d(real), d(fake)
    mel = MultiScaleMelLoss([64, 256], [10, 40])(fake.squeeze(1), real.squeeze(1))
    (generator_adversarial_loss(f) + feature_matching_loss(r, f) + mel).backward()
    assert fake.grad is not None and torch.isfinite(fake.grad).all() and fake.grad.abs().sum() > 0


def test_discriminators_join_every_member():
    cfg = preset("tiny")
    d = Discriminators.from_config(cfg)
    assert list(d.members) == ["mpd", "mrd"]
    n = len(cfg.disc.mpd_periods) + len(cfg.disc.mrd_windows)
    assert len(d(torch.zeros(1, 1, 8000))) == n
    assert list(Discriminators.from_config(preset("tiny_paper")).members) == ["mfd"]


@pytest.mark.parametrize("kind", ["mpd", "mrd"])
def test_discriminator_separates_real_from_noise(kind, speech):
    """A few least-squares steps on a fixed batch: real speech scores above white noise of the same RMS."""
    torch.manual_seed(0)
    d = _discs()[kind]
    real = torch.from_numpy(speech[: 4 * 8000].copy()).view(4, 1, 8000)
    real = real / real.abs().amax(-1, keepdim=True) * 0.9
    noise = torch.randn_like(real) * real.square().mean(-1, keepdim=True).sqrt()
    opt = torch.optim.Adam(d.parameters(), 1e-2)
    for _ in range(40):
        loss = discriminator_loss(d(real), d(noise))
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        r = torch.stack([s.mean() for s, _ in d(real)]).mean()
        f = torch.stack([s.mean() for s, _ in d(noise)]).mean()
    assert r - f > 0.25, (float(r), float(f))  # targets 1 and 0; at initialisation both score alike


def test_quantizer_dropout_share():
    cfg = preset("tiny").train
    assert cfg.quantizer_dropout == 0.5
    draws = [n_q_for_step(cfg, s) for s in range(2000)]
    full = sum(d == 4 for d in draws) / len(draws)
    assert full == pytest.approx(0.5 + 0.5 / 4, abs=0.04)  # kept steps + the drawn share of n_q=4
    assert set(draws) == {1, 2, 3, 4}
    assert draws == [n_q_for_step(cfg, s) for s in range(2000)]


def test_disc_segment_is_shared_by_real_and_fake_and_a_function_of_the_step():
    cfg = load_config(CodecConfig, overrides=["disc.segment_s=0.25"], base=preset("tiny"))
    wav = torch.arange(16000.0).view(1, 1, -1)
    a, b = disc_segment(cfg, 7, wav, wav + 0.5)
    assert a.shape[-1] == 4000 and torch.equal(a + 0.5, b)
    assert torch.equal(a, disc_segment(cfg, 7, wav, wav)[0])
    whole = load_config(CodecConfig, overrides=["disc.segment_s=0"], base=preset("tiny"))
    assert disc_segment(whole, 7, wav, wav)[0].shape[-1] == 16000


def test_factorized_quantizer_trains_exports_and_loads(tmp_path):
    """quantizer.kind=factorized: codes in code_dim dims, gradients reach encoder and codebooks, and the
    exported codec decodes exactly what the training model decodes."""
    from codec import Codec
    from codec.export import export_codec
    from codec.train_step import CodecTrainer

    cfg = load_config(CodecConfig, overrides=["quantizer.kind=factorized", "quantizer.code_dim=4"], base=preset("tiny"))
    t = CodecTrainer(cfg)
    q = t.generator.quantizer
    assert q.layers[0].codebook.shape == (1024, 4)
    wav = 0.1 * torch.randn(2, 1, 8000)
    before = q.layers[0].codebook.detach().clone()
    m = t.train_step(wav)
    assert m["loss/commitment"] > 0 and not torch.equal(before, q.layers[0].codebook)
    export_codec(t.generator, cfg, tmp_path / "c")
    codec = Codec.load(tmp_path / "c")
    x = 0.1 * torch.randn(8000)
    codes = codec.encode(x, n_q=3)
    t.generator.eval()
    ref = t.generator.encode(x.view(1, 1, -1), 3)[0]
    assert torch.equal(codes, ref)
    assert torch.allclose(codec.decode(codes), t.generator.decode(ref.unsqueeze(0)).view(-1), atol=1e-5)
