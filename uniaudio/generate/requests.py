"""Generation requests: what each task needs, from command-line flags or one JSON object per line.

A request names its ``task`` and the inputs that task needs (checked here, before any model work):

==============  ==========================================  ====================================
task            required inputs                             optional
==============  ==========================================  ====================================
tts             text, prompt (wav)
plain_tts       text
vc              source (wav: the content), prompt (voice)
svs             lyrics, notes (MIDI / MusicXML), prompt
se / dereverb   source
tse             source (mixture), enrolment (wav)
text_to_sound   caption
text_to_music   caption
speech_edit     text (the edited sentence), source,         (the span of the source is masked)
                edit_span [start, end] seconds
audio_edit      instruction, source
instruct_tts    text, instruction
asr             source                                      text (reference transcript)
sv              source, prompt                              label (ground truth)
==============  ==========================================  ====================================

Every request may also carry ``id``, ``seed`` (default: derived from the base seed and the id),
``output`` (wav path) and ``reference`` (ground-truth wav, passed through to the results for scoring).
In a JSONL file, relative input paths resolve against the file's folder; ``output`` is relative to the
batch's ``--out-dir`` and must stay inside it (no absolute path, no ``..``), with an audio extension
(``.wav`` / ``.flac``). Text inputs and the number of requests are bounded
(:class:`~uniaudio.generate.limits.RequestLimits`).

>>> r = parse_request({"task": "se", "id": "a", "source": "noisy.wav"}, base="/data")
>>> r.source, r.needs()
('/data/noisy.wav', ('source',))
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from uniaudio.errors import UserFacingError
from uniaudio.generate.limits import AUDIO_SUFFIXES, RequestLimits, check_text
from uniaudio.tasks import TASKS, get_task, task_view

# task -> the inputs its request must carry: the arguments of its conditions' ``request`` rules.
REQUIRED = task_view(lambda t: t.request_inputs)

PATH_FIELDS = ("prompt", "source", "enrolment", "notes", "reference", "output")
TEXT_FIELDS = ("text", "caption", "instruction", "lyrics")
FIELDS = ("task", "id", *TEXT_FIELDS, *PATH_FIELDS, "edit_span", "label", "seed")


@dataclass
class Request:
    task: str
    id: str
    text: str | None = None
    caption: str | None = None
    instruction: str | None = None
    lyrics: str | None = None
    prompt: str | None = None
    source: str | None = None
    enrolment: str | None = None
    notes: str | None = None
    reference: str | None = None
    output: str | None = None
    edit_span: tuple[float, float] | None = None
    label: Any = None
    seed: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # unknown keys, passed through to the results

    def needs(self) -> tuple[str, ...]:
        return REQUIRED[self.task]

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in asdict(self).items() if v is not None and k != "extra"}
        return {**self.extra, **d}


def parse_edit_span(value: Any) -> tuple[float, float]:
    """``"1.2:1.9"`` or ``[1.2, 1.9]`` (seconds) -> (start, end), with 0 <= start < end."""
    if isinstance(value, str):
        parts = value.split(":")
    elif isinstance(value, (list, tuple)):
        parts = list(value)
    else:
        raise ValueError(f"edit_span must be 'START:END' or [start, end] in seconds, got {value!r}")
    try:
        start, end = (float(p) for p in parts)
    except (TypeError, ValueError):
        raise ValueError(f"edit_span must be two numbers (seconds), got {value!r}") from None
    if not 0 <= start < end:
        raise ValueError(f"edit_span needs 0 <= start < end, got {start}:{end}")
    return start, end


def _resolve(value: str, base: Path | None) -> str:
    from uniaudio.stores import uri as uris

    if uris.is_remote(value):
        return value
    value = uris.local_path(value)
    if base is None or Path(value).is_absolute():
        return value
    return str((base / value).resolve())


def _audio_target(task: str) -> bool:
    return get_task(task).target.modality not in ("text", "label")


def confined_output(value: str) -> str:
    """A batch request's ``output``: a relative path inside the output folder (normalised, posix)."""
    from pathlib import PurePosixPath

    if "://" in value or value.startswith(("/", "\\", "~")) or Path(value).is_absolute() or "\x00" in value:
        raise ValueError(f"output {value!r} must be a path relative to --out-dir")
    parts = PurePosixPath(value.replace("\\", "/")).parts
    if not parts or any(p == ".." for p in parts):
        raise ValueError(f"output {value!r} must stay inside --out-dir (no '..')")
    return str(PurePosixPath(*[p for p in parts if p != "."]))


def parse_request(obj: Any, base: str | Path | None = None, default_id: str | None = None,
                  limits: RequestLimits | None = None, relative_output: bool = False) -> Request:
    """Validate one request object; raises ValueError with the reason. ``base`` resolves relative paths;
    ``relative_output`` (batch mode): ``output`` is kept relative and must not escape (:func:`confined_output`)."""
    limits = limits or RequestLimits()
    if not isinstance(obj, dict):
        raise ValueError(f"a request must be a JSON object, got {type(obj).__name__}")
    task = obj.get("task")
    if task not in TASKS:
        raise ValueError(f"unknown or missing task {task!r}; known tasks: {', '.join(TASKS)}")
    ident = obj.get("id", default_id)
    if ident in (None, ""):
        raise ValueError("missing request id")
    req = Request(task=str(task), id=str(ident), extra={k: v for k, v in obj.items() if k not in FIELDS})
    if "/" in req.id or req.id.startswith("."):
        raise ValueError(f"request id {req.id!r} must not contain '/' or start with '.' (it names the output file)")
    base_p = Path(base) if base is not None else None
    for key in TEXT_FIELDS:
        if obj.get(key) is not None:
            if not isinstance(obj[key], str) or not obj[key].strip():
                raise ValueError(f"{key} must be a non-empty string")
            check_text(key, obj[key], limits)
            setattr(req, key, obj[key])
    for key in PATH_FIELDS:
        if obj.get(key) not in (None, ""):
            if not isinstance(obj[key], str):
                raise ValueError(f"{key} must be a path, got {type(obj[key]).__name__}")
            if key == "output" and relative_output:
                req.output = confined_output(obj[key])
            else:
                setattr(req, key, _resolve(obj[key], base_p))
    if req.output is not None and _audio_target(req.task) and Path(req.output).suffix.lower() not in AUDIO_SUFFIXES:
        raise ValueError(f"output {obj['output']!r}: task {req.task} writes audio; use {' or '.join(AUDIO_SUFFIXES)}")
    if obj.get("edit_span") is not None:
        req.edit_span = parse_edit_span(obj["edit_span"])
    if obj.get("seed") is not None:
        if isinstance(obj["seed"], bool) or not isinstance(obj["seed"], int) or obj["seed"] < 0:
            raise ValueError(f"seed must be a non-negative integer, got {obj['seed']!r}")
        req.seed = int(obj["seed"])
    req.label = obj.get("label")
    missing = [k for k in req.needs() if getattr(req, k) in (None, "")]
    if missing:
        raise ValueError(f"task {req.task} needs {', '.join(missing)} (required: {', '.join(req.needs())})")
    return req


@dataclass(frozen=True)
class BadRequest:
    line: int
    reason: str
    id: str | None = None
    task: str | None = None


def read_requests(path: str | Path, limits: RequestLimits | None = None) -> tuple[list[Request], list[BadRequest]]:
    """Requests of a JSONL file -> (valid requests, bad lines with reasons). Ids default to
    ``<task>-<line>``; a repeated id is a bad line (it would overwrite an output). ``output`` keys stay
    relative (to the batch's output folder). More than ``limits.max_requests`` requests: refused."""
    limits = limits or RequestLimits()
    p = Path(path)
    if not p.is_file():
        raise UserFacingError(f"requests file {path} does not exist")
    good: list[Request] = []
    bad: list[BadRequest] = []
    seen: set[str] = set()
    lines: list[tuple[int, str]] = []
    with open(p, encoding="utf-8", errors="replace") as f:
        for n, raw in enumerate(f, start=1):  # stops reading at the first request over the limit
            if raw.strip():
                lines.append((n, raw))
                if len(lines) > limits.max_requests:
                    break
    if len(lines) > limits.max_requests:
        raise UserFacingError(f"{path}: more than limits.max_requests={limits.max_requests} requests; split the file "
                              f"or raise the limit (--set limits.max_requests=N)")
    for n, raw in lines:
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as err:
            bad.append(BadRequest(n, f"invalid JSON: {err.msg} (column {err.colno})"))
            continue
        task = obj.get("task") if isinstance(obj, dict) else None
        try:
            req = parse_request(obj, p.resolve().parent, default_id=f"{task}-{n}", limits=limits, relative_output=True)
        except ValueError as err:
            ident = obj.get("id") if isinstance(obj, dict) else None
            bad.append(BadRequest(n, str(err), str(ident) if ident else None, str(task) if task else None))
            continue
        if req.id in seen:
            bad.append(BadRequest(n, f"duplicate request id {req.id!r}", req.id, req.task))
            continue
        seen.add(req.id)
        good.append(req)
    return good, bad
