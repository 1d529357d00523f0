"""The results table: (system, task, metric) -> mean, std, n, failed, skipped; printed, JSON, CSV.

- ``mean`` is the average of the per-item values, except for :class:`~uniaudio.evaluate.text.Ratio`
  metrics (WER, CER), which are pooled: total edits / total reference length (corpus WER).
- ``n`` counts the items that produced a value, ``failed`` those where the metric raised (missing or
  corrupt wav, no speech for PESQ, ...), ``skipped`` those that lacked a reference the metric needs.
- Lines of RESULTS.jsonl that could not be parsed appear as metric ``invalid_items`` (failed = count).
- Set-level metrics (``fd``) have one value per (system, task); ``n`` is the size of the generated set.

System ``model`` is the evaluated output; ``ground_truth`` and ``codec_resynthesis`` are baselines.
"""

from __future__ import annotations

import csv
import json
import math
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from uniaudio.evaluate.registry import TASK_FAMILIES, metric_spec
from uniaudio.evaluate.scoring import ItemScore
from uniaudio.evaluate.text import Ratio

INVALID = "invalid_items"
COLUMNS = ("system", "task", "metric", "mean", "std", "n", "failed", "skipped", "higher_is_better", "first_error")


@dataclass
class Row:
    system: str
    task: str
    metric: str
    mean: float | None
    std: float | None
    n: int
    failed: int
    skipped: int
    higher_is_better: bool | None
    first_error: str = ""


@dataclass
class _Cell:
    values: list[Any] = field(default_factory=list)
    failed: int = 0
    skipped: int = 0
    errors: Counter = field(default_factory=Counter)
    set_value: float | None = None
    set_n: int = 0


def _order(key: tuple[str, str, str], systems: list[str]) -> tuple:
    system, task, metric = key
    tasks = list(TASK_FAMILIES)
    spec_names = [m.name for fam in TASK_FAMILIES.get(task, ()) for m in _fam_metrics(fam)]
    return (systems.index(system) if system in systems else len(systems),
            tasks.index(task) if task in tasks else len(tasks),
            spec_names.index(metric) if metric in spec_names else len(spec_names), metric)


def _fam_metrics(fam_name: str):
    from uniaudio.evaluate.families import FAMILIES

    return FAMILIES[fam_name].metrics


class ResultsTable:
    """Accumulates item scores and set-level values; renders rows."""

    def __init__(self) -> None:
        self._cells: dict[tuple[str, str, str], _Cell] = defaultdict(_Cell)
        self._systems: list[str] = []
        self.item_counts: Counter = Counter()

    def _cell(self, system: str, task: str, metric: str) -> _Cell:
        if system not in self._systems:
            self._systems.append(system)
        return self._cells[(system, task, metric)]

    def add_item(self, score: ItemScore) -> None:
        self.item_counts[(score.system, score.task)] += 1
        for name, value in score.values.items():
            self._cell(score.system, score.task, name).values.append(value)
        for name, reason in score.errors.items():
            cell = self._cell(score.system, score.task, name)
            cell.failed += 1
            cell.errors[reason] += 1
        for name in score.skipped:
            self._cell(score.system, score.task, name).skipped += 1

    def add_set_metric(self, system: str, task: str, metric: str, value: float | None, n: int,
                       failed: int = 0, error: str | None = None, skipped: int = 0) -> None:
        cell = self._cell(system, task, metric)
        cell.set_value, cell.set_n, cell.failed = value, n, cell.failed + failed
        cell.skipped += skipped
        if error:
            cell.errors[error] += 1

    def add_invalid(self, task: str | None, reason: str) -> None:
        cell = self._cell("model", task or "?", INVALID)
        cell.failed += 1
        cell.errors[reason] += 1

    def rows(self) -> list[Row]:
        out = []
        for key in sorted(self._cells, key=lambda k: _order(k, self._systems)):
            system, task, metric = key
            c = self._cells[key]
            spec = metric_spec(task, metric) if task in TASK_FAMILIES else None
            mean = std = None
            n = c.set_n if c.set_value is not None or c.set_n else len(c.values)
            if c.set_value is not None:
                mean = c.set_value
            elif c.values:
                plain = [v.value if isinstance(v, Ratio) else float(v) for v in c.values]
                if all(isinstance(v, Ratio) for v in c.values):
                    mean = Ratio(sum(v.num for v in c.values), sum(v.den for v in c.values)).value
                else:
                    mean = sum(plain) / len(plain)
                std = math.sqrt(sum((p - sum(plain) / len(plain)) ** 2 for p in plain) / len(plain))
            first = c.errors.most_common(1)[0][0] if c.errors else ""
            out.append(Row(system, task, metric, mean, std, n, c.failed, c.skipped,
                           spec.higher_is_better if spec else None, first))
        return out

    def format(self) -> str:
        """A fixed-width text table."""
        head = ("system", "task", "metric", "mean", "std", "n", "failed", "skipped")
        body = [(r.system, r.task, r.metric, _fmt(r.mean), _fmt(r.std), str(r.n), str(r.failed), str(r.skipped))
                for r in self.rows()]
        widths = [max(len(x[i]) for x in [head, *body]) for i in range(len(head))]
        lines = ["  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(x, widths)))
                 for x in [head, *body]]
        lines.insert(1, "-" * len(lines[0]))
        errors = [r for r in self.rows() if r.first_error]
        if errors:
            lines.append("")
            lines += [f"failures {r.system}/{r.task}/{r.metric} ({r.failed}): {r.first_error}" for r in errors]
        return "\n".join(lines)

    def metrics_for_tracking(self) -> dict[str, float]:
        """``<task>/<metric>`` (model) or ``<system>/<task>/<metric>`` -> mean, plus ``.n`` / ``.failed``."""
        out: dict[str, float] = {}
        for r in self.rows():
            base = f"{r.task}/{r.metric}" if r.system == "model" else f"{r.system}/{r.task}/{r.metric}"
            base = base.replace("?", "unknown")
            if r.mean is not None:
                out[base] = float(r.mean)
            out[f"{base}.n"] = float(r.n)
            out[f"{base}.failed"] = float(r.failed)
        return out

    def write(self, out_dir: str | Path, extra: dict[str, Any] | None = None) -> tuple[Path, Path]:
        """Write ``results.json`` (rows + ``extra``) and ``results.csv`` under ``out_dir``."""
        d = Path(out_dir)
        d.mkdir(parents=True, exist_ok=True)
        rows = [asdict(r) for r in self.rows()]
        js, cs = d / "results.json", d / "results.csv"
        js.write_text(json.dumps({"rows": rows, **(extra or {})}, indent=1, default=str))
        with cs.open("w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=COLUMNS)
            w.writeheader()
            w.writerows(rows)
        return js, cs


def _fmt(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:.4g}"
