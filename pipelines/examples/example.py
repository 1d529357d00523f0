"""One example-store row from a :class:`~pipelines.examples.choices.Choice` and its token rows.

Shared by the distributed build (:mod:`pipelines.examples.distributed`) and the single-process
reference (:mod:`pipelines.examples.reference`), so both build the same bytes and skip for the
same reasons.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from pipelines.examples.choices import Choice, split_of
from pipelines.examples.config import ExamplesConfig
from pipelines.examples.segments import MissingInput, segments_for
from uniaudio.stores.schema import example_store_schema, pack_f16
from uniaudio.sequence import build_sequence
from uniaudio.vocab import Vocab


def build_example(c: Choice, fp: str, rows: dict[str, dict], vocab: Vocab, cfg: ExamplesConfig,
                  tokens_version: int) -> dict[str, Any]:
    """One example-store row (raises MissingInput / ValueError when it cannot be built)."""
    seq = build_sequence(c.task, segments_for(c, rows, cfg.n_q), vocab, cfg.n_q)
    if cfg.max_frames and seq.num_frames > cfg.max_frames:
        raise ValueError("too_long")
    frames = seq.frames.reshape(-1)
    if frames.max() > np.iinfo(np.int16).max:
        raise ValueError(f"vocabulary ids above int16 ({frames.max()})")
    blob, dim = pack_f16(seq.cont_values) if len(seq.cont_positions) else (None, None)
    return {
        "task": c.task, "dataset": c.dataset, "example_id": c.example_id,
        "split": split_of(c.dataset, c.utt_id, cfg.valid_fraction), "n_q": cfg.n_q,
        "n_frames": seq.num_frames, "prefix_len": seq.prefix_len, "frames": frames.astype(np.int16),
        "cont_positions": seq.cont_positions.astype(np.int32) if len(seq.cont_positions) else None,
        "cont_values": blob, "cont_dim": dim, "utt_ids": c.utt_ids(), "fingerprint": fp,
        "vocab_hash": vocab.content_hash, "tokens_version": tokens_version,
    }


def build_or_skip(c: Choice, fp: str, rows: dict[str, dict], vocab: Vocab, cfg: ExamplesConfig,
                  tokens_version: int) -> tuple[dict[str, Any] | None, str | None]:
    """(row, None) or (None, skip reason): ``missing_<column>``, ``too_long`` or ``invalid``."""
    try:
        return build_example(c, fp, rows, vocab, cfg, tokens_version), None
    except MissingInput as err:
        return None, err.reason
    except ValueError as err:
        return None, "too_long" if str(err) == "too_long" else "invalid"


def outcome_schema() -> pa.Schema:
    """The example-store columns (nullable, for skip records) + ``skip`` (null when built)."""
    base = example_store_schema()
    return pa.schema([f.with_nullable(True) for f in base] + [pa.field("skip", pa.string())], metadata=base.metadata)


def outcome_table(outcomes: list[tuple[Choice, dict[str, Any] | None, str | None]]) -> pa.Table:
    """Built rows and skip records of some examples as one :func:`outcome_schema` table."""
    recs = [{**row, "skip": None} if row is not None else
            {"task": c.task, "dataset": c.dataset, "example_id": c.example_id, "skip": reason}
            for c, row, reason in outcomes]
    return pa.Table.from_pylist(recs, schema=outcome_schema())
