"""One example decoded from the example store, and a padded batch of them.

>>> import numpy as np
>>> ex = Example("tts", "e1", np.ones((5, 3), np.int64), prefix_len=2)
>>> b = collate([ex, Example("se", "e2", np.ones((3, 3), np.int64), prefix_len=1)], pad_id=0)
>>> tuple(b.frames.shape), b.lengths.tolist(), b.loss_mask.sum().item()
((2, 5, 3), [5, 3], 5)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from pipelines.schema import unpack_f16


@dataclass
class Example:
    task: str
    example_id: str
    frames: np.ndarray  # int64 [T, n_q] global ids
    prefix_len: int  # loss span = [prefix_len, T)
    cont_positions: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    cont_values: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))

    @property
    def n_frames(self) -> int:
        return int(self.frames.shape[0])

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "Example":
        """Decode one example-store row (see pipelines/schema.example_store_schema)."""
        n_q = int(row["n_q"])
        frames = np.asarray(row["frames"], dtype=np.int64).reshape(-1, n_q)
        if frames.shape[0] != int(row["n_frames"]):
            raise ValueError(f"example {row['example_id']}: {frames.shape[0]} frames stored, n_frames={row['n_frames']}")
        pos = row.get("cont_positions")
        return cls(
            task=str(row["task"]),
            example_id=str(row["example_id"]),
            frames=frames,
            prefix_len=int(row["prefix_len"]),
            cont_positions=np.asarray(pos if pos is not None else [], dtype=np.int64),
            cont_values=unpack_f16(row.get("cont_values"), row.get("cont_dim")),
        )


@dataclass
class Batch:
    """Right-padded tensors. ``cont_index[i] = (row, frame)`` of continuous value ``cont_values[i]``."""

    frames: torch.Tensor  # long [B, T, n_q] (pad id beyond each length)
    loss_mask: torch.Tensor  # bool [B, T]
    lengths: torch.Tensor  # long [B]
    prefix_lens: torch.Tensor  # long [B]
    cont_index: torch.Tensor  # long [N, 2]
    cont_values: torch.Tensor  # float [N, D]
    tasks: list[str]
    example_ids: list[str]

    @property
    def num_frames(self) -> int:
        """Real (unpadded) frames in the batch."""
        return int(self.lengths.sum())

    @property
    def padding_fraction(self) -> float:
        total = self.frames.shape[0] * self.frames.shape[1]
        return 1.0 - self.num_frames / max(total, 1)

    def to(self, device: torch.device | str) -> "Batch":
        return Batch(
            self.frames.to(device), self.loss_mask.to(device), self.lengths.to(device), self.prefix_lens.to(device),
            self.cont_index.to(device), self.cont_values.to(device), self.tasks, self.example_ids,
        )


def collate(examples: Sequence[Example], pad_id: int, cont_dim: int | None = None) -> Batch:
    if not examples:
        raise ValueError("cannot collate an empty batch")
    n_q = examples[0].frames.shape[1]
    t_max = max(e.n_frames for e in examples)
    frames = np.full((len(examples), t_max, n_q), pad_id, dtype=np.int64)
    loss = np.zeros((len(examples), t_max), dtype=bool)
    idx, vals = [], []
    for i, e in enumerate(examples):
        if e.frames.shape[1] != n_q:
            raise ValueError(f"mixed n_q in one batch: {e.frames.shape[1]} vs {n_q}")
        frames[i, : e.n_frames] = e.frames
        loss[i, e.prefix_len : e.n_frames] = True
        if len(e.cont_positions):
            idx.append(np.stack([np.full(len(e.cont_positions), i), e.cont_positions], axis=1))
            vals.append(e.cont_values)
    dims = {v.shape[1] for v in vals}
    if len(dims) > 1:
        raise ValueError(f"continuous inputs of different widths in one batch: {sorted(dims)}")
    width = dims.pop() if dims else (cont_dim or 0)
    return Batch(
        frames=torch.from_numpy(frames),
        loss_mask=torch.from_numpy(loss),
        lengths=torch.tensor([e.n_frames for e in examples], dtype=torch.long),
        prefix_lens=torch.tensor([e.prefix_len for e in examples], dtype=torch.long),
        cont_index=torch.from_numpy(np.concatenate(idx)) if idx else torch.zeros((0, 2), dtype=torch.long),
        cont_values=torch.from_numpy(np.concatenate(vals)) if vals else torch.zeros((0, width)),
        tasks=[e.task for e in examples],
        example_ids=[e.example_id for e in examples],
    )
