"""The CPU stage of the job, one Ray task per block: task selection -> decode/validate -> modalities.

Kept as one function so Ray runs it as one task per block (no intermediate blocks of raw audio
between CPU steps); the codec runs after it in its own actor pool (:mod:`codec_stage`).
:func:`cpu_stage` is also what the single-process baseline of ``benchmarks/tokenize_throughput.py``
calls, so the benchmark compares the same work.
"""

from __future__ import annotations

import pyarrow as pa

from pipelines.tokenize.columns import AUDIO_COLUMNS, from_table, is_ok, to_table
from pipelines.tokenize.decode import AudioCheckConfig, decode_row
from pipelines.tokenize.modalities import select_tasks, tokenize_rows


def cpu_stage(table: pa.Table, audio_cfg: dict, tok_cfg_json: str, n_q: int, run_modalities: bool = True,
              without_codec: bool = False) -> pa.Table:
    """One block of carrier rows -> the same rows decoded and tokenized (or rejected with a reason).

    ``without_codec`` (a dry run, used by the throughput benchmark): no codec stage follows, so the
    audio is dropped here and ``n_frames`` is set from the sample count.
    """
    cfg = AudioCheckConfig(**audio_cfg)
    rows = [select_tasks(r) for r in from_table(table)]
    rows = [decode_row(r, cfg) if is_ok(r) else r for r in rows]
    if run_modalities:
        tokenize_rows(rows, tok_cfg_json)
    if without_codec:
        drop_audio(rows)
    return to_table(rows, n_q)


def drop_audio(rows: list[dict], hop: int = 320) -> None:
    """Replace the decoded audio by its frame count (what remains when no codec runs)."""
    for row in rows:
        if is_ok(row) and row.get("wav") is not None:
            row["n_frames"] = -(-len(row["wav"]) // (4 * hop))  # float32 bytes -> samples -> frames
        for col in AUDIO_COLUMNS:
            row[col] = None
