"""The model's input batch, and a collate function from :class:`uniaudio.sequence.Sequence` objects.

Rows are right-padded with ``<pad>`` frames; ``cont_values`` is dense ``[B, T, D]`` (zeros except at
``<continuous>`` frames) so the model needs no ragged indexing.

>>> import numpy as np
>>> from uniaudio.sequence import build_sequence
>>> from uniaudio.vocab import load_vocab
>>> v = load_vocab()
>>> seqs = [build_sequence("se", {"source": np.zeros((n, 3), int), "target": np.ones((n, 3), int)}, v)
...         for n in (2, 4)]
>>> b = collate(seqs, v)
>>> tuple(b.frames.shape), b.prefix_lens.tolist(), b.lengths.tolist()
((2, 15, 3), [7, 9], [11, 15])
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Sequence as Seq

import numpy as np
import torch
from torch import Tensor

from uniaudio.sequence import Sequence
from uniaudio.vocab import Vocab


@dataclass
class ModelBatch:
    frames: Tensor  # int64 [B, T, n_q]
    loss_mask: Tensor  # bool [B, T]
    prefix_lens: Tensor  # int64 [B]
    lengths: Tensor  # int64 [B] real frames per row
    cont_values: Tensor | None = None  # float32 [B, T, D]

    def to(self, device: torch.device | str) -> "ModelBatch":
        return replace(self, **{f.name: getattr(self, f.name).to(device) for f in fields(self)
                                if getattr(self, f.name) is not None})

    @property
    def num_frames(self) -> int:
        return int(self.lengths.sum())


def collate(seqs: Seq[Sequence], vocab: Vocab, cont_dim: int | None = None, pad_to: int | None = None) -> ModelBatch:
    """Stack sequences into one right-padded batch. ``cont_dim`` fixes the width of ``cont_values``
    (default: the width found in the batch; ``None`` tensor when no row has continuous frames)."""
    if not seqs:
        raise ValueError("cannot collate an empty list of sequences")
    n_q = {s.n_q for s in seqs}
    if len(n_q) != 1:
        raise ValueError(f"sequences have different n_q: {sorted(n_q)}")
    t = max(s.num_frames for s in seqs)
    if pad_to is not None:
        if pad_to < t:
            raise ValueError(f"pad_to={pad_to} is shorter than the longest sequence ({t} frames)")
        t = pad_to
    b = len(seqs)
    frames = np.full((b, t, n_q.pop()), vocab.pad, dtype=np.int64)
    loss_mask = np.zeros((b, t), dtype=bool)
    widths = {s.cont_values.shape[1] for s in seqs if len(s.cont_positions)}
    if cont_dim is None and len(widths) > 1:
        raise ValueError(f"continuous segments of different widths in one batch: {sorted(widths)}")
    width = cont_dim if cont_dim is not None else (widths.pop() if widths else None)
    cont = np.zeros((b, t, width), dtype=np.float32) if width is not None else None
    for i, s in enumerate(seqs):
        frames[i, : s.num_frames] = s.frames
        loss_mask[i, : s.num_frames] = s.loss_mask
        if len(s.cont_positions):
            if s.cont_values.shape[1] != width:
                raise ValueError(f"row {i}: continuous width {s.cont_values.shape[1]} != {width}")
            cont[i, s.cont_positions] = s.cont_values
    return ModelBatch(
        frames=torch.from_numpy(frames),
        loss_mask=torch.from_numpy(loss_mask),
        prefix_lens=torch.tensor([s.prefix_len for s in seqs], dtype=torch.long),
        lengths=torch.tensor([s.num_frames for s in seqs], dtype=torch.long),
        cont_values=torch.from_numpy(cont) if cont is not None else None,
    )
