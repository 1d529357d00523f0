"""Settings of the example builder (``uniaudio examples --config TASKS.yaml --set a=b``).

>>> ExamplesConfig().prompt_frames, ExamplesConfig().valid_fraction
(150, 0.02)
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from pipelines.tokenize.config import TrackingConfig
from uniaudio.config import ConfigBase


class ExamplesRayConfig(ConfigBase):
    """The Ray instance and the distributed build (docs/STORES.md, "Example store")."""

    num_cpus: int | None = Field(2, ge=1)  # for a local instance (ignored with --address)
    object_store_mb: int | None = Field(None, ge=1)  # local instance only; None = Ray's default
    # How each example's records are brought together. "sort": Ray Data's task-based sort shuffle
    # (range-partitions by the group key; no actors, ~0.2 s of fixed cost per job on a small box).
    # "hash": Ray Data's hash shuffle (aggregator actors: ~5 s to start each job on 2 cores, but
    # no sampling pass; worth it on a large cluster).
    shuffle: Literal["sort", "hash"] = "sort"
    hash_partitions: int | None = Field(None, ge=1)  # "hash" only; None = Ray's default_hash_shuffle_parallelism
    progress_bars: bool = False  # Ray Data's own bars
    # Parquet bytes per read block (Ray splits files finer where there are more CPUs than blocks).
    read_block_mb: float = Field(128.0, gt=0)


class ExamplesConfig(ConfigBase):
    """How examples are drawn from the token store. Every choice is seeded: same inputs -> same examples."""

    seed: int = Field(0, ge=0)
    tasks: list[str] | None = None  # None: every task each token row lists
    datasets: list[str] | None = None  # None: every dataset of the token store
    n_q: int = Field(3, ge=1)
    valid_fraction: float = Field(0.02, ge=0.0, le=1.0)  # by a stable hash of (dataset, utt_id)
    prompt_frames: int = Field(150, ge=1)  # 3-s prompt / enrolment / SV crop at 50 frames/s
    sv_positive_fraction: float = Field(0.5, ge=0.0, le=1.0)
    edit_min_words: int = Field(1, ge=1)  # speech edit: words masked from a word alignment (no simulator span)
    edit_max_words: int = Field(2, ge=1)
    max_frames: int | None = Field(8000, ge=1)  # longer examples are skipped (reported as too_long)
    chunk_rows: int = Field(2000, ge=1)  # examples per Delta commit
    target_file_mb: float = Field(256.0, gt=0.0)
    ray: ExamplesRayConfig = ExamplesRayConfig()
    mlflow: TrackingConfig = TrackingConfig(experiment="examples")

    @model_validator(mode="after")
    def _words(self) -> "ExamplesConfig":
        if self.edit_max_words < self.edit_min_words:
            raise ValueError("edit_max_words must be >= edit_min_words")
        return self

    def choice_hash(self) -> str:
        """Hash of the fields that change what an example holds (part of every example fingerprint)."""
        keep = ("seed", "n_q", "valid_fraction", "prompt_frames", "sv_positive_fraction", "edit_min_words",
                "edit_max_words")
        return ConfigBase.content_hash(_Choices(**{k: getattr(self, k) for k in keep}))


class _Choices(ConfigBase):
    seed: int = Field(ge=0)
    n_q: int = Field(ge=1)
    valid_fraction: float = Field(ge=0.0, le=1.0)
    prompt_frames: int = Field(ge=1)
    sv_positive_fraction: float = Field(ge=0.0, le=1.0)
    edit_min_words: int = Field(ge=1)
    edit_max_words: int = Field(ge=1)
