"""Reader ``aishell3``: the AISHELL-3 multi-speaker Mandarin speech corpus in its native layout.

::

    <root>/train/content.txt                 "<id>.wav<TAB>广 guang3 州 zhou1 ..." per line
    <root>/train/wav/<speaker>/<id>.wav      speaker = SSB + 4 digits = the first 7 id characters
    <root>/test/...                          the same (``splits`` option)

``utt_id`` = the wav stem, ``speaker`` = its folder, ``text`` = the characters (what ASR learns to
write), ``extra["pinyin"]`` = the annotated toned syllables (what the phone tokenizer reads, so the
annotators' polyphone readings are used, not a G2P guess), ``extra["language"]`` = ``zh``. Prosody
marks some releases put between the pairs (``%``, ``$``) are dropped. A line whose rest is not
character/syllable pairs is ``malformed_line``; a listed id without its wav is ``missing_audio``.
"""

from __future__ import annotations

import os
import re

from pipelines.sources.context import ReadContext, iter_lines
from pipelines.sources.manifest import ManifestRow
from pipelines.sources.registry import ReaderOptions, register_reader
from uniaudio.config import ConfigError

_SYL = re.compile(r"^[a-zü]+[1-5]$")


class Aishell3Options(ReaderOptions):
    splits: list[str] = ["train", "test"]  # sub-folders read; missing ones are skipped (at least one must exist)


@register_reader("aishell3", Aishell3Options)
def read_aishell3(ctx: ReadContext, root: str, opts: Aishell3Options) -> None:
    """AISHELL-3: <split>/content.txt (id.wav + char/pinyin pairs) + <split>/wav/<spk>/<id>.wav."""
    found = [s for s in opts.splits if os.path.isfile(os.path.join(root, s, "content.txt"))]
    if not found:
        raise ConfigError(f"dataset {ctx.dataset!r}: no {' / '.join(s + '/content.txt' for s in opts.splits)} in {root}")
    for split in found:
        path = os.path.join(root, split, "content.txt")
        for n, line in iter_lines(ctx, path):
            where = ctx.where(path, n)
            parts = line.split()
            name, rest = parts[0], [p for p in parts[1:] if p not in ("%", "$")]
            utt = name[:-4] if name.lower().endswith(".wav") else name
            chars, syls = rest[0::2], rest[1::2]
            if not rest or len(chars) != len(syls) or not all(_SYL.match(s) for s in syls):
                ctx.problem(utt, where, "malformed_line", "expected <id>.wav then character / toned-pinyin pairs")
                continue
            speaker = utt[:7]
            audio = ctx.resolve(os.path.join(root, split, "wav", speaker, utt + ".wav"), where, utt, kind="audio")
            if audio is None:
                continue
            ctx.add(ManifestRow(ctx.dataset, utt, audio, text="".join(chars), speaker=speaker,
                                extra={"language": "zh", "pinyin": " ".join(syls), "split": split}), where)
