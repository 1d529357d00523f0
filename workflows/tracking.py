"""MLflow for a workflow run: one parent run per invocation, one nested run per step that runs.

* Tracking URI: ``$MLFLOW_TRACKING_URI`` if set, else ``sqlite:///RUN/mlflow.db`` (artifacts in
  ``RUN/mlartifacts``). The runner exports it as ``MLFLOW_TRACKING_URI`` for the whole run, so every
  component (codec, tokenize, LM training, evaluation) logs into the same store.
* Experiments the components use are created up front with artifacts under the run dir, instead of
  wherever the first component happened to point them.
* A step's nested run (``step:<id>``, tags ``mlflow.parentRunId``, ``uniaudio.step_key``) is the parent
  of the runs its component creates; skipped steps are linked on the parent run by the id of the run
  that produced them (``step.<id>.run_id``), so the parent run names every artifact of the workflow.

Tracking never stops a workflow: :class:`uniaudio.tracking.MlflowTracker` buffers and retries.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Mapping

from uniaudio.tracking import (MlflowTracker, NullTracker, default_artifact_location, ensure_experiment, flatten_params,
                               resolve_tracking_uri)

#: Experiments the built-in kinds' components log to.
COMPONENT_EXPERIMENTS = ("codec", "tokenize", "uniaudio-lm", "evaluate", "examples", "generate")
_KEY_BAD = re.compile(r"[^A-Za-z0-9_\-. /]")


def mlflow_key(text: str) -> str:
    """MLflow param/tag names allow letters, digits, ``_-. /``: ``tokenize[sfx]`` -> ``tokenize.sfx``."""
    return _KEY_BAD.sub("", text.replace("[", ".").replace("]", ""))


class WorkflowTracking:
    def __init__(self, run_dir: Path, experiment: str, enabled: bool = True):
        self.enabled = enabled
        self.uri = resolve_tracking_uri(run_dir) if enabled else None
        self.artifacts = default_artifact_location(self.uri, run_dir) if enabled else None
        self.experiment = experiment
        self.run_dir = run_dir
        self.parent = (MlflowTracker(self.uri, experiment, self._art(experiment), fallback_path=run_dir / "mlflow_unsent.jsonl")
                       if enabled else NullTracker())
        if enabled:
            self._prepare_experiments()

    def _art(self, experiment: str) -> str | None:
        return f"{self.artifacts}/{experiment}" if self.artifacts else None

    def _prepare_experiments(self) -> None:
        if not self.artifacts:
            return  # a server picks artifact locations itself
        try:
            from mlflow.tracking import MlflowClient

            c = MlflowClient(self.uri)
            for name in ("Default", self.experiment, *COMPONENT_EXPERIMENTS):
                ensure_experiment(c, name, self._art(name))
        except Exception as err:  # noqa: BLE001 - tracking problems never stop a workflow
            print(f"WARNING [workflow] could not prepare MLflow experiments at {self.uri}: {err}", flush=True)

    def export_env(self) -> None:
        """Components resolve their tracking URI from the environment: point them at this store."""
        if self.uri:
            os.environ["MLFLOW_TRACKING_URI"] = self.uri

    # --- parent run ----------------------------------------------------------------------------------
    def start(self, name: str, tags: Mapping[str, str], params: Mapping[str, Any]) -> str | None:
        run_id = self.parent.start_run(name, tags={"component": "workflow", **tags})
        self.parent.log_params(flatten_params(dict(params)))
        return run_id

    def link(self, params: Mapping[str, Any] | None = None, tags: Mapping[str, Any] | None = None) -> None:
        if params:
            self.parent.log_params({mlflow_key(k): v for k, v in params.items()})
        if tags:
            self.parent.set_tags({mlflow_key(k): str(v) for k, v in tags.items()})

    def artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        if Path(path).exists():
            self.parent.log_artifact(path, artifact_path=artifact_path)

    def metrics(self, values: Mapping[str, float]) -> None:
        if values:
            self.parent.log_metrics(values)

    def end(self, status: str) -> None:
        self.parent.end_run(status)

    # --- nested step runs ----------------------------------------------------------------------------
    def start_step(self, step_id: str, kind: str, key: str, config: Mapping[str, Any],
                   inputs: Mapping[str, Any]) -> MlflowTracker | NullTracker:
        if not self.enabled:
            return NullTracker()
        t = MlflowTracker(self.uri, self.experiment, self._art(self.experiment),
                          fallback_path=self.run_dir / "mlflow_unsent.jsonl")
        t.start_run(f"step:{step_id}", tags={"component": "workflow-step", "uniaudio.workflow_step": step_id,
                                            "uniaudio.step_kind": kind, "uniaudio.step_key": key},
                    parent_run_id=self.parent.run_id)
        params = flatten_params({"config": dict(config)})
        params.update({f"input.{k}": v for k, v in flatten_params(dict(inputs)).items()})
        t.log_params({mlflow_key(k): v for k, v in params.items()})
        return t
