"""Reader ``kaldi``: a Kaldi data directory (``wav.scp``, ``text``, ``utt2spk``, optional ``segments``).

Layout (``data_dir`` is relative to the dataset root, default the root itself)::

    <data_dir>/wav.scp    <id> <path>              one audio file per recording (or utterance)
    <data_dir>/text       <utt> <transcript ...>
    <data_dir>/utt2spk    <utt> <speaker>          optional
    <data_dir>/segments   <utt> <rec> <start> <end>  optional; then wav.scp ids are recordings

Without ``segments`` each ``wav.scp`` id is an utterance. Audio paths (absolute or relative to the
root) must lie inside the root: point ``root`` at the corpus folder and ``data_dir`` at the Kaldi
folder when ``wav.scp`` names absolute corpus paths. Reported, never executed or guessed:
``wav.scp`` pipes (``sox x.flac -t wav - |``) and ark offsets (``foo.ark:123``) as
``unsupported_wav_scp``; malformed lines; duplicate keys; transcripts without audio
(``missing_audio``) and, with ``require_text`` (default), audio without a transcript
(``missing_transcript``); segments of unknown recordings or with ``end <= start``. A segment end
of ``-1`` means "to the end of the recording" (Kaldi's convention).
"""

from __future__ import annotations

import os

from pipelines.sources.context import ReadContext, iter_lines, seconds
from pipelines.sources.manifest import ManifestRow
from pipelines.sources.registry import ReaderOptions, register_reader
from uniaudio.config import ConfigError


class KaldiOptions(ReaderOptions):
    data_dir: str = "."  # the Kaldi folder, relative to root
    require_text: bool = True  # an utterance without a `text` line is a problem (TTS/ASR need it)
    require_speaker: bool = False  # an utterance without a `utt2spk` line is a problem


def _table(ctx: ReadContext, path: str, min_fields: int, max_split: int = 1) -> dict[str, tuple[list[str], str]]:
    """``{key: (fields, where)}`` of a Kaldi table file; malformed and duplicate keys reported."""
    out: dict[str, tuple[list[str], str]] = {}
    if not os.path.isfile(path):
        return out
    for n, line in iter_lines(ctx, path):
        where = ctx.where(path, n)
        parts = line.split(None, max_split)
        if len(parts) < min_fields:
            ctx.problem(parts[0] if parts else None, where, "malformed_line", f"expected at least {min_fields} fields")
            continue
        key = parts[0]
        if key in out:
            ctx.problem(key, where, "duplicate_id", f"{os.path.basename(path)} key already defined at {out[key][1]}")
            continue
        out[key] = (parts[1:], where)
    return out


@register_reader("kaldi", KaldiOptions)
def read_kaldi(ctx: ReadContext, root: str, opts: KaldiOptions) -> None:
    """Kaldi data dir: wav.scp / text / utt2spk / segments."""
    data_dir = ctx.resolve(opts.data_dir, "options.data_dir", None, kind="file", must_exist=False)
    if data_dir is None:
        raise ConfigError(f"dataset {ctx.dataset!r}: options.data_dir {opts.data_dir!r} is outside the root {root}")
    if not os.path.isfile(os.path.join(data_dir, "wav.scp")):
        raise ConfigError(f"dataset {ctx.dataset!r}: no wav.scp in {os.path.join(root, opts.data_dir)}")
    wav_scp = _table(ctx, os.path.join(data_dir, "wav.scp"), 2)
    texts = _table(ctx, os.path.join(data_dir, "text"), 1)
    spk = _table(ctx, os.path.join(data_dir, "utt2spk"), 2)
    seg_path = os.path.join(data_dir, "segments")
    has_segments = os.path.isfile(seg_path)
    if opts.require_text and not os.path.isfile(os.path.join(data_dir, "text")):
        raise ConfigError(f"dataset {ctx.dataset!r}: no `text` file in {data_dir} (set options.require_text: false)")

    audio: dict[str, str | None] = {}  # wav.scp id -> resolved path (None: reported already)

    def audio_of(rec: str) -> str | None:
        if rec not in audio:
            (fields, where) = wav_scp[rec]
            audio[rec] = _wav_path(ctx, fields[0], where, rec)
        return audio[rec]

    if has_segments:
        utts = _table(ctx, seg_path, 4, max_split=4)
    else:
        utts = {k: ([k], w) for k, w in ((k, v[1]) for k, v in wav_scp.items())}

    for utt, (fields, where) in utts.items():
        rec, start_s, end_s = fields[0], None, None
        if has_segments:
            if len(fields) != 3:
                ctx.problem(utt, where, "malformed_line", "segments lines are: <utt> <recording> <start> <end>")
                continue
            try:
                start_s, end_s = seconds(fields[1]), seconds(fields[2])
            except ValueError:
                ctx.problem(utt, where, "malformed_line", f"start/end are not numbers: {fields[1:]}")
                continue
            end_s = None if end_s == -1 else end_s
            if rec not in wav_scp:
                ctx.problem(utt, where, "missing_audio", f"recording {rec!r} is not in wav.scp")
                continue
        first = rec not in audio
        uri = audio_of(rec)
        if uri is None:
            if not first or rec != utt:  # the wav.scp problem names the recording, not this utterance
                ctx.problem(utt, where, "missing_audio", f"recording {rec!r} is unusable (see {wav_scp[rec][1]})")
            continue
        text_fields = texts.get(utt)
        text = text_fields[0][0].strip() if text_fields and text_fields[0] else None
        if opts.require_text and not text:
            ctx.problem(utt, where, "missing_transcript", "no line (or an empty one) in `text`")
            continue
        speaker = spk[utt][0][0] if utt in spk else None
        if opts.require_speaker and speaker is None:
            ctx.problem(utt, where, "missing_speaker", "no line in `utt2spk`")
            continue
        ctx.add(ManifestRow(ctx.dataset, utt, uri, start_s=start_s, end_s=end_s, text=text, speaker=speaker), where)

    # Transcripts whose utterance has no audio entry at all: report rather than silently ignore.
    for utt, (_, where) in texts.items():
        if utt not in utts:
            ctx.problem(utt, where, "missing_audio", "has a transcript but no wav.scp/segments entry")


def _wav_path(ctx: ReadContext, spec: str, where: str, rec: str) -> str | None:
    spec = spec.strip()
    if spec.endswith("|"):
        ctx.problem(rec, where, "unsupported_wav_scp", f"pipe command {spec!r} is not executed; convert the audio to files")
        return None
    if spec.startswith("-") or (":" in os.path.basename(spec) and ".ark:" in spec):
        ctx.problem(rec, where, "unsupported_wav_scp", f"{spec!r}: ark offsets / stdin are not supported")
        return None
    if " " in spec:
        ctx.problem(rec, where, "unsupported_wav_scp", f"{spec!r} has extra fields; only `<id> <path>` lines are read")
        return None
    return ctx.resolve(spec, where, rec, kind="audio")
