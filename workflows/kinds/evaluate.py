"""``evaluate``: score a results JSONL per task (uniaudio.evaluate) -> the metrics table.

Inputs ``results`` (from ``generate``) and optional ``codec`` (adds the codec-resynthesis upper-bound
rows); config ``metrics`` (names; default every metric of each task), ``ground_truth``, ``samples``
(items per task logged with spectrograms), ``set`` (EvaluateConfig overrides). The evaluation's MLflow
run is nested under the step's run. Output ``table``: the evaluation folder (``results.json``,
``results.csv``, ``items.jsonl``, ``samples/``); the table files are logged on the parent run.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import Field

from workflows.kinds.common import KindConfig
from workflows.step import StepContext, StepKind, StepResult, resolve_path


class EvaluateStep(KindConfig):
    metrics: list[str] | None = None
    ground_truth: bool = False
    samples: int | None = Field(None, ge=0)


def run_evaluate(ctx: StepContext) -> StepResult:
    from uniaudio.config import load_config
    from uniaudio.evaluate.runner import EvaluateConfig, evaluate

    c = EvaluateStep.model_validate(ctx.config)
    sets = list(c.set)
    if c.metrics is not None:
        sets.append(f"metrics={json.dumps(c.metrics)}")
    if c.ground_truth:
        sets.append("ground_truth=true")
    if c.samples is not None:
        sets.append(f"samples_per_task={c.samples}")
    if ctx.inputs.get("codec"):
        sets.append(f"codec={json.dumps(resolve_path(ctx.inputs['codec']))}")
    if ctx.step_run_id:
        sets.append(f"parent_run_id={json.dumps(ctx.step_run_id)}")
    if ctx.tracking_uri:
        sets.append(f"tracking_uri={json.dumps(ctx.tracking_uri)}")
    sets.append(f"run_name={json.dumps(f'evaluate-{ctx.step_id}')}")
    cfg = load_config(EvaluateConfig, None, sets)
    out = ctx.work_dir / "evaluation"
    report = evaluate(resolve_path(ctx.inputs["results"]), out, cfg)
    print(report.table.format(), flush=True)
    files = {k: str(v) for k, v in report.files.items()}
    table_files = [(v, "evaluation") for k, v in files.items() if k != "samples" and Path(v).is_file()]
    return StepResult(
        outputs={"table": str(out)},
        runs={"evaluate": report.run_id} if report.run_id else {},
        links={"evaluation.dir": str(out), **{f"evaluation.{k}": v for k, v in files.items()}},
        artifacts=table_files,
        metrics={"evaluate/items": float(report.n_items), "evaluate/invalid": float(report.n_invalid)},
        summary=report.summary(),
    )


EVALUATE = StepKind("evaluate", run_evaluate, outputs=("table",), input_names=("results", "codec"),
                    required_inputs=("results",), config_model=EvaluateStep,
                    description="score the generated samples per task")
