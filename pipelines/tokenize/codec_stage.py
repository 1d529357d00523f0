"""Codec encoding: an actor pool on GPU clusters (model loaded once per actor), CPU tasks otherwise.

Two forms of the same stage (``codec_pool.mode``): :class:`CodecEncoder` actors — the GPU form, one
actor per GPU holding the model — and :func:`encode_block` tasks — the CPU form, which keeps one
encoder per Ray worker process. Task workers outlive a job, so a run of many small tokenization jobs
(one per dataset, as the workflows do) loads torch and the codec once per worker instead of once per job
and per actor (``benchmarks/tokenize_throughput.py --small-jobs`` measures both forms side by side).

Ray Data hands :class:`CodecEncoder` blocks of ``batch_rows`` rows. Inside a block the audio items
(each row's own audio, plus its paired ``source`` / ``enrolment`` audio) go to the codec adapter of
:mod:`uniaudio.tokenizers.codec_tokens`, which sorts them by length and cuts them into sub-batches
whose padded size stays under ``tokenizers.codec.max_batch_samples`` (length bucketing: little compute
spent on padding, and the codec's batched encode equals encoding each item alone).

The stage is the last one: it replaces the audio by codes (``codes_k`` / ``<role>_codes_k`` int16
lists, ``n_frames`` / ``<role>_n_frames``) and drops the audio bytes before the block travels to the
committer.
"""

from __future__ import annotations

from pydantic import Field

from typing import Any, Literal

import numpy as np
import pyarrow as pa

from pipelines.tokenize.columns import AUDIO_COLUMNS, CODES_PREFIX, from_table, is_ok, reject, to_table, wav_of
from uniaudio.config import ConfigBase


class CodecPoolConfig(ConfigBase):
    """How the codec actor pool runs (what it computes is ``tokenizers.codec``)."""

    actors: int = Field(1, ge=1)  # pool size: 1 on a small CPU box, one per GPU on a GPU node
    actor_cpus: float = Field(1.0, gt=0.0)  # lowered automatically when it would starve the CPU stages of a small cluster
    num_gpus: float | None = Field(None, ge=0.0)  # per actor; None = 1 when the cluster has GPUs, else 0
    batch_rows: int = Field(32, ge=1)  # rows per actor call: the window inside which items are bucketed by length
    torch_threads: int = Field(1, ge=1)  # intra-op threads per CPU actor (match actor_cpus)
    # "auto": actors when the stage gets GPUs, else tasks (the encoder cached per worker process)
    mode: Literal["auto", "actors", "tasks"] = "auto"


class CodecEncoder:
    """Ray Data callable class: ``map_batches(CodecEncoder, fn_constructor_kwargs=..., compute=...)``.

    Constructed once per actor: the codec loads here, not per block.
    """

    def __init__(self, codec_dir: str, codec_cfg: dict[str, Any], torch_threads: int = 1):
        import torch

        from uniaudio.tokenizers import CodecTokConfig, CodecTokenizer

        cfg = CodecTokConfig(**codec_cfg)
        if cfg.device == "cpu":
            from uniaudio.allocator import keep_freed_memory

            torch.set_num_threads(max(1, torch_threads))
            keep_freed_memory()  # a dedicated encoding actor: keep freed activations for reuse (~2x on CPU)
        self.n_q = cfg.n_q
        self.tok = CodecTokenizer(cfg, codec_dir=codec_dir)
        _ = self.tok.codec  # load now: a broken checkpoint fails the pool at start, not mid-job

    def _encode(self, wavs: list[np.ndarray]) -> list[np.ndarray | BaseException]:
        try:
            return list(self.tok.tokenize_batch(wavs))
        except (ValueError, RuntimeError):
            # One bad item must not sink the block: retry one by one so only the culprit is rejected.
            out: list[np.ndarray | BaseException] = []
            for w in wavs:
                try:
                    out.append(self.tok.tokenize(w))
                except (ValueError, RuntimeError) as err:
                    out.append(err)
            return out

    def __call__(self, table: pa.Table) -> pa.Table:
        rows = from_table(table)
        items: list[tuple[int, str]] = []
        for i, row in enumerate(rows):
            if is_ok(row):
                items += [(i, col) for col in AUDIO_COLUMNS if row.get(col) is not None]
        codes = self._encode([wav_of(rows[i], col) for i, col in items]) if items else []
        for (i, col), c in zip(items, codes):
            row = rows[i]
            if not is_ok(row):
                continue
            if isinstance(c, BaseException):
                reason = getattr(c, "reason", "codec_failed")
                reject(row, "tokenize:codec", CODES_PREFIX[col] + reason, str(c)[:300])
                continue
            prefix = CODES_PREFIX[col]
            for k in range(self.n_q):
                row[f"{prefix}codes_{k}"] = c[:, k]
            row[f"{prefix}n_frames"] = int(c.shape[0])
        for row in rows:
            for col in AUDIO_COLUMNS:
                row[col] = None
        return to_table(rows, self.n_q)


#: the CPU form's encoder of this worker process: (key, encoder); one codec at a time
_WORKER_ENCODER: list[tuple[tuple, CodecEncoder]] = []


def _codec_key(codec_dir: str, codec_cfg: dict[str, Any], torch_threads: int) -> tuple:
    """Identity of a loaded encoder: the settings and the codec files as they are now (a codec retrained
    into the same folder is a new key)."""
    import json
    from pathlib import Path

    from uniaudio.stores import uri as uris

    if uris.is_remote(codec_dir):  # s3://: the objects' names and sizes (loaded via the node cache)
        files = tuple(uris.list_files(codec_dir, recursive=False))
    else:
        files = tuple(sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns)
                             for p in Path(uris.local_path(codec_dir)).iterdir() if p.is_file()))
    return codec_dir, json.dumps(codec_cfg, sort_keys=True), torch_threads, files


def encode_block(table: pa.Table, codec_dir: str, codec_cfg: dict[str, Any], torch_threads: int = 1) -> pa.Table:
    """The codec stage as a Ray Data task (``codec_pool.mode`` tasks): same output as :class:`CodecEncoder`."""
    key = _codec_key(codec_dir, codec_cfg, torch_threads)
    if not _WORKER_ENCODER or _WORKER_ENCODER[0][0] != key:
        _WORKER_ENCODER.clear()
        _WORKER_ENCODER.append((key, CodecEncoder(codec_dir, codec_cfg, torch_threads)))
    return _WORKER_ENCODER[0][1](table)
