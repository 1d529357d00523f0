"""LM steps.

``train_lm`` (input ``examples``: ``{uri, version}``; optional ``init``: a model to fine-tune from;
optional ``codec``: recorded in the model's lineage so generation finds it) -> ``model``: the exported
model dir (``model.safetensors``, ``model_config.json``, ``vocab.json``, ``lineage.json``), identified by
the weights' sha256. Config: ``preset``, ``steps``, ``workers``, ``zero`` (DeepSpeed stage), ``gpu``,
``set`` (TrainConfig overrides). A retried step resumes from the checkpoints Ray Train left in its work dir.
With ``init``, the step fine-tunes: ``TrainConfig.init_from`` = that model (architecture from its
``model_config.json``, fresh optimizer/schedule; see uniaudio/train/init_from.py); the base's identity
(its weights' sha256) is part of the step key, and the exported lineage records it under ``init_from``.

``model_checkpoint`` (config ``path``) -> ``model`` (and its lineage's codec when it records one).
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import Field

from uniaudio.config import ConfigBase
from workflows.kinds.common import KindConfig, file_sha256
from workflows.step import StepContext, StepKind, StepResult, resolve_path

WEIGHTS = "model.safetensors"


class TrainLmStep(KindConfig):
    preset: str = "tiny"
    steps: int | None = Field(None, ge=1)
    workers: int | None = Field(None, ge=1)
    zero: int | None = Field(None, ge=1, le=3)
    gpu: bool | None = None


def _weights_hash(model_dir: str) -> str:
    from uniaudio.errors import UserFacingError
    from uniaudio.stores import uri as uris

    p = uris.join(model_dir, WEIGHTS) if uris.is_remote(model_dir) else str(Path(model_dir) / WEIGHTS)
    if not uris.is_file(p):
        raise UserFacingError(f"{model_dir} is not an exported model: no {WEIGHTS} in it")
    return file_sha256(p)


def _record_codec(model_dir: str, codec_dir: str | None) -> None:
    """Add the codec to the exported lineage (if the trainer did not), so ``generate --model`` finds it.
    ``model_dir`` may be a URI (a remote run dir): the lineage is rewritten there with one atomic put."""
    if not codec_dir:
        return
    from uniaudio.stores import uri as uris

    p = uris.join(model_dir, "lineage.json")
    lin = json.loads(uris.read_text(p)) if uris.is_file(p) else {}
    if lin.get("codec_dir"):
        return
    from codec.export import read_codec_dir

    _, _, meta = read_codec_dir(uris.fetch(codec_dir))
    lin.update(codec_dir=str(codec_dir), codec_hash=meta["content_hash"])
    uris.put(p, json.dumps(lin, indent=1, sort_keys=True))


def run_train_lm(ctx: StepContext) -> StepResult:
    from uniaudio.errors import UserFacingError
    from uniaudio.train.config import train_config
    from uniaudio.train.driver import run_training

    c = TrainLmStep.model_validate(ctx.config)
    overrides = list(c.set)
    for value, key in ((c.steps, "steps"), (c.workers, "workers"), (c.zero, "zero_stage"), (c.gpu, "use_gpu")):
        if value is not None:
            overrides.append(f"{key}={str(value).lower() if isinstance(value, bool) else value}")
    init = ctx.inputs.get("init")
    if init:
        # The base model's identity (its weights' sha256, from model_checkpoint / train_lm) is an input
        # identity, so it is already part of this step's key: a different base re-runs the fine-tune.
        if any(o.split("=", 1)[0].strip() == "init_from" for o in overrides):
            raise UserFacingError(f"step {ctx.step_id}: give the base model as the 'init' input, not as "
                                  f"set: [init_from=...] (the input is what keys the step)")
        overrides.append(f"init_from={json.dumps(resolve_path(init))}")
    overrides.append(f"run_name={json.dumps(f'lm-{ctx.step_id}')}")
    cfg = train_config(c.preset, None, overrides)
    ex = ctx.inputs["examples"]
    out = ctx.out_path("model")  # a URI on a remote run dir: Ray Train storage + export in the bucket
    summary = run_training(ex["uri"], out, cfg, address=ctx.address, run_tags=ctx.parent_tags())
    ctx.adopt_run(summary.run_id)
    _record_codec(out, ctx.inputs.get("codec"))
    h = _weights_hash(out)
    links = {"model.dir": out, "model.sha256": h, "model.examples_version": summary.examples_version}
    if init:  # what the trainer recorded (the sha256 of the bytes it actually loaded)
        from uniaudio.stores import uri as uris

        rec = json.loads(uris.read_text(uris.join(out, "lineage.json"))).get("init_from") or {}
        links.update({"model.init_from": rec.get("path", resolve_path(init)), "model.init_from_sha256": rec.get("sha256")})
    return StepResult(
        outputs={"model": out},
        identity={"model": {"sha256": h}},
        runs={"lm": summary.run_id} if summary.run_id else {},
        links=links,
        metrics={k: float(v) for k, v in (("lm/first_loss", summary.first_loss), ("lm/last_loss", summary.last_loss),
                                          ("lm/val_loss", summary.val_loss), ("lm/steps", summary.steps)) if v is not None},
        summary=summary.line(),
    )


TRAIN_LM = StepKind("train_lm", run_train_lm, outputs=("model",), input_names=("examples", "init", "codec"),
                    required_inputs=("examples",), config_model=TrainLmStep, uses_ray=True,
                    description="train the multi-scale LM (Ray Train + DeepSpeed)")


class ModelCheckpointStep(ConfigBase):
    path: str


def _model_fingerprint(cfg: dict, inputs: dict) -> dict:
    return {"sha256": _weights_hash(resolve_path(ModelCheckpointStep.model_validate(cfg).path))}


def run_model_checkpoint(ctx: StepContext) -> StepResult:
    path = resolve_path(ModelCheckpointStep.model_validate(ctx.config).path)
    h = _weights_hash(path)
    return StepResult(outputs={"model": path}, identity={"model": {"sha256": h}},
                      # not "model.*": a DAG that fine-tunes has both kinds, and the workflow run's params are
                      # write-once (MLflow refuses the whole record when a value changes)
                      links={"model_checkpoint.dir": path, "model_checkpoint.sha256": h},
                      summary=f"model {h[:12]} at {path}")


MODEL_CHECKPOINT = StepKind("model_checkpoint", run_model_checkpoint, outputs=("model",), input_names=(),
                            config_model=ModelCheckpointStep, fingerprint=_model_fingerprint,
                            description="an existing exported model directory")
