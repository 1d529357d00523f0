"""Model configuration (:class:`ModelConfig`) and the named presets.

A preset is a plain :class:`ModelConfig` instance; everything is overridable through the project's
config system (``load_config(ModelConfig, path, ["n_layer=4"], base=get_preset("tiny"))``).

>>> get_preset("uniaudio-1b").d_model, get_preset("uniaudio-1b").n_layer
(1536, 24)
>>> get_preset("tiny").n_q
3
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from uniaudio.config import ConfigBase
from uniaudio.errors import UserFacingError


class ModelConfig(ConfigBase):
    """Shape and options of the multi-scale (global + local) transformer. See docs/MODEL.md."""

    vocab: str = "v1"  # vocabulary version (uniaudio/vocab/<vocab>.json); fixes V and the special ids
    n_q: int = Field(3, ge=1)  # tokens per frame (codec codebooks)
    d_model: int = Field(768, ge=1)
    # global (inter-frame) transformer
    n_layer: int = Field(16, ge=1)
    n_head: int = Field(12, ge=1)
    # local (intra-frame) transformer: same width d_model, its own depth / heads
    n_local_layer: int = Field(8, ge=1)
    n_local_head: int = Field(0, ge=0)  # 0 = n_head
    mlp_ratio: int = Field(4, ge=1)
    bias: bool = True  # biases on Linear layers (the reference has them)
    key_bias: bool = True  # with bias: also on the attention key projection (the published checkpoints have none)
    dropout: float = Field(0.0, ge=0.0, lt=1.0)  # embedding + residual dropout (the reference parses --dropout but never uses it)
    attn_dropout: float = Field(0.0, ge=0.0, lt=1.0)  # dropout on attention probabilities
    # frame embedding: "sum" of d-wide token embeddings, or the reference's "concat" of n_q d/n_q-wide ones
    frame_embedding: Literal["sum", "concat"] = "sum"
    # global -> local link: the full global state for every local position ("broadcast"), or the
    # reference's split into n_q chunks of d/n_q, each through a shared Linear(d/n_q -> d) ("chunk")
    global_to_local: Literal["broadcast", "chunk"] = "broadcast"
    positions: Literal["rope", "learned"] = "rope"  # global positions; local positions are always learned
    rope_theta: float = Field(10000.0, gt=0.0)
    max_frames: int = Field(8192, ge=1)  # size of the learned position table (unused with RoPE: it extrapolates)
    attention: Literal["causal", "prefix_lm"] = "causal"  # prefix_lm: the prefix frames see each other
    cont_dim: int = Field(384, ge=1)  # width of continuous inputs (384 MiniLM, 768 T5-base)
    init_std: float = Field(0.02, gt=0.0)

    @property
    def local_heads(self) -> int:
        return self.n_local_head or self.n_head

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_head

    @model_validator(mode="after")
    def _check(self) -> "ModelConfig":
        if not 1 <= self.n_q <= 16:
            raise ValueError(f"n_q must be in 1..16 (the vocabulary has 16 codebooks), got {self.n_q}")
        for name in ("d_model", "n_layer", "n_head", "n_local_layer", "mlp_ratio", "cont_dim", "max_frames"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name, heads in (("n_head", self.n_head), ("n_local_head", self.local_heads)):
            if self.d_model % heads:
                raise ValueError(f"d_model={self.d_model} is not divisible by {name}={heads}")
            if self.positions == "rope" and name == "n_head" and (self.d_model // heads) % 2:
                raise ValueError(f"RoPE needs an even head dim; d_model/n_head = {self.d_model // heads}")
        needs_split = self.frame_embedding == "concat" or self.global_to_local == "chunk"
        if needs_split and self.d_model % self.n_q:
            raise ValueError(f"concat/chunk need d_model divisible by n_q; got d_model={self.d_model}, n_q={self.n_q}")
        if not (0.0 <= self.dropout < 1.0 and 0.0 <= self.attn_dropout < 1.0):
            raise ValueError("dropout and attn_dropout must be in [0, 1)")
        return self


PRESETS: dict[str, ModelConfig] = {
    # trains in seconds on one CPU core (the embedding tables over V = 23552 dominate its size)
    "tiny": ModelConfig(d_model=64, n_layer=2, n_head=4, n_local_layer=1, cont_dim=384),
    # CPU benchmark sizes
    "small": ModelConfig(d_model=256, n_layer=4, n_head=4, n_local_layer=2),
    "mid": ModelConfig(d_model=512, n_layer=8, n_head=8, n_local_layer=4),
    # the released UniAudio v1 shape (README): 16 / 768 / 12 heads, 8 local layers
    "uniaudio-v1": ModelConfig(d_model=768, n_layer=16, n_head=12, n_local_layer=8),
    # the paper / recipe shape: 24 / 1536 / 16 heads, 8 local layers
    "uniaudio-1b": ModelConfig(d_model=1536, n_layer=24, n_head=16, n_local_layer=8),
    # the 1B shape with the reference's choices (concat frames, chunked link, learned 8000-frame
    # positions, T5-base width): reproduces the reference's parameter layout, for comparison
    "uniaudio-1b-ref": ModelConfig(
        d_model=1536, n_layer=24, n_head=16, n_local_layer=8, frame_embedding="concat",
        global_to_local="chunk", positions="learned", max_frames=8000, cont_dim=768,
    ),
}


def get_preset(name: str) -> ModelConfig:
    """A copy of a named preset; unknown names are a :class:`UserFacingError` listing the known ones."""
    if name not in PRESETS:
        raise UserFacingError(f"unknown model preset {name!r}; known presets: {', '.join(PRESETS)}")
    return PRESETS[name].model_copy(deep=True)
