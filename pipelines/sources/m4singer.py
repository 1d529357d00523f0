"""Reader ``m4singer``: the M4Singer multi-singer Mandarin singing corpus in its native layout.

::

    <root>/meta.json                       a JSON list, one object per sentence
    <root>/<singer>#<song>/<sentence>.wav  (its .mid / .TextGrid beside it are not needed)

Each object: ``item_name`` (``<singer>#<song>#<sentence>``), ``txt`` (lyrics), ``phs`` (phones, with
``<SP>`` / ``<AP>`` for silence / breath), ``ph_dur`` (seconds per phone), ``notes`` (MIDI number per
phone, 0 = rest), ``notes_dur`` and ``is_slur`` (per phone). ``wav_fn``, when present, overrides the
derived audio path. ``utt_id`` = ``item_name`` (whitespace -> ``_``), ``speaker`` = its singer part,
``lyrics`` = ``txt``; the annotation becomes ``extra["score"]`` (phone-aligned, see
:mod:`uniaudio.tokenizers.sing_aligned`), ``notes_uri`` = meta.json, ``extra["language"]`` = ``zh``.
An object lacking a field, or whose per-phone lists differ in length, is ``malformed_line``
(``where`` = ``meta.json:#<index>``).
"""

from __future__ import annotations

import json
import math
import os

from pipelines.sources.context import ReadContext
from pipelines.sources.manifest import ManifestRow
from pipelines.sources.registry import ReaderOptions, register_reader
from uniaudio.config import ConfigError

FIELDS = ("item_name", "txt", "phs", "ph_dur", "notes", "is_slur")


class M4singerOptions(ReaderOptions):
    meta: str = "meta.json"


@register_reader("m4singer", M4singerOptions)
def read_m4singer(ctx: ReadContext, root: str, opts: M4singerOptions) -> None:
    """M4Singer: meta.json (item_name, txt, phs, ph_dur, notes, is_slur) + <singer>#<song>/<id>.wav."""
    path = os.path.join(root, opts.meta)
    try:
        with open(path, encoding="utf-8") as f:
            items = json.load(f)
    except FileNotFoundError:
        raise ConfigError(f"dataset {ctx.dataset!r}: no {opts.meta} in {root}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ConfigError(f"dataset {ctx.dataset!r}: {path} is not a UTF-8 JSON list ({err})") from None
    if not isinstance(items, list):
        raise ConfigError(f"dataset {ctx.dataset!r}: {path} must hold a JSON list of sentences")
    for i, it in enumerate(items):
        where = f"{ctx.where(path)}:#{i}"
        name = it.get("item_name") if isinstance(it, dict) else None
        missing = [k for k in FIELDS if not isinstance(it, dict) or it.get(k) in (None, "")]
        if missing:
            ctx.problem(name if isinstance(name, str) else None, where, "malformed_line", f"missing {', '.join(missing)}")
            continue
        bits = name.split("#")
        if len(bits) != 3:
            ctx.problem(name, where, "malformed_line", "item_name must be <singer>#<song>#<sentence>")
            continue
        utt = "_".join(name.split())
        phs, durs, notes, slurs = it["phs"], it["ph_dur"], it["notes"], it["is_slur"]
        phs = phs.split() if isinstance(phs, str) else phs
        if not all(isinstance(x, list) for x in (phs, durs, notes, slurs)) or len({len(phs), len(durs), len(notes), len(slurs)}) != 1:
            ctx.problem(utt, where, "malformed_line", "phs, ph_dur, notes and is_slur must be lists of one length")
            continue
        if not all(isinstance(d, (int, float)) and math.isfinite(d) and d >= 0 for d in durs):
            ctx.problem(utt, where, "malformed_line", "ph_dur must be seconds >= 0")
            continue
        wav = it.get("wav_fn") or os.path.join(f"{bits[0]}#{bits[1]}", f"{bits[2]}.wav")
        audio = ctx.resolve(wav, where, utt, kind="audio")
        if audio is None:
            continue
        score = {"phones": list(phs), "durations": [float(d) for d in durs], "pitches": list(notes),
                 "slurs": [int(bool(s)) for s in slurs]}
        ctx.add(ManifestRow(ctx.dataset, utt, audio, lyrics=it["txt"], speaker=bits[0], notes_uri=path,
                            extra={"language": "zh", "score": score}), where)
