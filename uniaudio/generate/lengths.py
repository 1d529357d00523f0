"""Output length bounds (in frames, 50 per second) from a request's conditions.

The task template's ``length_from`` names the condition that bounds the output:

* a **phone** condition (tts, plain_tts, instruct_tts): ``[min_frames_per_phone, max_frames_per_phone]``
  times the number of phones (word boundaries and stress marks are not phones and are not counted);
* a **frame-aligned** condition (source audio for se / tse / dereverb / speech_edit / audio_edit,
  semantic units for vc, MIDI frames for svs): ``[min_source_ratio, max_source_ratio]`` times its
  frames, or exactly its frames with ``fixed_length``;
* none, audio target (text_to_sound, text_to_music): ``[min_seconds, max_seconds]``;
* none, text target (asr): 1 .. ``asr_max_tokens_per_second`` x the source seconds (+ a margin);
* none, label target (sv): exactly one label.

>>> b = length_bounds("tts", {"phone_count": 10}, LengthConfig())
>>> (b.min_frames, b.max_frames)
(20, 250)
>>> length_bounds("se", {"source_frames": 100}, LengthConfig(fixed_length=True))
Bounds(min_frames=100, max_frames=100)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

from pydantic import Field, model_validator

from uniaudio.config import ConfigBase
from uniaudio.tasks import get_task
from uniaudio.vocab import CODEC_MODALITIES, PHONE

FRAME_RATE = 50


class LengthConfig(ConfigBase):
    """Length policy (see the module docstring)."""

    min_frames_per_phone: float = Field(2.0, ge=0.0)
    max_frames_per_phone: float = Field(25.0, gt=0.0)
    min_source_ratio: float = Field(0.8, ge=0.0)
    max_source_ratio: float = Field(1.25, gt=0.0)
    fixed_length: bool = False  # frame-aligned tasks: output exactly the condition's length
    min_seconds: float = Field(1.0, ge=0.0)  # free-length tasks (text_to_sound / text_to_music)
    max_seconds: float = Field(10.0, gt=0.0)
    asr_max_tokens_per_second: float = Field(40.0, gt=0.0)  # text ids (bytes) per second of speech
    max_frames_cap: int = Field(3000, ge=1)  # hard cap for any request (60 s): bounds the KV cache

    @model_validator(mode="after")
    def _order(self) -> "LengthConfig":
        for lo, hi in (("min_frames_per_phone", "max_frames_per_phone"), ("min_source_ratio", "max_source_ratio"),
                       ("min_seconds", "max_seconds")):
            if getattr(self, lo) > getattr(self, hi):
                raise ValueError(f"{lo} ({getattr(self, lo)}) must not exceed {hi} ({getattr(self, hi)})")
        return self


@dataclass(frozen=True)
class Bounds:
    min_frames: int
    max_frames: int


def _bounds(lo: float, hi: float, cap: int) -> Bounds:
    hi_i = max(1, min(cap, math.ceil(hi)))
    return Bounds(min(max(1, math.floor(lo)), hi_i), hi_i)  # at least one frame: never an empty output


def length_bounds(task: str, info: Mapping[str, float], cfg: LengthConfig) -> Bounds:
    """Bounds for one request. ``info`` carries what the conditioning measured: ``phone_count``,
    ``source_frames`` (frames of the ``length_from`` condition), ``source_seconds`` (asr)."""
    tmpl = get_task(task)
    cap = cfg.max_frames_cap
    if tmpl.target.modality == "label":
        return Bounds(1, 1)
    if tmpl.target.modality not in CODEC_MODALITIES:  # text: bounded by the speech it transcribes
        secs = float(info.get("source_seconds", 0.0))
        return _bounds(1, cfg.asr_max_tokens_per_second * secs + 8, cap)
    if tmpl.length_from is None:
        return _bounds(cfg.min_seconds * FRAME_RATE, cfg.max_seconds * FRAME_RATE, cap)
    if tmpl.condition(tmpl.length_from).modality == PHONE:
        n = int(info["phone_count"])
        return _bounds(cfg.min_frames_per_phone * n, cfg.max_frames_per_phone * n, cap)
    n = int(info["source_frames"])
    if cfg.fixed_length:
        return _bounds(n, n, cap)
    return _bounds(cfg.min_source_ratio * n, cfg.max_source_ratio * n, cap)
