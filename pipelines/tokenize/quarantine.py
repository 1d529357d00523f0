"""The quarantine table: every rejected row (or reader problem) with its stage and reason.

Location: ``<store>/_quarantine``, a Delta table of its own inside the token store's folder (Delta
readers and VACUUM ignore folders starting with ``_``), partitioned by ``dataset``, schema
:func:`uniaudio.stores.schema.quarantine_schema`. It is an append-only log: each record names the
``run_id`` that wrote it. A record is keyed by (dataset, fingerprint, tokenizer_version), like a token
row: a re-run skips rows already quarantined under the same fingerprint and tokenizer version (an
unchanged bad file is not retried; a changed one gets a new fingerprint and is retried). Reader
problems (stage ``read``) have no manifest fingerprint; theirs is a hash of the problem itself.

>>> from pipelines.sources import Problem
>>> t = problems_table([Problem("d", "u1", "text:3", "missing_audio: /x.wav")], "tok-1", "run")
>>> t.column("reason").to_pylist(), t.column("stage").to_pylist()
(['missing_audio'], ['read'])
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Iterable

import pyarrow as pa
import pyarrow.compute as pc

from uniaudio.stores.schema import quarantine_schema

from uniaudio.stores.tables import QUARANTINE_DIR, quarantine_uri  # noqa: F401 - re-exported for the pipeline


def problem_fingerprint(dataset: str, utt_id: str | None, where: str, reason: str) -> str:
    blob = "\x00".join(["read", dataset, utt_id or "", where, reason])
    return hashlib.sha256(blob.encode()).hexdigest()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def problems_table(problems: Iterable, tokenizer_version: str, run_id: str) -> pa.Table:
    """Reader :class:`~pipelines.sources.Problem` records -> quarantine rows (stage ``read``)."""
    now = _now()
    rows = []
    for p in problems:
        code = p.code
        detail = p.reason[len(code):].lstrip(": ").strip()
        rows.append({
            "dataset": p.dataset, "utt_id": p.utt_id,
            "fingerprint": problem_fingerprint(p.dataset, p.utt_id, p.where, p.reason),
            "tokenizer_version": tokenizer_version, "source_uri": None, "stage": "read", "reason": code,
            "detail": f"{p.where}: {detail}" if detail else p.where, "run_id": run_id, "created_at": now,
        })
    return pa.Table.from_pylist(rows, schema=quarantine_schema())


def rejected_table(carrier: pa.Table, tokenizer_version: str, run_id: str) -> pa.Table:
    """The rejected rows of a carrier block (``q_reason`` set) -> quarantine rows."""
    bad = carrier.filter(pc.is_valid(carrier.column("q_reason")))
    n = bad.num_rows
    cols = {
        "dataset": bad.column("dataset"),
        "utt_id": bad.column("utt_id"),
        "fingerprint": bad.column("fingerprint"),
        "tokenizer_version": pa.array([tokenizer_version] * n, pa.string()),
        "source_uri": bad.column("source_uri"),
        "stage": bad.column("q_stage"),
        "reason": bad.column("q_reason"),
        "detail": bad.column("q_detail"),
        "run_id": pa.array([run_id] * n, pa.string()),
        "created_at": pa.array([_now()] * n, pa.timestamp("us", tz="UTC")),
    }
    return pa.table(cols).cast(quarantine_schema())
