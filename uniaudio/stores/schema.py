"""Arrow schemas of the three Delta tables: the token store, its quarantine, and the example store.

These are the contracts between tokenization (writer), example building (reader + writer) and
training (reader); docs/STORES.md explains each column. Readable without the project's code: plain
Parquet + Delta log, ids as int16 lists (Parquet stores them as INT32 with dictionary + zstd).

Token store: one row per utterance, partitioned by ``dataset``. Codec tokens go in one column per
codebook (``codes_0..codes_{n_q-1}``): per-codebook columns compress to ~10 bits/token, a flattened
interleaved column to 12-15. Continuous text embeddings are float16 bytes (Delta has no half type).

>>> token_store_schema(3).field("codes_2").type
ListType(list<item: int16>)
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

# Bump when a column is added/changed; readers check it against the table's metadata.
SCHEMA_VERSION = "1"

I16_LIST = pa.list_(pa.int16())
I32_LIST = pa.list_(pa.int32())

# Audio roles besides the row's own audio (= the generation target) that get tokenized.
# source: the noisy / mixed / reverberant / pre-edit / masked input of SE, TSE, dereverb, audio edit.
# enrolment: TSE's reference utterance of the target speaker, when the simulator recorded one.
PAIRED_ROLES = ("source", "enrolment")

# Text columns that get a continuous embedding (stored as ``<name>_emb``).
EMBEDDED_TEXT = ("caption", "instruction")


def codes_columns(n_q: int, prefix: str = "") -> list[str]:
    return [f"{prefix}codes_{k}" for k in range(n_q)]


def token_store_schema(n_q: int = 3) -> pa.Schema:
    fields = [
        pa.field("dataset", pa.string(), nullable=False),
        pa.field("utt_id", pa.string(), nullable=False),
        pa.field("fingerprint", pa.string(), nullable=False),
        pa.field("tokenizer_version", pa.string(), nullable=False),
        pa.field("source_uri", pa.string(), nullable=False),
        pa.field("start_s", pa.float64()),
        pa.field("end_s", pa.float64()),
        pa.field("duration_s", pa.float32(), nullable=False),
        pa.field("speaker", pa.string()),
        pa.field("text", pa.string()),
        pa.field("caption", pa.string()),
        pa.field("instruction", pa.string()),
        pa.field("lyrics", pa.string()),
        pa.field("tasks", pa.list_(pa.string())),
        pa.field("extra_json", pa.string()),
        pa.field("n_frames", pa.int32(), nullable=False),
    ]
    fields += [pa.field(c, I16_LIST) for c in codes_columns(n_q)]
    for role in PAIRED_ROLES:
        fields += [pa.field(f"{role}_audio_uri", pa.string()), pa.field(f"{role}_n_frames", pa.int32())]
        fields += [pa.field(c, I16_LIST) for c in codes_columns(n_q, f"{role}_")]
    fields += [
        pa.field("phones", I16_LIST),
        pa.field("semantic", I16_LIST),
        pa.field("text_ids", I16_LIST),
        pa.field("sing_phone", I16_LIST),
        pa.field("sing_midi", I16_LIST),
    ]
    for name in EMBEDDED_TEXT:
        fields += [pa.field(f"{name}_emb", pa.binary()), pa.field(f"{name}_emb_dim", pa.int16())]
    return pa.schema(fields, metadata={"uniaudio.table": "tokens", "uniaudio.schema_version": SCHEMA_VERSION})


def quarantine_schema() -> pa.Schema:
    return pa.schema(
        [
            pa.field("dataset", pa.string(), nullable=False),
            pa.field("utt_id", pa.string()),
            pa.field("fingerprint", pa.string()),
            pa.field("tokenizer_version", pa.string(), nullable=False),
            pa.field("source_uri", pa.string()),
            pa.field("stage", pa.string(), nullable=False),  # read / decode / validate / tokenize:<name>
            pa.field("reason", pa.string(), nullable=False),  # short code: missing, silent, too_short, g2p_failed...
            pa.field("detail", pa.string()),
            pa.field("run_id", pa.string()),
            pa.field("created_at", pa.timestamp("us", tz="UTC")),
        ],
        metadata={"uniaudio.table": "quarantine", "uniaudio.schema_version": SCHEMA_VERSION},
    )


def example_store_schema() -> pa.Schema:
    """One training example per row: the complete frame sequence and its loss span."""
    return pa.schema(
        [
            pa.field("task", pa.string(), nullable=False),
            pa.field("dataset", pa.string(), nullable=False),
            pa.field("example_id", pa.string(), nullable=False),  # unique within the table
            pa.field("split", pa.string(), nullable=False),  # train / valid
            pa.field("n_q", pa.int8(), nullable=False),
            pa.field("n_frames", pa.int32(), nullable=False),
            pa.field("prefix_len", pa.int32(), nullable=False),  # loss span = [prefix_len, n_frames)
            pa.field("frames", I16_LIST, nullable=False),  # global ids, frame-major, length n_frames * n_q
            pa.field("cont_positions", I32_LIST),  # frame index of each continuous placeholder
            pa.field("cont_values", pa.binary()),  # float16 [len(cont_positions), cont_dim], row-major
            pa.field("cont_dim", pa.int16()),
            pa.field("utt_ids", pa.list_(pa.string())),  # every token-store row the example used
            pa.field("fingerprint", pa.string(), nullable=False),  # hash of the inputs (incremental builds)
            pa.field("vocab_hash", pa.string(), nullable=False),
            pa.field("tokens_version", pa.int64(), nullable=False),  # Delta version of the token store read
        ],
        metadata={"uniaudio.table": "examples", "uniaudio.schema_version": SCHEMA_VERSION},
    )


def pack_f16(values: np.ndarray) -> tuple[bytes, int]:
    """[L, D] floats -> (float16 little-endian bytes, D)."""
    arr = np.ascontiguousarray(np.asarray(values, dtype="<f2"))
    if arr.ndim != 2:
        raise ValueError(f"expected [L, D], got {arr.shape}")
    return arr.tobytes(), int(arr.shape[1])


def unpack_f16(blob: bytes | None, dim: int | None) -> np.ndarray:
    """Inverse of :func:`pack_f16` -> float32 [L, D] (an empty [0, D] when missing)."""
    if not blob or not dim:
        return np.zeros((0, int(dim or 0)), dtype=np.float32)
    return np.frombuffer(blob, dtype="<f2").reshape(-1, int(dim)).astype(np.float32)
