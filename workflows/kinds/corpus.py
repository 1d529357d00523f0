"""Corpus steps: build the embedded demo corpus, or take an existing dataset spec.

``demo_corpus`` -> ``spec`` (``<work>/corpus/datasets.yaml``), config ``small`` / ``seed`` / ``workers`` /
``set`` (DemoCorpusConfig overrides, e.g. ``sizes.synth_per_speaker=4``).
``dataset_spec`` -> ``spec`` (the file itself), config ``path``; keyed on the file's bytes.
"""

from __future__ import annotations

from pydantic import Field

from uniaudio.config import ConfigBase
from workflows.kinds.common import KindConfig, file_sha256
from workflows.step import StepContext, StepKind, StepResult, resolve_path


class DemoCorpusStep(KindConfig):
    small: bool = True
    seed: int = Field(0, ge=0)
    workers: int | None = Field(None, ge=1)


def run_demo_corpus(ctx: StepContext) -> StepResult:
    from pipelines.democorpus import FULL, SMALL, DemoCorpusConfig, build_demo_corpus
    from uniaudio.config import load_config

    c = DemoCorpusStep.model_validate(ctx.config)
    base = DemoCorpusConfig(small=c.small, sizes=SMALL if c.small else FULL)
    cfg = load_config(DemoCorpusConfig, None, c.set, base=base)
    cfg.seed = c.seed
    if c.workers is not None:
        cfg.workers = c.workers
    report = build_demo_corpus(str(ctx.work_dir / "corpus"), cfg)
    print(report.table(), flush=True)
    rows = sum(d.rows for d in report.datasets)
    return StepResult(
        outputs={"spec": str(report.spec_path)},
        identity={"spec": {"sha256": file_sha256(report.spec_path), "rows": rows}},
        links={"corpus.spec": str(report.spec_path), "corpus.rows": rows},
        metrics={"corpus/rows": float(rows), "corpus/datasets": float(len(report.datasets)),
                 "corpus/seconds": float(report.seconds)},
        summary=f"{len(report.datasets)} datasets, {rows} rows -> {report.spec_path}",
    )


DEMO_CORPUS = StepKind("demo_corpus", run_demo_corpus, outputs=("spec",), input_names=(),
                       config_model=DemoCorpusStep, description="build the embedded demo corpus")


class DatasetSpecStep(ConfigBase):
    path: str  # relative paths resolve against the working directory (the project root)


def _spec_fingerprint(cfg: dict, inputs: dict) -> dict:
    from uniaudio.errors import UserFacingError

    path = resolve_path(DatasetSpecStep.model_validate(cfg).path)
    try:
        return {"sha256": file_sha256(path)}
    except OSError as err:
        raise UserFacingError(f"dataset spec {path}: {err.strerror}") from None


def run_dataset_spec(ctx: StepContext) -> StepResult:
    from workflows.kinds.common import load_spec

    path = resolve_path(DatasetSpecStep.model_validate(ctx.config).path)
    spec = load_spec(path)  # validates every entry's reader and options before anything runs
    names = [d.name for d in spec.datasets]
    return StepResult(outputs={"spec": path}, identity={"spec": {"sha256": file_sha256(path)}},
                      links={f"spec.{ctx.step_id}": path}, summary=f"{len(names)} dataset(s): {', '.join(names)}")


DATASET_SPEC = StepKind("dataset_spec", run_dataset_spec, outputs=("spec",), input_names=(),
                        config_model=DatasetSpecStep, fingerprint=_spec_fingerprint,
                        description="an existing dataset spec file")
