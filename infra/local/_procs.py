"""Process plumbing shared by the loopback Ray cluster and the MLflow server.

Every service is started as the leader of a new POSIX session (``start_new_session=True``). All the
processes it forks - Ray's GCS, raylet, dashboard, agents and task workers, or gunicorn/uvicorn
workers - inherit that session id, even those that change their process title (``ray::IDLE``) or
their process group. Stopping a service therefore means signalling exactly the processes of the
recorded sessions, never every Ray process of the user as ``ray stop`` would (other tests may be
running their own Ray at the same time).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import ExitStack
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import psutil

LOOPBACK = "127.0.0.1"


class InfraError(RuntimeError):
    """A local service could not be started, reached or stopped; the message says why."""


def free_ports(n: int, host: str = LOOPBACK) -> list[int]:
    """``n`` distinct TCP ports that are free on ``host`` right now.

    All sockets are held open until every port is chosen, so the ports differ from each other.
    Another process may still take one before the service binds it; callers treat a failed start
    as retryable.
    """
    with ExitStack() as stack:
        ports = []
        for _ in range(n):
            s = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            s.bind((host, 0))
            ports.append(s.getsockname()[1])
    return ports


def port_open(port: int, host: str = LOOPBACK, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until(predicate, timeout: float, what: str, interval: float = 0.25, proc: subprocess.Popen | None = None,
               log: Path | None = None) -> None:
    """Poll ``predicate`` until true; raise :class:`InfraError` naming ``what`` on timeout.

    When ``proc`` (the launcher) exits with a non-zero code first, fail at once with its log tail
    instead of waiting out the timeout.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc is not None and proc.poll() not in (None, 0):
            raise InfraError(f"{what}: the launcher exited with code {proc.returncode}{log_tail(log)}")
        time.sleep(interval)
    raise InfraError(f"{what}: not ready after {timeout:.0f} s{log_tail(log)}")


def http_get(url: str, timeout: float = 2.0, headers: Mapping[str, str] | None = None) -> tuple[int, str]:
    """(status, body) of a GET; status 0 when nothing answers. Proxies are bypassed (loopback only)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    req = urllib.request.Request(url, headers=dict(headers or {}))
    try:
        with opener.open(req, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError):
        return 0, ""


def log_tail(log: Path | None, n: int = 25) -> str:
    """The last lines of a launcher log, formatted for an error message ('' when absent)."""
    if log is None or not Path(log).exists():
        return ""
    lines = Path(log).read_text(errors="replace").splitlines()[-n:]
    return f"\n--- last lines of {log} ---\n" + "\n".join(lines)


def spawn_session(cmd: Sequence[str], env: Mapping[str, str], log: Path, cwd: str | None = None) -> subprocess.Popen:
    """Start ``cmd`` as the leader of a new session, stdout+stderr appended to ``log``.

    The returned process's pid is the session id of everything it forks.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        return subprocess.Popen(list(cmd), env=dict(env), cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)


def session_pids(sid: int) -> list[int]:
    """Pids of the live processes whose session id is ``sid`` (zombies excluded)."""
    pids = []
    for p in psutil.process_iter(["status"]):
        try:
            if p.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            if os.getsid(p.pid) == sid:
                pids.append(p.pid)
        except (ProcessLookupError, PermissionError, psutil.Error):
            continue
    return pids


def _signal_all(pids: Iterable[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def stop_sessions(sids: Sequence[int], grace: float = 10.0, leader_first: bool = False) -> list[int]:
    """SIGTERM every process of the sessions ``sids``, then SIGKILL what is left after ``grace`` s.

    ``leader_first``: when a session's leader (pid == sid, e.g. the ``mlflow server`` CLI) is alive,
    signal it alone first and give it half the grace to shut its children down in order (measured:
    MLflow exits in ~2 s this way, ~5 s when parent and uvicorn worker are seen together).
    Returns the pids of every process stopped. Processes of other sessions are never touched.
    """
    seen: set[int] = {pid for sid in sids for pid in session_pids(sid)}
    if leader_first:
        leaders = [sid for sid in sids if sid in session_pids(sid)]
        _signal_all(leaders, signal.SIGTERM)
        deadline = time.monotonic() + grace / 2
        while leaders and time.monotonic() < deadline and any(session_pids(sid) for sid in sids):
            time.sleep(0.1)
    pids = [pid for sid in sids for pid in session_pids(sid)]
    seen.update(pids)
    _signal_all(pids, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        left = [pid for sid in sids for pid in session_pids(sid)]
        if not left:
            return sorted(seen)
        # New children may appear while parents shut down (e.g. a worker being started): TERM them too.
        fresh = set(left) - seen
        seen.update(fresh)
        _signal_all(fresh, signal.SIGTERM)
        time.sleep(0.2)
    left = [pid for sid in sids for pid in session_pids(sid)]
    seen.update(left)
    _signal_all(left, signal.SIGKILL)
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline and any(session_pids(sid) for sid in sids):
        time.sleep(0.1)
    return sorted(seen)


def write_json_atomic(path: Path, data: Mapping) -> None:
    """Write ``data`` as JSON through a temporary file and a rename (never half-written)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def read_json(path: Path, what: str) -> dict:
    """Load a state file, with an error that says which service has no state there."""
    if not path.exists():
        raise InfraError(f"no {what} state at {path}: was it started with this --state-dir?")
    return json.loads(path.read_text())


def child_env(extra: Mapping[str, str], drop: Iterable[str] = ()) -> dict[str, str]:
    """This process's environment without ``drop`` and with ``extra`` on top.

    The directory of the running interpreter goes first on PATH so that ``python``, ``ray``,
    ``mlflow`` and ``uniaudio`` in job entrypoints resolve to this virtual environment.
    """
    env = {k: v for k, v in os.environ.items() if k not in set(drop)}
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    env.update(extra)
    return env
