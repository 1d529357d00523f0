"""The quiet console of ``uniaudio workflow run``: one line per step, a progress bar, logs in files.

:class:`Console` owns the terminal (a duplicate of the process's stdout taken before anything is
redirected). While :meth:`Console.quiet` is active, file descriptors 1 and 2 and ``sys.stdout`` /
``sys.stderr`` point at a log file instead: the running step's ``RUN/logs/<step>.log``, or
``RUN/logs/runner.log`` between steps. So everything third-party code prints or logs (Ray, Ray
Data, DeepSpeed, MLflow, warnings, child processes' banners, Ray workers' output forwarded to the
driver) lands in a log, and the console shows only what the runner says. Progress reaches the
console two ways: :func:`uniaudio.progress.bar` loops report to :meth:`Console.progress`, and
forwarded worker lines of the form ``step N/M`` (:func:`uniaudio.progress.parse_progress`) are read
off the log stream as they pass.

On a terminal the bar redraws in place; elsewhere (CI, ``make demo | tee``) it prints a line at 25 %,
50 % and 75 % of a loop at most. ``verbose=True`` (``-v``) keeps the old behaviour: everything on
the console *and* in the log.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from pathlib import Path
from typing import IO, Iterator

from uniaudio.progress import parse_progress, sink
from workflows.logs import capture

BAR_WIDTH = 24


class Console:
    def __init__(self, stream: IO[str] | None = None, verbose: bool = False):
        # routing needs real file descriptors; a captured sys.stdout (pytest's capsys) has none, and then
        # the console behaves like verbose: the output is teed as it always was
        self.routable = False
        if stream is None:
            try:
                sys.stdout.flush()
                stream = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
                self.routable = True
            except (AttributeError, OSError, ValueError):
                stream = sys.stdout
        self.out = stream
        self.verbose = verbose or not self.routable
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.lock = threading.RLock()
        self.tag = ""  # the running step's "[i/n] id"
        self._bar_shown = False
        self._quarter = 0
        self._t0 = time.time()

    # --- lines ---------------------------------------------------------------------------------
    def line(self, text: str) -> None:
        with self.lock:
            self._clear_bar()
            self.out.write(text + "\n")
            self.out.flush()

    def start_step(self, tag: str) -> None:
        with self.lock:
            self.tag, self._quarter, self._t0 = tag, 0, time.time()

    def end_step(self) -> None:
        with self.lock:
            self._clear_bar()
            self.tag = ""

    # --- progress ------------------------------------------------------------------------------
    def progress(self, desc: str, done: int, total: int | None, unit: str, extra: str = "") -> None:
        if self.verbose or not self.tag:
            return
        with self.lock:
            if self.tty:
                self._draw(desc, done, total, unit, extra)
                return
            if not total or done >= total:  # the step's done line says 100 %
                return
            quarter = min(3, 4 * done // total)  # 25 / 50 / 75 %: the done line says 100 %
            if quarter > self._quarter:
                self._quarter = quarter
                self.out.write(f"{self.tag}: {desc + ' ' if desc else ''}{done}/{total} {unit}"
                               f"{'  ' + extra if extra else ''}  ({time.time() - self._t0:.0f}s)\n")
                self.out.flush()

    def _draw(self, desc: str, done: int, total: int | None, unit: str, extra: str) -> None:
        if total:
            fill = min(BAR_WIDTH, BAR_WIDTH * done // total)
            body = f"[{'#' * fill}{'.' * (BAR_WIDTH - fill)}] {done}/{total} {unit}"
        else:
            body = f"{done} {unit}"
        text = f"  {self.tag} {desc + ' ' if desc else ''}{body}  {extra}  {time.time() - self._t0:.0f}s"
        self.out.write("\r\033[K" + text[:200])
        self.out.flush()
        self._bar_shown = True

    def _clear_bar(self) -> None:
        if self._bar_shown:
            self.out.write("\r\033[K")
            self._bar_shown = False

    def scan(self, text: str) -> None:
        """A chunk of log output: draw any ``step N/M`` progress lines in it."""
        for ln in text.splitlines():
            p = parse_progress(ln)
            if p is not None:
                done, total, unit, rest = p
                self.progress("", done, total, unit, rest[:80])

    # --- routing ---------------------------------------------------------------------------------
    @contextlib.contextmanager
    def quiet(self, path: Path) -> Iterator["_Router"]:
        """Route fds 1/2 and sys.stdout/err to ``path`` (switchable with :meth:`_Router.to`)."""
        router = _Router(self, path)
        try:
            with sink(lambda desc, done, total, unit: self.progress(desc, done, total, unit)):
                yield router
        finally:
            router.close()

    @contextlib.contextmanager
    def step_log(self, router: "_Router | None", path: Path, header: str) -> Iterator[None]:
        """The step's output into ``path``: via the router (quiet), or teed to the console (verbose)."""
        if router is None:
            with capture(path, header):
                yield
            return
        with router.to(path, header):
            yield


class _Scan:
    """``sys.stdout``/``sys.stderr`` while quiet: text into the current log, progress to the console."""

    def __init__(self, router: "_Router"):
        self.router = router

    def write(self, s: str) -> int:
        with self.router.lock:
            log = self.router.log
            with contextlib.suppress(ValueError):
                log.write(s)
        self.router.console.scan(s)
        return len(s)

    def flush(self) -> None:
        with self.router.lock, contextlib.suppress(ValueError):
            self.router.log.flush()

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return 1

    @property
    def encoding(self) -> str:
        return "utf-8"


class _Router:
    def __init__(self, console: Console, path: Path):
        self.console = console
        self.lock = threading.RLock()
        sys.stdout.flush()
        sys.stderr.flush()
        self.saved = (os.dup(1), os.dup(2))
        self.streams = (sys.stdout, sys.stderr)
        self.log = self._open(path)
        self._point_fds()
        sys.stdout = sys.stderr = _Scan(self)  # type: ignore[assignment]

    @staticmethod
    def _open(path: Path) -> IO[str]:
        path.parent.mkdir(parents=True, exist_ok=True)
        return path.open("a", buffering=1, errors="replace")

    def _point_fds(self) -> None:
        os.dup2(self.log.fileno(), 1)
        os.dup2(self.log.fileno(), 2)

    @contextlib.contextmanager
    def to(self, path: Path, header: str) -> Iterator[None]:
        with self.lock:
            previous = self.log
            self.log.flush()
            self.log = self._open(path)
            self.log.write(f"\n===== {time.strftime('%Y-%m-%d %H:%M:%S')} {header} =====\n")
            self._point_fds()
        try:
            yield
        finally:
            with self.lock:
                self.log.flush()
                self.log.close()
                self.log = previous
                self._point_fds()

    def close(self) -> None:
        with self.lock:
            with contextlib.suppress(ValueError):
                self.log.flush()
            sys.stdout, sys.stderr = self.streams
            os.dup2(self.saved[0], 1)
            os.dup2(self.saved[1], 2)
            for fd in self.saved:
                os.close(fd)
            self.log.close()
