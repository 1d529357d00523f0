"""Per-step logs: while a step runs, everything printed to ``sys.stdout`` / ``sys.stderr`` in the runner
process (the step's own messages, progress bars, Ray worker output forwarded to the driver) also goes
to ``RUN/logs/<step>.log``. Output written straight to the file descriptors by child processes (a
synthesizer's banner) reaches the console only.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from pathlib import Path
from typing import IO, Iterator


class _Tee:
    """A text stream writing to the console stream and a log file (thread-safe: Ray prints from threads)."""

    def __init__(self, console: IO[str], log: IO[str], lock: threading.Lock):
        self.console, self.log, self.lock = console, log, lock

    def write(self, s: str) -> int:
        with self.lock:
            self.console.write(s)
            try:
                self.log.write(s)
            except ValueError:  # the log closed while a background thread still prints
                pass
        return len(s)

    def flush(self) -> None:
        with self.lock:
            self.console.flush()
            with contextlib.suppress(ValueError):
                self.log.flush()

    def isatty(self) -> bool:
        return self.console.isatty()

    def fileno(self) -> int:
        return self.console.fileno()

    def __getattr__(self, name: str):
        return getattr(self.console, name)


@contextlib.contextmanager
def capture(path: Path | None, header: str) -> Iterator[None]:
    """Tee stdout/stderr into ``path`` (appending, with a header line) for the duration of the block."""
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = threading.Lock()
    with path.open("a", buffering=1) as log:
        log.write(f"\n===== {time.strftime('%Y-%m-%d %H:%M:%S')} {header} =====\n")
        out, err = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = _Tee(out, log, lock), _Tee(err, log, lock)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            sys.stdout, sys.stderr = out, err


def tail(path: Path, lines: int | None = None) -> str:
    """The log's text (its last ``lines`` lines when given)."""
    if not path.is_file():
        return ""
    text = path.read_text(errors="replace")
    if lines is None:
        return text
    return "\n".join(text.splitlines()[-lines:])
