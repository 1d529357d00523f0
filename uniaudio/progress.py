"""Progress of long loops (training steps, rows, requests), shown one way whatever runs them.

* Loops in this process use :func:`bar` (a tqdm-like object): a tqdm bar on the console, or, while a
  progress *sink* is installed (the workflow runner's console), reports to that sink instead.
* Loops in Ray workers print :func:`progress_line` lines (Ray forwards worker output to the driver);
  :func:`parse_progress` reads them back there, so the runner can draw one bar from them.

>>> progress_line("codec", 20, 200, "steps", "loss=3.1")
'[codec] step 20/200 loss=3.1'
>>> parse_progress("(RayTrainWorker pid=7) [codec] step 20/200 loss=3.1")
(20, 200, 'steps', 'loss=3.1')
>>> parse_progress("step 5/10 loss 2.0"), parse_progress("no progress here")
((5, 10, 'steps', 'loss 2.0'), None)
"""

from __future__ import annotations

import contextlib
import re
from typing import Any, Callable, Iterator

#: ``sink(desc, done, total, unit)``: where :func:`bar` reports while one is installed.
Sink = Callable[[str, int, "int | None", str], None]
_SINK: list[Sink] = []
_LINE = re.compile(r"(?:^|[\]\s])(?:step|steps) (\d+)/(\d+)\b\s*(.*)$")


def progress_line(label: str, done: int, total: int, unit: str = "steps", extra: str = "") -> str:
    """The line a worker prints for the driver to read (``unit`` is informational: always "step")."""
    return f"[{label}] step {done}/{total}" + (f" {extra}" if extra else "")


def parse_progress(line: str) -> tuple[int, int, str, str] | None:
    """``(done, total, unit, rest)`` of a :func:`progress_line` (with any prefix), else None."""
    m = _LINE.search(line.rstrip())
    if not m:
        return None
    return int(m.group(1)), int(m.group(2)), "steps", m.group(3).strip()


@contextlib.contextmanager
def sink(fn: Sink) -> Iterator[None]:
    """Route every :func:`bar` opened inside the block to ``fn``."""
    _SINK.append(fn)
    try:
        yield
    finally:
        _SINK.remove(fn)


class _SinkBar:
    def __init__(self, fn: Sink, total: int | None, desc: str, unit: str):
        self.fn, self.total, self.desc, self.unit, self.n = fn, total, desc, unit, 0
        fn(desc, 0, total, unit)

    def update(self, n: int = 1) -> None:
        self.n += n
        self.fn(self.desc, self.n, self.total, self.unit)

    def close(self) -> None:
        pass

    def __enter__(self) -> "_SinkBar":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def bar(total: int | None = None, desc: str = "", unit: str = "it", disable: bool = False, **kw: Any):
    """A progress bar with tqdm's ``update``/``close`` and context-manager protocol (see the module doc)."""
    if _SINK and not disable:
        return _SinkBar(_SINK[-1], total, desc, unit)
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=disable, **kw)


def track(items, total: int | None = None, desc: str = "", unit: str = "it", disable: bool = False):
    """Iterate ``items`` with a :func:`bar` (like ``tqdm(items)``)."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)
    with bar(total, desc, unit, disable) as b:
        for x in items:
            yield x
            b.update(1)
