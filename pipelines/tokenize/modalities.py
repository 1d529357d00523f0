"""Per-modality tokenizers for a block of decoded rows (CPU, inside the Ray task after decoding).

Which tokenizers run for a row follows from the tasks it can serve (:mod:`pipelines.tokenize.needs`):
phones for TTS-like tasks, UTF-8 text ids for ASR, semantic units for VC, caption / instruction
embeddings (float16, :func:`uniaudio.stores.schema.pack_f16`) for text-to-sound/music, audio edit and
instructed TTS, and lyric phones + MIDI on the 50 Hz grid for singing. Text embeddings run batched over
the block. A :class:`~uniaudio.tokenizers.TokenizeError` quarantines the row with stage
``tokenize:<name>`` and the tokenizer's reason (``g2p_failed``, ``no_notes``, ...). A row's
``extra["language"]`` (its dataset's ``language`` in the spec) picks the G2P (Mandarin -> pinyin);
``extra["pinyin"]`` (a corpus's own annotation) is read instead of G2P'ing the text; ``extra["score"]``
(a phone-aligned singing annotation) replaces the notes file (:mod:`uniaudio.tokenizers.sing_aligned`).
A speech-edit row without a span or word times of its own (real speech) is aligned here
(:mod:`pipelines.alignment`: whisper words refined by phones); the word times go into its
``extra_json`` for the example builder, and a failed alignment quarantines it (``tokenize:align``).

Models (MiniLM, k-means, CMUdict) load lazily once per worker process (``cached_asset``), and Ray
reuses task worker processes, so a model loads once per worker, not once per block.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import numpy as np

from uniaudio.stores.schema import pack_f16
from pipelines.tokenize.columns import is_ok, reject, wav_of
from pipelines.tokenize.needs import missing_inputs, modalities_for, usable_tasks

# Modality -> the tokenizer (key of build_tokenizers) that computes it.
TOKENIZER_OF = {
    "phones": "phone",
    "text_ids": "text",
    "semantic": "semantic",
    "caption_emb": "text_emb",
    "instruction_emb": "text_emb",
    "singing": "sing",
}


@lru_cache(maxsize=4)
def _tokenizers(cfg_json: str) -> dict:
    from uniaudio.tokenizers import TokenizersConfig, build_tokenizers

    return build_tokenizers(TokenizersConfig(**json.loads(cfg_json)), codec_dir=None, check=False)


def row_fields(row: dict[str, Any]) -> dict[str, Any]:
    """The manifest fields :func:`~pipelines.tokenize.needs.usable_tasks` looks at."""
    return {
        "text": row.get("text"),
        "caption": row.get("caption"),
        "instruction": row.get("instruction"),
        "lyrics": row.get("lyrics"),
        "notes_uri": row.get("notes_uri"),
        "speaker": row.get("speaker"),
        "source": row.get("source_audio_uri"),
        "enrolment": row.get("enrolment_audio_uri"),
    }


def select_tasks(row: dict[str, Any]) -> dict[str, Any]:
    """Keep in ``row["tasks"]`` only the tasks its fields can serve; reject it when none can."""
    tasks = list(row.get("tasks") or [])
    fields = row_fields(row)
    usable = usable_tasks(tasks, fields)
    if not usable:
        missing = sorted({f for t in tasks for f in missing_inputs(t, fields)})
        return reject(row, "plan", "no_usable_task", f"tasks {', '.join(tasks)} need {', '.join(missing)}")
    row["tasks"] = usable
    return row


def _run(row: dict[str, Any], name: str, fn) -> Any:
    from uniaudio.tokenizers import TokenizeError

    try:
        return fn()
    except TokenizeError as err:
        reject(row, f"tokenize:{name}", err.reason, err.detail)
        return None


def tokenize_rows(rows: list[dict[str, Any]], tok_cfg_json: str, frame_hop: int = 320) -> list[dict[str, Any]]:
    """Fill the modality columns of the good rows in ``rows`` (in place); returns ``rows``."""
    from uniaudio.tokenizers import SingInput
    from uniaudio.tokenizers.sing_aligned import AlignedScore

    toks = _tokenizers(tok_cfg_json)
    embed: dict[str, list[int]] = {"caption": [], "instruction": []}
    for i, row in enumerate(rows):
        if not is_ok(row):
            continue
        mods = modalities_for(row["tasks"])
        extra = json.loads(row.get("extra_json") or "{}")
        lang = extra.get("language")
        if "speech_edit" in row["tasks"] and not (extra.get("edit_span") or extra.get("word_times")):
            _align(row, extra)
        if "phones" in mods and is_ok(row):
            seq = _run(row, "phone", lambda: toks["phone"].tokenize(extra.get("pinyin") or row["text"], language=lang))
            row["phones"] = None if seq is None else np.asarray(seq.ids, dtype=np.int16)
        if "text_ids" in mods and is_ok(row):
            row["text_ids"] = _run(row, "text", lambda: toks["text"].tokenize(row["text"]))
        if "semantic" in mods and is_ok(row):
            row["semantic"] = _run(row, "semantic", lambda: toks["semantic"].tokenize(wav_of(row).copy()))
        if "singing" in mods and is_ok(row):
            n_frames = -(-len(wav_of(row)) // frame_hop)
            seq = _run(row, "sing", lambda: toks["sing"].tokenize(SingInput(
                notes=row["notes_uri"], lyrics=row["lyrics"], num_frames=n_frames, offset_s=-(row.get("start_s") or 0.0),
                language=lang, aligned=AlignedScore.from_dict(extra["score"]) if extra.get("score") else None)))
            if seq is not None:
                row["sing_phone"], row["sing_midi"] = seq.phone_ids, seq.midi_ids
        for field in embed:
            if f"{field}_emb" in mods and is_ok(row):
                embed[field].append(i)
    for field, idx in embed.items():
        if idx:
            _embed(rows, idx, field, toks["text_emb"])
    return rows


def _align(row: dict[str, Any], extra: dict[str, Any]) -> None:
    from pipelines.alignment.words import AlignmentError, align

    try:
        al = align(wav_of(row), row.get("text") or "", extra.get("language") or "en")
    except AlignmentError as err:
        reject(row, "tokenize:align", err.reason, err.detail)
        return
    extra["word_times"] = [[round(a, 3), round(b, 3)] for a, b in al.word_times]
    extra["alignment"] = {"method": al.method, "matched": round(al.matched, 3)}
    row["extra_json"] = json.dumps(extra, sort_keys=True)


def _embed(rows: list[dict[str, Any]], idx: list[int], field: str, tok) -> None:
    from uniaudio.tokenizers import TokenizeError

    try:
        states = tok.tokenize_batch([rows[i][field] for i in idx])
    except TokenizeError:
        states = [_run(rows[i], "text_emb", lambda i=i: tok.tokenize(rows[i][field])) for i in idx]
    for i, s in zip(idx, states):
        if s is not None and is_ok(rows[i]):
            rows[i][f"{field}_emb"], rows[i][f"{field}_emb_dim"] = pack_f16(s)


def required_tokenizers(tasks: list[str]) -> set[str]:
    """Tokenizer names (keys of ``build_tokenizers``) the given tasks need."""
    return {TOKENIZER_OF[m] for m in modalities_for(tasks)}
