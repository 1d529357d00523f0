"""Settings of the paired-data simulation (one section per task; ``count: 0`` skips a task).

>>> cfg = SimulationConfig(se={"count": 4, "snr_db": [0, 10]})
>>> cfg.se.snr_db, cfg.tse.count
((0.0, 10.0), 0)
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, AfterValidator, field_validator

from uniaudio.config import ConfigBase


def _ordered(v: tuple[float, float]) -> tuple[float, float]:
    if v[0] > v[1]:
        raise ValueError(f"range low {v[0]} is above high {v[1]}")
    return v


Range = Annotated[tuple[float, float], AfterValidator(_ordered)]  # [low, high], drawn uniformly


class _Task(ConfigBase):
    count: int = Field(0, ge=0)  # pairs to make; 0 = skip the task

    @field_validator("count")
    @classmethod
    def _count_ok(cls, v: int) -> int:
        if v < 0:
            raise ValueError("must be >= 0")
        return v


class SeConfig(_Task):
    # The reference's make_noisy.py draws SNR uniformly in [-20, 40] dB; that range is mostly
    # unintelligible or clean, so the default is the band where enhancement matters.
    snr_db: Range = (-5.0, 20.0)


class TseConfig(_Task):
    sir_db: Range = (-5.0, 5.0)  # target-to-interferer ratio


class DereverbConfig(_Task):
    rt60_s: Range = (0.2, 0.8)
    room_x_m: Range = (3.0, 8.0)
    room_y_m: Range = (3.0, 8.0)
    room_z_m: Range = (2.5, 3.5)
    min_wall_m: float = Field(0.5, gt=0.0)  # source and microphone at least this far from every wall
    min_dist_m: float = Field(0.5, gt=0.0)  # ...and from each other
    max_order_cap: int | None = Field(None, ge=0)  # cap the image-source order (faster; truncates the late tail)


class AudioEditConfig(_Task):
    # AUDIT's five edits (pipelines.simulation.edits: add/drop; pipelines.simulation.audit: the rest), drawn uniformly
    ops: list[Literal["add", "drop", "replace", "inpaint", "super_resolution"]] = [
        "add", "drop", "replace", "inpaint", "super_resolution"]
    ebr_db: Range = (-5.0, 5.0)  # event-to-background energy ratio over the whole clip (add, drop, replace)
    mask_s: Range = (0.5, 1.5)  # inpaint: length of the zeroed region
    superres_rates: list[Annotated[int, Field(ge=1000, lt=16000)]] = [4000, 8000]  # super-resolution: low-pass rates (Hz)

    @field_validator("ops", "superres_rates")
    @classmethod
    def _non_empty(cls, v: list) -> list:
        if not v:
            raise ValueError("must list at least one value")
        return v


class SpeechEditConfig(_Task):
    max_words: int = Field(2, ge=1)  # the span is 1..max_words consecutive words


class SimulationConfig(ConfigBase):
    seed: int = Field(0, ge=0)
    crop_s: float | None = Field(None, gt=0.0)  # crop every target to at most this long (the reference SE uses 7 s)
    subtype: Literal["PCM_16", "FLOAT"] = "PCM_16"  # wav sample format of the written files
    se: SeConfig = SeConfig()
    tse: TseConfig = TseConfig()
    dereverb: DereverbConfig = DereverbConfig()
    audio_edit: AudioEditConfig = AudioEditConfig()
    speech_edit: SpeechEditConfig = SpeechEditConfig()
