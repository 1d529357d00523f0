"""The task registry: every task is one YAML declaration (``builtin.yaml``, plus a user's tasks file).

A declaration gives the condition segments and the target (modality, how examples / requests / eval
requests make each), what the tokenizer must produce, how rows pair, which metric families evaluate it
(format: :mod:`uniaudio.tasks.spec`, docs/NEW_TASK.md). The sequence builder, tokenize needs, example
builder, request parser, eval-request generator and evaluation registry all read it from here.

A user's file is activated with :func:`use_tasks_file` (the CLI's ``--tasks-file`` / the env var
``UNIAUDIO_TASKS_FILE``, which Ray workers inherit); :data:`TASKS` is updated in place.

>>> t = get_task("tts")
>>> [s.name for s in t.conditions], t.target.modality, t.request_inputs
(['phone', 'prompt'], 'audio', ('text', 'prompt'))
>>> len(TASKS), TASKS["se"].declared_in.rsplit("/", 1)[-1].startswith("builtin.yaml:")
(14, True)
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Callable, Iterator

from uniaudio.tasks.spec import Segment, Stage, TaskFileError, TaskTemplate, parse_rule, read_task_file

__all__ = ["Segment", "Stage", "TaskTemplate", "TaskFileError", "TASKS", "PAPER_TASKS", "BUILTIN_FILE", "ENV_VAR",
           "get_task", "use_tasks_file", "active_tasks_file", "tasks_lineage", "tasks_file_record", "task_view", "format_task_table",
           "parse_rule", "user_modalities"]

BUILTIN_FILE = Path(__file__).parent / "builtin.yaml"
ENV_VAR = "UNIAUDIO_TASKS_FILE"

TASKS: dict[str, TaskTemplate] = {}
_STATE: dict[str, Any] = {"file": None, "sha256": None, "modalities": [], "doc": {}}


def _modalities() -> tuple[str, ...]:
    from uniaudio.vocab import MODALITIES

    return MODALITIES


def _load_builtin() -> list[TaskTemplate]:
    tasks, _ = read_task_file(BUILTIN_FILE, _modalities())
    return tasks


_BUILTIN = _load_builtin()
TASKS.update({t.name: t for t in _BUILTIN})
PAPER_TASKS = tuple(t.name for t in _BUILTIN if t.stage in ("base", "finetune"))


def use_tasks_file(path: str | Path | None) -> list[str]:
    """Register the tasks of ``path`` (None: built-in only) and export it to child processes; -> new names."""
    TASKS.clear()
    TASKS.update({t.name: t for t in _BUILTIN})
    _STATE.update(file=None, sha256=None, modalities=[], doc={})
    if path in (None, ""):
        os.environ.pop(ENV_VAR, None)
        return []
    p = Path(path).resolve()
    tasks, doc = read_task_file(p, _modalities(), taken=set(TASKS))
    TASKS.update({t.name: t for t in tasks})
    _STATE.update(file=str(p), sha256=hashlib.sha256(p.read_bytes()).hexdigest(),
                  modalities=list(doc.get("modalities") or []), doc=doc)
    os.environ[ENV_VAR] = str(p)
    return [t.name for t in tasks]


def active_tasks_file() -> str | None:
    return _STATE["file"]


def user_modalities() -> list[dict[str, Any]]:
    """The ``modalities:`` a user's tasks file declares (new modalities for the vocabulary extension)."""
    return list(_STATE["modalities"])


def tasks_lineage() -> dict[str, Any] | None:
    """What lineage records about the active tasks file (None: built-in tasks only)."""
    if _STATE["file"] is None:
        return None
    new = [n for n in TASKS if TASKS[n].declared_in.startswith(_STATE["file"])]
    return {"path": _STATE["file"], "sha256": _STATE["sha256"], "tasks": new}


def tasks_file_record() -> dict[str, Any]:
    """``{"tasks_file": ...}`` for a lineage record (empty with the built-in tasks only)."""
    rec = tasks_lineage()
    return {"tasks_file": rec} if rec else {}


def get_task(name: str) -> TaskTemplate:
    try:
        return TASKS[name]
    except KeyError:
        raise KeyError(f"unknown task {name!r}; known tasks: {', '.join(TASKS)}") from None


class _View(Mapping):
    """A read-only ``task -> value`` view computed from the live registry (never a second table)."""

    def __init__(self, fn: Callable[[TaskTemplate], Any]):
        self._fn = fn

    def __getitem__(self, task: str) -> Any:
        return self._fn(get_task(task)) if task in TASKS else self._missing(task)

    @staticmethod
    def _missing(task: str):
        raise KeyError(task)

    def __iter__(self) -> Iterator[str]:
        return iter(list(TASKS))

    def __len__(self) -> int:
        return len(TASKS)


def task_view(fn: Callable[[TaskTemplate], Any]) -> Mapping[str, Any]:
    return _View(fn)


def format_task_table() -> str:
    """The registry as a text table (``uniaudio tasks``), with where each task was declared."""
    rows = [("task", "paper name", "stage", "conditions -> target", "declared in")]
    for t in TASKS.values():
        conds = ", ".join(f"{s.name}:{s.modality}" for s in t.conditions)
        rows.append((t.name, t.paper_name, t.stage, f"{conds} -> {t.target.name}:{t.target.modality}", t.declared_in))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(f"{r[i]:<{widths[i]}}" for i in range(4)) + f"  {r[4]}" for r in rows]
    lines.insert(1, "-" * max(len(line) for line in lines))
    return "\n".join(lines)


if os.environ.get(ENV_VAR):
    use_tasks_file(os.environ[ENV_VAR])
