"""The columns a row carries between the stages of the tokenization job.

Every stage takes and returns an Arrow table with :func:`carrier_schema`: the token-store columns
(all nullable while in flight), the manifest fields the stages still need (``notes_uri``,
``paired_json``), the decoded audio as raw float32 bytes (``wav``, ``source_wav``, ``enrolment_wav``;
large_binary so long blocks cannot overflow 2 GiB offsets), and the quarantine verdict (``q_stage``/``q_reason``/
``q_detail``, null while the row is good). A rejected row keeps flowing (so one Ray dataset carries
both outcomes) and the committer splits them: good rows -> token store, rejected -> quarantine.

>>> from pipelines.sources import ManifestRow
>>> r = manifest_to_carrier(ManifestRow("d", "u1", "/a.wav", text="hi", paired={"source": "/n.wav"}), ["se"])
>>> r["source_uri"], r["source_audio_uri"], r["tasks"]
('/a.wav', '/n.wav', ['se'])
"""

from __future__ import annotations

import json
from typing import Any, Iterable

import numpy as np
import pyarrow as pa

from uniaudio.stores.schema import PAIRED_ROLES, token_store_schema

# The row's own audio, then one column per paired role (source, enrolment): float32 mono 16 kHz
# samples, dropped after the codec stage. Column -> prefix of its codes columns.
AUDIO_COLUMNS = ("wav", *(f"{r}_wav" for r in PAIRED_ROLES))
CODES_PREFIX = {"wav": "", **{f"{r}_wav": f"{r}_" for r in PAIRED_ROLES}}

CARRIER_EXTRA = [
    pa.field("notes_uri", pa.string()),
    pa.field("paired_json", pa.string()),
    *(pa.field(c, pa.large_binary()) for c in AUDIO_COLUMNS),
    pa.field("q_stage", pa.string()),
    pa.field("q_reason", pa.string()),
    pa.field("q_detail", pa.string()),
]


def carrier_schema(n_q: int) -> pa.Schema:
    fields = [f.with_nullable(True) for f in token_store_schema(n_q)]
    return pa.schema(fields + CARRIER_EXTRA)


def manifest_to_carrier(row: Any, tasks: Iterable[str]) -> dict[str, Any]:
    """A :class:`~pipelines.sources.ManifestRow` -> the dict the first stage starts from."""
    paired = dict(row.paired)
    out = {
        "dataset": row.dataset,
        "utt_id": row.utt_id,
        "fingerprint": row.fingerprint,
        "source_uri": row.audio_uri,
        "start_s": row.start_s,
        "end_s": row.end_s,
        "speaker": row.speaker,
        "text": row.text,
        "caption": row.caption,
        "instruction": row.instruction,
        "lyrics": row.lyrics,
        "tasks": list(tasks),
        "extra_json": json.dumps(dict(row.extra), sort_keys=True) if row.extra else None,
        "notes_uri": row.notes_uri,
        "paired_json": json.dumps(paired, sort_keys=True) if paired else None,
    }
    for role in PAIRED_ROLES:
        out[f"{role}_audio_uri"] = paired.get(role)
    return out


def to_table(rows: list[dict[str, Any]], n_q: int) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=carrier_schema(n_q))


def from_table(table: pa.Table) -> list[dict[str, Any]]:
    return table.to_pylist()


def reject(row: dict[str, Any], stage: str, reason: str, detail: str = "") -> dict[str, Any]:
    """Mark ``row`` as quarantined (first verdict wins) and free its audio."""
    if row.get("q_reason") is None:
        row.update(q_stage=stage, q_reason=reason, q_detail=(detail or None))
    for col in AUDIO_COLUMNS:
        row[col] = None
    return row


def is_ok(row: dict[str, Any]) -> bool:
    return row.get("q_reason") is None


def wav_of(row: dict[str, Any], col: str = "wav") -> np.ndarray | None:
    blob = row.get(col)
    return None if blob is None else np.frombuffer(blob, dtype=np.float32)
