"""Run state under the run directory (a local path, ``file://`` or any pyarrow filesystem URI).

Layout::

    RUN/workflow.json            name, the DAG's hash, one record per invocation (ran / skipped / failed)
    RUN/dag.yaml                 the DAG of the latest invocation, after overrides
    RUN/steps/<step>.json        the step's state: status, key, outputs, identities, MLflow run ids,
                                 timings, error; ``history`` keeps every key it finished with
    RUN/steps/<step>/<key>/      the step's work dir (its outputs), one per key
    RUN/logs/<step>.log          the step's output (appended across attempts)

Every JSON file is written whole and atomically (a temp file renamed over it locally; one object PUT
on object stores), so a run killed at any moment leaves each file either old or new, never torn.
``<step>`` is :func:`workflows.dag.step_file_name` of the step id (``tokenize[sfx]`` -> ``tokenize@sfx``).
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from uniaudio.errors import UserFacingError
from workflows.dag import step_file_name

STATUSES = ("pending", "running", "done", "failed")


@dataclass
class StepState:
    id: str
    kind: str
    key: str = ""
    status: str = "pending"
    outputs: dict[str, Any] = field(default_factory=dict)
    identity: dict[str, Any] = field(default_factory=dict)
    runs: dict[str, str] = field(default_factory=dict)  # component MLflow runs (label -> id)
    step_run_id: str | None = None  # the step's nested run under the workflow's parent run
    invocation: int = 0  # which invocation of the workflow last ran it
    attempts: int = 0  # times it was started (all keys)
    started: float | None = None
    finished: float | None = None
    seconds: float | None = None
    error: str | None = None
    summary: str = ""
    links: dict[str, Any] = field(default_factory=dict)  # what the step linked on the parent run
    history: dict[str, dict[str, Any]] = field(default_factory=dict)  # key -> finished result

    def finished_with(self, key: str) -> dict[str, Any] | None:
        """The recorded result of a finished run with ``key`` (the current one or an earlier one)."""
        if self.key == key and self.status != "done":
            return None  # a later attempt with this key (same work dir) started and did not finish
        if self.status == "done" and self.key == key:
            return {"outputs": self.outputs, "identity": self.identity, "runs": self.runs, "links": self.links,
                    "step_run_id": self.step_run_id, "finished": self.finished, "summary": self.summary}
        return self.history.get(key)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "StepState":
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        return cls(**known)


class RunStore:
    """Reads and writes the files of one run directory."""

    def __init__(self, uri: str | os.PathLike):
        uri = str(uri)
        self.uri = uri
        from uniaudio.stores import uri as uris

        if uris.is_remote(uri):
            self.fs, self.root = uris.filesystem(uri)
            self.local: Path | None = None
        else:
            self.fs = None
            self.local = Path(uris.local_path(uri)).resolve()
            self.root = str(self.local)

    # --- generic files -------------------------------------------------------------------------------
    def _path(self, rel: str) -> str:
        return f"{self.root.rstrip('/')}/{rel}"

    def read_text(self, rel: str) -> str | None:
        if self.local is not None:
            p = self.local / rel
            return p.read_text() if p.is_file() else None
        import pyarrow.fs as pafs

        info = self.fs.get_file_info(self._path(rel))
        if info.type != pafs.FileType.File:
            return None
        with self.fs.open_input_stream(self._path(rel)) as f:
            return f.read().decode()

    def write_text(self, rel: str, text: str) -> None:
        if self.local is not None:
            from uniaudio.stores.uri import put

            put(self.local / rel, text)  # temp file + fsync + rename
            return
        self.fs.create_dir(self._path(rel).rsplit("/", 1)[0], recursive=True)
        with self.fs.open_output_stream(self._path(rel)) as f:  # one PUT: atomic on object stores
            f.write(text.encode())

    def read_json(self, rel: str) -> dict[str, Any] | None:
        text = self.read_text(rel)
        if text is None:
            return None
        try:
            return json.loads(text)
        except json.JSONDecodeError as err:
            raise UserFacingError(f"{self._path(rel)}: corrupt state file ({err})") from None

    def write_json(self, rel: str, obj: Any) -> None:
        self.write_text(rel, json.dumps(obj, indent=1, sort_keys=True, default=str) + "\n")

    def exists(self) -> bool:
        if self.local is not None:
            return (self.local / "workflow.json").is_file()
        return self.read_text("workflow.json") is not None

    # --- steps ---------------------------------------------------------------------------------------
    def step_rel(self, step_id: str) -> str:
        return f"steps/{step_file_name(step_id)}.json"

    def load_step(self, step_id: str, kind: str = "") -> StepState:
        d = self.read_json(self.step_rel(step_id))
        return StepState.from_dict(d) if d else StepState(step_id, kind)

    def save_step(self, st: StepState) -> None:
        self.write_json(self.step_rel(st.id), asdict(st))

    def step_ids(self) -> list[str]:
        """Ids of every step with a state file (also steps no longer in the DAG)."""
        if self.local is not None:
            d = self.local / "steps"
            names = sorted(p.name for p in d.glob("*.json")) if d.is_dir() else []
        else:
            import pyarrow.fs as pafs

            sel = pafs.FileSelector(self._path("steps"), allow_not_found=True)
            names = sorted(i.base_name for i in self.fs.get_file_info(sel) if i.base_name.endswith(".json"))
        out = []
        for n in names:
            d = self.read_json(f"steps/{n}")
            if d and "id" in d:
                out.append(d["id"])
        return out

    def work_dir(self, step_id: str, key: str, work_root: Path | None = None) -> Path:
        base = work_root or self.local
        if base is None:
            raise UserFacingError(f"run dir {self.uri} is not local: give a local or shared --work-dir for step outputs")
        p = base / "steps" / step_file_name(step_id) / key
        p.mkdir(parents=True, exist_ok=True)
        return p

    def log_path(self, step_id: str, work_root: Path | None = None) -> Path | None:
        base = work_root or self.local
        return None if base is None else base / "logs" / f"{step_file_name(step_id)}.log"

    # --- the workflow record -------------------------------------------------------------------------
    def workflow(self) -> dict[str, Any]:
        return self.read_json("workflow.json") or {"invocations": []}

    def start_invocation(self, name: str, dag_hash: str, dag_yaml: str, extra: dict[str, Any]) -> int:
        rec = self.workflow()
        if rec.get("name") and rec["name"] != name:
            raise UserFacingError(f"run dir {self.uri} belongs to workflow {rec['name']!r}, not {name!r}: "
                                  f"use another --run-dir")
        n = len(rec["invocations"]) + 1
        rec.update(name=name, dag_hash=dag_hash, updated=time.time())
        rec["invocations"].append({"n": n, "started": time.time(), "status": "running", "dag_hash": dag_hash,
                                   "host": socket.gethostname(), "pid": os.getpid(), **extra})
        self.write_text("dag.yaml", dag_yaml)
        self.write_json("workflow.json", rec)
        return n

    def update_invocation(self, n: int, **fields: Any) -> None:
        rec = self.workflow()
        for inv in rec["invocations"]:
            if inv["n"] == n:
                inv.update(fields)
        rec["updated"] = time.time()
        self.write_json("workflow.json", rec)


class RunLock:
    """One runner per run dir at a time: ``RUN/run.lock`` holds host and pid; stale locks are taken over.
    On ``s3://`` it is :class:`uniaudio.stores.lock.ObjectStoreLock` (conditional put, heartbeat)."""

    def __init__(self, store: RunStore):
        self.path = store.local / "run.lock" if store.local is not None else None
        self.remote = None
        if store.local is None and store.uri.startswith("s3://"):
            from uniaudio.stores.lock import ObjectStoreLock

            self.remote = ObjectStoreLock(f"{store.uri.rstrip('/')}/run.lock", owner=f"workflow runner pid "
                                          f"{os.getpid()} on {socket.gethostname()}")

    def __enter__(self) -> "RunLock":
        if self.remote is not None:
            self.remote.acquire()
            return self
        if self.path is None:
            return self  # other object stores (gs://): no lock (documented in docs/WORKFLOWS.md)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        me = {"host": socket.gethostname(), "pid": os.getpid(), "since": time.time()}
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                try:
                    held = json.loads(self.path.read_text() or "{}")
                except (OSError, json.JSONDecodeError):
                    held = {}
                if held.get("host") == me["host"] and _alive(int(held.get("pid", -1))):
                    raise UserFacingError(f"run dir {self.path.parent} is in use by pid {held['pid']} "
                                          f"(since {time.ctime(held.get('since', 0))})") from None
                self.path.unlink(missing_ok=True)  # stale: its process is gone
                continue
            with os.fdopen(fd, "w") as f:
                json.dump(me, f)
            return self
        raise UserFacingError(f"could not lock {self.path}")

    @property
    def lost(self) -> bool:
        """Another runner took this object-store lock over (this one missed its heartbeats): stop."""
        return self.remote is not None and self.remote.lost

    def __exit__(self, *exc: Any) -> None:
        if self.remote is not None:
            self.remote.release()
        if self.path is not None:
            self.path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
