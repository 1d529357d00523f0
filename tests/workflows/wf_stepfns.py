"""Small real step functions for the workflow tests (referenced as ``tests.workflows.wf_stepfns:NAME``).

Each one does real work in its work dir and records what it did in ``<run_dir>/calls.jsonl``, so a test
can tell which steps actually ran (not just what the runner's bookkeeping claims).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

from workflows.step import StepContext, StepKind, StepResult


def _calls_file(run_dir: str | Path) -> Path:
    """``<run_dir>/calls.jsonl``; for a run dir in a bucket, the local file ``$WF_CALLS_FILE`` names."""
    return Path(os.environ["WF_CALLS_FILE"]) if "://" in str(run_dir) else Path(run_dir) / "calls.jsonl"


def _record(ctx: StepContext) -> None:
    with open(_calls_file(ctx.run_dir), "a") as f:
        f.write(json.dumps({"step": ctx.step_id, "key": ctx.key, "t": time.time(), "pid": os.getpid()}) + "\n")


def calls(run_dir: str | Path) -> list[str]:
    """Step ids in the order their functions were called."""
    p = _calls_file(run_dir)
    return [json.loads(line)["step"] for line in p.read_text().splitlines()] if p.is_file() else []


def source(ctx: StepContext) -> StepResult:
    """Writes ``config.text`` to a file; identity = the text's hash (what downstream keys see)."""
    _record(ctx)
    p = ctx.work_dir / "source.txt"
    p.write_text(ctx.config.get("text", ""))
    return StepResult(outputs={"text": str(p)}, identity={"text": hashlib.sha256(p.read_bytes()).hexdigest()[:16]})


def upper(ctx: StepContext) -> StepResult:
    """Upper-cases its input file(s) into one file; fails when ``config.fail_if`` names an existing file."""
    _record(ctx)
    flag = ctx.config.get("fail_if")
    if flag and os.path.exists(flag):
        raise RuntimeError(f"asked to fail while {flag} exists")
    srcs = ctx.inputs["text"] if isinstance(ctx.inputs["text"], list) else [ctx.inputs["text"]]
    out = ctx.work_dir / "upper.txt"
    from uniaudio.stores import uri as uris

    out.write_text("|".join(uris.read_text(s).upper() for s in srcs))  # inputs may be URIs (a remote run dir)
    return StepResult(outputs={"text": str(out)}, summary=f"{len(srcs)} input(s)")


def ray_square(ctx: StepContext) -> StepResult:
    """Squares ``config.n`` in a Ray task (the step needs the runner's Ray instance)."""
    import ray

    _record(ctx)

    @ray.remote(num_cpus=0.1)
    def sq(x: int) -> int:
        return x * x

    value = ray.get(sq.remote(int(ctx.config["n"])))
    (ctx.work_dir / "square.txt").write_text(str(value))
    return StepResult(outputs={"value": value}, identity={"value": value}, metrics={"value": float(value)})


RAY_SQUARE = StepKind("ray_square", ray_square, outputs=("value",), uses_ray=True)


def own_run(ctx: StepContext) -> StepResult:
    """Creates an MLflow run of its own (as the components do) and hands it to the step for nesting."""
    from uniaudio.tracking import MlflowTracker

    _record(ctx)
    t = MlflowTracker(ctx.tracking_uri, experiment="component")
    run_id = t.start_run("component-run")
    t.log_metrics({"quality": 1.0})
    t.end_run()
    ctx.adopt_run(run_id)
    (ctx.work_dir / "table.csv").write_text("task,metric\ntts,1.0\n")
    return StepResult(outputs={"table": str(ctx.work_dir / "table.csv")}, runs={"component": run_id},
                      artifacts=[(str(ctx.work_dir / "table.csv"), "evaluation")], links={"evaluation.table": "x"})


def shared_write(ctx: StepContext) -> StepResult:
    """Writes ``config.text`` into one file shared by every run (like the token store)."""
    _record(ctx)
    p = Path(ctx.run_dir) / "shared.txt"
    p.write_text(ctx.config["text"])
    return StepResult(outputs={"text": str(p)})


SHARED_WRITE = StepKind("shared_write", shared_write, outputs=("text",), reuse_history=False)


def noisy_loop(ctx: StepContext) -> StepResult:
    """Talks like third-party code does (a Ray worker's prints, a warning, logging, a child process
    writing to fd 1) and runs a loop that reports ``step i/n`` from the worker and a local progress bar."""
    import logging
    import subprocess
    import sys
    import warnings

    import ray

    from uniaudio.progress import bar, progress_line

    _record(ctx)
    n = int(ctx.config["n"])

    @ray.remote(num_cpus=0.1)
    def work(n: int) -> int:
        print("noisy worker says hello", flush=True)
        for i in range(1, n + 1):
            time.sleep(0.02)
            print(progress_line("noisy", i, n, extra="loss=1.0"), flush=True)
        return n

    warnings.warn("noisy third-party warning", UserWarning)
    logging.getLogger("noisy.lib").warning("noisy library WARNING line")
    subprocess.run([sys.executable, "-c", "print('noisy child process banner')"], check=True)
    done = ray.get(work.remote(n))
    time.sleep(1.0)  # let the driver receive the worker's lines while the step still runs
    with bar(total=done, desc="local", unit="item") as b:
        for _ in range(done):
            b.update(1)
    out = ctx.work_dir / "out.txt"
    out.write_text(str(done))
    return StepResult(outputs={"text": str(out)}, summary=f"{done} rounds")


NOISY_LOOP = StepKind("noisy_loop", noisy_loop, outputs=("text",), uses_ray=True)
