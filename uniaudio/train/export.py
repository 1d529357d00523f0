"""Export: consolidate a ZeRO checkpoint into inference weights + model config + vocabulary + lineage.

An exported model directory (what ``uniaudio train --out DIR`` leaves, and what generation loads)::

    model.safetensors   fp32 weights (consolidated from every rank's ZeRO shard)
    model_config.json   the ModelConfig
    vocab.json          the vocabulary the model was trained with (checked on load)
    lineage.json        example-store URI + Delta version, training run id, steps, codec/tokenizer lineage

>>> # load_exported(DIR) -> (model, config, vocab, lineage); see tests/train/test_export.py
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from uniaudio.errors import UserFacingError

WEIGHTS, CONFIG, VOCAB, LINEAGE = "model.safetensors", "model_config.json", "vocab.json", "lineage.json"


def consolidate(checkpoint_dir: str | Path, tag: str | None = None) -> dict[str, torch.Tensor]:
    """fp32 state dict from a (Ray-merged) DeepSpeed checkpoint directory holding every rank's shard."""
    from deepspeed.utils.zero_to_fp32 import get_fp32_state_dict_from_zero_checkpoint

    sd = get_fp32_state_dict_from_zero_checkpoint(str(checkpoint_dir), tag=tag)
    return {k: v.contiguous() for k, v in sd.items()}


def write_export(out_dir: str | Path, state_dict: dict[str, torch.Tensor], model_config: Any,
                 lineage: dict[str, Any]) -> Path:
    from safetensors.torch import save_file

    from uniaudio.vocab import load_vocab

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_file(state_dict, str(out / WEIGHTS))
    (out / CONFIG).write_text(json.dumps(model_config.to_dict(), indent=1) + "\n")
    load_vocab(model_config.vocab).save(out / VOCAB)
    (out / LINEAGE).write_text(json.dumps(lineage, indent=1, default=str) + "\n")
    return out


def load_exported(model_dir: str | Path, device: str | torch.device = "cpu"):
    """-> (model in eval mode, ModelConfig, Vocab, lineage dict). Refuses a mismatched vocabulary."""
    from safetensors.torch import load_file

    from uniaudio.model import ModelConfig, build_model
    from uniaudio.vocab import load_vocab

    d = Path(model_dir)
    for name in (WEIGHTS, CONFIG, VOCAB):
        if not (d / name).is_file():
            raise UserFacingError(f"{d} is not an exported model: {name} is missing")
    config = ModelConfig.model_validate(json.loads((d / CONFIG).read_text()))
    vocab = load_vocab(config.vocab)
    vocab.check_compatible(d / VOCAB, what=f"model {d}")
    model = build_model(config)
    missing, unexpected = model.load_state_dict(load_file(str(d / WEIGHTS)), strict=False)
    if missing or unexpected:
        raise UserFacingError(f"{d}: weights do not match the config (missing {missing[:5]}, unexpected {unexpected[:5]})")
    lineage = json.loads((d / LINEAGE).read_text()) if (d / LINEAGE).is_file() else {}
    return model.to(device).eval(), config, vocab, lineage
