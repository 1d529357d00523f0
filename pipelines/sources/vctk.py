"""Reader ``vctk``: the CSTR VCTK corpus layout (0.80 and 0.92).

::

    <root>/wav48_silence_trimmed/p225/p225_001_mic1.flac   (0.92; also _mic2)
    <root>/wav48/p225/p225_001.wav                         (0.80)
    <root>/txt/p225/p225_001.txt

``audio_dir: auto`` picks the first of ``wav48_silence_trimmed``, ``wav48``, ``wav16`` that exists.
``utt_id`` = audio file stem (``p225_001_mic1``), ``speaker`` = its folder (``p225``), transcript =
``txt/<spk>/<stem without _micN>.txt``. ``mic`` selects ``mic1`` / ``mic2`` / ``both`` for 0.92 files.
An utterance without a transcript (the real corpus has some, e.g. all of p315) is reported as
``missing_transcript`` when ``require_text``; a transcript without audio as ``missing_audio``.
"""

from __future__ import annotations

import os
import re
from typing import Literal

from pipelines.sources.context import AUDIO_EXTS, ReadContext, read_text_file, walk_files
from pipelines.sources.manifest import ManifestRow
from pipelines.sources.registry import ReaderOptions, register_reader
from uniaudio.config import ConfigError

AUDIO_DIRS = ("wav48_silence_trimmed", "wav48", "wav16")
_MIC = re.compile(r"^(.*)_(mic[12])$")


class VctkOptions(ReaderOptions):
    audio_dir: str = "auto"
    txt_dir: str = "txt"
    mic: Literal["mic1", "mic2", "both"] = "mic1"
    require_text: bool = True


@register_reader("vctk", VctkOptions)
def read_vctk(ctx: ReadContext, root: str, opts: VctkOptions) -> None:
    """VCTK: wav48[_silence_trimmed]/pXXX/*.wav|.flac + txt/pXXX/*.txt."""
    audio_dir = _audio_dir(ctx, root, opts.audio_dir)
    txt_root = os.path.join(root, opts.txt_dir)
    with_audio: set[str] = set()  # "spk/base" of transcripts that have audio
    for audio in walk_files(ctx, audio_dir, AUDIO_EXTS):
        stem = os.path.splitext(os.path.basename(audio))[0]
        m = _MIC.match(stem)
        base, mic = (m.group(1), m.group(2)) if m else (stem, None)
        if mic is not None and opts.mic != "both" and mic != opts.mic:
            continue  # the other microphone: a documented selection, not a problem
        speaker = os.path.basename(os.path.dirname(audio))
        where = ctx.where(audio)
        with_audio.add(f"{speaker}/{base}")  # even if unusable: its problem is reported once, below
        uri = ctx.resolve(audio, where, stem, kind="audio")
        if uri is None:
            continue
        txt = os.path.join(txt_root, speaker, base + ".txt")
        text = None
        if os.path.isfile(txt):
            if ctx.resolve(txt, ctx.where(txt), stem, kind="transcript") is None:
                continue
            text = read_text_file(ctx, txt, stem)
            if text is None:
                continue
        elif opts.require_text:
            ctx.problem(stem, where, "missing_transcript", f"no {os.path.relpath(txt, root)}")
            continue
        extra = {"mic": mic} if mic else {}
        ctx.add(ManifestRow(ctx.dataset, stem, uri, text=text, speaker=speaker, extra=extra), where)
    if os.path.isdir(txt_root):
        for txt in walk_files(ctx, txt_root, (".txt",)):
            key = f"{os.path.basename(os.path.dirname(txt))}/{os.path.splitext(os.path.basename(txt))[0]}"
            if key not in with_audio:
                ctx.problem(key.split("/")[1], ctx.where(txt), "missing_audio", "transcript has no audio file")


def _audio_dir(ctx: ReadContext, root: str, name: str) -> str:
    names = AUDIO_DIRS if name == "auto" else (name,)
    for n in names:
        path = os.path.join(root, n)
        if os.path.isdir(path):
            return path
    raise ConfigError(f"dataset {ctx.dataset!r}: no audio folder ({' / '.join(names)}) in {root}")
