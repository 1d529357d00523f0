"""Vocabulary extension: a built-in version plus the tasks (and modalities) a user's tasks file adds.

A new task takes the next free id of the reserved task span (right after the last built-in task id);
a new modality takes the next free pair of the reserved marker span and shares an existing id range
(``range: phone``) or is continuous (``range: continuous``). Nothing else moves, so every id of the
base stays the same and the size is unchanged: the extension's ``version`` is ``"<base>+ext"``, its
``extension`` block names the base and its hash, and its content hash (written next to every
checkpoint in ``vocab.json``) covers the added ids. Ids follow declaration order: append new tasks
at the end of a tasks file to keep earlier ids.

>>> from uniaudio.vocab import load_vocab
>>> base = load_vocab("v1")
>>> ext = extend(base, ["bandwidth_extension"], [])
>>> ext.version, ext.task_id("bandwidth_extension"), ext.size == base.size
('v1+ext', 78, True)
>>> new_ids(base, ext)
{'<task:bandwidth_extension>': 78}
"""

from __future__ import annotations

import copy
from typing import Any, Sequence

from uniaudio.errors import VocabMismatchError


def _free(reserved: list[list[int]], lo: int, hi: int, count: int, step: int = 1) -> list[int]:
    """``count`` ids (``step``-aligned groups) inside reserved spans within [lo, hi)."""
    out: list[int] = []
    for a, b in reserved:
        x = max(a, lo)
        while x + step <= min(b, hi) and len(out) < count:
            out.append(x)
            x += step
    if len(out) < count:
        raise VocabMismatchError(f"vocabulary extension: no room left in the reserved ids [{lo}, {hi})")
    return out


def _unreserve(reserved: list[list[int]], used: set[int]) -> list[list[int]]:
    out: list[list[int]] = []
    for a, b in reserved:
        start = a
        for x in range(a, b + 1):
            if x == b or x in used:
                if x > start:
                    out.append([start, x])
                start = x + 1
    return out


def extend(base, tasks: Sequence[str], modalities: Sequence[dict[str, Any]]):
    """``base`` (a :class:`~uniaudio.vocab.Vocab`) plus task ids for ``tasks`` and marker pairs for
    ``modalities`` (``{name, range}``) that it lacks; returns ``base`` itself when nothing is new."""
    from uniaudio.vocab import Vocab

    new_tasks = [t for t in tasks if t not in base.tasks]
    new_mods = [m for m in modalities if m["name"] not in base.doc["modality_markers"]]
    if not new_tasks and not new_mods:
        return base
    doc = copy.deepcopy(base.doc)
    reserved = [list(r) for r in doc["reserved"]]
    last_task = max(base.tasks.values())
    task_ids = _free(reserved, last_task + 1, base.ranges["codec"].start, len(new_tasks))
    last_marker = max(m["end"] for m in doc["modality_markers"].values())
    marker_ids = _free(reserved, last_marker + 1, min(base.tasks.values()), len(new_mods), step=2)
    for name, i in zip(new_tasks, task_ids):
        doc["tasks"][name] = i
        doc["specials"][f"<task:{name}>"] = i
    for m, i in zip(new_mods, marker_ids):
        rng = m.get("range", "continuous")
        if rng != "continuous" and rng not in base.ranges:
            raise VocabMismatchError(f"modality {m['name']}: range {rng!r} is neither 'continuous' nor one of "
                                     f"{', '.join(base.ranges)}")
        doc["modality_markers"][m["name"]] = {"start": i, "end": i + 1}
        doc["specials"][f"<{m['name']}_start>"], doc["specials"][f"<{m['name']}_end>"] = i, i + 1
        doc["modality_ranges"][m["name"]] = None if rng == "continuous" else rng
        if rng == "continuous":
            doc["continuous_modalities"].append(m["name"])
    used = set(task_ids) | {x for i in marker_ids for x in (i, i + 1)}
    doc["reserved"] = _unreserve(reserved, used)
    doc["version"] = f"{base.version}+ext"
    doc["extension"] = {"base": base.version, "base_hash": base.content_hash,
                        "tasks": {t: doc["tasks"][t] for t in new_tasks},
                        "modalities": {m["name"]: doc["modality_markers"][m["name"]] for m in new_mods}}
    return Vocab(doc)


def new_ids(base, ext) -> dict[str, int]:
    """Specials ``ext`` adds over ``base`` when ``base`` is a strict subset with identical ids (same name,
    size and ranges; every base special at the same id; the added ids were reserved in ``base``);
    otherwise :class:`VocabMismatchError` with the usual message."""
    def refuse():
        raise VocabMismatchError(
            f"vocabulary {base.name} {base.version} (hash {base.content_hash}) is not {ext.name} {ext.version} "
            f"(hash {ext.content_hash}) nor a subset of it with identical ids; token ids would not match. "
            f"Load it with the matching vocabulary version (and --tasks-file) or re-tokenize.")

    if (base.name, base.size) != (ext.name, ext.size) or base.doc["ranges"] != ext.doc["ranges"]:
        refuse()
    if any(ext.specials.get(k) != v for k, v in base.specials.items()):
        refuse()
    if any(ext.doc["modality_markers"].get(k) != v for k, v in base.doc["modality_markers"].items()):
        refuse()
    added = {k: v for k, v in ext.specials.items() if k not in base.specials}
    reserved = base.doc["reserved"]
    if any(not any(a <= v < b for a, b in reserved) for v in added.values()):
        refuse()
    return added
