"""A loopback GCS endpoint: gcp-storage-emulator (the GCS JSON API, pure Python) on 127.0.0.1, random port.

    python -m infra.local.gcs_server start --state-dir /tmp/ua-gcs [--port 9023] [--bucket b]
    eval "$(python -m infra.local.gcs_server env --state-dir /tmp/ua-gcs)"   # STORAGE_EMULATOR_HOST
    python -m infra.local.gcs_server stop  --state-dir /tmp/ua-gcs

Why a real server and not an in-process mock: every client (pyarrow's GCS filesystem, subprocess CLIs,
Ray workers) talks HTTP to it exactly as to a bucket, so a code path that writes a local file instead
of an object is caught. Clients are pointed at it by the standard ``STORAGE_EMULATOR_HOST``
(:meth:`GcsServerInfo.client_env`), which :mod:`uniaudio.stores.uri` and :mod:`uniaudio.stores.delta`
read. State lives in the server's memory (``--in-memory``): stopping it drops every bucket.

What this emulator does not do (measured, docs/STORES.md "On GCS"): it ignores every
``ifGenerationMatch`` precondition, and it has no XML-API listing (``GET /<bucket>?list-type=2``
answers 501), which delta-rs needs; so it proves plain object I/O, not Delta tables or locks.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from infra.local._procs import (
    LOOPBACK,
    InfraError,
    child_env,
    free_ports,
    http_get,
    port_open,
    read_json,
    session_pids,
    spawn_session,
    stop_sessions,
    wait_until,
    write_json_atomic,
)

STATE_FILE = "gcs.json"
PROJECT = "uniaudio-test"


@dataclass
class GcsServerInfo:
    state_dir: str
    endpoint: str  # http://127.0.0.1:PORT
    port: int
    sid: int
    log: str
    started_at: float = 0.0

    def client_env(self) -> dict[str, str]:
        """The standard variable GCS clients read to use an emulator instead of Google's endpoint."""
        return {"STORAGE_EMULATOR_HOST": self.endpoint}

    def healthy(self) -> bool:
        return http_get(f"{self.endpoint}/")[0] == 200

    def make_bucket(self, name: str) -> str:
        """Create bucket ``name`` (a plain JSON-API buckets.insert); returns ``gs://name``."""
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        req = urllib.request.Request(f"{self.endpoint}/storage/v1/b?project={PROJECT}", method="POST",
                                     data=json.dumps({"name": name}).encode(),
                                     headers={"Content-Type": "application/json"})
        with opener.open(req, timeout=10) as r:
            if r.status != 200:
                raise InfraError(f"buckets.insert {name}: HTTP {r.status}")
        return f"gs://{name}"


def _state_path(state_dir) -> Path:
    return Path(state_dir) / STATE_FILE


def load_gcs(state_dir) -> GcsServerInfo:
    return GcsServerInfo(**read_json(_state_path(state_dir), "GCS server"))


def start_gcs(state_dir, port: int | None = None, timeout: float = 60.0) -> GcsServerInfo:
    """Start the emulator (bound to 127.0.0.1 only, in memory) and wait until it answers."""
    state = Path(state_dir)
    state.mkdir(parents=True, exist_ok=True)
    exe = shutil.which("gcp-storage-emulator", path=str(Path(sys.executable).parent))
    if exe is None:
        raise InfraError("gcp-storage-emulator not found next to this interpreter: install the dev extras")
    port = port or free_ports(1)[0]
    if port_open(port):
        raise InfraError(f"port {port} on {LOOPBACK} is taken")
    log = state / "gcs.log"
    cmd = [exe, "start", "--host", LOOPBACK, "--port", str(port), "--in-memory", "--project-number", "1"]
    proc = spawn_session(cmd, child_env({}, drop=("STORAGE_EMULATOR_HOST",)), log, cwd=str(state))
    info = GcsServerInfo(str(state), f"http://{LOOPBACK}:{port}", port, proc.pid, str(log), time.time())
    try:
        wait_until(info.healthy, timeout, f"GCS emulator on port {port}", proc=proc, log=log)
    except InfraError:
        stop_sessions([proc.pid], grace=2.0)
        raise
    write_json_atomic(_state_path(state), asdict(info))
    return info


def stop_gcs(state_dir) -> list[int]:
    info = load_gcs(state_dir)
    pids = stop_sessions([info.sid], grace=5.0)
    _state_path(state_dir).unlink(missing_ok=True)
    return pids


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m infra.local.gcs_server", description=__doc__.splitlines()[0])
    ap.add_argument("action", choices=["start", "stop", "status", "env"])
    ap.add_argument("--state-dir", required=True)
    ap.add_argument("--port", type=int)
    ap.add_argument("--bucket", action="append", default=[], help="create this bucket after start (repeatable)")
    a = ap.parse_args(argv)
    try:
        if a.action == "start":
            info = start_gcs(a.state_dir, a.port)
            for b in a.bucket:
                info.make_bucket(b)
            print(f"GCS endpoint {info.endpoint} (pid {info.sid}); buckets: {', '.join(a.bucket) or 'none'}")
        elif a.action == "stop":
            print(f"stopped {len(stop_gcs(a.state_dir))} process(es)")
        elif a.action == "status":
            info = load_gcs(a.state_dir)
            up = info.healthy()
            print(f"{info.endpoint}: {'up' if up else 'DOWN'} ({len(session_pids(info.sid))} process(es))")
            return 0 if up else 1
        else:
            for k, v in load_gcs(a.state_dir).client_env().items():
                print(f"export {k}={v}")
    except InfraError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
