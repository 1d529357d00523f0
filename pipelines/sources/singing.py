"""Reader ``singing``: sung audio with lyrics and a score (MIDI or MusicXML), one stem per utterance.

::

    <root>/[any/sub/folders/]<utt>.wav|.flac   the singing
                              <utt>.txt         lyrics (whitespace-collapsed into `lyrics`)
                              <utt>.mid|.midi   notes, or <utt>.musicxml|.xml|.mxl
    <root>/utt2spk                              optional "<utt> <singer>" lines

``utt_id`` = file stem. When several score files share a stem the first of ``.mid``, ``.midi``,
``.musicxml``, ``.xml``, ``.mxl`` is used. The score is not parsed here (the singing tokenizer does
that); a missing or empty one is ``missing_notes`` (when ``require_notes``), missing lyrics are
``missing_lyrics`` (when ``require_lyrics``), and a lyrics / score file without audio is reported
as ``missing_audio``. ``speaker`` comes from ``utt2spk`` or else from the ``speaker`` option.
"""

from __future__ import annotations

import os

from pipelines.sources.context import AUDIO_EXTS, ReadContext, iter_lines, read_text_file, walk_files
from pipelines.sources.manifest import ManifestRow
from pipelines.sources.registry import ReaderOptions, register_reader

NOTE_EXTS = (".mid", ".midi", ".musicxml", ".xml", ".mxl")


class SingingOptions(ReaderOptions):
    require_lyrics: bool = True
    require_notes: bool = True
    speaker: str | None = None  # singer for utterances not in utt2spk


@register_reader("singing", SingingOptions)
def read_singing(ctx: ReadContext, root: str, opts: SingingOptions) -> None:
    """Singing folder: <utt>.wav + <utt>.txt lyrics + <utt>.mid / .musicxml notes (+ utt2spk)."""
    singers = _utt2spk(ctx, os.path.join(root, "utt2spk"))
    stems_with_audio: set[str] = set()
    files = walk_files(ctx, root, AUDIO_EXTS + (".txt",) + NOTE_EXTS)
    for audio in [f for f in files if f.lower().endswith(AUDIO_EXTS)]:
        folder, name = os.path.split(audio)
        utt = os.path.splitext(name)[0]
        where = ctx.where(audio)
        stems_with_audio.add(os.path.join(folder, utt))  # even if unusable: reported once, below
        uri = ctx.resolve(audio, where, utt, kind="audio")
        if uri is None:
            continue
        lyrics = None
        lyr_path = os.path.join(folder, utt + ".txt")
        if os.path.isfile(lyr_path):
            if ctx.resolve(lyr_path, ctx.where(lyr_path), utt, kind="lyrics") is None:
                continue
            lyrics = read_text_file(ctx, lyr_path, utt, kind="lyrics")
            if lyrics is None:  # present but empty/undecodable: reported, row not used
                continue
        elif opts.require_lyrics:
            ctx.problem(utt, where, "missing_lyrics", f"no {utt}.txt beside the audio")
            continue
        notes_uri = None
        for ext in NOTE_EXTS:
            cand = os.path.join(folder, utt + ext)
            if os.path.isfile(cand):
                notes_uri = ctx.resolve(cand, ctx.where(cand), utt, kind="notes")
                if notes_uri is not None and os.path.getsize(notes_uri) == 0:
                    ctx.problem(utt, ctx.where(cand), "missing_notes", "empty score file")
                    notes_uri = None
                break
        else:
            cand = None
            if opts.require_notes:
                ctx.problem(utt, where, "missing_notes", f"no {utt}{{{','.join(NOTE_EXTS)}}} beside the audio")
                continue
        if cand is not None and notes_uri is None:  # present but unusable: reported above, row not used
            continue
        speaker = singers.get(utt, opts.speaker)
        ctx.add(ManifestRow(ctx.dataset, utt, uri, lyrics=lyrics, speaker=speaker, notes_uri=notes_uri), where)
    for side in files:
        if not side.lower().endswith(AUDIO_EXTS) and os.path.splitext(side)[0] not in stems_with_audio:
            ctx.problem(os.path.splitext(os.path.basename(side))[0], ctx.where(side), "missing_audio",
                        "lyrics/score file has no audio beside it")


def _utt2spk(ctx: ReadContext, path: str) -> dict[str, str]:
    out: dict[str, str] = {}
    if not os.path.isfile(path):
        return out
    for n, line in iter_lines(ctx, path):
        parts = line.split()
        if len(parts) != 2:
            ctx.problem(parts[0] if parts else None, ctx.where(path, n), "malformed_line", "expected `<utt> <singer>`")
            continue
        out[parts[0]] = parts[1]
    return out
