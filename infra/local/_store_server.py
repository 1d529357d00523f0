"""What the loopback object-store servers (:mod:`infra.local.s3_server`, :mod:`infra.local.gcs_server`)
share: start a server executable on 127.0.0.1, wait until it answers, record its state; stop it; and
the ``start|stop|status|env`` command line. Each server module keeps only what differs: the
executable and its arguments, the health check, the client environment and bucket creation.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence, TypeVar

from infra.local._procs import (
    LOOPBACK,
    InfraError,
    child_env,
    free_ports,
    port_open,
    read_json,
    session_pids,
    spawn_session,
    stop_sessions,
    wait_until,
    write_json_atomic,
)


@dataclass
class StoreServerInfo:
    """A running loopback store server; subclasses say how clients reach it and how to make a bucket."""

    state_dir: str
    endpoint: str  # http://127.0.0.1:PORT
    port: int
    sid: int
    log: str
    started_at: float = 0.0

    def client_env(self) -> dict[str, str]:
        raise NotImplementedError

    def healthy(self) -> bool:
        raise NotImplementedError

    def make_bucket(self, name: str) -> str:
        raise NotImplementedError


Info = TypeVar("Info", bound=StoreServerInfo)


@dataclass(frozen=True)
class StoreServer:
    """One kind of server: ``argv(exe, port)`` starts it bound to 127.0.0.1; ``drop_env`` are variables
    the server process must not inherit."""

    info_cls: type
    label: str  # "S3 server"
    exe: str  # found next to this interpreter
    install_hint: str
    state_file: str  # "s3.json"; the log is the same stem + ".log"
    argv: Callable[[str, int], Sequence[str]]
    drop_env: tuple[str, ...] = ()

    def state_path(self, state_dir) -> Path:
        return Path(state_dir) / self.state_file

    def load(self, state_dir):
        return self.info_cls(**read_json(self.state_path(state_dir), self.label))

    def start(self, state_dir, port: int | None = None, timeout: float = 60.0):
        """Start the server and wait until it answers; its state is written only once it does."""
        state = Path(state_dir)
        state.mkdir(parents=True, exist_ok=True)
        exe = shutil.which(self.exe, path=str(Path(sys.executable).parent))
        if exe is None:
            raise InfraError(f"{self.exe} not found next to this interpreter: {self.install_hint}")
        port = port or free_ports(1)[0]
        if port_open(port):
            raise InfraError(f"port {port} on {LOOPBACK} is taken")
        log = state / (Path(self.state_file).stem + ".log")
        proc = spawn_session([exe, *self.argv(LOOPBACK, port)], child_env({}, drop=self.drop_env), log, cwd=str(state))
        info = self.info_cls(str(state), f"http://{LOOPBACK}:{port}", port, proc.pid, str(log), time.time())
        try:
            wait_until(info.healthy, timeout, f"{self.label} on port {port}", proc=proc, log=log)
        except InfraError:
            stop_sessions([proc.pid], grace=2.0)
            raise
        write_json_atomic(self.state_path(state), asdict(info))
        return info

    def stop(self, state_dir) -> list[int]:
        info = self.load(state_dir)
        pids = stop_sessions([info.sid], grace=5.0)
        self.state_path(state_dir).unlink(missing_ok=True)
        return pids

    def main(self, argv: list[str] | None, prog: str, description: str) -> int:
        ap = argparse.ArgumentParser(prog=prog, description=description)
        ap.add_argument("action", choices=["start", "stop", "status", "env"])
        ap.add_argument("--state-dir", required=True)
        ap.add_argument("--port", type=int)
        ap.add_argument("--bucket", action="append", default=[], help="create this bucket after start (repeatable)")
        a = ap.parse_args(argv)
        try:
            if a.action == "start":
                info = self.start(a.state_dir, a.port)
                for b in a.bucket:
                    info.make_bucket(b)
                print(f"{self.label.split()[0]} endpoint {info.endpoint} (pid {info.sid}); "
                      f"buckets: {', '.join(a.bucket) or 'none'}")
            elif a.action == "stop":
                print(f"stopped {len(self.stop(a.state_dir))} process(es)")
            elif a.action == "status":
                info = self.load(a.state_dir)
                up = info.healthy()
                print(f"{info.endpoint}: {'up' if up else 'DOWN'} ({len(session_pids(info.sid))} process(es))")
                return 0 if up else 1
            else:
                for k, v in self.load(a.state_dir).client_env().items():
                    print(f"export {k}={v}")
        except InfraError as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        return 0
