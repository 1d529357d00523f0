"""Reader ``captions``: a CSV of audio clips and their text descriptions (AudioCaps / MusicCaps style).

Default columns: ``audio`` (path relative to the root), ``caption``, optional ``utt_id``, ``start_s``,
``end_s``. Real corpora name them differently and ship the audio separately, so:

* ``columns`` maps our role -> the CSV's column, e.g. MusicCaps
  ``{utt_id: ytid, caption: caption, start_s: start_s, end_s: end_s}``;
* ``audio_template`` builds the audio path from the row's columns when there is no audio column,
  e.g. ``"audio/{ytid}.wav"`` (a ``str.format`` over the CSV row);
* ``segment: false`` (default ``true``) ignores start/end, for clips already cut to the captioned span.

Without a ``utt_id`` column the id is the audio path (relative, without extension, ``/`` kept), so a
clip captioned twice is reported as ``duplicate_id``: map ``utt_id`` to a per-caption id column
(AudioCaps: ``audiocap_id``) to keep every caption. Missing captions are ``missing_caption``.
"""

from __future__ import annotations

import csv
import os

from pipelines.sources.context import ReadContext, seconds
from pipelines.sources.manifest import ManifestRow
from pipelines.sources.registry import ReaderOptions, register_reader
from uniaudio.config import ConfigError

ROLES = ("utt_id", "audio", "caption", "start_s", "end_s")


class CaptionsOptions(ReaderOptions):
    file: str = "captions.csv"
    delimiter: str = ","
    columns: dict[str, str] = {}  # role -> CSV column name (roles: utt_id, audio, caption, start_s, end_s)
    audio_template: str | None = None  # e.g. "audio/{youtube_id}_{start_time}.wav"
    segment: bool = True


@register_reader("captions", CaptionsOptions)
def read_captions(ctx: ReadContext, root: str, opts: CaptionsOptions) -> None:
    """CSV of audio + caption (AudioCaps / MusicCaps style)."""
    bad = sorted(set(opts.columns) - set(ROLES))
    if bad:
        raise ConfigError(f"dataset {ctx.dataset!r}: options.columns has unknown role(s) {bad}; roles: {', '.join(ROLES)}")
    cols = {role: opts.columns.get(role, role) for role in ROLES}
    path = ctx.resolve(opts.file, "options.file", None, kind="file", must_exist=False)
    if path is None or not os.path.isfile(path):
        raise ConfigError(f"dataset {ctx.dataset!r}: captions file {opts.file!r} is missing or outside {root}")
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as f:
        reader = csv.DictReader(f, delimiter=opts.delimiter)
        header = reader.fieldnames or []
        needed = ["caption"] + ([] if opts.audio_template else ["audio"])
        missing = [cols[r] for r in needed if cols[r] not in header]
        if missing:
            raise ConfigError(f"dataset {ctx.dataset!r}: {opts.file} lacks column(s) {missing}; it has {header}")
        for rec in reader:
            where = ctx.where(path, reader.line_num)
            if None in rec or any(v is None for v in rec.values()):  # too many / too few cells
                ctx.problem(None, where, "malformed_line", f"cell count does not match the {len(header)} columns")
                continue
            _row(ctx, {k: (v or "").strip() for k, v in rec.items()}, cols, opts, where)


def _row(ctx: ReadContext, rec: dict[str, str], cols: dict[str, str], opts: CaptionsOptions, where: str) -> None:
    if opts.audio_template:
        try:
            ref = opts.audio_template.format(**rec)
        except (KeyError, IndexError, ValueError) as err:
            ctx.problem(None, where, "malformed_line", f"audio_template {opts.audio_template!r}: {err!r}")
            return
    else:
        ref = rec.get(cols["audio"], "")
    utt_id = rec.get(cols["utt_id"]) or _id_from_path(ctx, ref)
    if not ref:
        ctx.problem(utt_id or None, where, "missing_audio", "empty audio cell")
        return
    caption = rec.get(cols["caption"], "")
    if not caption:
        ctx.problem(utt_id, where, "missing_caption", "empty caption cell")
        return
    start_s = end_s = None
    if opts.segment:
        try:
            start_s = seconds(rec[cols["start_s"]]) if rec.get(cols["start_s"]) else None
            end_s = seconds(rec[cols["end_s"]]) if rec.get(cols["end_s"]) else None
        except ValueError:
            ctx.problem(utt_id, where, "malformed_line", "start_s/end_s are not numbers")
            return
    uri = ctx.resolve(ref, where, utt_id, kind="audio")
    if uri is None:
        return
    ctx.add(ManifestRow(ctx.dataset, utt_id, uri, start_s=start_s, end_s=end_s, caption=caption), where)


def _id_from_path(ctx: ReadContext, ref: str) -> str:
    """``audio/clip1.wav`` -> ``audio/clip1`` (relative to the root, extension dropped)."""
    p = os.path.normpath(ref) if ref else ""
    if os.path.isabs(p):
        p = os.path.relpath(p, ctx.root)
    return os.path.splitext(p)[0]
