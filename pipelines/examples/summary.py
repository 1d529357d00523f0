"""What an examples run built, kept, pruned and skipped (with reasons), per dataset and task."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field


@dataclass
class ExamplesSummary:
    tokens: str
    out: str
    tokens_version: int
    run_id: str
    commits: int = 0
    wall_s: float = 0.0
    table_version: int | None = None
    mlflow_run_id: str | None = None
    per_task: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # built
    per_dataset: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    skipped: dict[str, int] = field(default_factory=Counter)  # "task/reason" -> count

    def built(self, dataset: str, task: str) -> None:
        self.per_task[task] += 1
        self.per_dataset[dataset]["built"] += 1

    def skip(self, dataset: str, task: str, reason: str) -> None:
        self.skipped[f"{task}/{reason}"] += 1
        self.per_dataset[dataset]["skipped"] += 1

    def count(self, dataset: str, key: str, n: int) -> None:
        self.per_dataset[dataset][key] += n

    def total(self, key: str) -> int:
        return sum(c.get(key, 0) for c in self.per_dataset.values())

    def line(self) -> str:
        return (f"examples: built={self.total('built')} unchanged={self.total('unchanged')} "
                f"pruned={self.total('pruned')} skipped={self.total('skipped')} tasks={len(self.per_task)} "
                f"tokens_version={self.tokens_version} table_version={self.table_version} wall_s={self.wall_s:.1f}")

    def report(self) -> str:
        lines = [f"  {t}: built {n}" for t, n in sorted(self.per_task.items())]
        lines += [f"  skipped {k}: {n}" for k, n in sorted(self.skipped.items())]
        if self.total("built") == 0 and self.total("pruned") == 0:
            lines.append(f"nothing to build: the example store is up to date with token store version {self.tokens_version}")
        return "\n".join(lines + [self.line()])

    def metrics(self) -> dict[str, float]:
        out = {k: float(self.total(k)) for k in ("built", "unchanged", "pruned", "skipped")}
        out.update({f"built/{t}": float(n) for t, n in self.per_task.items()})
        out.update({f"skipped/{k}": float(n) for k, n in self.skipped.items()})
        out["wall_s"] = self.wall_s
        return out

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, default=dict)
