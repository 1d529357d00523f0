"""Reader ``opencpop``: the OpenCpop Mandarin singing corpus in its native layout.

::

    <root>/transcriptions.txt        (or <root>/segments/transcriptions.txt; ``transcriptions`` option)
    <root>/wavs/<id>.wav             (beside the transcriptions file)

Each line: ``id|text|phones|note pitches|note durations|phone durations|slur flags``, the last five
space-separated with one entry per phone (``n i h ao AP`` / ``C#4/Db4 ... rest`` / seconds / seconds
/ 0-1). ``utt_id`` = id, ``lyrics`` = text, ``speaker`` = the ``singer`` option (OpenCpop has one
singer). The annotation becomes ``extra["score"]`` (phones, phone durations, pitches, slurs: see
:mod:`uniaudio.tokenizers.sing_aligned`), which the singing tokenizer rasterises as annotated;
``notes_uri`` is the transcriptions file (what the notes come from, and what the fingerprint covers).
``extra["language"]`` = ``zh`` unless the spec sets another. A line with the wrong number of fields
or entries is ``malformed_line``; an id without ``wavs/<id>.wav`` is ``missing_audio``.
"""

from __future__ import annotations

import os

from pipelines.sources.context import ReadContext, iter_lines, seconds
from pipelines.sources.manifest import ManifestRow
from pipelines.sources.registry import ReaderOptions, register_reader
from uniaudio.config import ConfigError

CANDIDATES = ("transcriptions.txt", os.path.join("segments", "transcriptions.txt"))


class OpencpopOptions(ReaderOptions):
    transcriptions: str = "auto"  # a path relative to the root; auto = the first of CANDIDATES that exists
    singer: str = "opencpop"


def transcription_file(ctx: ReadContext, root: str, name: str) -> str:
    for cand in (CANDIDATES if name == "auto" else (name,)):
        path = os.path.join(root, cand)
        if os.path.isfile(path):
            return path
    raise ConfigError(f"dataset {ctx.dataset!r}: no {' / '.join(CANDIDATES if name == 'auto' else (name,))} in {root}")


@register_reader("opencpop", OpencpopOptions)
def read_opencpop(ctx: ReadContext, root: str, opts: OpencpopOptions) -> None:
    """OpenCpop: transcriptions.txt (id|text|phones|notes|note durs|phone durs|slurs) + wavs/<id>.wav."""
    path = transcription_file(ctx, root, opts.transcriptions)
    wav_dir = os.path.join(os.path.dirname(path), "wavs")
    for n, line in iter_lines(ctx, path):
        where = ctx.where(path, n)
        parts = [p.strip() for p in line.split("|")]
        if len(parts) != 7:
            ctx.problem(parts[0] or None, where, "malformed_line", f"expected 7 '|'-separated fields, got {len(parts)}")
            continue
        utt, text, phones, pitches, _note_durs, phone_durs, slurs = parts
        cols = [phones.split(), pitches.split(), phone_durs.split(), slurs.split()]
        if len({len(c) for c in cols}) != 1 or not cols[0]:
            ctx.problem(utt, where, "malformed_line", "phones, notes, phone durations and slur flags differ in "
                        f"length ({', '.join(str(len(c)) for c in cols)})")
            continue
        try:
            durs = [seconds(d) for d in cols[2]]
            flags = [int(s) for s in cols[3]]
        except ValueError as err:
            ctx.problem(utt, where, "malformed_line", f"bad duration or slur flag ({err})")
            continue
        audio = ctx.resolve(os.path.join(wav_dir, utt + ".wav"), where, utt, kind="audio")
        if audio is None:
            continue
        score = {"phones": cols[0], "durations": durs, "pitches": cols[1], "slurs": flags}
        ctx.add(ManifestRow(ctx.dataset, utt, audio, lyrics=text, speaker=opts.singer, notes_uri=path,
                            extra={"language": "zh", "score": score}), where)
