"""``evaluate()``: score a RESULTS.jsonl, add baselines, write the table, log everything to MLflow.

Steps (each item is scored independently; nothing about one item can stop the run):

1. load RESULTS.jsonl (:mod:`uniaudio.evaluate.results`); unparseable lines become table failures;
2. system ``model``: every item through its task's families (:mod:`uniaudio.evaluate.scoring`);
3. optional baselines on the items that carry a ``reference``: ``ground_truth`` (the reference
   itself) and ``codec_resynthesis`` (the reference through the codec, :mod:`.resynthesis`);
4. set-level Fréchet distance per (system, task) for sound / music / audio edit;
5. ``results.json``, ``results.csv``, ``items.jsonl`` (per item: values, errors, skips, ASR
   hypothesis) and ``samples/`` (wavs + spectrogram PNGs) under the output folder;
6. one MLflow run: params, metrics ``<task>/<metric>`` (baselines ``<system>/<task>/<metric>``, plus
   ``.n`` / ``.failed`` counts), and all of the files above as artifacts.

Heavy models (Whisper, Resemblyzer, DNSMOS) load lazily on first use, once per process.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from uniaudio.config import ConfigBase
from uniaudio.evaluate.registry import TASK_FAMILIES, check_metric_names
from uniaudio.evaluate.results import ResultItem, load_results
from uniaudio.evaluate.scoring import Caches, ItemScore, describe_error, failed_item, score_item
from uniaudio.evaluate.table import ResultsTable


class EvaluateConfig(ConfigBase):
    """Settings of ``uniaudio evaluate`` (every field settable with ``--set``)."""

    metrics: list[str] | None = None  # None: every metric of each task
    ground_truth: bool = False  # add the "ground_truth" baseline rows
    codec: str | None = None  # codec directory: add the "codec_resynthesis" upper-bound rows
    n_q: int = Field(3, ge=1, le=32)  # codebooks kept by the resynthesis (the LM uses 3)
    codec_batch_size: int = Field(8, ge=1)
    samples_per_task: int = Field(2, ge=0)  # items per task logged as wav + spectrogram
    mlflow: bool = True
    tracking_uri: str | None = None  # default: $MLFLOW_TRACKING_URI, else sqlite in the output folder
    experiment: str = "evaluate"
    run_name: str | None = None
    parent_run_id: str | None = None  # nest the run under a workflow's run
    progress: bool = True


@dataclass
class EvalReport:
    table: ResultsTable
    out_dir: Path
    files: dict[str, Path]
    n_items: int
    n_invalid: int
    run_id: str | None = None
    scores: list[ItemScore] = field(default_factory=list)

    def summary(self) -> str:
        failed = sum(r.failed for r in self.table.rows())
        return (f"evaluated {self.n_items} items ({self.n_invalid} invalid lines, {failed} metric failures) "
                f"-> {self.files['json']}")


def _fd_task(task: str, selected: set[str] | None) -> bool:
    return "frechet" in TASK_FAMILIES[task] and (selected is None or "fd" in selected)


class _Run:
    """State of one evaluation (kept small: the loops live in :func:`evaluate`)."""

    def __init__(self, cfg: EvaluateConfig, out_dir: Path):
        self.cfg, self.out_dir = cfg, out_dir
        self.selected = set(check_metric_names(cfg.metrics)) if cfg.metrics is not None else None
        self.caches = Caches()
        self.table = ResultsTable()
        self.scores: list[ItemScore] = []
        # Fréchet sets: (system, task) -> embeddings of generated clips, and per-task reference embeddings
        self.fd_gen: dict[tuple[str, str], list[np.ndarray]] = {}
        self.fd_failed: dict[tuple[str, str], list[str]] = {}
        self.samples: dict[tuple[str, str], dict[str, np.ndarray]] = {}
        self.sample_counts: dict[str, int] = {}

    def record(self, score: ItemScore) -> None:
        self.table.add_item(score)
        self.scores.append(score)

    def fd_embed(self, system: str, item: ResultItem, path: str | None = None, wav: np.ndarray | None = None) -> None:
        """Embed one generated clip for the set-level FD of its task (failures are counted)."""
        from uniaudio.evaluate.frechet import embed

        key = (system, item.task)
        self.fd_gen.setdefault(key, [])
        try:
            if wav is None:
                if path not in self.caches.embeddings:
                    self.caches.embeddings[path] = embed(self.caches.load(path))
                vec = self.caches.embeddings[path]
            else:
                vec = embed(wav)
            self.fd_gen[key].append(vec)
        except Exception as err:  # noqa: BLE001
            self.fd_failed.setdefault(key, []).append(f"{item.id}: {describe_error(err)}")

    def keep_sample(self, item: ResultItem, system: str, wav: np.ndarray | None = None) -> None:
        """Keep the first ``samples_per_task`` items' audio (model output decides which items)."""
        key = (item.task, item.id)
        if system == "model":
            if self.sample_counts.get(item.task, 0) >= self.cfg.samples_per_task:
                return
            try:
                panels = {"model": self.caches.load(item.output)}
                if item.reference:
                    panels["reference"] = self.caches.load(item.reference)
            except Exception:  # noqa: BLE001 - a broken output is not a sample; its failure is in the table
                return
            self.samples[key] = panels
            self.sample_counts[item.task] = self.sample_counts.get(item.task, 0) + 1
        elif key in self.samples and wav is not None:
            self.samples[key][system] = wav

    def frechet(self, items: list[ResultItem], systems: list[str]) -> None:
        """Set-level FD per (system, task) against the task's reference set."""
        from uniaudio.evaluate.frechet import embed, frechet_distance

        for task in dict.fromkeys(i.task for i in items):
            if not _fd_task(task, self.selected):
                continue
            task_items = [i for i in items if i.task == task]
            refs = list(dict.fromkeys(i.reference for i in task_items if i.reference))
            ref_vecs, ref_errors = [], []
            for path in refs:
                try:
                    if path not in self.caches.embeddings:
                        self.caches.embeddings[path] = embed(self.caches.load(path))
                    ref_vecs.append(self.caches.embeddings[path])
                except Exception as err:  # noqa: BLE001
                    ref_errors.append(f"reference {path}: {describe_error(err)}")
            for system in systems:
                gen = self.fd_gen.get((system, task), [])
                errors = self.fd_failed.get((system, task), []) + ref_errors
                if not refs:
                    self.table.add_set_metric(system, task, "fd", None, 0, skipped=len(task_items))
                    continue
                try:
                    value = frechet_distance(np.stack(gen), np.stack(ref_vecs)) if gen and ref_vecs else None
                    if value is None:
                        raise ValueError("no usable clips in the generated or the reference set")
                    self.table.add_set_metric(system, task, "fd", value, len(gen), len(errors),
                                              errors[0] if errors else None)
                except Exception as err:  # noqa: BLE001 - e.g. fewer than 2 clips in a set
                    self.table.add_set_metric(system, task, "fd", None, len(gen), len(errors) + 1,
                                              errors[0] if errors else describe_error(err))


def evaluate(results_path: str | Path, out_dir: str | Path, cfg: EvaluateConfig | None = None,
             tracker=None) -> EvalReport:
    """Evaluate ``results_path`` into ``out_dir`` (see the module doc). ``tracker``: a
    :class:`uniaudio.tracking.Tracker` to log into (default: an MLflow run unless ``cfg.mlflow`` is off)."""
    from uniaudio.progress import track

    cfg = cfg or EvaluateConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    run = _Run(cfg, out)
    items, invalid = load_results(results_path)
    for bad in invalid:
        run.table.add_invalid(bad.task, f"line {bad.line}: {bad.reason}")
    t0 = time.time()
    systems = ["model"]

    for item in track(items, desc="evaluate model", disable=not cfg.progress, unit="item"):
        run.record(score_item(item, run.caches, run.selected, "model"))
        if item.audio_output:
            run.keep_sample(item, "model")
            if _fd_task(item.task, run.selected):
                run.fd_embed("model", item, path=item.output)

    with_ref = [i for i in items if i.audio_output and i.reference]
    if cfg.ground_truth and with_ref:
        systems.append("ground_truth")
        for item in track(with_ref, desc="evaluate ground truth", disable=not cfg.progress, unit="item"):
            run.record(score_item(item, run.caches, run.selected, "ground_truth", output_path=item.reference))
            if _fd_task(item.task, run.selected):
                run.fd_embed("ground_truth", item, path=item.reference)

    if cfg.codec and with_ref:
        from uniaudio.evaluate.resynthesis import SYSTEM, load_codec, resynthesize_items

        codec = load_codec(cfg.codec)
        systems.append(SYSTEM)
        stream = resynthesize_items(with_ref, codec, run.caches, cfg.n_q, cfg.codec_batch_size)
        for item, wav in track(stream, total=len(with_ref), desc="evaluate codec resynthesis",
                              disable=not cfg.progress, unit="item"):
            if isinstance(wav, Exception):
                run.record(failed_item(item, f"codec: {describe_error(wav)}", run.selected, SYSTEM))
                continue
            run.record(score_item(item, run.caches, run.selected, SYSTEM, output_wav=wav))
            run.keep_sample(item, SYSTEM, wav)
            if _fd_task(item.task, run.selected):
                run.fd_embed(SYSTEM, item, wav=wav)

    run.frechet(items, systems)
    elapsed = time.time() - t0
    report = _write(run, results_path, items, invalid, elapsed)
    if tracker is not None or cfg.mlflow:
        report.run_id = _log(report, cfg, results_path, tracker)
    return report


def _write(run: _Run, results_path, items, invalid, elapsed: float) -> EvalReport:
    from uniaudio.evaluate.samples import write_samples

    out = run.out_dir
    items_path = out / "items.jsonl"
    with items_path.open("w") as f:
        for s in run.scores:
            f.write(json.dumps(s.to_json(), default=str) + "\n")
    extra: dict[str, Any] = {
        "results": _where(results_path),
        "n_items": len(items),
        "invalid_lines": [{"line": b.line, "reason": b.reason, "task": b.task, "id": b.id} for b in invalid],
        "config": run.cfg.to_dict(),
        "elapsed_s": round(elapsed, 2),
    }
    js, cs = run.table.write(out, extra)
    write_samples(run.samples, out)
    files = {"json": js, "csv": cs, "items": items_path, "samples": out / "samples"}
    return EvalReport(run.table, out, files, len(items), len(invalid), scores=run.scores)


def _log(report: EvalReport, cfg: EvaluateConfig, results_path, tracker=None) -> str | None:
    """One MLflow run with params, ``<task>/<metric>`` metrics, the table files and the samples."""
    from uniaudio.tracking import MlflowTracker, default_artifact_location, flatten_params, resolve_tracking_uri

    if tracker is None:
        uri = cfg.tracking_uri or resolve_tracking_uri(report.out_dir)
        tracker = MlflowTracker(uri, experiment=cfg.experiment,
                                artifact_location=default_artifact_location(uri, report.out_dir),
                                fallback_path=report.out_dir / "mlflow_unsent.jsonl")
    run_id = tracker.start_run(cfg.run_name or f"evaluate-{Path(results_path).stem}",
                               tags={"component": "evaluate"}, parent_run_id=cfg.parent_run_id)
    params = flatten_params({k: v for k, v in cfg.to_dict().items() if k not in ("progress",)})
    params.update({"results": _where(results_path), "n_items": str(report.n_items),
                   "n_invalid": str(report.n_invalid)})
    tracker.log_params(params)
    tracker.log_metrics(report.table.metrics_for_tracking())
    for key in ("json", "csv", "items"):
        tracker.log_artifact(report.files[key], artifact_path="evaluation")
    if report.files["samples"].is_dir():
        tracker.log_artifact(report.files["samples"], artifact_path="samples")
    tracker.end_run()
    return run_id


def _where(results_path) -> str:
    """The results file as recorded: an absolute path, or its URI when it lives in an object store."""
    from uniaudio.stores import uri as uris

    return str(results_path) if uris.is_remote(results_path) else str(Path(results_path).resolve())
