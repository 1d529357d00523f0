"""A loopback S3 endpoint: moto's standalone server (a real S3 HTTP API) on 127.0.0.1, random port.

    python -m infra.local.s3_server start --state-dir /tmp/ua-s3 [--port 9000] [--bucket b]
    eval "$(python -m infra.local.s3_server env --state-dir /tmp/ua-s3)"   # AWS_ENDPOINT_URL, keys, ...
    python -m infra.local.s3_server stop  --state-dir /tmp/ua-s3

Why moto's server and not an in-process mock: every client (pyarrow's S3 filesystem, delta-rs'
object store, Ray workers on other nodes, subprocess CLIs) talks HTTP to it exactly as to a real
bucket, so a code path that writes a local file instead of an object is caught. Clients get the
standard AWS environment (:meth:`S3ServerInfo.client_env`); the keys are dummies moto accepts.
State lives in the server's memory: stopping it drops every bucket.
"""

from __future__ import annotations

import argparse
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

STATE_FILE = "s3.json"
ACCESS_KEY, SECRET_KEY, REGION = "uniaudio-test", "uniaudio-test-secret", "us-east-1"


@dataclass
class S3ServerInfo:
    state_dir: str
    endpoint: str  # http://127.0.0.1:PORT
    port: int
    sid: int
    log: str
    started_at: float = 0.0

    def client_env(self) -> dict[str, str]:
        """The standard AWS variables every S3 client here reads (pyarrow, delta-rs, boto3)."""
        return {"AWS_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": ACCESS_KEY,
                "AWS_SECRET_ACCESS_KEY": SECRET_KEY, "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION,
                "AWS_ALLOW_HTTP": "true", "AWS_EC2_METADATA_DISABLED": "true"}

    def healthy(self) -> bool:
        return http_get(f"{self.endpoint}/moto-api/")[0] == 200

    def make_bucket(self, name: str) -> str:
        """Create bucket ``name`` (a plain CreateBucket request); returns ``s3://name``."""
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        req = urllib.request.Request(f"{self.endpoint}/{name}", method="PUT", data=b"")
        with opener.open(req, timeout=10) as r:
            if r.status != 200:
                raise InfraError(f"CreateBucket {name}: HTTP {r.status}")
        return f"s3://{name}"


def _state_path(state_dir) -> Path:
    return Path(state_dir) / STATE_FILE


def load_s3(state_dir) -> S3ServerInfo:
    return S3ServerInfo(**read_json(_state_path(state_dir), "S3 server"))


def start_s3(state_dir, port: int | None = None, timeout: float = 60.0) -> S3ServerInfo:
    """Start the server (bound to 127.0.0.1 only) and wait until it answers."""
    state = Path(state_dir)
    state.mkdir(parents=True, exist_ok=True)
    exe = shutil.which("moto_server", path=str(Path(sys.executable).parent))
    if exe is None:
        raise InfraError("moto_server not found next to this interpreter: install the dev extras (moto[server])")
    port = port or free_ports(1)[0]
    if port_open(port):
        raise InfraError(f"port {port} on {LOOPBACK} is taken")
    log = state / "s3.log"
    proc = spawn_session([exe, "-H", LOOPBACK, "-p", str(port)], child_env({}), log, cwd=str(state))
    info = S3ServerInfo(str(state), f"http://{LOOPBACK}:{port}", port, proc.pid, str(log), time.time())
    try:
        wait_until(info.healthy, timeout, f"S3 server on port {port}", proc=proc, log=log)
    except InfraError:
        stop_sessions([proc.pid], grace=2.0)
        raise
    write_json_atomic(_state_path(state), asdict(info))
    return info


def stop_s3(state_dir) -> list[int]:
    info = load_s3(state_dir)
    pids = stop_sessions([info.sid], grace=5.0)
    _state_path(state_dir).unlink(missing_ok=True)
    return pids


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m infra.local.s3_server", description=__doc__.splitlines()[0])
    ap.add_argument("action", choices=["start", "stop", "status", "env"])
    ap.add_argument("--state-dir", required=True)
    ap.add_argument("--port", type=int)
    ap.add_argument("--bucket", action="append", default=[], help="create this bucket after start (repeatable)")
    a = ap.parse_args(argv)
    try:
        if a.action == "start":
            info = start_s3(a.state_dir, a.port)
            for b in a.bucket:
                info.make_bucket(b)
            print(f"S3 endpoint {info.endpoint} (pid {info.sid}); buckets: {', '.join(a.bucket) or 'none'}")
        elif a.action == "stop":
            print(f"stopped {len(stop_s3(a.state_dir))} process(es)")
        elif a.action == "status":
            info = load_s3(a.state_dir)
            up = info.healthy()
            print(f"{info.endpoint}: {'up' if up else 'DOWN'} ({len(session_pids(info.sid))} process(es))")
            return 0 if up else 1
        else:
            for k, v in load_s3(a.state_dir).client_env().items():
                print(f"export {k}={v}")
    except InfraError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
