"""Write finished items in the folder layouts the readers of :mod:`pipelines.sources` read.

An *item* is a plain dict: ``utt_id``, ``audio`` (path relative to the dataset folder), optional
``text``, ``speaker``, ``caption``, ``instruction``, ``lyrics``, ``notes`` (relative path), ``paired``
(role -> relative path), ``extra`` (JSON values), and ``duration_s`` (kept for the summary; not a
layout field). Every writer sorts by ``utt_id`` and uses fixed separators, so the same items always
give the same bytes.

Layouts: ``kaldi`` (wav.scp / text / utt2spk / spk2utt), ``manifest`` (manifest.jsonl), ``captions``
(captions.csv with ``utt_id,audio,caption``), ``singing`` (``<utt>.wav`` + ``<utt>.txt`` lyrics +
``<utt>.mid`` notes, and ``utt2spk``).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

MANIFEST_KEYS = ("utt_id", "audio", "start_s", "end_s", "text", "speaker", "caption", "instruction", "lyrics",
                 "notes", "paired", "extra")


def _sorted(items: list[dict]) -> list[dict]:
    ids = [it["utt_id"] for it in items]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:  # a builder bug, not user input: fail loudly rather than write a corpus the reader rejects
        raise ValueError(f"duplicate utt ids in demo items: {dup[:5]}")
    return sorted(items, key=lambda it: it["utt_id"])


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def write_kaldi(folder: Path, items: list[dict]) -> None:
    """Kaldi data dir. Utt ids start with the speaker id, so sorting by utt keeps speakers together
    (Kaldi's own tools require that)."""
    items = _sorted(items)
    for it in items:
        if not it["utt_id"].startswith(it["speaker"]):
            raise ValueError(f"kaldi utt id {it['utt_id']!r} must start with its speaker {it['speaker']!r}")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "wav.scp").write_text("".join(f"{it['utt_id']} {it['audio']}\n" for it in items))
    (folder / "text").write_text("".join(f"{it['utt_id']} {_one_line(it['text'])}\n" for it in items))
    (folder / "utt2spk").write_text("".join(f"{it['utt_id']} {it['speaker']}\n" for it in items))
    spk: dict[str, list[str]] = {}
    for it in items:
        spk.setdefault(it["speaker"], []).append(it["utt_id"])
    (folder / "spk2utt").write_text("".join(f"{s} {' '.join(u)}\n" for s, u in sorted(spk.items())))


def manifest_record(it: dict) -> dict[str, Any]:
    """The manifest-reader keys of one item (absent values left out)."""
    rec = {k: it[k] for k in MANIFEST_KEYS if it.get(k) not in (None, {}, "")}
    for k in ("text", "caption", "instruction", "lyrics"):
        if k in rec:
            rec[k] = _one_line(rec[k])
    return rec


def write_manifest(folder: Path, items: list[dict], name: str = "manifest.jsonl") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(manifest_record(it), sort_keys=True, ensure_ascii=False) for it in _sorted(items)]
    (folder / name).write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def write_captions(folder: Path, items: list[dict], name: str = "captions.csv") -> None:
    """AudioCaps-style captions CSV: ``utt_id,audio,caption``."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / name, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["utt_id", "audio", "caption"])
        for it in _sorted(items):
            w.writerow([it["utt_id"], it["audio"], _one_line(it["caption"])])


def write_singing(folder: Path, items: list[dict]) -> None:
    """Singing folder: the audio/lyrics/notes files are already in place as ``<utt>.*``; this writes
    the lyrics text files and ``utt2spk`` and checks the names line up."""
    folder.mkdir(parents=True, exist_ok=True)
    for it in _sorted(items):
        stem = it["utt_id"]
        if it["audio"] != f"{stem}.wav" or it["notes"] != f"{stem}.mid":
            raise ValueError(f"singing item {stem!r} must be {stem}.wav + {stem}.mid in the folder root")
        (folder / f"{stem}.txt").write_text(_one_line(it["lyrics"]) + "\n", encoding="utf-8")
    (folder / "utt2spk").write_text("".join(f"{it['utt_id']} {it['speaker']}\n" for it in _sorted(items)))


WRITERS = {"kaldi": write_kaldi, "manifest": write_manifest, "captions": write_captions, "singing": write_singing}
