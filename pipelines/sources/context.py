"""What every reader shares: root confinement, line reading, problem reporting, ids and fingerprints.

A reader builds rows through a :class:`ReadContext`; the context

* resolves each referenced path inside the dataset root (:meth:`ReadContext.resolve`), reporting a
  path that escapes it (``..``, an absolute path elsewhere, a symlink pointing outside) as
  ``path_escape`` and a missing file as ``missing_audio`` / ``missing_file``;
* keeps the first row of each ``utt_id`` and reports later ones as ``duplicate_id`` (naming where the
  kept one came from), so a duplicate is never silently kept twice or silently dropped;
* stamps each accepted row with its fingerprint under the dataset's policy.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import replace
from pathlib import Path
from typing import Iterator

from pipelines.sources.fingerprint import FileDigests, FingerprintPolicy, fingerprint_row
from pipelines.sources.manifest import ManifestRow, Problem, ReadResult

# Ids become partition keys, file names and log fields: forbid whitespace and control characters.
_BAD_ID = re.compile(r"[\s\x00-\x1f\x7f]")


def seconds(text: str) -> float:
    """A finite number of seconds from table text; ``ValueError`` otherwise (``nan``/``inf`` too)."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text!r} is not a finite number")
    return value


def valid_utt_id(utt_id: object) -> str | None:
    """The reason an id is unusable, or ``None`` when it is fine."""
    if not isinstance(utt_id, str) or not utt_id:
        return "empty or non-string id"
    if _BAD_ID.search(utt_id):
        return "id contains whitespace or control characters"
    return None


class ReadContext:
    """Accumulates the rows and problems of one dataset read."""

    def __init__(self, dataset: str, root: str | Path, policy: FingerprintPolicy = "stat", probe_audio: bool = False,
                 mirror=None):
        self.dataset = dataset
        self.root = os.path.abspath(str(root))
        self.real_root = os.path.realpath(self.root)
        # a remote root is read through its local mirror (uniaudio.stores.mirror); rows get its URIs
        self.mirror = mirror
        self.digests = FileDigests(policy, remote_stats=mirror.stats if mirror is not None else None)
        self.policy: FingerprintPolicy = policy
        self.probe_audio = probe_audio
        self.result = ReadResult()
        self._seen: dict[str, str] = {}  # utt_id -> where the kept row came from

    # -- reporting -----------------------------------------------------------------------------
    def problem(self, utt_id: str | None, where: str, code: str, detail: str = "") -> None:
        self.result.problems.append(Problem(self.dataset, utt_id, where, f"{code}: {detail}" if detail else code))

    def where(self, path: str | Path, line: int | None = None) -> str:
        """``file:line`` with the file shown relative to the root when it is inside it."""
        p = os.path.abspath(str(path))
        rel = os.path.relpath(p, self.root) if _inside(p, self.root) else p
        return f"{rel}:{line}" if line is not None else rel

    # -- paths ---------------------------------------------------------------------------------
    def resolve(self, ref: str, where: str, utt_id: str | None, kind: str = "audio", must_exist: bool = True) -> str | None:
        """Absolute path of ``ref`` (relative to the root, or absolute inside it), or ``None`` after
        reporting why it cannot be used. ``kind`` names the file in the reason (``missing_<kind>``)."""
        if not isinstance(ref, str) or not ref.strip():
            self.problem(utt_id, where, f"missing_{kind}", "empty path")
            return None
        ref = ref.strip()
        if ref.startswith("file://"):
            ref = ref[len("file://") :]
        elif "://" in ref:
            self.problem(utt_id, where, "unsupported_uri", f"{ref!r}: readers take local paths inside the root")
            return None
        path = os.path.normpath(ref if os.path.isabs(ref) else os.path.join(self.root, ref))
        if not _inside(path, self.root):
            shown = self.mirror.uri if self.mirror is not None else self.root  # the root the user named, not its mirror
            self.problem(utt_id, where, "path_escape", f"{ref!r} is outside the dataset root {shown}")
            return None
        # Symlinks are fine as long as what they point at stays inside the (real) root.
        if os.path.lexists(path) and not _inside(os.path.realpath(path), self.real_root):
            self.problem(utt_id, where, "path_escape", f"{ref!r} is a link to {os.path.realpath(path)}, outside the root")
            return None
        if must_exist and not os.path.isfile(path):
            self.problem(utt_id, where, f"missing_{kind}", f"{ref!r}: no such file")
            return None
        return path

    # -- rows ----------------------------------------------------------------------------------
    def add(self, row: ManifestRow, where: str) -> bool:
        """Accept ``row`` (fingerprinted) unless its id is invalid, taken, or its audio unreadable."""
        bad = valid_utt_id(row.utt_id)
        if bad:
            self.problem(row.utt_id if isinstance(row.utt_id, str) else None, where, "bad_id", bad)
            return False
        if row.utt_id in self._seen:
            self.problem(row.utt_id, where, "duplicate_id", f"already read from {self._seen[row.utt_id]}; this one is not used")
            return False
        if row.start_s is not None and row.start_s < 0 or (
            row.end_s is not None and row.end_s <= (row.start_s or 0.0)
        ):
            self.problem(row.utt_id, where, "bad_segment", f"start_s={row.start_s} end_s={row.end_s}")
            return False
        if self.mirror is not None:
            row = self._to_remote(row)
        if self.probe_audio and not self._probe(row, where):
            return False
        row = replace(row, dataset=self.dataset)
        try:
            fp = fingerprint_row(row, self.policy, self.digests)
        except (TypeError, ValueError) as err:  # e.g. NaN or a non-JSON value inside `extra`
            self.problem(row.utt_id, where, "bad_field", f"fields are not canonical JSON ({err})")
            return False
        self._seen[row.utt_id] = where
        self.result.rows.append(row.with_fingerprint(fp))
        return True

    def _to_remote(self, row: ManifestRow) -> ManifestRow:
        """The row with every mirror path replaced by the object's URI (decoded from the bucket later)."""
        remote = lambda p: (self.mirror.remote_of(p) or p) if p else p  # noqa: E731
        return replace(row, audio_uri=remote(row.audio_uri), notes_uri=remote(row.notes_uri),
                       paired={k: remote(v) for k, v in row.paired.items()})

    def _probe(self, row: ManifestRow, where: str) -> bool:
        from uniaudio.audio import AudioError, audio_info

        for uri in [row.audio_uri, *row.paired.values()]:
            try:
                _, _, dur = audio_info(uri)
            except AudioError as err:
                self.problem(row.utt_id, where, "unreadable_audio", f"{err.reason} ({err.detail})")
                return False
            if row.end_s is not None and uri == row.audio_uri and row.end_s > dur + 0.01:
                self.problem(row.utt_id, where, "bad_segment", f"end_s={row.end_s} > file duration {dur:.2f}s")
                return False
        return True


def _inside(path: str, root: str) -> bool:
    try:
        return os.path.commonpath([path, root]) == root
    except ValueError:  # different drives / mix of absolute and relative
        return False


def iter_lines(ctx: ReadContext, path: str | Path) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, stripped_line)`` of a UTF-8 text file, skipping blank lines.

    An undecodable line is reported (``malformed_line``) and skipped instead of failing the file.
    """
    with open(path, "rb") as f:
        for n, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8").strip()
            except UnicodeDecodeError as err:
                ctx.problem(None, ctx.where(path, n), "malformed_line", f"not UTF-8 ({err.reason})")
                continue
            if line:
                yield n, line.lstrip("\ufeff") if n == 1 else line


def read_text_file(ctx: ReadContext, path: str, utt_id: str, kind: str = "transcript") -> str | None:
    """Whole-file transcript/lyrics (whitespace collapsed) or ``None`` after reporting why not."""
    where = ctx.where(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        ctx.problem(utt_id, where, "malformed_line", f"{kind} is not UTF-8 ({err.reason})")
        return None
    except OSError as err:
        ctx.problem(utt_id, where, f"missing_{kind}", str(err))
        return None
    text = " ".join(text.split())
    if not text:
        ctx.problem(utt_id, where, f"missing_{kind}", f"empty {kind} file")
        return None
    return text


AUDIO_EXTS = (".wav", ".flac", ".mp3", ".ogg", ".opus")


def walk_files(ctx: ReadContext, top: str, exts: tuple[str, ...]) -> list[str]:
    """Sorted files under ``top`` with one of ``exts``, following symlinked folders that stay inside the
    root (each visited once) and reporting those that leave it as ``path_escape``."""
    out: list[str] = []
    visited: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(top, followlinks=True):
        real = os.path.realpath(dirpath)
        if not _inside(real, ctx.real_root):
            ctx.problem(None, ctx.where(dirpath), "path_escape", f"folder links to {real}, outside the root")
            dirnames[:] = []
            continue
        if real in visited:  # a link loop or two links to one folder
            dirnames[:] = []
            continue
        visited.add(real)
        dirnames.sort()
        for name in sorted(filenames):
            if name.lower().endswith(exts):
                out.append(os.path.join(dirpath, name))
    return out
