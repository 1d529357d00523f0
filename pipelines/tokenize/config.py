"""Settings of the tokenization job (``uniaudio tokenize --config FILE.yaml --set a.b=c``).

>>> cfg = TokenizeConfig()
>>> cfg.tokenizers.codec.n_q, cfg.ray.num_cpus, cfg.commit.target_file_mb
(3, 2, 256.0)
"""

from __future__ import annotations

from pydantic import Field

from pipelines.tokenize.codec_stage import CodecPoolConfig
from pipelines.tokenize.committer import CommitConfig
from pipelines.tokenize.decode import AudioCheckConfig
from uniaudio.config import ConfigBase
from uniaudio.tokenizers import TokenizersConfig


class RayConfig(ConfigBase):
    """The Ray instance and the CPU stage."""

    num_cpus: int | None = Field(2, ge=1)  # for a local instance (ignored with --address)
    # Manifest rows per CPU task (decode + modalities). Large enough that Ray's per-task overhead
    # (~20-40 ms) stays a few % of the work: 64 rows of 10 s decode + resample in ~0.5 s on one core.
    block_rows: int = Field(64, ge=1)
    task_cpus: float = Field(1.0, gt=0)  # CPUs reserved per CPU task
    task_memory_mb: float | None = Field(None, gt=0.0)  # memory reserved per CPU task; None = from block_rows and audio.max_s
    object_store_mb: int | None = Field(None, ge=1)  # local instance only; None = Ray's default
    progress_bars: bool = False  # Ray Data's own bars (the driver shows one tqdm bar over rows)


class TrackingConfig(ConfigBase):
    """MLflow run of the job."""

    enabled: bool = True
    tracking_uri: str | None = None  # None: $MLFLOW_TRACKING_URI, else sqlite under <store>/_mlflow
    experiment: str = "tokenize"


class TokenizeConfig(ConfigBase):
    """Everything the job needs besides the spec, the store and the codec checkpoint."""

    tokenizers: TokenizersConfig = TokenizersConfig()
    audio: AudioCheckConfig = AudioCheckConfig()
    codec_pool: CodecPoolConfig = CodecPoolConfig()
    commit: CommitConfig = CommitConfig()
    ray: RayConfig = RayConfig()
    mlflow: TrackingConfig = TrackingConfig()
    retry_quarantined: bool = False  # re-attempt rows quarantined under the same fingerprint + version
    prune: bool = True  # delete superseded rows of the spec's datasets after the run (docs/STORES.md)
