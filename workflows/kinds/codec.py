"""Codec steps.

``codec_train`` (input ``data``: a dataset spec, audio folder or path list) -> ``codec``: the exported
checkpoint dir (``codec.safetensors`` + ``codec.json``), identified by its weights' content hash.
Config: ``preset`` (tiny | default), ``steps``, ``workers``, ``gpu``, ``cpus_per_worker``, ``set``
(CodecConfig overrides). A retried step resumes from the checkpoint Ray Train left in its output dir
(``ctx.out``: a bucket prefix when the run dir is remote, so every Ray Train worker writes there).

``codec_checkpoint`` (config ``path``) -> ``codec``: an existing checkpoint dir, verified.
"""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

from pydantic import Field

from uniaudio.config import ConfigBase
from workflows.kinds.common import KindConfig
from workflows.step import StepContext, StepKind, StepResult, resolve_path


class CodecTrainStep(KindConfig):
    preset: str = "tiny"
    steps: int | None = Field(None, ge=1)
    workers: int = Field(1, ge=1)
    gpu: bool = False
    cpus_per_worker: float | None = Field(None, gt=0)


def _content_hash(codec_dir: str) -> str:
    from codec.export import read_codec_dir
    from uniaudio.stores import uri as uris

    _, _, meta = read_codec_dir(uris.fetch(codec_dir))  # (a URI: via the node's hash-verified cache) also verifies the weights against the recorded hash
    return meta["content_hash"]


@contextlib.contextmanager
def _local_data(data):
    """``data`` as the codec trainer takes it. A dataset spec in a bucket (a remote run dir) becomes a
    temporary local copy whose roots are its bucket URIs: the trainer lists it in this process (on this
    node) and its workers read every audio file as an ``s3://`` URI, so no node reads another's files."""
    from uniaudio.stores import uri as uris

    if not (isinstance(data, str) and uris.is_remote(data) and data.endswith((".yaml", ".yml"))):
        yield data
        return
    import yaml

    from workflows.kinds.common import load_spec

    spec = load_spec(data)
    with tempfile.TemporaryDirectory(prefix="codec-spec-") as tmp:
        path = Path(tmp, "datasets.yaml")
        path.write_text(yaml.safe_dump(spec.model_dump(mode="json", exclude_defaults=True), sort_keys=False))
        yield str(path)


def run_codec_train(ctx: StepContext) -> StepResult:
    from codec.config import CodecConfig, preset
    from codec.ray_train import run_training
    from uniaudio.config import load_config

    c = CodecTrainStep.model_validate(ctx.config)
    overrides = list(c.set) + ([f"train.steps={c.steps}"] if c.steps is not None else [])
    cfg = load_config(CodecConfig, None, overrides, base=preset(c.preset))
    data = ctx.inputs["data"]
    with _local_data(resolve_path(data) if isinstance(data, str) else data) as data:
        summary = run_training(cfg, data, ctx.out, workers=c.workers, use_gpu=c.gpu,
                               cpus_per_worker=c.cpus_per_worker, address=ctx.address,
                               run_name=f"codec-{ctx.step_id}", tags={"preset": c.preset, **ctx.parent_tags()})
    h = _content_hash(summary.codec_dir)
    return StepResult(
        outputs={"codec": summary.codec_dir},
        identity={"codec": {"content_hash": h}},
        runs={"codec": summary.run_id} if summary.run_id else {},
        links={"codec.dir": summary.codec_dir, "codec.content_hash": h},
        metrics={k.replace("/", "_"): v for k, v in summary.metrics.items() if k.startswith("val/")},
        summary=summary.line(),
    )


CODEC_TRAIN = StepKind("codec_train", run_codec_train, outputs=("codec",), input_names=("data",),
                       required_inputs=("data",), config_model=CodecTrainStep, uses_ray=True,
                       description="train the neural codec (Ray Train)")


class CodecCheckpointStep(ConfigBase):
    path: str


def _codec_fingerprint(cfg: dict, inputs: dict) -> dict:
    return {"content_hash": _content_hash(resolve_path(CodecCheckpointStep.model_validate(cfg).path))}


def run_codec_checkpoint(ctx: StepContext) -> StepResult:
    path = resolve_path(CodecCheckpointStep.model_validate(ctx.config).path)
    h = _content_hash(path)
    return StepResult(outputs={"codec": path}, identity={"codec": {"content_hash": h}},
                      links={"codec_checkpoint.dir": path, "codec_checkpoint.content_hash": h},
                      summary=f"codec {h[:12]} at {path}")


CODEC_CHECKPOINT = StepKind("codec_checkpoint", run_codec_checkpoint, outputs=("codec",), input_names=(),
                            config_model=CodecCheckpointStep, fingerprint=_codec_fingerprint,
                            description="an existing codec checkpoint directory")
