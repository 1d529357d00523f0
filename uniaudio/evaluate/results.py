"""The RESULTS.jsonl contract between ``uniaudio generate`` and ``uniaudio evaluate``.

One JSON object per generated item, one per line::

    {"task": "tts", "id": "1089-134686-0000", "output": "wavs/1089-134686-0000.wav",
     "text": "he hoped there would be stew for dinner", "prompt": "prompts/1089_3s.wav",
     "reference": "refs/1089-134686-0000.wav"}

Required: ``task`` (a registered task), ``id`` (unique within the task), ``output``:

- audio tasks: the generated wav (path);
- ``asr``: the recognised text (string);
- ``sv``: the predicted label (``1``/``0``, ``true``/``false``, or ``"same"``/``"different"``).

Optional references, used by the metrics that need them (absent -> that metric is *skipped* for the
item, not failed): ``reference`` (ground-truth target wav), ``text`` (transcript; WER/CER and the asr
reference), ``prompt`` / ``enrolment`` (speaker reference wav), ``source`` (input wav), ``caption``,
``label`` (sv ground truth). Relative paths resolve against the JSONL's folder; absolute paths and
``file://`` URIs are kept. Unknown keys are kept in :attr:`ResultItem.extra` (e.g. ``seed``).

A line that is not valid JSON, lacks a required key, names an unknown task or repeats a (task, id)
becomes an :class:`InvalidLine` with the reason; the evaluation reports it and goes on.

>>> import json, tempfile, os
>>> d = tempfile.mkdtemp()
>>> with open(os.path.join(d, "r.jsonl"), "w") as f:
...     _ = f.write(json.dumps({"task": "asr", "id": "a", "output": "hello", "text": "hello"}) + "\\n")
...     _ = f.write("{not json\\n")
>>> items, bad = load_results(os.path.join(d, "r.jsonl"))
>>> items[0].output, bad[0].line, bad[0].reason.split(":")[0]
('hello', 2, 'invalid JSON')
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from uniaudio.errors import UserFacingError
from uniaudio.tasks import TASKS

#: Keys whose values are wav paths (resolved against the JSONL folder).
AUDIO_FIELDS = ("reference", "prompt", "enrolment", "source")
#: Keys with a meaning in the contract; everything else goes to ``extra``.
KNOWN_FIELDS = ("task", "id", "output", "text", "caption", "label", *AUDIO_FIELDS)
#: Tasks whose ``output`` is not a wav.


def output_kind(task: str) -> str:
    """``audio`` / ``text`` / ``label``: what a task's results carry (from its target's modality)."""
    return TASKS[task].output_kind if task in TASKS else "audio"



@dataclass
class ResultItem:
    """One generated item with its references (paths already resolved)."""

    task: str
    id: str
    output: Any
    line: int = 0
    reference: str | None = None
    prompt: str | None = None
    enrolment: str | None = None
    source: str | None = None
    text: str | None = None
    caption: str | None = None
    label: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.task}/{self.id}"

    @property
    def audio_output(self) -> bool:
        return output_kind(self.task) == "audio"

    def has(self, name: str) -> bool:
        """Whether the item carries ``name``; ``"a|b"`` means either of them."""
        return any(getattr(self, n, None) not in (None, "") for n in name.split("|"))

    def first(self, name: str) -> str | None:
        """The first present field of ``"a|b"`` (its value), else None."""
        for n in name.split("|"):
            v = getattr(self, n, None)
            if v not in (None, ""):
                return v
        return None


@dataclass(frozen=True)
class InvalidLine:
    """A line of the results file that could not be used, and why."""

    line: int
    reason: str
    task: str | None = None
    id: str | None = None


def _resolve(value: str, base: Path | str) -> str:
    """A path of the results file: absolute/URI as is, relative against the file's folder (or prefix)."""
    from uniaudio.stores import uri as uris

    if value.startswith("file://"):
        return uris.local_path(value)
    if uris.is_remote(value) or Path(value).is_absolute():
        return value
    if uris.is_remote(base):
        return uris.join(str(base), value)
    return str((Path(base) / value).resolve())


def parse_label(value: Any) -> int:
    """Normalise an sv label to 1 (same speaker) or 0; raises ValueError otherwise."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)) and value in (0, 1):
        return int(value)
    if isinstance(value, str):
        v = value.strip().lower()
        if v in ("1", "true", "same", "yes"):
            return 1
        if v in ("0", "false", "different", "no"):
            return 0
    raise ValueError(f"label {value!r} is not one of 1/0, true/false, same/different")


def parse_item(obj: Any, line: int, base: Path | str) -> ResultItem:
    """Validate one decoded JSON object; raises ValueError with the reason."""
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
    for key in ("task", "id", "output"):
        if obj.get(key) in (None, ""):
            raise ValueError(f"missing required key {key!r}")
    task, item_id = str(obj["task"]), str(obj["id"])
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}")
    output = obj["output"]
    if output_kind(task) == "label":
        output = parse_label(output)
    elif not isinstance(output, str):
        kind = "text" if output_kind(task) == "text" else "a wav path"
        raise ValueError(f"output must be {kind} for task {task}, got {type(output).__name__}")
    elif output_kind(task) != "text":
        output = _resolve(output, base)
    item = ResultItem(task=task, id=item_id, output=output, line=line,
                      extra={k: v for k, v in obj.items() if k not in KNOWN_FIELDS})
    for key in AUDIO_FIELDS:
        if obj.get(key) not in (None, ""):
            if not isinstance(obj[key], str):
                raise ValueError(f"{key} must be a wav path, got {type(obj[key]).__name__}")
            setattr(item, key, _resolve(obj[key], base))
    for key in ("text", "caption"):
        if obj.get(key) is not None:
            if not isinstance(obj[key], str):
                raise ValueError(f"{key} must be a string, got {type(obj[key]).__name__}")
            setattr(item, key, obj[key])
    if obj.get("label") is not None:
        item.label = parse_label(obj["label"])
    return item


def load_results(path: str | Path) -> tuple[list[ResultItem], list[InvalidLine]]:
    """Read a results JSONL -> (valid items in file order, invalid lines with reasons).

    Raises :class:`UserFacingError` only when the file itself cannot be read.
    """
    from uniaudio.stores import uri as uris

    remote = uris.is_remote(path)
    p = Path(path) if not remote else None
    if not (uris.is_file(path) if remote else p.is_file()):
        raise UserFacingError(f"results file {path} does not exist")
    base: Path | str = uris.parent(str(path)) if remote else p.resolve().parent
    items: list[ResultItem] = []
    invalid: list[InvalidLine] = []
    seen: set[str] = set()
    try:
        lines = (uris.read_text(path) if remote else p.read_text(encoding="utf-8")).splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise UserFacingError(f"cannot read results file {path}: {err}") from None
    for n, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as err:
            invalid.append(InvalidLine(n, f"invalid JSON: {err.msg} (column {err.colno})"))
            continue
        try:
            item = parse_item(obj, n, base)
        except ValueError as err:
            task = obj.get("task") if isinstance(obj, dict) else None
            ident = obj.get("id") if isinstance(obj, dict) else None
            invalid.append(InvalidLine(n, str(err), str(task) if task else None, str(ident) if ident else None))
            continue
        if item.key in seen:
            invalid.append(InvalidLine(n, f"duplicate id {item.id!r} for task {item.task}", item.task, item.id))
            continue
        seen.add(item.key)
        items.append(item)
    return items, invalid
