"""The exported-model format: what ``uniaudio train --out`` leaves and what generation loads.

An exported model directory (local or ``s3://``; remote ones are fetched to the node cache first)::

    model.safetensors   fp32 weights (consolidated from every rank's ZeRO shard)
    model_config.json   the ModelConfig
    vocab.json          the vocabulary the model was trained with (checked on load)
    lineage.json        example-store URI + Delta version, training run id, steps, codec/tokenizer lineage

Lives in ``uniaudio.stores`` because it is the contract between training (writer) and generation /
evaluation / ``--init-from`` (readers), which must not import each other.

>>> # load_exported(DIR) -> (model, config, vocab, lineage); see tests/train/test_export.py
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from uniaudio.errors import UserFacingError

WEIGHTS, CONFIG, VOCAB, LINEAGE = "model.safetensors", "model_config.json", "vocab.json", "lineage.json"


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
    from uniaudio.model import ModelConfig, build_model
    from uniaudio.safe_load import read_safetensors
    from uniaudio.vocab import load_vocab

    d = Path(model_dir)
    for name in (WEIGHTS, CONFIG, VOCAB):
        if not (d / name).is_file():
            raise UserFacingError(f"{d} is not an exported model: {name} is missing")
    try:
        config = ModelConfig.model_validate(json.loads((d / CONFIG).read_text()))
    except ValueError as err:  # JSON or validation error -> one line naming the file
        raise UserFacingError(f"{d / CONFIG}: not a valid model config ({_first_line(err)})") from None
    vocab = load_vocab(config.vocab)
    vocab.check_compatible(d / VOCAB, what=f"model {d}")
    model = build_model(config)
    missing, unexpected = model.load_state_dict(read_safetensors(d / WEIGHTS), strict=False)
    if missing or unexpected:
        raise UserFacingError(f"{d}: weights do not match the config (missing {missing[:5]}, unexpected {unexpected[:5]})")
    lineage = json.loads((d / LINEAGE).read_text()) if (d / LINEAGE).is_file() else {}
    return model.to(device).eval(), config, vocab, lineage


def _first_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return " ".join(lines[:3])[:300] if lines else type(err).__name__
