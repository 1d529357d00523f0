"""Reader ``libritts``: LibriTTS and LibriSpeech folder layouts (``speaker/chapter/utterance``).

LibriTTS::

    <root>/[subset/]<spk>/<chapter>/<spk>_<chapter>_<...>.wav
                                    <spk>_<chapter>_<...>.normalized.txt   (option text: normalized)
                                    <spk>_<chapter>_<...>.original.txt     (option text: original)

LibriSpeech::

    <root>/[subset/]<spk>/<chapter>/<spk>-<chapter>-<nnnn>.flac
                                    <spk>-<chapter>.trans.txt   lines "<utt> <TRANSCRIPT>"

Every ``.wav`` / ``.flac`` under the root is one utterance, ``utt_id`` = file stem, ``speaker`` =
the stem's first ``_``/``-`` field (the speaker folder's name for files named otherwise). The
transcript is the per-utterance ``.<text>.txt`` if present, else the chapter ``*.trans.txt`` line
(LibriSpeech) or ``*.trans.tsv`` column (LibriTTS: id, original, normalized). Missing transcripts
(``missing_transcript``, when ``require_text``), transcript lines without audio (``missing_audio``),
malformed lines, links outside the root and duplicate stems are reported.
"""

from __future__ import annotations

import os
import re
from typing import Literal

from pipelines.sources.context import AUDIO_EXTS, ReadContext, iter_lines, read_text_file, walk_files
from pipelines.sources.manifest import ManifestRow
from pipelines.sources.registry import ReaderOptions, register_reader


class LibriOptions(ReaderOptions):
    text: Literal["normalized", "original"] = "normalized"  # which LibriTTS transcript to use
    require_text: bool = True


@register_reader("libritts", LibriOptions)
def read_libri(ctx: ReadContext, root: str, opts: LibriOptions) -> None:
    """LibriTTS / LibriSpeech speaker/chapter/utterance folders."""
    chapters: dict[str, dict[str, tuple[str, str]]] = {}  # folder -> {utt: (text, where)}
    used: set[tuple[str, str]] = set()
    for audio in walk_files(ctx, root, AUDIO_EXTS):
        folder, name = os.path.split(audio)
        utt = _stem(name)
        where = ctx.where(audio)
        uri = ctx.resolve(audio, where, utt, kind="audio")
        if uri is None:
            continue
        if folder not in chapters:
            chapters[folder] = _chapter_transcripts(ctx, folder, opts.text)
        text = None
        per_utt = os.path.join(folder, f"{utt}.{opts.text}.txt")
        if os.path.isfile(per_utt):
            if ctx.resolve(per_utt, ctx.where(per_utt), utt, kind="transcript") is None:
                continue
            text = read_text_file(ctx, per_utt, utt)
            if text is None:
                continue
        elif utt in chapters[folder]:
            text = chapters[folder][utt][0] or None
            used.add((folder, utt))
        if text is None and opts.require_text:
            ctx.problem(utt, where, "missing_transcript", f"no {utt}.{opts.text}.txt and no chapter transcript line")
            continue
        ctx.add(ManifestRow(ctx.dataset, utt, uri, text=text, speaker=_speaker(utt, folder)), where)
    for folder, lines in chapters.items():
        for utt, (_, where) in lines.items():
            if (folder, utt) not in used and not _has_audio(folder, utt):
                ctx.problem(utt, where, "missing_audio", "transcript line has no audio file")


def _stem(name: str) -> str:
    return os.path.splitext(name)[0]


def _has_audio(folder: str, utt: str) -> bool:
    return any(os.path.isfile(os.path.join(folder, utt + ext)) for ext in AUDIO_EXTS)


_SPK = re.compile(r"^([^_\-]+)[_\-]")


def _speaker(utt: str, folder: str) -> str:
    m = _SPK.match(utt)
    if m:
        return m.group(1)
    parent = os.path.dirname(folder)  # .../<spk>/<chapter>
    return os.path.basename(parent) or os.path.basename(folder)


def _chapter_transcripts(ctx: ReadContext, folder: str, which: str) -> dict[str, tuple[str, str]]:
    """Chapter-level transcripts of a folder: LibriSpeech ``*.trans.txt`` and LibriTTS ``*.trans.tsv``."""
    out: dict[str, tuple[str, str]] = {}
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if name.endswith(".trans.txt"):
            for n, line in iter_lines(ctx, path):
                parts = line.split(None, 1)
                where = ctx.where(path, n)
                if len(parts) < 2:
                    ctx.problem(parts[0], where, "malformed_line", "expected `<utt> <transcript>`")
                    continue
                _put(ctx, out, parts[0], parts[1].strip(), where)
        elif name.endswith(".trans.tsv"):
            for n, line in iter_lines(ctx, path):
                parts = line.split("\t")
                where = ctx.where(path, n)
                if len(parts) < 3:
                    ctx.problem(parts[0], where, "malformed_line", "expected `<utt>\\t<original>\\t<normalized>`")
                    continue
                _put(ctx, out, parts[0], (parts[2] if which == "normalized" else parts[1]).strip(), where)
    return out


def _put(ctx: ReadContext, out: dict, utt: str, text: str, where: str) -> None:
    if utt in out:
        ctx.problem(utt, where, "duplicate_id", f"transcript already given at {out[utt][1]}")
        return
    out[utt] = (text, where)
