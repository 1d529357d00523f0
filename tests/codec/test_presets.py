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

