"""A fairseq HuBERT checkpoint's ``model`` state dict -> the transformers ``HubertModel`` the project's
semantic tokenizer loads (``SemanticConfig.hubert_dir``, :mod:`uniaudio.tokenizers.semantic`).

fairseq name -> transformers name (``i``: conv layer, ``j``: transformer layer)::

    feature_extractor.conv_layers.i.0.weight          feature_extractor.conv_layers.i.conv.weight
    feature_extractor.conv_layers.0.2.{weight,bias}   feature_extractor.conv_layers.0.layer_norm.*  (group norm)
    feature_extractor.conv_layers.i.2.1.{weight,bias} feature_extractor.conv_layers.i.layer_norm.*  (layer norm mode)
    layer_norm / post_extract_proj                    feature_projection.layer_norm / .projection
    mask_emb                                          masked_spec_embed
    encoder.pos_conv.0.{weight_g,weight_v,bias}       encoder.pos_conv_embed.conv.* (weight norm over dim 2)
    encoder.layer_norm                                encoder.layer_norm
    encoder.layers.j.self_attn.{q,k,v,out}_proj       encoder.layers.j.attention.{q,k,v,out}_proj
    encoder.layers.j.self_attn_layer_norm / fc1 / fc2 / final_layer_norm
                                                      .layer_norm / .feed_forward.intermediate_dense /
                                                      .feed_forward.output_dense / .final_layer_norm

The pre-training heads (``label_embs_concat``, ``final_proj``) have no place in a feature extractor and are
dropped (and reported). The architecture comes from the shapes, plus the checkpoint's plain-dict ``cfg``
when present (head count, conv strides, pre/post layer norm); without it the published HuBERT base values.
"""

from __future__ import annotations

import ast
import re
from typing import Any, Mapping

from torch import Tensor

from uniaudio.errors import UserFacingError

DROPPED = ("label_embs_concat", "final_proj.weight", "final_proj.bias")
BASE_STRIDES = (5, 2, 2, 2, 2, 2, 2)  # fairseq "[(512,10,5)] + [(512,3,2)] * 4 + [(512,2,2)] * 2"
_CONV = re.compile(r"^feature_extractor\.conv_layers\.(\d+)\.0\.weight$")
_LAYER = re.compile(r"^encoder\.layers\.(\d+)\.")
LAYER_MAP = {"self_attn.q_proj": "attention.q_proj", "self_attn.k_proj": "attention.k_proj",
             "self_attn.v_proj": "attention.v_proj", "self_attn.out_proj": "attention.out_proj",
             "self_attn_layer_norm": "layer_norm", "fc1": "feed_forward.intermediate_dense",
             "fc2": "feed_forward.output_dense", "final_layer_norm": "final_layer_norm"}


def parse_conv_layers(spec: str) -> list[tuple[int, int, int]]:
    """fairseq's ``conv_feature_layers`` string (``"[(512,10,5)] + [(512,3,2)] * 4"``) without eval:
    ``+``-joined terms, each a literal list of (dim, kernel, stride) tuples, optionally ``* n``."""
    out: list[tuple[int, int, int]] = []
    for term in spec.split("+"):
        m = re.fullmatch(r"\s*(\[.*?\])\s*(?:\*\s*(\d+))?\s*", term)
        if m is None:
            raise UserFacingError(f"cannot read conv_feature_layers {spec!r}")
        items = ast.literal_eval(m.group(1))
        out += [tuple(int(v) for v in t) for t in items] * int(m.group(2) or 1)
    return out


def hubert_config(state: Mapping[str, Tensor], cfg: Mapping[str, Any] | None):
    """The transformers ``HubertConfig`` of a fairseq state dict (see the module doc)."""
    from transformers import HubertConfig

    model_cfg = dict((cfg or {}).get("model") or {})
    convs = sorted(int(m.group(1)) for k in state if (m := _CONV.match(k)))
    if not convs or convs != list(range(len(convs))):
        raise UserFacingError("fairseq HuBERT state dict: no feature_extractor.conv_layers.i.0.weight tensors")
    weights = [state[f"feature_extractor.conv_layers.{i}.0.weight"] for i in convs]
    kernels = tuple(int(w.shape[2]) for w in weights)
    if model_cfg.get("conv_feature_layers"):
        strides = tuple(s for _, _, s in parse_conv_layers(str(model_cfg["conv_feature_layers"])))
    elif kernels == (10, 3, 3, 3, 3, 2, 2):
        strides = BASE_STRIDES
    else:
        raise UserFacingError("fairseq HuBERT checkpoint: conv strides unknown (no readable cfg.model.conv_feature_layers)")
    if len(strides) != len(kernels):
        raise UserFacingError(f"cfg conv_feature_layers has {len(strides)} layers, the weights {len(kernels)}")
    layer_norm_mode = "feature_extractor.conv_layers.0.2.1.weight" in state
    n_layers = 1 + max((int(m.group(1)) for k in state if (m := _LAYER.match(k))), default=-1)
    if "post_extract_proj.weight" not in state or "encoder.pos_conv.0.bias" not in state or n_layers == 0:
        missing = next(k for k in ("post_extract_proj.weight", "encoder.pos_conv.0.bias", "encoder.layers.0.fc1.weight")
                       if k not in state)
        raise UserFacingError(f"fairseq HuBERT state dict: tensor {missing} is missing")
    hidden = int(state["post_extract_proj.weight"].shape[0])
    pos_v = _pos_conv_v(state)
    heads = int(model_cfg.get("encoder_attention_heads") or hidden // 64)
    if heads < 1 or hidden % heads:
        raise UserFacingError(f"fairseq HuBERT checkpoint: {heads} heads do not divide width {hidden}")
    return HubertConfig(
        hidden_size=hidden, num_hidden_layers=n_layers, num_attention_heads=heads,
        intermediate_size=int(state["encoder.layers.0.fc1.weight"].shape[0]),
        conv_dim=tuple(int(w.shape[0]) for w in weights), conv_kernel=kernels, conv_stride=strides,
        conv_bias="feature_extractor.conv_layers.0.0.bias" in state,
        feat_extract_norm="layer" if layer_norm_mode else "group",
        do_stable_layer_norm=bool(model_cfg.get("layer_norm_first", layer_norm_mode)),
        num_conv_pos_embeddings=int(pos_v.shape[2]), num_conv_pos_embedding_groups=hidden // int(pos_v.shape[1]),
        feat_proj_layer_norm=True,
    )


def _pos_conv_v(state: Mapping[str, Tensor]) -> Tensor:
    for k in ("encoder.pos_conv.0.weight_v", "encoder.pos_conv.0.parametrizations.weight.original1"):
        if k in state:
            return state[k]
    raise UserFacingError("fairseq HuBERT state dict: tensor encoder.pos_conv.0.weight_v is missing")


def _pos_conv_g(state: Mapping[str, Tensor]) -> Tensor:
    for k in ("encoder.pos_conv.0.weight_g", "encoder.pos_conv.0.parametrizations.weight.original0"):
        if k in state:
            return state[k]
    raise UserFacingError("fairseq HuBERT state dict: tensor encoder.pos_conv.0.weight_g is missing")


def _here(name: str) -> str | None:
    """transformers name of a fairseq tensor (None: the positional-conv weight norm, handled apart)."""
    if m := re.match(r"^feature_extractor\.conv_layers\.(\d+)\.0\.(weight|bias)$", name):
        return f"feature_extractor.conv_layers.{m.group(1)}.conv.{m.group(2)}"
    if m := re.match(r"^feature_extractor\.conv_layers\.(\d+)\.2(?:\.1)?\.(weight|bias)$", name):
        return f"feature_extractor.conv_layers.{m.group(1)}.layer_norm.{m.group(2)}"
    fixed = {"layer_norm.weight": "feature_projection.layer_norm.weight",
             "layer_norm.bias": "feature_projection.layer_norm.bias",
             "post_extract_proj.weight": "feature_projection.projection.weight",
             "post_extract_proj.bias": "feature_projection.projection.bias", "mask_emb": "masked_spec_embed",
             "encoder.pos_conv.0.bias": "encoder.pos_conv_embed.conv.bias",
             "encoder.layer_norm.weight": "encoder.layer_norm.weight", "encoder.layer_norm.bias": "encoder.layer_norm.bias"}
    if name in fixed:
        return fixed[name]
    if name.startswith("encoder.pos_conv.0."):
        return None
    if m := _LAYER.match(name):
        rest = name[m.end():]
        for src, dst in LAYER_MAP.items():
            if rest.startswith(src + "."):
                return f"encoder.layers.{m.group(1)}.{dst}{rest[len(src):]}"
    raise UserFacingError(f"fairseq HuBERT state dict: unexpected tensor {name}")


def map_hubert(state: Mapping[str, Tensor], target: Mapping[str, Tensor]) -> tuple[dict[str, Tensor], list[str]]:
    """The fairseq ``state`` as a state dict for ``target`` (a built HubertModel's), and the dropped names.
    Every target tensor must be filled with its exact shape; anything else names the tensor."""
    out: dict[str, Tensor] = {}
    dropped = [k for k in state if k in DROPPED]
    for name, value in state.items():
        if name in DROPPED:
            continue
        here = _here(name)
        if here is not None:
            out[here] = value
    g_names = [k for k in target if k.startswith("encoder.pos_conv_embed.conv.") and not k.endswith(".bias")]
    for k in g_names:  # weight_g / original0 (g, [1, 1, K]) and weight_v / original1 (v, [H, H/groups, K])
        out[k] = _pos_conv_g(state) if k.endswith(("weight_g", "original0")) else _pos_conv_v(state)
    missing = [k for k in target if k not in out]
    if missing:
        raise UserFacingError(f"fairseq HuBERT state dict: nothing maps to {missing[0]} (incomplete checkpoint)")
    extra = [k for k in out if k not in target]
    if extra:
        raise UserFacingError(f"fairseq HuBERT state dict: {extra[0]} has no place in the feature extractor")
    for k, v in out.items():
        if tuple(v.shape) != tuple(target[k].shape):
            raise UserFacingError(f"fairseq HuBERT state dict: tensor for {k} has shape {tuple(v.shape)}, "
                                  f"expected {tuple(target[k].shape)}")
    return {k: v.float().contiguous() for k, v in out.items()}, dropped
