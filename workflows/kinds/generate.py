"""``generate``: a requests JSONL through a trained model -> wavs + ``results.jsonl`` (the evaluate contract).

Inputs ``model`` (exported model dir), ``requests`` (JSONL), optional ``codec`` (default: the model's
lineage) and ``semantic`` (the k-means the training tokens used, for VC). Config: ``set``
(GenerateConfig overrides, e.g. ``sampling.top_k=1``), ``min_tasks``
(fail unless at least this many tasks produced output; default: every task of the requests).
Outputs ``results`` (``<work>/generated/results.jsonl``) and ``samples`` (its folder, wavs under
``wavs/``); both are also logged as artifacts of the workflow's parent run. On a remote run dir the
folder is the step's node-local scratch, which the runner uploads (wav paths in ``results.jsonl`` are
relative to it, so they resolve in the bucket too).
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import Field

from workflows.kinds.common import KindConfig, file_sha256
from workflows.step import StepContext, StepKind, StepResult, resolve_path


class GenerateStep(KindConfig):
    min_tasks: int | None = Field(None, ge=0)


def run_generate(ctx: StepContext) -> StepResult:
    from uniaudio.config import load_config
    from uniaudio.errors import UserFacingError
    from uniaudio.generate.batch import run_batch
    from uniaudio.generate.config import GenerateConfig
    from uniaudio.generate.requests import read_requests
    from uniaudio.generate.runner import Generator

    c = GenerateStep.model_validate(ctx.config)
    from workflows.kinds.semantic import semantic_overrides

    cfg = load_config(GenerateConfig, None, semantic_overrides(ctx.inputs.get("semantic"), "tokenizers.") + list(c.set))
    from uniaudio.stores import uri as uris

    # the requests file may be in the bucket (a remote run dir): read through the node's verified cache
    requests, bad = read_requests(uris.fetch(resolve_path(ctx.inputs["requests"])), cfg.limits)
    out = ctx.work_dir / "generated"
    codec = ctx.inputs.get("codec")
    with Generator(resolve_path(ctx.inputs["model"]), cfg, codec_uri=resolve_path(codec) if codec else None,
                   tracking_uri=ctx.tracking_uri) as gen:
        summary = run_batch(gen, requests, bad, out, progress=True, overwrite=True)  # the step's own folder
    print(summary.line(), flush=True)
    results = Path(summary.results)
    lines = [json.loads(x) for x in results.read_text().splitlines() if x.strip()] if results.is_file() else []
    asked = sorted({r.task for r in requests})
    got = sorted({r["task"] for r in lines})
    need = len(asked) if c.min_tasks is None else c.min_tasks
    if len(got) < need:
        raise UserFacingError(f"generation produced output for {len(got)} of {len(asked)} tasks (needs {need}); "
                              f"missing: {', '.join(t for t in asked if t not in got)}; see {summary.errors or out}")
    return StepResult(
        outputs={"results": str(results), "samples": str(out)},
        identity={"results": {"sha256": file_sha256(results)}},
        links={"samples.dir": str(out), "samples.results": str(results)},
        artifacts=[(str(out / "wavs"), "samples"), (str(results), "samples")],
        metrics={"generate/requests": float(summary.requests), "generate/generated": float(summary.generated),
                 "generate/failed": float(summary.failed), "generate/audio_seconds": float(summary.audio_seconds),
                 "generate/tasks": float(len(got))},
        summary=summary.line(),
    )


GENERATE = StepKind("generate", run_generate, outputs=("results", "samples"),
                    input_names=("model", "requests", "codec", "semantic"),
                    required_inputs=("model", "requests"), config_model=GenerateStep,
                    description="generate every request with the trained model")
