"""A local MLflow tracking server on 127.0.0.1 (sqlite by default, PostgreSQL accepted).

    python -m infra.local.mlflow_server start  --state-dir /tmp/ua-mlflow [--port 5055] [--backend-store-uri URI]
    export MLFLOW_TRACKING_URI=$(python -m infra.local.mlflow_server uri --state-dir /tmp/ua-mlflow)
    python -m infra.local.mlflow_server status --state-dir /tmp/ua-mlflow
    python -m infra.local.mlflow_server stop   --state-dir /tmp/ua-mlflow

The lean configuration measured in docs (one worker, job execution off: ~7 s start, ~0.5 GB instead
of 14 processes and ~3 GB). Artifacts are proxied by the server (``mlflow-artifacts:/``) into
``STATE/artifacts`` (or ``--artifacts-destination``), so clients need only the tracking URI.
``--auth`` turns on MLflow's basic-auth app (the deployable template always does); the admin
password then comes from ``MLFLOW_AUTH_ADMIN_PASSWORD`` or ``--admin-password``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from infra.local._procs import (
    LOOPBACK,
    InfraError,
    child_env,
    free_ports,
    http_get,
    read_json,
    session_pids,
    spawn_session,
    stop_sessions,
    wait_until,
    write_json_atomic,
)

STATE_FILE = "mlflow.json"
# Backend stores the server accepts here; PostgreSQL needs a driver (psycopg2) in the environment.
_DB_SCHEMES = ("sqlite", "postgresql", "postgresql+psycopg2", "postgresql+psycopg", "mysql", "mysql+pymysql")


@dataclass
class MlflowServerInfo:
    state_dir: str
    url: str                       # the tracking URI: http://127.0.0.1:PORT
    port: int
    sid: int
    backend_store_uri: str
    artifacts_destination: str
    auth: bool
    log: str
    started_at: float = 0.0

    def client_env(self) -> dict[str, str]:
        """What a client process needs (credentials are not stored; add MLFLOW_TRACKING_USERNAME/PASSWORD)."""
        return {"MLFLOW_TRACKING_URI": self.url}

    def pids(self) -> list[int]:
        return session_pids(self.sid)

    def healthy(self) -> bool:
        return http_get(f"{self.url}/health")[0] == 200


def _state_path(state_dir) -> Path:
    return Path(state_dir) / STATE_FILE


def load_mlflow(state_dir: str | os.PathLike) -> MlflowServerInfo:
    """The server recorded in ``state_dir`` (raises :class:`InfraError` if there is none)."""
    return MlflowServerInfo(**read_json(_state_path(state_dir), "MLflow server"))


def _check_backend_uri(uri: str) -> None:
    scheme = uri.split(":", 1)[0].lower()
    if scheme not in _DB_SCHEMES:
        raise InfraError(f"--backend-store-uri {uri!r}: expected one of {', '.join(s + '://' for s in _DB_SCHEMES)}")
    if scheme.startswith("postgresql"):
        try:
            import psycopg2  # noqa: F401
        except ImportError:
            try:
                import psycopg  # noqa: F401
            except ImportError:
                raise InfraError("a PostgreSQL backend store needs a driver: pip install psycopg2-binary") from None


def start_mlflow(state_dir: str | os.PathLike, port: int | None = None, backend_store_uri: str | None = None,
                 artifacts_destination: str | None = None, auth: bool = False, admin_password: str | None = None,
                 timeout: float = 90.0) -> MlflowServerInfo:
    """Start the server and return once ``/health`` answers 200.

    ``backend_store_uri`` defaults to ``sqlite:///STATE/mlflow.db`` and ``artifacts_destination`` to
    ``STATE/artifacts``. On failure the server is stopped and :class:`InfraError` raised.
    """
    state = Path(state_dir).absolute()
    state.mkdir(parents=True, exist_ok=True)
    if _state_path(state).exists() and load_mlflow(state).pids():
        raise InfraError(f"an MLflow server recorded in {state} is still running; stop it first")
    backend = backend_store_uri or f"sqlite:///{state / 'mlflow.db'}"
    _check_backend_uri(backend)
    artifacts = artifacts_destination or str(state / "artifacts")
    if "://" not in artifacts:
        Path(artifacts).mkdir(parents=True, exist_ok=True)
    port = port or free_ports(1)[0]
    extra = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    cmd = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", backend,
           "--artifacts-destination", artifacts, "--host", LOOPBACK, "--port", str(port), "--workers", "1"]
    if auth:
        password = admin_password or os.environ.get("MLFLOW_AUTH_ADMIN_PASSWORD")
        if not password:
            raise InfraError("--auth needs an admin password: set MLFLOW_AUTH_ADMIN_PASSWORD or pass --admin-password")
        ini = state / "basic_auth.ini"
        # The user store lives beside the tracking data; the password is passed by environment only.
        ini.write_text("[mlflow]\ndefault_permission = READ\n"
                       f"database_uri = sqlite:///{state / 'basic_auth.db'}\nadmin_username = admin\n"
                       "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n")
        extra.update({"MLFLOW_AUTH_CONFIG_PATH": str(ini), "MLFLOW_AUTH_ADMIN_PASSWORD": password})
        if not os.environ.get("MLFLOW_FLASK_SERVER_SECRET_KEY"):
            extra["MLFLOW_FLASK_SERVER_SECRET_KEY"] = os.urandom(24).hex()
        cmd += ["--app-name", "basic-auth"]
    log = state / "logs" / "mlflow.log"
    proc = spawn_session(cmd, child_env(extra, drop=("MLFLOW_TRACKING_URI",)), log)
    info = MlflowServerInfo(str(state), f"http://{LOOPBACK}:{port}", port, proc.pid, backend, artifacts, auth,
                            str(log), time.time())
    write_json_atomic(_state_path(state), asdict(info))
    try:
        wait_until(info.healthy, timeout, f"MLflow server on {info.url}", proc=proc, log=log)
    except BaseException:
        stop_mlflow(state)
        raise
    return info


def stop_mlflow(state_dir: str | os.PathLike, grace: float = 10.0) -> list[int]:
    """Stop the recorded server's processes only; return the pids signalled. Idempotent."""
    try:
        info = load_mlflow(state_dir)
    except InfraError:
        return []
    return stop_sessions([info.sid], grace, leader_first=True)


def mlflow_status(state_dir: str | os.PathLike) -> dict:
    info = load_mlflow(state_dir)
    pids = info.pids()
    return {"url": info.url, "running": bool(pids), "healthy": bool(pids) and info.healthy(), "pids": pids,
            "backend_store_uri": info.backend_store_uri, "artifacts_destination": info.artifacts_destination,
            "auth": info.auth}


def _main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m infra.local.mlflow_server", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("start", "stop", "status", "uri", "wait"):
        p = sub.add_parser(name)
        p.add_argument("--state-dir", required=True, help="where mlflow.json, the sqlite db and artifacts go")
        if name == "start":
            p.add_argument("--port", type=int, default=None, help="default: a free port")
            p.add_argument("--backend-store-uri", default=None, help="sqlite:///abs/path.db or postgresql://...")
            p.add_argument("--artifacts-destination", default=None, help="local dir or s3://, gs:// URI")
            p.add_argument("--auth", action="store_true", help="basic-auth app (admin password from env)")
            p.add_argument("--admin-password", default=None)
        if name in ("start", "wait"):
            p.add_argument("--timeout", type=float, default=90.0)
    a = ap.parse_args(argv)
    try:
        if a.cmd == "start":
            info = start_mlflow(a.state_dir, a.port, a.backend_store_uri, a.artifacts_destination, a.auth,
                                a.admin_password, a.timeout)
            print(f"MLflow server up: {info.url}  (export MLFLOW_TRACKING_URI={info.url})")
        elif a.cmd == "stop":
            print(f"stopped {len(stop_mlflow(a.state_dir))} processes")
        elif a.cmd == "status":
            print(json.dumps(mlflow_status(a.state_dir), indent=2))
        elif a.cmd == "wait":
            info = load_mlflow(a.state_dir)
            wait_until(info.healthy, a.timeout, f"MLflow server on {info.url}")
            print(f"healthy: {info.url}")
        else:
            print(load_mlflow(a.state_dir).url)
    except InfraError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(_main())
