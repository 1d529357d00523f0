"""Test support: run a CLI job in its own process group and SIGKILL it right after a Delta commit."""

from __future__ import annotations

import os
import signal
import subprocess
import time

from uniaudio.stores import delta


def kill_after_commit(cmd: list[str], table: str, version: int = 1, timeout_s: float = 120.0) -> None:
    """Start ``cmd``, wait until ``table`` reaches ``version`` (the second commit by default), then kill
    the process group: the driver and anything it started, nothing else."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + timeout_s
    try:
        while (delta.table_version(table) or 0) < version:
            assert proc.poll() is None, proc.stdout.read().decode()[-2000:]
            assert time.time() < deadline, "the job made no commit in time"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
