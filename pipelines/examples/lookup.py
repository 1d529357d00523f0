"""The broadcast lookup of a distributed build: which token rows the new examples use, and how.

Two Arrow tables, each sorted by a 63-bit hash of a token-row key ``(dataset, utt_id, row_fp)``
(``row_fp`` = the row's ``fingerprint:tokenizer_version``, so only the exact row version an example
was planned from matches):

- ``targets``: one entry per new example, keyed by its target row; carries the example fingerprint
  and its :class:`~pipelines.examples.choices.Choice` (JSON).
- ``prompts``: one entry per new example that cuts a prompt window from ANOTHER row, keyed by that
  row; carries the window and the target's key hash (the group the window is sent to).

Why sorted hashes and not a dict or an Arrow join: the lookup is put in the object store once and
read zero-copy by every worker; a lookup is ``np.searchsorted`` over the hash column (no per-worker
index to build, no per-block hash table over the whole plan). Keys are compared exactly on every
hash match, so hash collisions cannot mix rows up.

>>> from pipelines.examples.choices import Choice
>>> from pipelines.examples.plan import DatasetPlan
>>> c = Choice("tts", "d", "a", prompt_utt="b", prompt_start=5, prompt_len=10)
>>> lk = UsePlan.build([DatasetPlan("d", {"fp1": c}, {"a": "x:1", "b": "y:1"})])
>>> [(fp, ch.utt_id) for fp, ch in lk.targets_of("d", "a", "x:1")]
[('fp1', 'a')]
>>> [(u["fp"], u["start"], u["len"]) for u in lk.prompt_uses("d", "b", "y:1")]
[('fp1', 5, 10)]
>>> lk.prompt_uses("d", "b", "y:2")  # another version of the row: not the one planned from
[]
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any, Iterable

import numpy as np
import pyarrow as pa

from pipelines.examples.choices import Choice


def key_hash(dataset: str, utt_id: str, row_fp: str) -> int:
    """Stable non-negative int64 hash of a token-row key (the same on every worker and run)."""
    digest = hashlib.blake2b(f"{dataset}\x00{utt_id}\x00{row_fp}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


def choice_to_json(c: Choice) -> str:
    return json.dumps(asdict(c), sort_keys=True, separators=(",", ":"))


def choice_from_json(text: str) -> Choice:
    d = json.loads(text)
    if d.get("span") is not None:
        d["span"] = tuple(d["span"])
    return Choice(**d)


def _sorted_table(cols: dict[str, list], types: dict[str, pa.DataType]) -> pa.Table:
    t = pa.table({k: pa.array(v, types.get(k, pa.string())) for k, v in cols.items()})
    if t.num_rows:
        t = t.take(np.argsort(t.column("h").to_numpy(), kind="stable"))
    return t.combine_chunks()  # one chunk: zero-copy numpy view of "h", O(1) indexing


@dataclass
class UsePlan:
    targets: pa.Table  # h, dataset, utt_id, row_fp, fp, choice
    prompts: pa.Table  # h, dataset, utt_id, row_fp, group, fp, role, start, len

    @classmethod
    def build(cls, plans: Iterable[Any]) -> "UsePlan":
        """From :class:`~pipelines.examples.plan.DatasetPlan` objects (their ``new`` examples)."""
        t: dict[str, list] = {k: [] for k in ("h", "dataset", "utt_id", "row_fp", "fp", "choice")}
        p: dict[str, list] = {k: [] for k in ("h", "dataset", "utt_id", "row_fp", "group", "fp", "role", "start", "len")}
        for plan in plans:
            for fp, c in plan.new.items():
                own = plan.row_fps[c.utt_id]
                group = key_hash(c.dataset, c.utt_id, own)
                for k, v in (("h", group), ("dataset", c.dataset), ("utt_id", c.utt_id), ("row_fp", own), ("fp", fp),
                             ("choice", choice_to_json(c))):
                    t[k].append(v)
                if c.prompt_utt and c.prompt_utt != c.utt_id:
                    other = plan.row_fps[c.prompt_utt]
                    for k, v in (("h", key_hash(c.dataset, c.prompt_utt, other)), ("dataset", c.dataset),
                                 ("utt_id", c.prompt_utt), ("row_fp", other), ("group", group), ("fp", fp),
                                 ("role", c.prompt_role), ("start", c.prompt_start), ("len", c.prompt_len)):
                        p[k].append(v)
        i64 = {"h": pa.int64(), "group": pa.int64(), "start": pa.int64(), "len": pa.int64()}
        return cls(_sorted_table(t, i64), _sorted_table(p, i64))

    @classmethod
    def concat(cls, parts: list["UsePlan"]) -> "UsePlan":
        """One lookup from per-dataset ones (so the driver holds Python choices of one dataset at a time)."""
        if not parts:
            return cls.build([])

        def merged(tables: list[pa.Table]) -> pa.Table:
            t = pa.concat_tables(tables)
            return t.take(np.argsort(t.column("h").to_numpy(), kind="stable")).combine_chunks() if t.num_rows else t
        return cls(merged([p.targets for p in parts]), merged([p.prompts for p in parts]))

    @property
    def n_examples(self) -> int:
        return self.targets.num_rows

    def datasets(self) -> list[str]:
        return sorted(set(self.targets.column("dataset").to_pylist()))

    # -- lookups (workers) --------------------------------------------------------------------------
    def _range(self, table: pa.Table, dataset: str, utt_id: str, row_fp: str) -> list[int]:
        """Indices of ``table``'s entries for exactly this row key."""
        cache = self.__dict__.setdefault("_cache", {})
        if id(table) not in cache:  # a zero-copy numpy view of the hash column, made once per process
            cache[id(table)] = table.column("h").to_numpy()
        h = cache[id(table)]
        k = key_hash(dataset, utt_id, row_fp)
        lo, hi = int(np.searchsorted(h, k, "left")), int(np.searchsorted(h, k, "right"))
        ds, utts, fps = (table.column(c) for c in ("dataset", "utt_id", "row_fp"))
        return [j for j in range(lo, hi)
                if ds[j].as_py() == dataset and utts[j].as_py() == utt_id and fps[j].as_py() == row_fp]

    def is_target(self, dataset: str, utt_id: str, row_fp: str) -> bool:
        return bool(self._range(self.targets, dataset, utt_id, row_fp))

    def targets_of(self, dataset: str, utt_id: str, row_fp: str) -> list[tuple[str, Choice]]:
        """(example fingerprint, choice) of every new example whose target is this row."""
        js = self._range(self.targets, dataset, utt_id, row_fp)
        fp, ch = self.targets.column("fp"), self.targets.column("choice")
        return [(fp[j].as_py(), choice_from_json(ch[j].as_py())) for j in js]

    def prompt_uses(self, dataset: str, utt_id: str, row_fp: str) -> list[dict[str, Any]]:
        """Every prompt window cut from this row: {group, fp, role, start, len}."""
        js = self._range(self.prompts, dataset, utt_id, row_fp)
        cols = ("group", "fp", "role", "start", "len")
        return [{c: self.prompts.column(c)[j].as_py() for c in cols} for j in js]

    def __getstate__(self) -> dict[str, Any]:  # the per-process cache never travels
        return {"targets": self.targets, "prompts": self.prompts}
