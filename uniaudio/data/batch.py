"""Decode example-store rows into :class:`uniaudio.sequence.Sequence`, and batches for training.

The model's own collate (:func:`uniaudio.model.batch.collate`) pads; :class:`TrainBatch` adds what the
trainer logs beside the model input (tasks, ids, padding).

>>> import numpy as np
>>> from uniaudio.vocab import load_vocab
>>> row = {"task": "se", "example_id": "e1", "n_q": 3, "n_frames": 2, "prefix_len": 1, "frames": [1, 1, 1, 2, 2, 2]}
>>> seq = sequence_from_row(row)
>>> seq.frames.shape, seq.loss_mask.tolist()
((2, 3), [False, True])
>>> b = make_batch([seq, seq], ["e1", "e2"], load_vocab())
>>> tuple(b.model.frames.shape), b.tasks, b.padding_fraction
((2, 2, 3), ['se', 'se'], 0.0)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence as Seq

import numpy as np

from uniaudio.stores.schema import unpack_f16
from uniaudio.model.batch import ModelBatch, collate
from uniaudio.sequence import Sequence
from uniaudio.vocab import Vocab


def sequence_from_row(row: Mapping[str, Any]) -> Sequence:
    """One example-store row (uniaudio/stores/schema.example_store_schema) -> a Sequence."""
    n_q = int(row["n_q"])
    frames = np.asarray(row["frames"], dtype=np.int64).reshape(-1, n_q)
    n = int(row["n_frames"])
    if frames.shape[0] != n:
        raise ValueError(f"example {row['example_id']}: {frames.shape[0]} frames stored, n_frames={n}")
    prefix = int(row["prefix_len"])
    pos = row.get("cont_positions")
    return Sequence(
        task=str(row["task"]),
        frames=frames,
        loss_mask=np.arange(n) >= prefix,
        prefix_len=prefix,
        cont_positions=np.asarray(pos if pos is not None else [], dtype=np.int64),
        cont_values=unpack_f16(row.get("cont_values"), row.get("cont_dim")),
    )


@dataclass
class TrainBatch:
    model: ModelBatch
    tasks: list[str]
    example_ids: list[str]

    @property
    def num_frames(self) -> int:
        return self.model.num_frames

    @property
    def padding_fraction(self) -> float:
        b, t = self.model.frames.shape[:2]
        return 1.0 - self.num_frames / max(b * t, 1)


def make_batch(seqs: Seq[Sequence], example_ids: Seq[str], vocab: Vocab, cont_dim: int | None = None) -> TrainBatch:
    return TrainBatch(collate(seqs, vocab, cont_dim=cont_dim), [s.task for s in seqs], list(example_ids))
