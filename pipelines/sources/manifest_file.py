"""Reader ``manifest``: a generic JSONL or CSV manifest, one utterance per line.

Keys (JSONL object keys, or CSV header columns):

=============  ===========================================================================
``utt_id``     required; unique in the dataset, no whitespace
``audio``      required; path relative to the root (or absolute inside it)
``start_s``    optional segment start (seconds); ``end_s`` optional segment end
``text``       transcript; also ``speaker``, ``caption``, ``instruction``, ``lyrics``
``notes``      MIDI / MusicXML path relative to the root
``paired``     object ``{role: relative audio path}`` (CSV: a JSON string), e.g. simulated pairs
``extra``      object of JSON values (CSV: a JSON string), e.g. simulation parameters
=============  ===========================================================================

Empty CSV cells and JSON ``null`` mean "absent". A key outside this list is reported as
``unknown_field`` (a typo must not silently lose a transcript) unless ``unknown_fields: extra`` moves
such keys into ``extra``. This is the format :mod:`pipelines.simulate` writes.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from typing import Any, Literal

from pipelines.sources.context import ReadContext, iter_lines
from pipelines.sources.manifest import ManifestRow
from pipelines.sources.registry import ReaderOptions, register_reader
from uniaudio.config import ConfigError

TEXT_KEYS = ("text", "speaker", "caption", "instruction", "lyrics")
KNOWN_KEYS = ("utt_id", "audio", "start_s", "end_s", *TEXT_KEYS, "notes", "paired", "extra")
DEFAULT_FILES = ("manifest.jsonl", "manifest.csv", "manifest.tsv")


class ManifestOptions(ReaderOptions):
    file: str | None = None  # relative to root; default: the first of manifest.jsonl / .csv / .tsv
    format: Literal["auto", "jsonl", "csv", "tsv"] = "auto"  # auto = by file extension
    unknown_fields: Literal["error", "extra"] = "error"
    require_text: bool = False  # report rows without `text` as missing_transcript


class RowError(ValueError):
    """A field of one record is unusable; ``code`` is the problem code."""

    def __init__(self, code: str, detail: str):
        self.code, self.detail = code, detail
        super().__init__(f"{code}: {detail}")


@register_reader("manifest", ManifestOptions)
def read_manifest(ctx: ReadContext, root: str, opts: ManifestOptions) -> None:
    """Generic JSONL / CSV manifest (see module docstring for the keys)."""
    path = _manifest_path(ctx, root, opts)
    if path is None:
        return
    fmt = opts.format if opts.format != "auto" else _format_of(path)
    records = _jsonl_records(ctx, path) if fmt == "jsonl" else _csv_records(ctx, path, "\t" if fmt == "tsv" else ",")
    for where, rec in records:
        row_from_record(ctx, rec, where, opts.unknown_fields, opts.require_text)


def _manifest_path(ctx: ReadContext, root: str, opts: ManifestOptions) -> str | None:
    if opts.file is None:
        for name in DEFAULT_FILES:
            if os.path.isfile(os.path.join(root, name)):
                return os.path.join(root, name)
        raise ConfigError(f"dataset {ctx.dataset!r}: no {' / '.join(DEFAULT_FILES)} in {root} (set options.file)")
    path = ctx.resolve(opts.file, opts.file, None, kind="file", must_exist=False)
    if path is None or not os.path.isfile(path):
        raise ConfigError(f"dataset {ctx.dataset!r}: manifest file {opts.file!r} is missing or outside {root}")
    return path


def _format_of(path: str) -> str:
    ext = os.path.splitext(path)[1].lower()
    return {".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".tsv": "tsv"}.get(ext, "jsonl")


def _jsonl_records(ctx: ReadContext, path: str):
    for n, line in iter_lines(ctx, path):
        where = ctx.where(path, n)
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as err:
            ctx.problem(None, where, "malformed_line", f"not JSON ({err.msg} at column {err.colno})")
            continue
        if not isinstance(rec, dict):
            ctx.problem(None, where, "malformed_line", f"a JSON object is required, got {type(rec).__name__}")
            continue
        yield where, rec


def _csv_records(ctx: ReadContext, path: str, delimiter: str):
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as f:
        text = f.read()
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        return
    for rec in reader:
        where = ctx.where(path, reader.line_num)
        if not any(cell.strip() for cell in rec):
            continue
        if len(rec) != len(header):
            ctx.problem(None, where, "malformed_line", f"{len(rec)} cells for {len(header)} columns")
            continue
        out: dict[str, Any] = {}
        for key, cell in zip(header, rec):
            cell = cell.strip()
            out[key] = None if cell == "" else cell
        yield where, out


def row_from_record(ctx: ReadContext, rec: dict, where: str, unknown_fields: str = "error", require_text: bool = False) -> bool:
    """Validate one manifest record and add its row to ``ctx`` (or report why not)."""
    utt_id = rec.get("utt_id")
    utt_id = str(utt_id) if isinstance(utt_id, (str, int)) and not isinstance(utt_id, bool) else None
    try:
        kw = _fields(ctx, rec, where, utt_id, unknown_fields)
    except RowError as err:
        ctx.problem(utt_id, where, err.code, err.detail)
        return False
    if kw is None:
        return False
    if require_text and not kw.get("text"):
        ctx.problem(utt_id, where, "missing_transcript", "row has no text")
        return False
    return ctx.add(ManifestRow(dataset=ctx.dataset, **kw), where)


def _fields(ctx: ReadContext, rec: dict, where: str, utt_id: str | None, unknown_fields: str) -> dict | None:
    unknown = sorted(k for k in rec if k not in KNOWN_KEYS)
    extra = _object(rec.get("extra"), "extra")
    if unknown:
        if unknown_fields == "error":
            raise RowError("unknown_field", f"{', '.join(unknown)} (accepted: {', '.join(KNOWN_KEYS)})")
        extra = {**{k: rec[k] for k in unknown}, **extra}
    if utt_id is None:
        raise RowError("bad_id", "utt_id is missing or not a string")
    kw: dict[str, Any] = {"utt_id": utt_id, "extra": extra}
    for key in TEXT_KEYS:
        value = rec.get(key)
        if key == "speaker" and isinstance(value, int) and not isinstance(value, bool):
            value = str(value)  # numeric speaker ids (LibriSpeech style) are common in JSON
        if value is not None and not isinstance(value, str):
            raise RowError("bad_field", f"{key} must be a string, got {type(value).__name__}")
        kw[key] = value if value else None
    for key in ("start_s", "end_s"):
        kw[key] = _seconds(rec.get(key), key)
    paired_refs = _object(rec.get("paired"), "paired")
    for role, ref in paired_refs.items():
        if not isinstance(ref, str) or not role:
            raise RowError("bad_field", f"paired[{role!r}] must be a relative audio path")
    notes = rec.get("notes")
    if notes is not None and not isinstance(notes, str):
        raise RowError("bad_field", f"notes must be a relative path, got {type(notes).__name__}")
    # Resolve every path; each failure is reported by ctx.resolve and rejects the row.
    audio = ctx.resolve(rec.get("audio") or "", where, utt_id, kind="audio")
    notes_uri = ctx.resolve(notes, where, utt_id, kind="notes") if notes is not None else None
    paired: dict[str, str] = {}
    ok = audio is not None and (notes is None or notes_uri is not None)
    for role, ref in sorted(paired_refs.items()):
        uri = ctx.resolve(ref, where, utt_id, kind="audio")
        ok = ok and uri is not None
        if uri is not None:
            paired[role] = uri
    if not ok:
        return None
    kw.update(audio_uri=audio, notes_uri=notes_uri, paired=paired)
    return kw


def _object(value: Any, key: str) -> dict:
    if value is None:
        return {}
    if isinstance(value, str):  # CSV cells carry objects as JSON text
        try:
            value = json.loads(value)
        except json.JSONDecodeError as err:
            raise RowError("bad_field", f"{key} is not a JSON object ({err.msg})") from None
    if not isinstance(value, dict):
        raise RowError("bad_field", f"{key} must be an object, got {type(value).__name__}")
    return value


def _seconds(value: Any, key: str) -> float | None:
    if value is None:
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise RowError("bad_field", f"{key} must be a number of seconds, got {value!r}") from None
    if isinstance(value, bool) or not math.isfinite(out):
        raise RowError("bad_field", f"{key} must be a finite number of seconds, got {value!r}")
    return out
