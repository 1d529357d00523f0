"""Planning one dataset on the driver: every example's choices, fingerprints, anti-join, stale list.

Reads only small metadata columns of the token store (no codes): utt_id, fingerprints, speaker,
frame counts, tasks, extra_json, enrolment length. ``phones`` is read only for the rows that list
``speech_edit`` (a selected task): an edit span without a recorded alignment is placed at word
boundaries, which needs the phone sequence itself, not just its length; no other choice needs it.

The result (:class:`DatasetPlan`) names the new examples (their fingerprint is not in the example
store), the stale ones (stored, no longer wanted) and the row fingerprints the new ones were made
from, which the distributed build uses to pick exactly those token rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from uniaudio.stores import delta
from pipelines.examples.choices import Choice, DatasetChoices
from pipelines.examples.config import ExamplesConfig
from pipelines.examples.summary import ExamplesSummary
from uniaudio.tasks import TASKS

META = ["utt_id", "fingerprint", "tokenizer_version", "speaker", "n_frames", "tasks", "extra_json",
        "enrolment_n_frames"]


@dataclass
class DatasetPlan:
    dataset: str
    new: dict[str, Choice] = field(default_factory=dict)  # fingerprint -> choice, examples to build
    row_fps: dict[str, str] = field(default_factory=dict)  # utt_id -> "fingerprint:tokenizer_version" (new only)
    existing: dict[str, str] = field(default_factory=dict)  # fingerprint -> task, stored (selected tasks)
    stale: list[str] = field(default_factory=list)  # stored fingerprints no longer wanted


def read_meta(tokens: str, version: int, dataset: str, selected: set[str]) -> list[dict]:
    """The planning columns of ``dataset``'s rows, with ``phones`` only where speech edit needs it."""
    meta = delta.read_table(tokens, version, columns=META, filter_equals={"dataset": dataset}).to_pylist()
    edit = {t for t in selected if t in TASKS and TASKS[t].pairing == "edit_span"}
    if not edit:
        return meta
    need = [r["utt_id"] for r in meta if edit & set(r["tasks"] or [])]
    if need:
        filt = {"utt_id": need} if len(need) < len(meta) else None
        t = delta.read_table(tokens, version, columns=["utt_id", "phones"], filter_equals={"dataset": dataset},
                             filter_in=filt)
        phones = dict(zip(t.column("utt_id").to_pylist(), t.column("phones").to_pylist()))
        for r in meta:
            r["phones"] = phones.get(r["utt_id"])
    return meta


def existing_examples(out: str, dataset: str, tasks: set[str]) -> dict[str, str]:
    """fingerprint -> task of the examples already stored for ``dataset`` (selected tasks only)."""
    if delta.table_version(out) is None:
        return {}
    t = delta.read_table(out, columns=["task", "fingerprint"], filter_in={"dataset": [dataset]})
    return {fp: task for task, fp in zip(t.column("task").to_pylist(), t.column("fingerprint").to_pylist())
            if task in tasks}


def plan_dataset(d: str, tokens: str, version: int, out: str, cfg: ExamplesConfig, selected: set[str], salt: str,
                 s: ExamplesSummary) -> DatasetPlan:
    """Choices + anti-join for dataset ``d``; counts choice-time skips and unchanged examples in ``s``."""
    meta = read_meta(tokens, version, d, selected)
    chooser = DatasetChoices(d, meta, cfg)
    want: dict[str, Choice] = {}
    row_fps = {r["utt_id"]: f"{r['fingerprint']}:{r['tokenizer_version']}" for r in meta}
    for r in meta:
        for task in r["tasks"] or []:
            if task not in selected:
                continue
            c = chooser.choose(task, r["utt_id"])
            if c.skip:
                s.skip(d, task, c.skip)
            else:
                want[c.fingerprint(row_fps, salt)] = c
    existing = existing_examples(out, d, selected)
    new = {fp: c for fp, c in want.items() if fp not in existing}
    s.count(d, "unchanged", len(want) - len(new))
    used = {u for c in new.values() for u in c.utt_ids()}
    return DatasetPlan(d, new, {u: row_fps[u] for u in used}, existing,
                       sorted(fp for fp in existing if fp not in want))
