"""The quiet console for long standalone commands (``uniaudio train``, ``uniaudio codec train``): the
same routing as ``workflow run`` (:mod:`workflows.console`). One start line, a progress bar from the
workers' ``step N/M`` lines, and everything else (Ray, Ray Train, DeepSpeed, MLflow, warnings) in
``OUT/logs/<command>.log``; ``-v`` / ``--verbose`` keeps it all on the console.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator


def add_verbose(parser) -> None:
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="show Ray / DeepSpeed / MLflow output on the console too (default: OUT/logs/*.log)")


@contextlib.contextmanager
def quiet(out_dir: str | Path, name: str, verbose: bool) -> Iterator[None]:
    """Run the block with third-party output in ``out_dir/logs/<name>.log`` (unless ``verbose``)."""
    from workflows.console import Console

    console = Console(verbose=verbose)
    if console.verbose or "://" in str(out_dir):
        yield
        return
    log = Path(out_dir) / "logs" / f"{name}.log"
    console.line(f"{name}: running (full output: {log}, or -v)")
    with console.quiet(log):
        console.start_step(name)
        try:
            yield
        except BaseException:
            console.end_step()
            console.line(f"{name}: FAILED (log: {log})")
            raise
        console.end_step()
