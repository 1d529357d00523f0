"""A dataset's language (``language:`` of its spec entry) stamped onto its rows as ``extra["language"]``.

Why on the row and not looked up from the spec at tokenization: the tokenizers then see one row at a
time with everything they need (the phone and singing tokenizers choose their G2P by it: Mandarin ->
pinyin, another language -> espeak-ng with that language), and the language is part of the row's
fingerprint, so changing a dataset's language re-tokenizes exactly that dataset. A reader may set a
default itself (the Mandarin corpora's readers write ``zh``); the spec's value wins.

>>> from pipelines.sources.manifest import ManifestRow
>>> ctx = ReadContext("d", "/")
>>> ctx.result.rows.append(ManifestRow("d", "u1", "/a.wav", text="你好", fingerprint="x"))
>>> stamp_language(ctx, "zh")
>>> ctx.result.rows[0].extra, ctx.result.rows[0].fingerprint != "x"
({'language': 'zh'}, True)
"""

from __future__ import annotations

from dataclasses import replace

from pipelines.sources.context import ReadContext
from pipelines.sources.fingerprint import fingerprint_row


def stamp_language(ctx: ReadContext, language: str) -> None:
    """Set ``extra["language"]`` on every row read so far and re-fingerprint the changed ones."""
    rows = ctx.result.rows
    for i, row in enumerate(rows):
        if row.extra.get("language") == language:
            continue
        new = replace(row, extra={**dict(row.extra), "language": language}, fingerprint="")
        rows[i] = new.with_fingerprint(fingerprint_row(new, ctx.policy, ctx.digests))
