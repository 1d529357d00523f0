"""Training configuration: one typed config, presets in the model package, overrides via --set."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from uniaudio.config import ConfigBase
from uniaudio.data.loader import LoaderConfig
from uniaudio.model.config import ModelConfig, get_preset


class OptimConfig(ConfigBase):
    lr: float = Field(3e-4, gt=0.0)  # the recipes' 5e-3 is very high for AdamW on a 1B transformer (UNIAUDIO.md §9.11)
    betas: tuple[float, float] = (0.9, 0.95)
    eps: float = Field(1e-8, gt=0.0)
    weight_decay: float = Field(0.01, ge=0.0)  # not applied to norms, biases, embeddings
    warmup_steps: int = Field(1000, ge=0)
    schedule: Literal["inverse_sqrt", "cosine", "constant"] = "inverse_sqrt"
    min_lr_ratio: float = Field(0.1, ge=0.0, le=1.0)  # cosine floor as a fraction of lr
    grad_clip: float = Field(1.0, ge=0.0)
    grad_accum: int = Field(1, ge=1)

    @field_validator("betas")
    @classmethod
    def _betas(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not all(0.0 <= b < 1.0 for b in v):
            raise ValueError(f"Adam betas must be in [0, 1), got {v}")
        return v


class TrainConfig(ConfigBase):
    preset: str = "tiny"
    model: ModelConfig | None = None  # filled from the preset when absent; override fields with model.x=...
    optim: OptimConfig = OptimConfig()
    loader: LoaderConfig = LoaderConfig()
    steps: int = Field(1000, ge=1)
    zero_stage: Literal[1, 2, 3] = 2
    precision: Literal["auto", "fp32", "bf16"] = "auto"  # auto: bf16 on GPU, fp32 on CPU
    workers: int = Field(1, ge=1)
    cpus_per_worker: float = Field(0.5, gt=0.0)  # fractional on small CPU boxes so Ray Data tasks can still schedule
    use_gpu: bool | None = None  # None: GPUs if the cluster has them
    checkpoint_every: int = Field(200, ge=1)
    keep_checkpoints: int = Field(2, ge=1)
    validate_every: int = Field(200, ge=1)
    val_batches: int = Field(8, ge=1)
    log_every: int = Field(10, ge=1)
    max_failures: int = Field(2, ge=-1)
    first_codebook_weight: float = Field(1.0, ge=0.0)
    seed: int = Field(0, ge=0)
    experiment: str = "uniaudio-lm"
    run_name: str | None = None
    peak_flops_per_worker: float | None = Field(None, gt=0.0)  # for MFU; default: 989e12 on H100 (bf16 dense), none on CPU
    # Fine-tune: start from an exported model (dir, runs:/ or models:/ URI). Its model_config.json fixes the
    # architecture (the preset is ignored for it); fresh optimizer and LR schedule, step 0. See init_from.py.
    init_from: str | None = None

    @model_validator(mode="after")
    def _fill_model(self) -> "TrainConfig":
        if self.model is None:
            object.__setattr__(self, "model", get_preset(self.preset))
        for name in ("steps", "workers", "checkpoint_every", "validate_every", "log_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")
        if self.optim.grad_accum < 1:
            raise ValueError("optim.grad_accum must be >= 1")
        return self


def train_config(preset: str = "tiny", path: str | None = None, overrides: list[str] | tuple = (),
                 tracking_uri: str | None = None) -> TrainConfig:
    """Resolve preset -> YAML -> overrides (``model.n_layer=4``, ``optim.lr=1e-3``, ...).

    With ``init_from`` the model comes from the export's ``model_config.json`` instead of the preset; a
    ``model.x`` set in the YAML or an override that contradicts it is a ConfigError naming the field.
    """
    from uniaudio.config import load_config

    base = {"preset": preset, "model": get_preset(preset).to_dict()}
    cfg = load_config(TrainConfig, path, overrides, base=base)
    if cfg.preset != preset and not any(o.startswith("model.") or o.startswith("model=") for o in overrides):
        cfg = load_config(TrainConfig, path, overrides, base={"preset": cfg.preset, "model": get_preset(cfg.preset).to_dict()})
    if cfg.init_from:
        from uniaudio.train.init_from import apply_init_architecture, explicit_model_fields

        cfg = apply_init_architecture(cfg, explicit_model_fields(path, overrides), tracking_uri)
    return cfg
