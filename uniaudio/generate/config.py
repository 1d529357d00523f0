"""Settings of ``uniaudio generate`` (one :class:`GenerateConfig`; ``--config FILE.yaml``, ``--set a.b=v``).

>>> cfg = GenerateConfig()
>>> cfg.sampling.top_k, cfg.sampling.temperature, cfg.lengths.max_seconds
(30, 0.8, 10.0)
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from uniaudio.config import ConfigBase
from uniaudio.generate.lengths import LengthConfig
from uniaudio.generate.sampling import SamplingConfig


class GenerateConfig(ConfigBase):
    sampling: SamplingConfig = SamplingConfig()
    lengths: LengthConfig = LengthConfig()
    batch_size: int = Field(8, ge=1)  # requests generated together (one prefill, one decoding loop)
    device: str = "auto"  # auto: cuda when available, else cpu
    dtype: Literal["auto", "fp32", "bf16"] = "auto"  # auto: bf16 weights on cuda, fp32 on cpu
    prompt_seconds: float = Field(3.0, gt=0.0)  # prompt / enrolment crop (the training prompt rule: 3 s)
    max_input_seconds: float = Field(60.0, gt=0.0)  # longer input audio is refused
    compact: bool = True  # drop finished rows from the caches once half the batch has ended (eager only)
    cuda_graph: bool = False  # capture one frame step as a CUDA graph (cuda only)
    # tokenizer settings merged over the model lineage's (e.g. {"semantic": {"kmeans_path": ...}})
    tokenizers: dict[str, Any] = Field(default_factory=dict)


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
