"""Every codec preset is self-consistent: what the recipe judges fits inside what the data gives it."""

from __future__ import annotations

import pytest

from codec.config import PRESETS, preset


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_shortest_crop_holds_the_discriminator_segment_and_every_mel_window(name):
    cfg = preset(name)
    sr, t = cfg.model.sample_rate, cfg.train
    shortest = int(t.crop_min_s * sr) // cfg.model.hop_length * cfg.model.hop_length
    assert cfg.disc.segment_s * sr <= shortest, "the discriminators would judge the whole crop, not a segment"
    if cfg.loss.multi_mel > 0:
        # at least 4 frames per scale: hop = window / 4, so the longest window must fit into the crop
        assert max(cfg.loss.multi_mel_windows) <= shortest


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_recipe_2_presets_never_thrash_their_codebooks_and_the_trainer_says_when_one_would(name):
    """Recipe 2 judges dead codes relative to the mean usage; the published absolute threshold at a
    one-worker batch is flagged, and the trainer turns that into a warning a user sees."""
    import warnings

    from codec.train_step import CodecTrainer

    cfg = preset(name)
    published = name in ("paper", "tiny_paper")
    assert (cfg.quantizer.dead_fraction == 0) == published
    assert (cfg.dead_code_warning(world_size=1) is not None) == published
    if name == "tiny_paper":
        with pytest.warns(UserWarning, match="nearly every code will be restarted"):
            CodecTrainer(cfg)
    if name == "tiny":
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)
            CodecTrainer(cfg)
