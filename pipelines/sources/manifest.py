"""Manifest rows: the one record every corpus reader emits, plus the problem report of a read.

A :class:`ManifestRow` describes one utterance (or one segment of a longer file) and everything a
tokenizer needs to find its inputs: the audio, an optional transcript / caption / lyrics / notes file,
paired audio for simulated tasks (``{"clean": ..., "noise": ...}``) and free ``extra`` parameters (the
simulation seed and settings). ``fingerprint`` is a content hash (see :mod:`pipelines.sources.fingerprint`)
that changes when the row's fields or its files change; incremental tokenization anti-joins on it.

A read never stops at a bad row and never drops one silently: each is reported as a :class:`Problem`
(dataset, utt id when known, ``file:line``, reason) in the :class:`ReadResult` next to the good rows.

>>> row = ManifestRow(dataset="demo", utt_id="u1", audio_uri="/data/u1.wav", text="hello")
>>> ManifestRow.from_dict(row.to_dict()) == row
True
>>> Problem("demo", "u2", "text:3", "missing_audio: /data/u2.wav").code
'missing_audio'
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Mapping

#: Field names of :class:`ManifestRow`, in declaration order (also the JSON keys of :meth:`to_dict`).
ROW_FIELDS = (
    "dataset",
    "utt_id",
    "audio_uri",
    "start_s",
    "end_s",
    "text",
    "speaker",
    "caption",
    "instruction",
    "lyrics",
    "notes_uri",
    "paired",
    "extra",
    "fingerprint",
)


@dataclass(frozen=True)
class ManifestRow:
    """One utterance (or segment) of a dataset, with its content fingerprint.

    ``paired`` and ``extra`` are plain dicts (not frozen views) so rows pickle cheaply into Ray tasks;
    treat them as read-only.
    """

    dataset: str
    utt_id: str
    audio_uri: str
    start_s: float | None = None
    end_s: float | None = None
    text: str | None = None
    speaker: str | None = None
    caption: str | None = None
    instruction: str | None = None
    lyrics: str | None = None
    notes_uri: str | None = None
    paired: Mapping[str, str] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)
    fingerprint: str = ""

    def __post_init__(self) -> None:
        # Catch programming errors early: a row with a NaN time or non-string paired uri would only
        # fail much later, inside a Ray task, with a confusing message.
        for name in ("start_s", "end_s"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, (int, float)) and math.isfinite(value)):
                raise ValueError(f"ManifestRow {self.utt_id!r}: {name} must be a finite number, got {value!r}")
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in dict(self.paired).items()):
            raise ValueError(f"ManifestRow {self.utt_id!r}: paired must map role names to uri strings")

    @property
    def duration_s(self) -> float | None:
        """Segment length when both ends are known (``None`` otherwise; the tokenizer measures it)."""
        if self.start_s is None or self.end_s is None:
            return None
        return self.end_s - self.start_s

    def uris(self) -> list[str]:
        """Every file this row references (audio, paired audio, notes): what the fingerprint covers."""
        out = [self.audio_uri]
        out += [self.paired[k] for k in sorted(self.paired)]
        if self.notes_uri:
            out.append(self.notes_uri)
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict with every field (``paired``/``extra`` as dicts)."""
        d = asdict(self)
        d["paired"] = dict(self.paired)
        d["extra"] = dict(self.extra)
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True)

    def with_fingerprint(self, fingerprint: str) -> "ManifestRow":
        return replace(self, fingerprint=fingerprint)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ManifestRow":
        """Inverse of :meth:`to_dict`. ``paired``/``extra`` may also be JSON strings (Arrow/CSV columns)."""
        unknown = set(d) - set(ROW_FIELDS)
        if unknown:
            raise ValueError(f"unknown ManifestRow field(s): {', '.join(sorted(unknown))}")
        kw = {k: d[k] for k in ROW_FIELDS if k in d}
        for key in ("paired", "extra"):
            value = kw.get(key)
            if isinstance(value, str):
                kw[key] = json.loads(value) if value else {}
            elif value is None:
                kw[key] = {}
            else:
                kw[key] = dict(value)
        if kw.get("fingerprint") is None:
            kw["fingerprint"] = ""
        return cls(**kw)


assert tuple(f.name for f in fields(ManifestRow)) == ROW_FIELDS


@dataclass
class Problem:
    """A row (or file) a reader could not turn into a good :class:`ManifestRow`.

    ``reason`` starts with a short code (``missing_audio``, ``path_escape``, ``duplicate_id``,
    ``malformed_line``, ``missing_transcript``, ``unsupported_pipe``, ...) followed by ``": "`` and a
    human detail; :attr:`code` extracts the code for counting in job summaries.
    """

    dataset: str
    utt_id: str | None
    where: str
    reason: str

    @property
    def code(self) -> str:
        return self.reason.split(":", 1)[0].strip()

    def to_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "utt_id": self.utt_id, "where": self.where, "reason": self.reason}


@dataclass
class ReadResult:
    """Good rows plus every problem found while reading one dataset (or a whole spec)."""

    rows: list[ManifestRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def extend(self, other: "ReadResult") -> None:
        self.rows.extend(other.rows)
        self.problems.extend(other.problems)

    def problem_counts(self) -> dict[str, int]:
        """``{code: count}`` for summaries and MLflow metrics."""
        counts: dict[str, int] = {}
        for p in self.problems:
            counts[p.code] = counts.get(p.code, 0) + 1
        return dict(sorted(counts.items()))

    def summary(self) -> str:
        counts = ", ".join(f"{k}={v}" for k, v in self.problem_counts().items()) or "none"
        return f"{len(self.rows)} rows, {len(self.problems)} problems ({counts})"
