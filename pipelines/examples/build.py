"""``run_examples``: the example store, built per task from the token store, incrementally per dataset.

For each dataset of the token store (read at one pinned Delta version, recorded in every example as
``tokens_version``): make every example's choices from metadata (:mod:`choices`), fingerprint it,
anti-join against the example store, read the rows only the new examples need, build their frame
sequences with :func:`uniaudio.sequence.build_sequence`, and append them in chunks (one atomic Delta
commit each). Examples whose fingerprint is no longer wanted (changed / removed token rows, changed
config) are deleted. Re-running on an unchanged token store builds nothing. With ``tasks`` set, only
those tasks' examples are built or pruned; the others stay as they are.

Examples that cannot be built are counted by reason in the summary (``no_prompt``: a speaker with a
single utterance; ``too_long``; ``missing_<column>``; ...), never silently dropped.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import numpy as np
import pyarrow as pa

from pipelines import delta
from pipelines.examples.choices import Choice, DatasetChoices, split_of
from pipelines.examples.config import ExamplesConfig
from pipelines.examples.segments import MissingInput, segments_for
from pipelines.examples.summary import ExamplesSummary
from pipelines.schema import example_store_schema, pack_f16
from uniaudio.errors import UserFacingError
from uniaudio.sequence import build_sequence
from uniaudio.tasks import TASKS
from uniaudio.vocab import Vocab, load_vocab

META = ["utt_id", "fingerprint", "tokenizer_version", "speaker", "n_frames", "tasks", "extra_json", "phones",
        "enrolment_n_frames"]


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


def _token_datasets(tokens: str, version: int) -> list[str]:
    col = delta.read_table(tokens, version, columns=["dataset"]).column("dataset")
    return sorted(set(col.to_pylist()))


def _existing(out: str, dataset: str, tasks: set[str]) -> dict[str, str]:
    """fingerprint -> task of the examples already stored for ``dataset`` (selected tasks only)."""
    if delta.table_version(out) is None:
        return {}
    t = delta.read_table(out, columns=["task", "fingerprint"], filter_in={"dataset": [dataset]})
    return {fp: task for task, fp in zip(t.column("task").to_pylist(), t.column("fingerprint").to_pylist())
            if task in tasks}


class _Writer:
    def __init__(self, out: str, cfg: ExamplesConfig, run_id: str):
        self.out, self.cfg, self.run_id = out, cfg, run_id
        self.rows: list[dict] = []
        self.commits = 0

    def add(self, row: dict) -> None:
        self.rows.append(row)
        if len(self.rows) >= self.cfg.chunk_rows:
            self.flush()

    def flush(self) -> None:
        if self.rows:
            table = pa.Table.from_pylist(self.rows, schema=example_store_schema())
            delta.append(self.out, table, ["task", "dataset"], target_file_size=int(self.cfg.target_file_mb * 2**20),
                         commit_properties={"uniaudio.job": "examples", "uniaudio.run_id": self.run_id})
            self.rows, self.commits = [], self.commits + 1


def run_examples(tokens: str, out: str, cfg: ExamplesConfig | None = None) -> ExamplesSummary:
    """Build (incrementally) the example store at ``out`` from the token store at ``tokens``."""
    t0 = time.time()
    cfg = cfg or ExamplesConfig()
    version = delta.table_version(tokens)
    if version is None:
        raise UserFacingError(f"no token store at {tokens!r}: run `uniaudio tokenize` first")
    unknown = sorted(set(cfg.tasks or []) - set(TASKS))
    if unknown:
        raise UserFacingError(f"unknown task(s) {', '.join(unknown)}; known: {', '.join(TASKS)}")
    selected = set(cfg.tasks or TASKS)
    vocab = load_vocab()
    salt = f"{cfg.choice_hash()}:{vocab.content_hash}"
    present = _token_datasets(tokens, version)
    datasets = [d for d in present if cfg.datasets is None or d in cfg.datasets]
    run_id = uuid.uuid4().hex
    s = ExamplesSummary(tokens=tokens, out=out, tokens_version=version, run_id=run_id)
    writer = _Writer(out, cfg, run_id)
    for d in datasets:
        _build_dataset(d, tokens, version, out, cfg, selected, vocab, salt, writer, s)
    writer.flush()
    s.commits, s.wall_s, s.table_version = writer.commits, time.time() - t0, delta.table_version(out)
    if s.table_version is not None:
        from pipelines.lineage import read_lineage, write_lineage

        write_lineage(out, {**read_lineage(tokens), "tokens_uri": tokens, "tokens_version": version,
                            "examples_uri": out, "examples_version": s.table_version})
    if cfg.mlflow.enabled:
        s.mlflow_run_id = _log_mlflow(s, cfg, datasets)
    return s


def _log_mlflow(s: ExamplesSummary, cfg: ExamplesConfig, datasets: list[str]) -> str | None:
    from pathlib import Path

    from uniaudio.tracking import MlflowTracker, default_artifact_location, flatten_params, resolve_tracking_uri

    if cfg.mlflow.tracking_uri:
        uri, artifacts = cfg.mlflow.tracking_uri, None
    else:
        run_dir = Path(s.out) / "_mlflow" if "://" not in s.out else Path.cwd() / "mlruns-examples"
        uri = resolve_tracking_uri(run_dir)
        artifacts = default_artifact_location(uri, run_dir)
    tracker = MlflowTracker(uri, experiment=cfg.mlflow.experiment, artifact_location=artifacts)
    run_id = tracker.start_run(f"examples-{s.run_id[:8]}", tags={
        "component": "examples", "tokens": s.tokens, "out": s.out, "delta.tokens_version": str(s.tokens_version),
        "delta.table_version": str(s.table_version)})
    tracker.log_params({**flatten_params(cfg.to_dict()), "datasets": ",".join(datasets)})
    tracker.log_metrics(s.metrics())
    tracker.end_run()
    return run_id


def _build_dataset(d: str, tokens: str, version: int, out: str, cfg: ExamplesConfig, selected: set[str],
                   vocab: Vocab, salt: str, writer: _Writer, s: ExamplesSummary) -> None:
    meta = delta.read_table(tokens, version, columns=META, filter_equals={"dataset": d}).to_pylist()
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
    existing = _existing(out, d, selected)
    new = {fp: c for fp, c in want.items() if fp not in existing}
    stale = sorted(fp for fp in existing if fp not in want)
    s.count(d, "unchanged", len(want) - len(new))
    if new:
        needed = sorted({u for c in new.values() for u in c.utt_ids()})
        rows = {r["utt_id"]: r for r in delta.read_table(tokens, version, filter_equals={"dataset": d},
                                                         filter_in={"utt_id": needed}).to_pylist()}
        for fp, c in sorted(new.items(), key=lambda kv: kv[1].example_id):
            try:
                writer.add(build_example(c, fp, rows, vocab, cfg, version))
            except MissingInput as err:
                s.skip(d, c.task, err.reason)
                continue
            except ValueError as err:
                s.skip(d, c.task, str(err) if str(err) == "too_long" else "invalid")
                continue
            s.built(d, c.task)
    writer.flush()  # a dataset's examples land before its stale ones are deleted
    for task in sorted({existing[fp] for fp in stale}):
        fps = [fp for fp in stale if existing[fp] == task]
        delta.delete_rows(out, "fingerprint", fps, {"task": task, "dataset": d},
                          {"uniaudio.job": "examples-prune", "uniaudio.run_id": s.run_id})
    s.count(d, "pruned", len(stale))
