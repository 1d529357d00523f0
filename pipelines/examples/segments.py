"""Token-store rows + a :class:`~pipelines.examples.choices.Choice` -> the segments of one example.

Each segment is made by its ``example`` rule in the task's declaration (:mod:`uniaudio.tasks`, e.g.
``codes(source)``, ``prompt``, ``ids(phones)``); the frame layout itself comes from
:func:`uniaudio.sequence.build_sequence`, the one source of truth. Inputs are never modified in place
(speech edit masks a copy, via :func:`uniaudio.sequence.mask_span`).

The rules of the built-in tasks: ``uniaudio/tasks/builtin.yaml`` (``uniaudio tasks`` lists them).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pipelines.examples.choices import Choice
from uniaudio.stores.schema import unpack_f16
from uniaudio.sequence import mask_span
from uniaudio.tasks import get_task, parse_rule


class MissingInput(ValueError):
    """A column the task needs is empty in the token row (``reason`` names it)."""

    def __init__(self, column: str):
        self.reason = f"missing_{column}"
        super().__init__(self.reason)


def codes(row: dict[str, Any], n_q: int, prefix: str = "") -> np.ndarray:
    """The codes of ``row`` (``prefix`` = "" own audio, "source_", "enrolment_") as ``[F, n_q]``."""
    cols = [row.get(f"{prefix}codes_{k}") for k in range(n_q)]
    if any(c is None for c in cols):
        raise MissingInput(f"{prefix}codes")
    return np.stack([np.asarray(c, dtype=np.int64) for c in cols], axis=1)


def ids(row: dict[str, Any], column: str) -> np.ndarray:
    value = row.get(column)
    if value is None or len(value) == 0:
        raise MissingInput(column)
    return np.asarray(value, dtype=np.int64)


def embedding(row: dict[str, Any], field: str) -> np.ndarray:
    emb = unpack_f16(row.get(f"{field}_emb"), row.get(f"{field}_emb_dim"))
    if emb.shape[0] == 0:
        raise MissingInput(f"{field}_emb")
    return emb


def _prompt(c: Choice, rows: dict[str, dict[str, Any]], n_q: int) -> np.ndarray:
    src = codes(rows[c.prompt_utt], n_q, c.prompt_role)
    return src[c.prompt_start : c.prompt_start + c.prompt_len]


def _segment(rule: str, c: Choice, row: dict[str, Any], rows: dict, n_q: int) -> Any:
    """One segment from its ``example`` rule (:mod:`uniaudio.tasks.spec`)."""
    fn, args = parse_rule(rule)
    if fn == "codes":
        return codes(row, n_q, f"{args[0]}_" if args else "")
    if fn == "prompt":
        return _prompt(c, rows, n_q)
    if fn == "ids":
        return ids(row, args[0])
    if fn == "embedding":
        return embedding(row, args[0])
    if fn == "masked_codes":
        return mask_span(codes(row, n_q), *c.span)
    if fn == "crop":
        return codes(row, n_q)[c.crop_start : c.crop_start + c.crop_len]
    if fn == "label":
        return np.array([c.label], dtype=np.int64)
    raise ValueError(f"task {c.task}: unknown example rule {rule!r}")  # the task file loader rejects these


def segments_for(c: Choice, rows: dict[str, dict[str, Any]], n_q: int) -> dict[str, Any]:
    """Segments of the example ``c`` (raises :class:`MissingInput` when a needed column is empty)."""
    tmpl, row = get_task(c.task), rows[c.utt_id]
    return {seg.name: _segment(seg.example, c, row, rows, n_q) for seg in tmpl.segments}
