"""``semantic_units``: fit the semantic-unit k-means (VC's content tokens) on a spec's speech.

Input ``data`` (a dataset spec); config ``k`` (units; the paper's HuBERT units: 500), ``tasks`` (use the
audio of datasets feeding these tasks; default ``[vc]``), ``max_files``, ``max_frames``, ``seed``,
``features`` (FeatureConfig fields, e.g. ``{kind: hubert}``), ``hubert_dir``. Output ``kmeans``: the
``.npz`` model (uniaudio/tokenizers/semantic.py), identified by its digest. Tokenize and generate
steps take it as their ``semantic`` input, which enables the semantic tokenizer with this model.
"""

from __future__ import annotations

import hashlib
from typing import Any

from pydantic import Field, model_validator

from uniaudio.config import ConfigBase
from workflows.step import StepContext, StepKind, StepResult, resolve_path


class SemanticStep(ConfigBase):
    k: int = Field(64, ge=2, le=1024)
    tasks: list[str] = Field(default_factory=lambda: ["vc"])
    max_files: int = Field(200, ge=1)
    max_frames: int = Field(500_000, ge=100)
    seed: int = Field(0, ge=0)
    features: dict[str, Any] = Field(default_factory=dict)
    hubert_dir: str | None = None

    @model_validator(mode="after")
    def _hubert_present(self) -> "SemanticStep":
        if self.features.get("kind") == "hubert":  # checked at DAG validation, before any compute
            from workflows.kinds.weights import weights_problem

            problem = weights_problem("hubert", self.hubert_dir)
            if problem:
                raise ValueError(problem)
        return self


def _files(spec_path: str, c: SemanticStep) -> list[str]:
    from pipelines.sources import read_dataset
    from workflows.kinds.common import load_spec

    spec = load_spec(spec_path)
    paths = []
    for entry in spec.datasets:
        if set(entry.tasks) & set(c.tasks):
            paths += [r.audio_uri for r in read_dataset(entry).rows if r.start_s is None]
    # a seeded, order-independent subset
    paths = sorted(set(paths), key=lambda p: hashlib.sha256(f"{c.seed}|{p}".encode()).hexdigest())
    return paths[: c.max_files]


def run_semantic(ctx: StepContext) -> StepResult:
    from uniaudio.errors import UserFacingError
    from uniaudio.tokenizers import fit_semantic_kmeans
    from uniaudio.tokenizers.features import FeatureConfig

    c = SemanticStep.model_validate(ctx.config)
    files = _files(resolve_path(ctx.inputs["data"]), c)
    if not files:
        raise UserFacingError(f"no dataset of the spec feeds {', '.join(c.tasks)}: nothing to fit semantic units on")
    out = ctx.work_dir / "semantic_kmeans.npz"
    model = fit_semantic_kmeans(files, c.k, out, features=FeatureConfig(**c.features),
                                hubert_dir=resolve_path(c.hubert_dir) if c.hubert_dir else None,
                                seed=c.seed, max_frames=c.max_frames)
    digest = model.digest
    return StepResult(outputs={"kmeans": str(out)}, identity={"kmeans": {"digest": digest}},
                      links={"semantic.kmeans": str(out), "semantic.digest": digest},
                      metrics={"semantic/files": float(len(files)), "semantic/k": float(c.k)},
                      summary=f"k={c.k} semantic units fitted on {len(files)} files -> {out}")


SEMANTIC_UNITS = StepKind("semantic_units", run_semantic, outputs=("kmeans",), input_names=("data",),
                          required_inputs=("data",), config_model=SemanticStep,
                          description="fit the semantic-unit k-means (VC content tokens)")


def semantic_overrides(kmeans: str | None, prefix: str) -> list[str]:
    """Config overrides that switch the semantic tokenizer on with ``kmeans`` (none without one)."""
    import json

    if not kmeans:
        return []
    return [f"{prefix}semantic.enabled=true", f"{prefix}semantic.kmeans_path={json.dumps(resolve_path(kmeans))}"]
