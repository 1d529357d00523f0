"""Export, training side: consolidate a ZeRO checkpoint into the fp32 weights of an exported model.

The exported-model format itself (files, writer, loader) is :mod:`uniaudio.stores.exported`.
"""

from __future__ import annotations

from pathlib import Path

import torch


def consolidate(checkpoint_dir: str | Path, tag: str | None = None) -> dict[str, torch.Tensor]:
    """fp32 state dict from a (Ray-merged) DeepSpeed checkpoint directory holding every rank's shard,
    loaded weights-only (:func:`uniaudio.safe_load.consolidate_zero`)."""
    from uniaudio.safe_load import consolidate_zero

    return consolidate_zero(checkpoint_dir, tag)
