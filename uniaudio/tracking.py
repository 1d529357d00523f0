"""Experiment tracking behind one small interface (torchtitan style), used by every trainer.

- :class:`Tracker`: the protocol trainers call (start_run, log_params, log_metrics, log_artifact,
  set_tags, end_run, flush, run_id).
- :class:`MlflowTracker`: MLflow through ``MlflowClient``. It never kills a job because the tracking
  server is down: every call is queued and sent in order; when sending fails the records stay
  buffered (metrics keep their original timestamps), one warning is printed, and sending is retried at
  most every ``retry_interval_s`` on later calls. ``end_run`` makes a last attempt and writes anything
  still unsent to ``fallback_path`` (JSON lines) if given. Records MLflow itself rejects (e.g. a param
  re-logged with another value) are dropped with a warning instead of retried.
- :class:`NullTracker`: the same calls doing nothing (non-zero ranks, tracking disabled).
- :func:`resolve_tracking_uri`: ``$MLFLOW_TRACKING_URI``, else a sqlite store in the run directory.

Typical use in a trainer (rank 0 only; other ranks get a NullTracker)::

    uri = resolve_tracking_uri(out_dir)
    tracker = MlflowTracker(uri, experiment="codec", artifact_location=default_artifact_location(uri, out_dir))
    run_id = tracker.start_run("codec-tiny", tags={"component": "codec"})
    tracker.log_params(flatten_params(cfg.to_dict()))
    tracker.log_metrics({"loss/total": 1.3}, step=10)
    tracker.log_artifact("samples/", artifact_path="samples/step_10")
    tracker.end_run()

A second process can attach to the same run with ``start_run(run_id=run_id)`` (the Ray Train workers
do this for the run the driver created).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Mapping, Protocol, runtime_checkable

#: MLflow error codes that mean "this record is invalid", not "the server is unreachable".
_REJECTED = {"INVALID_PARAMETER_VALUE", "RESOURCE_ALREADY_EXISTS", "BAD_REQUEST", "INVALID_STATE"}


@runtime_checkable
class Tracker(Protocol):
    """What a trainer needs from experiment tracking. ``run_id`` is None until a run exists."""

    @property
    def run_id(self) -> str | None: ...

    def start_run(self, name: str | None = None, tags: Mapping[str, str] | None = None,
                  parent_run_id: str | None = None, run_id: str | None = None) -> str | None: ...

    def log_params(self, params: Mapping[str, Any]) -> None: ...

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None: ...

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None: ...

    def set_tags(self, tags: Mapping[str, str]) -> None: ...

    def end_run(self, status: str = "FINISHED") -> None: ...

    def flush(self) -> None:
        """Try to deliver anything buffered now (a worker that leaves the run to its driver calls this)."""
        ...


class NullTracker:
    """A tracker that records nothing (non-zero ranks, or tracking switched off)."""

    run_id = None

    def start_run(self, name=None, tags=None, parent_run_id=None, run_id=None):
        return None

    def log_params(self, params):
        pass

    def log_metrics(self, metrics, step=None):
        pass

    def log_artifact(self, path, artifact_path=None):
        pass

    def set_tags(self, tags):
        pass

    def end_run(self, status="FINISHED"):
        pass

    def flush(self):
        pass


#: MLflow 3 opens an experiment on its GenAI "traces" page unless it is tagged as model training.
EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}


def ensure_experiment(client, name: str, artifact_location: str | None = None) -> str:
    """The id of experiment ``name``, created (with ``artifact_location``) when missing; either way
    tagged as a model-training experiment (:data:`EXPERIMENT_KIND`), so the UI opens on its runs."""
    exp = client.get_experiment_by_name(name)
    if exp is None:
        try:
            return client.create_experiment(name, artifact_location=artifact_location, tags=EXPERIMENT_KIND)
        except Exception as err:  # another process created it first
            exp = client.get_experiment_by_name(name)
            if exp is None:
                raise err
    for k, v in EXPERIMENT_KIND.items():
        if exp.tags.get(k) != v:
            client.set_experiment_tag(exp.experiment_id, k, v)
    return exp.experiment_id


def resolve_tracking_uri(run_dir: str | Path, create: bool = True) -> str:
    """``$MLFLOW_TRACKING_URI`` if set, else ``sqlite:///<abs run_dir>/mlflow.db`` (folder created unless
    ``create=False``: a command resolves the URI to validate its config before it creates any folder)."""
    env = os.environ.get("MLFLOW_TRACKING_URI", "").strip()
    if env:
        return env
    from uniaudio.stores import uri as uris

    # an object-store run dir cannot hold a sqlite file: the node's data dir does (local_tracking_dir)
    d = local_tracking_dir(str(run_dir), "runs") if uris.is_remote(run_dir) else Path(run_dir).resolve()
    if create:
        d.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{d / 'mlflow.db'}"


def user_data_dir() -> Path:
    """The per-user folder for what a command keeps when its output is remote (an ``s3://`` store cannot hold
    a sqlite file or a log): ``$UNIAUDIO_DATA_DIR``, else ``$XDG_DATA_HOME/uniaudio``, else
    ``~/.local/share/uniaudio``."""
    base = os.environ.get("UNIAUDIO_DATA_DIR") or os.path.join(
        os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share"), "uniaudio")
    return Path(base)


def local_tracking_dir(output: str, kind: str) -> Path:
    """Where a command without a tracking URI keeps its embedded MLflow store (never the current directory):
    ``<output>/_mlflow`` for a local output (``_``-prefixed, so Delta and Parquet readers skip it), else
    ``<user_data_dir>/mlflow/<kind>`` for a remote one (``s3://...``).

    >>> local_tracking_dir("/data/tokens", "tokenize").as_posix()
    '/data/tokens/_mlflow'
    """
    from uniaudio.stores import uri as uris

    if not uris.is_remote(output):
        return Path(uris.local_path(output)) / "_mlflow"
    return user_data_dir() / "mlflow" / kind


def default_artifact_location(tracking_uri: str, run_dir: str | Path) -> str | None:
    """Artifacts beside a local store (``<run_dir>/mlartifacts``); a server decides for itself (None)."""
    if tracking_uri.startswith(("sqlite:", "file:")) or "://" not in tracking_uri:
        return (Path(run_dir).resolve() / "mlartifacts").as_uri()
    return None


def flatten_params(d: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested config dict -> ``{"a.b": "value"}`` with values as MLflow-safe strings (<= 6000 chars)."""
    out: dict[str, str] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(flatten_params(v, key + "."))
        else:
            out[key] = (json.dumps(v) if isinstance(v, (list, tuple)) else str(v))[:6000]
    return out


class MlflowTracker:
    """MLflow tracking that buffers and retries instead of failing the job (see the module doc)."""

    def __init__(self, tracking_uri: str, experiment: str = "uniaudio", artifact_location: str | None = None,
                 retry_interval_s: float = 30.0, max_buffer: int = 100_000, fallback_path: str | Path | None = None):
        # MLflow's HTTP defaults retry a dead server for minutes per call; we buffer instead, so
        # fail fast unless the user chose otherwise.
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
        self.tracking_uri, self.experiment, self.artifact_location = tracking_uri, experiment, artifact_location
        self.retry_interval_s, self.max_buffer = retry_interval_s, max_buffer
        self.fallback_path = Path(fallback_path) if fallback_path else None
        self._run_id: str | None = None
        self._queue: list[tuple[str, dict[str, Any]]] = []
        self._next_try = 0.0
        self._warned = False
        self._failing = False
        self.dropped = 0
        self._client = None
        self._started = False

    @property
    def run_id(self) -> str | None:
        return self._run_id

    @property
    def pending(self) -> int:
        """Records not yet delivered."""
        return len(self._queue)

    # --- public calls: queue, then try to deliver ---------------------------------------------------
    def start_run(self, name=None, tags=None, parent_run_id=None, run_id=None) -> str | None:
        self._push("start", {"name": name, "tags": dict(tags or {}), "parent": parent_run_id, "run_id": run_id})
        self._flush(force=True)
        return self._run_id

    def log_params(self, params):
        items = {str(k): str(v)[:6000] for k, v in params.items()}
        keys = list(items)
        for i in range(0, len(keys), 100):  # MLflow accepts at most 100 params per batch
            self._push("params", {k: items[k] for k in keys[i : i + 100]})
        self._flush()

    def log_metrics(self, metrics, step=None):
        ts = int(time.time() * 1000)
        vals = {str(k): float(v) for k, v in metrics.items()}
        self._push("metrics", {"values": vals, "step": int(step or 0), "ts": ts})
        self._flush()

    def log_artifact(self, path, artifact_path=None):
        self._push("artifact", {"path": str(Path(path).resolve()), "artifact_path": artifact_path})
        self._flush()

    def set_tags(self, tags):
        self._push("tags", {str(k): str(v) for k, v in tags.items()})
        self._flush()

    def flush(self) -> None:
        """Try to deliver everything queued now (e.g. before handing the run to another process)."""
        self._flush(force=True)

    def end_run(self, status: str = "FINISHED") -> None:
        self._push("end", {"status": status})
        self._flush(force=True)
        if self._queue:
            where = ""
            if self.fallback_path:
                self.fallback_path.parent.mkdir(parents=True, exist_ok=True)
                with self.fallback_path.open("a") as f:
                    for kind, payload in self._queue:
                        f.write(json.dumps({"kind": kind, "payload": payload, "run_id": self._run_id}) + "\n")
                where = f"; written to {self.fallback_path}"
            self._say(f"MLflow at {self.tracking_uri} still unreachable at end of run: "
                      f"{len(self._queue)} record(s) not delivered{where}")
            self._queue.clear()

    # --- delivery ------------------------------------------------------------------------------------
    def _push(self, kind: str, payload: dict[str, Any]) -> None:
        if kind == "start":
            self._started = True
        elif not self._started:
            raise RuntimeError("MlflowTracker: call start_run() before logging")
        if len(self._queue) >= self.max_buffer:
            self._queue.pop(1 if self._queue[0][0] == "start" else 0)  # keep the run creation
            self.dropped += 1
        self._queue.append((kind, payload))

    def _flush(self, force: bool = False) -> None:
        if not self._queue or (not force and time.monotonic() < self._next_try):
            return
        while self._queue:
            kind, payload = self._queue[0]
            try:
                self._send(kind, payload)
            except Exception as err:  # noqa: BLE001 - any tracking failure must not stop training
                if getattr(err, "error_code", None) in _REJECTED:
                    self._say(f"MLflow rejected a {kind} record ({str(err).splitlines()[0][:200]}); dropped")
                    self._queue.pop(0)
                    continue
                self._next_try = time.monotonic() + self.retry_interval_s
                if not self._warned:
                    self._warned = True
                    self._say(f"MLflow at {self.tracking_uri} is unreachable ({type(err).__name__}: "
                              f"{str(err).splitlines()[0][:200] if str(err) else ''}); buffering records and "
                              f"retrying every {self.retry_interval_s:g}s. Training goes on.")
                self._failing = True
                return
            self._queue.pop(0)
        if self._failing:
            self._failing = False
            self._say(f"MLflow at {self.tracking_uri} reachable again; buffered records delivered")

    def _say(self, msg: str) -> None:
        print(f"WARNING [tracking] {msg}", file=sys.stderr, flush=True)

    def _get_client(self):
        if self._client is None:
            from mlflow.tracking import MlflowClient

            self._client = MlflowClient(tracking_uri=self.tracking_uri)
        return self._client

    def _experiment_id(self) -> str:
        return ensure_experiment(self._get_client(), self.experiment, self.artifact_location)

    def _send(self, kind: str, p: dict[str, Any]) -> None:
        from mlflow.entities import Metric, Param, RunTag

        c = self._get_client()
        if kind == "start":
            if p["run_id"]:
                self._run_id = c.get_run(p["run_id"]).info.run_id
                return
            tags = dict(p["tags"])
            if p["parent"]:
                tags["mlflow.parentRunId"] = p["parent"]
            run = c.create_run(self._experiment_id(), tags=tags, run_name=p["name"])
            self._run_id = run.info.run_id
            return
        if self._run_id is None:
            raise RuntimeError("no MLflow run yet: call start_run first")
        if kind == "params":
            c.log_batch(self._run_id, params=[Param(k, v) for k, v in p.items()])
        elif kind == "metrics":
            ms = [Metric(k, v, p["ts"], p["step"]) for k, v in p["values"].items()]
            for i in range(0, len(ms), 1000):
                c.log_batch(self._run_id, metrics=ms[i : i + 1000])
        elif kind == "tags":
            c.log_batch(self._run_id, tags=[RunTag(k, v) for k, v in p.items()])
        elif kind == "artifact":
            if Path(p["path"]).is_dir():
                c.log_artifacts(self._run_id, p["path"], p["artifact_path"])
            else:
                c.log_artifact(self._run_id, p["path"], p["artifact_path"])
        elif kind == "end":
            c.set_terminated(self._run_id, p["status"])
