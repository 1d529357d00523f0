"""The quiet console for long standalone commands (``tokenize``, ``examples``, ``train``, ``codec train``,
``generate --batch``, ``evaluate``): the same routing as ``workflow run`` (:mod:`workflows.console`). One
start line, a progress bar (from :func:`uniaudio.progress.bar` loops and the workers' ``step N/M`` lines),
the command's own summary, and everything else (Ray, Ray Data, Ray Train, DeepSpeed, MLflow, warnings) in
a log file (:func:`log_file`); ``-v`` / ``--verbose`` keeps it all on the console.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Callable, Iterator


def add_verbose(parser) -> None:
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="show Ray / DeepSpeed / MLflow output on the console too (default: a log file, "
                             "named on the first line)")


def log_file(output: str | Path, name: str, *, store: bool = False) -> Path:
    """Where command ``name`` writing to ``output`` keeps its full output.

    A local run or output folder gets ``OUT/logs/<name>.log``; a Delta store ``STORE/_logs/<name>.log``
    (``_``-prefixed like ``_mlflow`` and ``_quarantine``: Delta and Parquet readers skip it); a remote
    output (``s3://...``) a time-stamped file under the per-user data dir, since a bucket cannot be appended to.

    >>> log_file("/data/run", "train").as_posix()
    '/data/run/logs/train.log'
    >>> log_file("file:///data/tokens", "tokenize", store=True).as_posix()
    '/data/tokens/_logs/tokenize.log'
    """
    out = str(output)
    if "://" in out and not out.startswith("file://"):
        from uniaudio.tracking import user_data_dir

        return user_data_dir() / "logs" / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}.log"
    return Path(out.removeprefix("file://")) / ("_logs" if store else "logs") / f"{name}.log"


@contextlib.contextmanager
def quiet(log: Path, name: str, verbose: bool) -> Iterator[Callable[[str], None]]:
    """Run the block with third-party output in ``log`` (unless ``verbose``). Yields ``say(line)``, which
    puts one of the command's own lines on the console from inside the block; lines printed after the
    block reach the console as usual."""
    from workflows.console import Console

    console = Console(verbose=verbose)
    if console.verbose:
        yield print
        return
    console.line(f"{name}: running (full output: {log}, or -v)")
    connected = _ray_connected()  # a caller's own Ray connection (tests, notebooks) is left alone
    with console.quiet(log):
        console.start_step(name)
        try:
            yield console.line
        except BaseException:
            if not connected:
                _disconnect_ray()
            console.end_step()
            console.line(f"{name}: FAILED (log: {log})")
            raise
        if not connected:
            _disconnect_ray()
        console.end_step()


def _ray_connected() -> bool:
    import sys

    ray = sys.modules.get("ray")
    return ray is not None and ray.is_initialized()


def _disconnect_ray() -> None:
    """Leave the Ray this command joined while its output still goes to the log: Ray Train's clean-up
    actors report ("Failed to query Ray Train Controller actor state", ...) after ``fit`` returns, and a
    driver still connected when the block ends printed such lines on the console (seen on ``codec train``)."""
    if _ray_connected():
        import ray

        ray.shutdown()
