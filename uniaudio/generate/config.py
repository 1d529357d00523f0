"""Settings of ``uniaudio generate`` (one :class:`GenerateConfig`; ``--config FILE.yaml``, ``--set a.b=v``).

>>> cfg = GenerateConfig()
>>> cfg.sampling.top_k, cfg.sampling.temperature, cfg.lengths.max_seconds
(30, 0.8, 10.0)
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from uniaudio.conditioning_dropout import check_drop_segments, default_drop_segments
from uniaudio.config import ConfigBase
from uniaudio.generate.lengths import LengthConfig
from uniaudio.generate.limits import RequestLimits
from uniaudio.generate.sampling import SamplingConfig
from uniaudio.tasks import TASKS


class GenerateConfig(ConfigBase):
    sampling: SamplingConfig = SamplingConfig()
    lengths: LengthConfig = LengthConfig()
    limits: RequestLimits = RequestLimits()  # text / phone / prefix length, requests per batch
    batch_size: int = Field(8, ge=1)  # requests generated together (one prefill, one decoding loop)
    device: str = "auto"  # auto: cuda when available, else cpu
    dtype: Literal["auto", "fp32", "bf16"] = "auto"  # auto: bf16 weights on cuda, fp32 on cpu
    prompt_seconds: float = Field(3.0, gt=0.0)  # prompt / enrolment crop (the training prompt rule: 3 s)
    max_input_seconds: float = Field(60.0, gt=0.0)  # longer input audio is refused
    compact: bool = True  # drop finished rows from the caches once half the batch has ended (eager only)
    cuda_graph: bool = False  # capture one frame step as a CUDA graph (cuda only)
    # tokenizer settings merged over the model lineage's (e.g. {"semantic": {"kmeans_path": ...}})
    tokenizers: dict[str, Any] = Field(default_factory=dict)
    # Classifier-free guidance (docs/GENERATION.md): logits u + w * (c - u), u = the prefix with the
    # cfg_segments of its task dropped. 1.0 = off (today's decoding); a guided request costs 2x decode.
    # Only for models trained with loader.cond_dropout > 0 and the same segments.
    cfg_scale: float = Field(1.0, ge=0.0)
    cfg_task_scales: dict[str, float] = Field(default_factory=dict)  # per-task w, wins over cfg_scale
    cfg_segments: dict[str, list[str]] = Field(default_factory=default_drop_segments)

    @field_validator("cfg_segments")
    @classmethod
    def _known_segments(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        return check_drop_segments(v)

    @model_validator(mode="after")
    def _scaled_tasks_have_segments(self) -> "GenerateConfig":
        for task, w in self.cfg_task_scales.items():
            if task not in TASKS:
                raise ValueError(f"cfg_task_scales.{task}: unknown task; known tasks: {', '.join(TASKS)}")
            if w < 0:
                raise ValueError(f"cfg_task_scales.{task}: the scale must be >= 0, got {w}")
            if not self.cfg_segments.get(task):
                raise ValueError(f"cfg_task_scales.{task}: the task has no cfg_segments to drop, so it cannot be "
                                 f"guided (guided tasks: {', '.join(t for t, s in self.cfg_segments.items() if s)})")
        return self

    def cfg_scale_of(self, task: str) -> float:
        """The guidance scale a request of ``task`` gets (1.0 when the task has nothing to drop)."""
        if not self.cfg_segments.get(task):
            return 1.0
        return float(self.cfg_task_scales.get(task, self.cfg_scale))


def resolve_device(name: str) -> str:
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


def resolve_dtype(dtype: str, device: str):
    import torch

    if dtype == "auto":
        dtype = "bf16" if device.startswith("cuda") else "fp32"
    return torch.bfloat16 if dtype == "bf16" else torch.float32
