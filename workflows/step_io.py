"""Where a step's files live: its outputs under the run dir (a URI on an object store), its scratch on the node.

Why: on a share-nothing cluster the run dir is the only place every node sees. When it is remote
(``s3://...``) and no local ``--work-dir`` overrides it, ``${run_dir}`` in a DAG is the URI itself, and
each step gets two places (:class:`StepPlace`):

* ``out`` = ``RUN/steps/<step>/<key>`` in the bucket: kinds whose components write URIs themselves (codec
  and LM training through Ray Train storage, Delta stores, generation, evaluation) write there;
* ``work_dir`` = a fresh scratch folder under this node's cache (:func:`uniaudio.stores.uri.staging_dir`):
  what a kind writes there is uploaded to ``out`` when the step succeeds, every output value naming a
  scratch path is rewritten to its URI, and the scratch folder is removed (after the runner logged the step's MLflow artifacts from it). No output ever names a local
  file, so a step on another node reads only URIs (fetched through the hash-verified cache).

With a local run dir (or ``--work-dir``), ``out`` and ``work_dir`` are the same local folder, as before.
Step logs and the MLflow sqlite store (unless ``MLFLOW_TRACKING_URI`` names a server) are node-local;
logs are copied to ``RUN/logs/`` after each step.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from uniaudio.stores import uri as uris
from workflows.dag import step_file_name
from workflows.state import RunStore


def map_strings(value: Any, fn) -> Any:
    """``value`` with ``fn`` applied to every string inside it (lists and dicts walked)."""
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, list):
        return [map_strings(v, fn) for v in value]
    if isinstance(value, dict):
        return {k: map_strings(v, fn) for k, v in value.items()}
    return value


def strings(value: Any) -> list[str]:
    """Every string inside ``value``."""
    out: list[str] = []
    map_strings(value, lambda s: out.append(s) or s)
    return out


class StepPlace:
    """The run's places: ``root`` (what ``${run_dir}`` becomes), ``node_root`` (this node's folder)."""

    def __init__(self, store: RunStore, work_root: Path | None):
        self.store = store
        self.work_root = work_root
        self.remote = store.local is None and work_root is None
        if self.remote:
            self.root = store.uri.rstrip("/")
            self.node_root = uris.staging_dir(self.root, "workflow")
        else:
            self.node_root = work_root or store.local
            self.root = str(self.node_root)

    def out_uri(self, step_id: str, key: str) -> str:
        return uris.join(self.root, "steps", step_file_name(step_id), key)

    def work_dir(self, step_id: str, key: str) -> Path:
        if not self.remote:
            return self.store.work_dir(step_id, key, self.work_root)
        p = self.node_root / "scratch" / step_file_name(step_id) / key
        shutil.rmtree(p, ignore_errors=True)  # a retry on this node starts clean (its outputs are in the bucket)
        p.mkdir(parents=True)
        return p

    def log_path(self, step_id: str) -> Path:
        return self.node_root / "logs" / f"{step_file_name(step_id)}.log"

    def publish(self, result, work: Path, out: str) -> None:
        """Upload the scratch folder of a finished step to ``out`` and point ``result`` at the URIs."""
        if not self.remote:
            return
        if any(p.is_file() for p in work.rglob("*")):
            uris.upload_dir(work, out)
        prefix = str(work)

        def to_uri(s: str) -> str:
            if s == prefix or s.startswith(prefix + os.sep):
                return out + s[len(prefix):].replace(os.sep, "/")
            return s

        result.outputs = map_strings(result.outputs, to_uri)
        result.links = map_strings(result.links, to_uri)
        result.summary = result.summary.replace(prefix, out)

    def clean(self, work: Path) -> None:
        """Remove a remote run's scratch folder once its files are uploaded and logged as artifacts."""
        if self.remote:
            shutil.rmtree(work, ignore_errors=True)

    def save_log(self, step_id: str) -> None:
        """Copy this node's log of ``step_id`` into ``RUN/logs/`` (remote run dirs; never fails the step)."""
        p = self.log_path(step_id)
        if self.remote and p.is_file():
            try:
                uris.put(uris.join(self.root, "logs", p.name), p.read_bytes())
            except OSError as err:
                print(f"WARNING [workflow] log of {step_id} not copied to the run dir: {err}", flush=True)

    def missing(self, outputs: Any) -> list[str]:
        """Paths or URIs under the run's root that an earlier result names and that are gone."""
        under = [s for s in strings(outputs) if s.startswith(self.root.rstrip("/") + ("/" if self.remote else os.sep))]
        if self.remote:
            return [s for s in under if not uris.exists(s)]
        return [s for s in under if not os.path.exists(s)]
