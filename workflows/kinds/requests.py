"""``eval_requests``: generation requests for every task, drawn from a dataset spec, with references.

Input ``spec``; config ``per_task`` (requests per task), ``tasks`` (default: every task some dataset
feeds), ``seed`` (which rows are drawn). For each task the rows of the datasets feeding it are ordered
by a hash of (seed, utt id), rows of different edit operations (audio edit's ``extra.op``) are taken
in turn, and the first rows that carry what the task needs become requests
(uniaudio/generate/requests.py). Which row field fills which input (and the ``reference`` for
evaluation) is each task's ``eval:`` declaration (``uniaudio/tasks/builtin.yaml``): e.g. tts takes
``text`` from the row and ``prompt`` from another utterance of the same speaker.

Output ``requests``: the JSONL file (absolute paths). Rows of the demo corpus are also training rows:
the point of the demo's evaluation is the path (every task generates and scores), not the numbers.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from typing import Any

from pydantic import Field

from uniaudio.config import ConfigBase
from uniaudio.tasks import get_task, parse_rule
from workflows.kinds.common import file_sha256
from workflows.step import StepContext, StepKind, StepResult, resolve_path

_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


class EvalRequestsStep(ConfigBase):
    per_task: int = Field(1, ge=1)
    tasks: list[str] | None = None
    seed: int = Field(0, ge=0)


def _order(rows: list, seed: int) -> list:
    return sorted(rows, key=lambda r: hashlib.sha256(f"{seed}|{r.dataset}|{r.utt_id}".encode()).hexdigest())


def _interleave_ops(rows: list) -> list:
    """Rows of several edit operations (``extra["op"]``: audio edit's add / drop / replace / inpaint /
    super_resolution) taken round-robin, in their hashed order within each op, so that even a few
    requests per task cover every operation; rows without an op keep their order."""
    groups: dict[Any, list] = {}
    for r in rows:
        groups.setdefault((r.extra or {}).get("op"), []).append(r)
    if len(groups) < 2:
        return rows
    out, queues = [], list(groups.values())
    while any(queues):
        for q in queues:
            if q:
                out.append(q.pop(0))
    return out


def _other(rows: list, row: Any, same_speaker: bool) -> Any | None:
    for r in rows:
        if r.utt_id == row.utt_id or r.start_s is not None:
            continue
        if same_speaker and row.speaker and r.speaker == row.speaker:
            return r
        if not same_speaker and (r.speaker or "") != (row.speaker or ""):
            return r
    return None


def _value(rule: str, row: Any, pool: list) -> Any:
    """One request input from its ``eval`` rule (:mod:`uniaudio.tasks.spec`); None/empty = unavailable."""
    fn, args = parse_rule(rule)
    if fn == "row":
        return getattr(row, args[0], None)
    if fn == "paired":
        return (row.paired or {}).get(args[0])
    if fn == "audio":
        return row.audio_uri
    if fn == "other_utt":
        mode = args[0]
        other = _other(pool, row, same_speaker=mode != "other_speaker")
        if other is None and mode == "same_speaker_or_any":
            other = _other(pool, row, same_speaker=False)
        return other.audio_uri if other is not None else None
    if fn == "edit_span":
        span = (row.extra or {}).get("edit_span") or {}
        if span.get("start_s") is None or span.get("end_s") is None:
            return None
        return [float(span["start_s"]), float(span["end_s"])]
    if fn == "const":
        return int(args[0]) if args[0].lstrip("-").isdigit() else args[0]
    raise ValueError(f"unknown eval rule {rule!r}")  # the task file loader rejects these


def make_request(task: str, row: Any, pool: list) -> dict[str, Any] | None:
    """The request for ``task`` from ``row`` (``pool``: rows of the same dataset), or None if it lacks inputs.
    Each input (and ``reference``) comes from the task declaration's ``eval`` rules."""
    if row.start_s is not None:
        return None  # a segment of a longer file: no wav to reference
    req: dict[str, Any] = {"task": task, "id": _SAFE.sub("_", f"{task}-{row.dataset}-{row.utt_id}")}
    for key, rule in get_task(task).eval.items():
        value = _value(rule, row, pool)
        if value in (None, "", [], {}):
            return None  # every declared input is needed (an optional one is the evaluator's reference)
        req[key] = value
    return req


def build_requests(spec_path: str, cfg: EvalRequestsStep) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """-> (requests, {task: why it has none}) for the tasks asked for (or fed by the spec)."""
    from pipelines.sources import read_dataset
    from uniaudio.tasks import TASKS
    from workflows.kinds.common import load_spec

    spec = load_spec(spec_path)
    fed: dict[str, list] = defaultdict(list)
    pools: dict[str, list] = {}
    for entry in spec.datasets:
        rows = read_dataset(entry).rows
        pools[entry.name] = rows
        for t in entry.tasks:
            fed[t].extend(rows)
    tasks = cfg.tasks or [t for t in TASKS if t in fed]
    out, missing = [], {}
    for task in tasks:
        if task not in TASKS:
            missing[task] = "not a registered task"
            continue
        got = 0
        for row in _interleave_ops(_order(fed.get(task, []), cfg.seed)):
            req = make_request(task, row, pools[row.dataset])
            if req is not None:
                out.append(req)
                got += 1
                if got == cfg.per_task:
                    break
        if got == 0:
            missing[task] = "no dataset of the spec feeds it" if task not in fed else "no row carries its inputs"
    return out, missing


def run_eval_requests(ctx: StepContext) -> StepResult:
    from uniaudio.errors import UserFacingError

    cfg = EvalRequestsStep.model_validate(ctx.config)
    reqs, missing = build_requests(resolve_path(ctx.inputs["spec"]), cfg)
    for task, why in missing.items():
        print(f"[{ctx.step_id}] no request for {task}: {why}", flush=True)
    if not reqs:
        raise UserFacingError("no generation request could be made from the spec")
    path = ctx.work_dir / "requests.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in reqs))
    tasks = sorted({r["task"] for r in reqs})
    return StepResult(outputs={"requests": str(path)}, identity={"requests": {"sha256": file_sha256(path)}},
                      metrics={"requests/n": float(len(reqs)), "requests/tasks": float(len(tasks))},
                      summary=f"{len(reqs)} requests for {len(tasks)} tasks" + (f"; none for {', '.join(missing)}" if missing else ""))


EVAL_REQUESTS = StepKind("eval_requests", run_eval_requests, outputs=("requests",), input_names=("spec",),
                         required_inputs=("spec",), config_model=EvalRequestsStep,
                         description="generation requests per task from a dataset spec")
