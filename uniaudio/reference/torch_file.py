"""Read a published ``torch.save`` checkpoint weights-only, keeping only the entries made of plain data.

The published LM checkpoints are ``torch.save({"model": state_dict, "optimizer": ..., "scheduler": ...,
"reporter": ...})``; the non-model entries may name training-code classes (a scheduler, a reporter) that a
weights-only load refuses, and that must never be unpickled. So: the pickle's globals are listed without
executing anything (:func:`torch.serialization.get_unsafe_globals_in_checkpoint`), each one outside the
weights-only allow-list is bound to the inert :class:`Skipped` placeholder (constructing it runs no code
from the file), the file is loaded with ``weights_only=True``, and every top-level entry holding a
placeholder is dropped and named in :attr:`TorchFile.skipped`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from uniaudio.errors import UserFacingError


class Skipped:
    """Stands in for an object of a class the weights-only loader does not admit; holds nothing.
    One subclass per foreign name (:func:`_placeholder`), so the report can say what was skipped."""

    qualname = "?"

    def __new__(cls, *args: Any, **kwargs: Any) -> "Skipped":
        return object.__new__(cls)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        pass


@dataclass
class TorchFile:
    """The plain-data top-level entries of a checkpoint, and those skipped (with the classes they needed)."""

    path: Path
    entries: dict[str, Any]
    skipped: dict[str, list[str]] = field(default_factory=dict)


def _one_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return lines[0][:200] if lines else type(err).__name__


def _placeholder(name: str) -> type:
    return type("Skipped", (Skipped,), {"qualname": name})


def _skipped_in(obj: Any, found: set[str], depth: int = 0) -> set[str]:
    """The foreign names of every placeholder inside ``obj`` (dicts, lists, tuples, sets)."""
    if isinstance(obj, Skipped):
        found.add(obj.qualname)
    elif depth < 64 and isinstance(obj, dict):
        for k, v in obj.items():
            _skipped_in(k, found, depth + 1)
            _skipped_in(v, found, depth + 1)
    elif depth < 64 and isinstance(obj, (list, tuple, set, frozenset)):
        for v in obj:
            _skipped_in(v, found, depth + 1)
    return found


def _unsafe_globals(p: Path) -> list[str]:
    import torch

    try:
        return list(torch.serialization.get_unsafe_globals_in_checkpoint(str(p)))
    except Exception as err:  # noqa: BLE001 - not a zip / truncated / bad pickle
        raise UserFacingError(f"{p}: corrupt or truncated checkpoint ({_one_line(err)})") from None


def read_torch_file(path: str | Path) -> TorchFile:
    """``torch.load(path, weights_only=True)`` with foreign classes replaced and their entries skipped;
    a file that is not a readable checkpoint is one :class:`UserFacingError` naming it."""
    import torch

    p = Path(path)
    if not p.is_file():
        raise UserFacingError(f"{p}: no such checkpoint file")
    names = _unsafe_globals(p)
    try:
        with torch.serialization.safe_globals([(_placeholder(n), n) for n in names]):
            obj = torch.load(str(p), map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - UnpicklingError / RuntimeError on a damaged file
        raise UserFacingError(f"{p}: corrupt or truncated checkpoint ({_one_line(err)})") from None
    if not isinstance(obj, dict):
        raise UserFacingError(f"{p}: holds a {type(obj).__name__}, not a checkpoint dict")
    entries, skipped = {}, {}
    for key, value in obj.items():
        foreign = _skipped_in(value, set())
        if foreign:
            skipped[str(key)] = sorted(foreign)
        else:
            entries[str(key)] = value
    return TorchFile(p, entries, skipped)
