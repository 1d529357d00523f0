"""What a step kind is, what the runner hands it (:class:`StepContext`) and what it returns (:class:`StepResult`).

A step kind wraps one stage of the pipeline (an existing CLI command's Python API) as a function::

    def run(ctx: StepContext) -> StepResult:
        out = ctx.work_dir / "codec"                     # every output lives under the step's work dir
        summary = codec.ray_train.run_training(..., out_dir=out, ...)
        return StepResult(outputs={"codec": str(out / "codec")},
                          identity={"codec": {"content_hash": ...}},   # what downstream keys hash
                          runs={"codec": summary.run_id})              # MLflow runs it created

``identity`` is the content identity of an output (a Delta table version, a checkpoint content hash):
downstream steps' keys hash it. An output without one is identified by the producing step's key.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from uniaudio.config import ConfigBase, validate_config


@dataclass
class StepContext:
    step_id: str
    kind: str
    key: str
    config: dict[str, Any]  # ${run_dir} already substituted
    inputs: dict[str, Any]  # input name -> upstream output value (a list for list inputs)
    work_dir: Path  # <run_dir>/steps/<step>/<key> (or node-local scratch, see ``out``): outputs go here
    run_dir: str
    tracking_uri: str | None = None
    step_run_id: str | None = None  # this step's nested MLflow run: the parent of the runs it creates
    workflow_run_id: str | None = None  # the workflow's parent run
    address: str | None = None  # Ray address when joined to a cluster (None: the embedded instance)
    item: str | None = None  # the foreach item, if any
    # where the outputs finally live: work_dir itself, or RUN/steps/<step>/<key> in the bucket when the run
    # dir is remote (then work_dir is node-local scratch, uploaded here afterwards; workflows/step_io.py)
    out: str = ""

    def __post_init__(self) -> None:
        self.out = self.out or str(self.work_dir)

    @property
    def remote(self) -> bool:
        """Outputs go to an object store: components that run on other nodes must be given URIs (``out_path``)."""
        from uniaudio.stores import uri as uris

        return uris.is_remote(self.out)

    def out_path(self, *parts: str) -> str:
        """``out``/parts: a URI or a local path, for components that write object-store URIs themselves."""
        from uniaudio.stores import uri as uris

        return uris.join(self.out, *parts) if self.remote else str(Path(self.out, *parts))

    def log(self, msg: str) -> None:
        print(f"[{self.step_id}] {msg}", flush=True)

    def parent_tags(self) -> dict[str, str]:
        """Tags that nest an MLflow run created by this step under the step's run."""
        tags = {"uniaudio.workflow_step": self.step_id, "uniaudio.step_key": self.key}
        if self.step_run_id:
            tags["mlflow.parentRunId"] = self.step_run_id
        if self.workflow_run_id:
            tags["uniaudio.workflow_run_id"] = self.workflow_run_id
        return tags

    def adopt_run(self, run_id: str | None) -> None:
        """Nest a run a component created on its own (it took no parent) under this step's run."""
        if not run_id or not self.tracking_uri or not self.step_run_id:
            return
        from mlflow.tracking import MlflowClient

        c = MlflowClient(self.tracking_uri)
        for k, v in self.parent_tags().items():
            c.set_tag(run_id, k, v)


@dataclass
class StepResult:
    outputs: dict[str, Any]
    identity: dict[str, Any] = field(default_factory=dict)
    runs: dict[str, str] = field(default_factory=dict)  # label -> MLflow run id made by the component
    links: dict[str, Any] = field(default_factory=dict)  # logged as params of the workflow's parent run
    artifacts: list[tuple[str, str]] = field(default_factory=list)  # (local path, artifact_path) for the parent
    metrics: dict[str, float] = field(default_factory=dict)  # logged on the step's run
    summary: str = ""


@dataclass
class StepKind:
    """A registered step kind: its function, outputs, inputs and config model."""

    name: str
    run: Callable[[StepContext], StepResult]
    outputs: tuple[str, ...]
    input_names: tuple[str, ...] | None = None  # None: any input name
    required_inputs: tuple[str, ...] = ()
    config_model: type[ConfigBase] | None = None
    version: int = 1  # bump when the step's behaviour changes: every key of this kind changes
    # extra key content computed just before the step would run (e.g. a dataset's manifest fingerprint)
    fingerprint: Callable[[dict[str, Any], dict[str, Any]], Any] | None = None
    uses_ray: bool = False  # the runner starts / joins Ray before running it
    # An earlier result (another key) may be re-used only if the outputs are the step's own; a step
    # that writes into a shared, mutable store (the token store) must run again instead.
    reuse_history: bool = True
    description: str = ""

    def check_config(self, cfg: dict[str, Any]) -> dict[str, Any]:
        """Validate ``cfg`` against the kind's model (ConfigError names the field); returns it as written."""
        if self.config_model is not None:
            validate_config(self.config_model, cfg)
        return dict(cfg)

    def parse(self, cfg: dict[str, Any]) -> Any:
        return validate_config(self.config_model, cfg) if self.config_model is not None else dict(cfg)


def resolve_path(value: str) -> str:
    """A path from a DAG: URIs unchanged, relative paths against the working directory (the project
    root for ``make demo`` and for Ray Jobs, whose working_dir is the project)."""
    from uniaudio.stores import uri as uris

    if "://" in value:
        return value if uris.is_remote(value) else uris.local_path(value)
    return str(Path(os.path.expanduser(value)).resolve())
