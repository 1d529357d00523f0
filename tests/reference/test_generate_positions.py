"""A model with a learned position table (an imported published LM: ``block_size`` frames): generation caps
the output so that SOS + prefix + output + end fit the table, and refuses a prefix that cannot fit."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from uniaudio.generate.conditioning import ConditionError
from uniaudio.generate.lengths import Bounds
from uniaudio.generate.runner import Generator
from uniaudio.model import ModelConfig


def _fit(cfg: ModelConfig, bounds: Bounds, prefix: int) -> Bounds:
    holder = SimpleNamespace(model=SimpleNamespace(config=cfg))
    return Generator._fit_positions(holder, bounds, prefix, "tts")


def test_output_capped_to_the_learned_table():
    cfg = ModelConfig(d_model=48, n_head=2, positions="learned", max_frames=256)
    assert _fit(cfg, Bounds(100, 400), 170) == Bounds(84, 84)  # 1 SOS + 170 + 84 + 1 end = 256
    assert _fit(cfg, Bounds(10, 40), 170) == Bounds(10, 40)
    with pytest.raises(ConditionError, match="take 255 frames but the model's learned position table holds 256"):
        _fit(cfg, Bounds(10, 40), 255)


def test_rope_models_are_not_capped():
    cfg = ModelConfig(d_model=48, n_head=2, positions="rope", max_frames=256)
    assert _fit(cfg, Bounds(100, 4000), 300) == Bounds(100, 4000)
