"""``run_examples``: the example store, built per task from the token store, incrementally per dataset.

For each dataset of the token store (read at one pinned Delta version, recorded in every example as
``tokens_version``) the driver plans from metadata only (:mod:`plan`): every example's choices
(:mod:`choices`), its fingerprint, the anti-join against the example store. The new examples of
every dataset are then built by ONE Ray Data job (:mod:`distributed`) whose output the driver
streams and appends in chunks of ``chunk_rows`` (one atomic Delta commit each). Examples whose
fingerprint is no longer wanted (changed / removed token rows, changed config) are deleted after the
new ones landed. Re-running on an unchanged token store builds nothing (and starts no Ray). With
``tasks`` set, only those tasks' examples are built or pruned; the others stay as they are.

Crash safety: a commit is atomic and every example carries its fingerprint, so a killed job re-run
builds exactly the examples no commit holds yet (each example lands once).

Examples that cannot be built are counted by reason in the summary (``no_prompt``: a speaker with a
single utterance; ``too_long``; ``missing_<column>``; ...), never silently dropped.
"""

from __future__ import annotations

import logging
import time
import uuid

import pyarrow as pa
import pyarrow.compute as pc

from uniaudio.stores import delta
from pipelines.examples.config import ExamplesConfig
from pipelines.examples.example import build_example  # noqa: F401  (re-exported: the per-example builder)
from pipelines.examples.lookup import UsePlan
from pipelines.examples.plan import DatasetPlan, plan_dataset
from pipelines.examples.summary import ExamplesSummary
from uniaudio.stores.schema import example_store_schema
from uniaudio.stores.tables import ExampleStore
from uniaudio.errors import UserFacingError
from uniaudio.tasks import TASKS
from uniaudio.vocab import load_vocab


def _token_datasets(tokens: str, version: int) -> list[str]:
    col = delta.read_table(tokens, version, columns=["dataset"]).column("dataset")
    return sorted(set(col.to_pylist()))


class _Writer:
    """Buffers built rows; appends exactly ``chunk_rows`` per commit (the rest at :meth:`flush`)."""

    def __init__(self, out: str, cfg: ExamplesConfig, run_id: str):
        self.out, self.cfg, self.run_id = out, cfg, run_id
        self.schema = example_store_schema()
        self.tables: list[pa.Table] = []
        self.rows = 0
        self.commits = 0

    def add_outcomes(self, block: pa.Table, s: ExamplesSummary) -> None:
        """Count a block of outcomes (built / skipped) and buffer its built rows."""
        ok = pc.is_null(block.column("skip"))
        for d, t, reason in zip(*(block.filter(pc.invert(ok)).column(c).to_pylist() for c in ("dataset", "task", "skip"))):
            s.skip(d, t, reason)
        built = block.filter(ok).drop_columns(["skip"]).cast(self.schema)
        for d, t in zip(built.column("dataset").to_pylist(), built.column("task").to_pylist()):
            s.built(d, t)
        if built.num_rows:
            self.tables.append(built)
            self.rows += built.num_rows
        while self.rows >= self.cfg.chunk_rows:
            table = pa.concat_tables(self.tables)
            self._commit(table.slice(0, self.cfg.chunk_rows))
            rest = table.slice(self.cfg.chunk_rows)
            self.tables, self.rows = ([rest] if rest.num_rows else []), rest.num_rows

    def flush(self) -> None:
        if self.tables:
            self._commit(pa.concat_tables(self.tables))
            self.tables, self.rows = [], 0

    def _commit(self, table: pa.Table) -> None:
        ExampleStore.writer(self.out, int(self.cfg.target_file_mb * 2**20)).append(
            table, {"uniaudio.job": "examples", "uniaudio.run_id": self.run_id, "uniaudio.chunk": str(self.commits)})
        self.commits += 1


def run_examples(tokens: str, out: str, cfg: ExamplesConfig | None = None, address: str | None = None
                 ) -> ExamplesSummary:
    """Build (incrementally) the example store at ``out`` from the token store at ``tokens``.

    ``address``: a Ray cluster to run on (default ``$RAY_ADDRESS``, else a local instance, unless
    this process is already connected to Ray)."""
    t0 = time.time()
    cfg = cfg or ExamplesConfig()
    version = delta.table_version(tokens)
    if version is None:
        raise UserFacingError(f"no token store at {tokens!r}: run `uniaudio tokenize` first")
    unknown = sorted(set(cfg.tasks or []) - set(TASKS))
    if unknown:
        raise UserFacingError(f"unknown task(s) {', '.join(unknown)}; known: {', '.join(TASKS)}")
    selected = set(cfg.tasks or TASKS)
    salt = f"{cfg.choice_hash()}:{load_vocab().content_hash}"
    present = _token_datasets(tokens, version)
    datasets = [d for d in present if cfg.datasets is None or d in cfg.datasets]
    run_id = uuid.uuid4().hex
    s = ExamplesSummary(tokens=tokens, out=out, tokens_version=version, run_id=run_id)
    plans, parts = [], []
    for d in datasets:
        p = plan_dataset(d, tokens, version, out, cfg, selected, salt, s)
        parts.append(UsePlan.build([p]))  # compact Arrow; the Python choices go with the next dataset
        p.new, p.row_fps = {}, {}  # keep only what pruning needs
        plans.append(p)
    lookup = UsePlan.concat(parts)
    del parts
    writer = _Writer(out, cfg, run_id)
    if lookup.n_examples:
        _build(tokens, version, lookup, cfg, address, writer, s)
    writer.flush()
    _prune(out, plans, s)  # after every new example landed
    s.commits, s.wall_s, s.table_version = writer.commits, time.time() - t0, delta.table_version(out)
    if s.table_version is not None:
        from uniaudio.stores.lineage import read_lineage, write_lineage
        from uniaudio.tasks import tasks_file_record

        write_lineage(out, {**read_lineage(tokens), "tokens_uri": tokens, "tokens_version": version,
                            "examples_uri": out, "examples_version": s.table_version, **tasks_file_record()})
    if cfg.mlflow.enabled:
        s.mlflow_run_id = _log_mlflow(s, cfg, datasets)
    return s


def _build(tokens: str, version: int, lookup: UsePlan, cfg: ExamplesConfig, address: str | None, writer: _Writer,
           s: ExamplesSummary) -> None:
    import ray

    from pipelines.examples.distributed import stream_outcomes
    from uniaudio.ray_init import ensure_ray

    started = ensure_ray(address, cfg.ray.num_cpus, cfg.ray.object_store_mb, logging_level=logging.WARNING)
    try:
        for block in stream_outcomes(tokens, version, lookup, cfg):
            writer.add_outcomes(block, s)
    finally:
        if started:
            ray.shutdown()


def _prune(out: str, plans: list[DatasetPlan], s: ExamplesSummary) -> None:
    for p in plans:
        for task in sorted({p.existing[fp] for fp in p.stale}):
            fps = [fp for fp in p.stale if p.existing[fp] == task]
            delta.delete_rows(out, "fingerprint", fps, {"task": task, "dataset": p.dataset},
                              {"uniaudio.job": "examples-prune", "uniaudio.run_id": s.run_id})
        s.count(p.dataset, "pruned", len(p.stale))


def _log_mlflow(s: ExamplesSummary, cfg: ExamplesConfig, datasets: list[str]) -> str | None:
    from pathlib import Path

    from uniaudio.tracking import (MlflowTracker, default_artifact_location, flatten_params, local_tracking_dir,
                                   resolve_tracking_uri)

    if cfg.mlflow.tracking_uri:
        uri, artifacts = cfg.mlflow.tracking_uri, None
    else:
        run_dir = local_tracking_dir(s.out, "examples")
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
