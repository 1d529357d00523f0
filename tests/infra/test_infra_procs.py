"""Session-scoped process control: stopping one service never touches another's processes."""

from __future__ import annotations

import os
import socket
import sys
import time

import pytest

from conftest_infra import _REPO  # noqa: F401  (puts the checkout on sys.path)
from infra.local._procs import free_ports, port_open, session_pids, spawn_session, stop_sessions

# A parent that forks a child into its own process group (as Ray's raylet does for task workers),
# then both sleep. Only the session id ties the child to the service.
_TREE = (
    "import os, time\n"
    "if os.fork() == 0:\n"
    "    os.setpgid(0, 0)\n"
    "    time.sleep(120)\n"
    "    os._exit(0)\n"
    "time.sleep(120)\n"
)
# A parent that, like the `mlflow server` CLI, forwards SIGTERM to its worker and waits for it; the
# worker ignores SIGTERM unless it comes from its parent's orderly shutdown (it exits on SIGUSR1).
_FORWARDER = (
    "import os, signal, sys, time\n"
    "pid = os.fork()\n"
    "if pid == 0:\n"
    "    signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "    signal.signal(signal.SIGUSR1, lambda *a: os._exit(0))\n"
    "    time.sleep(120)\n"
    "    os._exit(0)\n"
    "def stop(*a):\n"
    "    os.kill(pid, signal.SIGUSR1)\n"
    "    os.waitpid(pid, 0)\n"
    "    sys.exit(0)\n"
    "signal.signal(signal.SIGTERM, stop)\n"
    "time.sleep(120)\n"
)
# A process that ignores SIGTERM: stop must escalate to SIGKILL after the grace period.
_STUBBORN = "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(120)\n"


def _wait_for(n: int, sid: int, timeout: float = 10.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = session_pids(sid)
        if len(pids) >= n:
            return pids
        time.sleep(0.05)
    raise AssertionError(f"session {sid} has {session_pids(sid)}, expected {n} processes")


def test_stop_sessions_kills_only_the_given_session(tmp_path):
    env = dict(os.environ)
    a = spawn_session([sys.executable, "-c", _TREE], env, tmp_path / "a.log")
    b = spawn_session([sys.executable, "-c", _TREE], env, tmp_path / "b.log")
    try:
        a_pids = _wait_for(2, a.pid)
        b_pids = _wait_for(2, b.pid)
        assert set(a_pids).isdisjoint(b_pids)
        # the forked child really left its parent's process group
        assert len({os.getpgid(p) for p in a_pids}) == 2
        signalled = stop_sessions([a.pid], grace=5)
        assert set(signalled) == set(a_pids)
        assert session_pids(a.pid) == []
        assert sorted(session_pids(b.pid)) == sorted(b_pids)
    finally:
        stop_sessions([a.pid, b.pid], grace=2)
        a.wait(5)
        b.wait(5)


def test_stop_sessions_escalates_to_sigkill(tmp_path):
    p = spawn_session([sys.executable, "-c", _STUBBORN], dict(os.environ), tmp_path / "s.log")
    try:
        _wait_for(1, p.pid)
        time.sleep(0.3)  # let it install the SIGTERM handler
        t0 = time.monotonic()
        stop_sessions([p.pid], grace=1.0)
        assert session_pids(p.pid) == []
        assert 0.9 <= time.monotonic() - t0 < 8
        assert p.wait(5) == -9
    finally:
        stop_sessions([p.pid], grace=0.5)


def test_leader_first_lets_the_leader_stop_its_children(tmp_path):
    p = spawn_session([sys.executable, "-c", _FORWARDER], dict(os.environ), tmp_path / "f.log")
    try:
        pids = _wait_for(2, p.pid)
        time.sleep(0.3)  # let both install their handlers
        t0 = time.monotonic()
        stopped = stop_sessions([p.pid], grace=20, leader_first=True)
        # the child ignores SIGTERM: only the leader's orderly shutdown ends it before the grace runs out
        assert time.monotonic() - t0 < 8
        assert set(stopped) == set(pids) and session_pids(p.pid) == []
        assert p.wait(5) == 0
    finally:
        stop_sessions([p.pid], grace=0.5)


def test_free_ports_are_distinct_and_bindable():
    ports = free_ports(12)
    assert len(set(ports)) == 12
    for port in ports:
        assert not port_open(port)
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))


@pytest.mark.parametrize("bad", ["ftp://x/db", "mlflow.db"])
def test_mlflow_rejects_unknown_backend_uri(tmp_path, bad):
    from infra.local._procs import InfraError
    from infra.local.mlflow_server import start_mlflow

    with pytest.raises(InfraError, match="backend-store-uri"):
        start_mlflow(tmp_path, backend_store_uri=bad)
