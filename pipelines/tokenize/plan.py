"""What a run has to do: the manifest anti-joined against the token store and the quarantine.

A manifest row needs tokenizing unless the token store already holds a row with the same
(dataset, utt_id, fingerprint) under the *same* tokenizer version, or the quarantine already holds it
under the same (dataset, fingerprint, tokenizer version). So a re-run processes only new or changed
rows, adding a dataset touches only that dataset, a changed tokenizer config or codec re-tokenizes
everything once, and an unchanged re-run does no work at all. Only the partitions of the spec's
datasets are read (partition pruning), and only the key columns. The joins are Arrow hash joins,
so millions of keys cost seconds, not Python loops.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from uniaudio.stores import delta
from pipelines.tokenize.quarantine import problem_fingerprint, quarantine_uri

KEY = ["dataset", "utt_id", "fingerprint"]


@dataclass
class Plan:
    """The work of one run, and per-dataset counts for the summary."""

    tokenizer_version: str
    store_version: int | None
    todo: list[Any]  # ManifestRow
    new_problems: list[Any]  # Problem, not yet in the quarantine
    manifest_keys: pa.Table  # dataset, utt_id, fingerprint of every current manifest row
    per_dataset: dict[str, dict[str, int]] = field(default_factory=dict)

    def total(self, key: str) -> int:
        return sum(d.get(key, 0) for d in self.per_dataset.values())


def manifest_keys(rows: list[Any]) -> pa.Table:
    return pa.table({
        "dataset": pa.array([r.dataset for r in rows], pa.string()),
        "utt_id": pa.array([r.utt_id for r in rows], pa.string()),
        "fingerprint": pa.array([r.fingerprint for r in rows], pa.string()),
        "_row": pa.array(range(len(rows)), pa.int64()),
    })


def store_keys(store: str, datasets: list[str], tokenizer_version: str | None = None) -> pa.Table:
    """(dataset, utt_id, fingerprint, tokenizer_version) of the token rows of ``datasets``."""
    cols = [*KEY, "tokenizer_version"]
    schema = pa.schema([(c, pa.string()) for c in cols])
    if delta.table_version(store) is None or not datasets:
        return schema.empty_table()
    t = delta.read_table(store, columns=cols, filter_in={"dataset": datasets}).cast(schema)
    if tokenizer_version is not None:
        t = t.filter(pc.equal(t.column("tokenizer_version"), tokenizer_version))
    return t


def quarantine_keys(store: str, datasets: list[str], tokenizer_version: str) -> pa.Table:
    uri = quarantine_uri(store)
    if delta.table_version(uri) is None or not datasets:
        return pa.table({"dataset": pa.array([], pa.string()), "fingerprint": pa.array([], pa.string())})
    t = delta.read_table(uri, columns=["dataset", "fingerprint", "tokenizer_version"],
                         filter_in={"dataset": datasets})
    t = t.filter(pc.equal(t.column("tokenizer_version"), tokenizer_version))
    return t.select(["dataset", "fingerprint"])


def _counts(table: pa.Table) -> dict[str, int]:
    if table.num_rows == 0:
        return {}
    vc = pc.value_counts(table.column("dataset"))
    return {d.as_py(): c.as_py() for d, c in zip(vc.field("values"), vc.field("counts"))}


def make_plan(datasets: list[str], rows: list[Any], problems: list[Any], store: str, tokenizer_version: str,
              retry_quarantined: bool = False) -> Plan:
    """Anti-join ``rows`` (the current manifest of ``datasets``) against the store and the quarantine."""
    keys = manifest_keys(rows)
    done = store_keys(store, datasets, tokenizer_version).select(KEY)
    pending = keys.join(done, keys=KEY, join_type="left anti")
    quarantined = quarantine_keys(store, datasets, tokenizer_version)
    skipped_q = pending.slice(0, 0)
    if not retry_quarantined and quarantined.num_rows:
        todo = pending.join(quarantined, keys=["dataset", "fingerprint"], join_type="left anti")
        skipped_q = pending.join(quarantined, keys=["dataset", "fingerprint"], join_type="left semi")
    else:
        todo = pending
    todo_idx = sorted(todo.column("_row").to_pylist())  # manifest order: deterministic chunks

    q_fps = set(quarantined.column("fingerprint").to_pylist())
    new_problems = [p for p in problems
                    if problem_fingerprint(p.dataset, p.utt_id, p.where, p.reason) not in q_fps]

    per: dict[str, dict[str, int]] = {d: {"rows": 0, "done": 0, "todo": 0, "skipped_quarantined": 0,
                                           "read_problems": 0, "new_read_problems": 0} for d in datasets}
    for d, n in _counts(keys).items():
        per[d]["rows"] = n
    n_pending = _counts(pending)
    for d in per:
        per[d]["done"] = per[d]["rows"] - n_pending.get(d, 0)
    for d, n in _counts(todo).items():
        per[d]["todo"] = n
    for d, n in _counts(skipped_q).items():
        per[d]["skipped_quarantined"] = n
    for p in problems:
        per[p.dataset]["read_problems"] += 1
    for p in new_problems:
        per[p.dataset]["new_read_problems"] += 1
    return Plan(tokenizer_version, delta.table_version(store), [rows[i] for i in todo_idx], new_problems,
                keys.select(KEY), per)
