"""Chunked, atomic commits of the job's output: the crash-safety mechanism.

The driver streams finished blocks out of the Ray pipeline and buffers them; when the buffer holds
``chunk_mb`` of Arrow data (or ``chunk_rows`` rows) it appends them to the token store in ONE Delta
commit (:class:`uniaudio.stores.tables.TokenStore` writer), and the rejected rows of the same blocks to the quarantine.
A Delta commit is atomic (the log entry appears or it does not; files written by a killed commit are
never referenced), so a job killed at any point leaves the store holding whole chunks only. The next
run's anti-join (:mod:`pipelines.tokenize.plan`) skips every committed row and redoes the rest, so
kill + re-run yields every row exactly once. Inside a commit, each dataset partition is written as
files of at most ``target_file_mb`` (hundreds of MB in production: few, large shards).

Order: the quarantine commit of a chunk goes first. A kill between the two commits loses nothing:
rows in neither table are simply redone.
"""

from __future__ import annotations

from pydantic import Field

from collections import Counter
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from uniaudio.stores.tables import QuarantineStore, TokenStore
from pipelines.tokenize.quarantine import quarantine_uri, rejected_table
from uniaudio.config import ConfigBase

REQUIRED = ("dataset", "utt_id", "fingerprint", "source_uri", "duration_s", "n_frames")


class CommitConfig(ConfigBase):
    """How output is grouped into commits and files."""

    chunk_mb: float = Field(512.0, gt=0.0)  # in-memory Arrow size of the good rows of one commit
    chunk_rows: int = Field(200_000, ge=1)
    target_file_mb: float = Field(256.0, gt=0.0)  # Parquet shard size on disk, per partition


@dataclass
class CommitStats:
    commits: int = 0
    rows_out: int = 0
    rows_quarantined: int = 0
    audio_s: float = 0.0
    versions: list[int] = field(default_factory=list)
    out_by_dataset: Counter = field(default_factory=Counter)
    quarantined_by_dataset: Counter = field(default_factory=Counter)
    reasons: Counter = field(default_factory=Counter)  # "stage/reason" -> count


class Committer:
    """Buffer carrier blocks; commit good rows to ``store`` and rejected ones to its quarantine."""

    def __init__(self, store: str, n_q: int, cfg: CommitConfig, run_id: str, tokenizer_version: str):
        self.store, self.cfg, self.run_id, self.tv = store, cfg, run_id, tokenizer_version
        self._tokens = TokenStore.writer(store, int(cfg.target_file_mb * 2**20), n_q=n_q)
        self.schema = self._tokens.schema
        self.stats = CommitStats()
        self._good: list[pa.Table] = []
        self._bad: list[pa.Table] = []
        self._bytes = 0
        self._rows = 0

    def add(self, block: pa.Table) -> None:
        ok = pc.is_null(block.column("q_reason"))
        good = block.filter(ok)
        if good.num_rows:
            good = good.select([f.name for f in self.schema if f.name != "tokenizer_version"])
            good = good.append_column("tokenizer_version", pa.array([self.tv] * good.num_rows, pa.string()))
            self._good.append(good.select(self.schema.names))
            self._bytes += good.nbytes
            self._rows += good.num_rows
        if good.num_rows < block.num_rows:
            self._bad.append(rejected_table(block, self.tv, self.run_id))
        if self._bytes >= self.cfg.chunk_mb * 2**20 or self._rows >= self.cfg.chunk_rows:
            self.flush()

    def flush(self) -> None:
        """Commit whatever is buffered (quarantine first, then tokens)."""
        if not self._bad and not self._good:
            return
        props = {"uniaudio.job": "tokenize", "uniaudio.run_id": self.run_id,
                 "uniaudio.chunk": str(self.stats.commits), "uniaudio.tokenizer_version": self.tv}
        if self._bad:
            bad = pa.concat_tables(self._bad)
            QuarantineStore.writer(quarantine_uri(self.store)).append(bad, props)
            self.stats.rows_quarantined += bad.num_rows
            self.stats.quarantined_by_dataset.update(bad.column("dataset").to_pylist())
            self.stats.reasons.update(f"{s}/{r}" for s, r in zip(bad.column("stage").to_pylist(),
                                                                   bad.column("reason").to_pylist()))
            self._bad = []
        if self._good:
            good = pa.concat_tables(self._good)
            self._check(good)
            version = self._tokens.append(good, props)
            self.stats.versions.append(version)
            self.stats.rows_out += good.num_rows
            self.stats.audio_s += float(pc.sum(good.column("duration_s")).as_py() or 0.0)
            self.stats.out_by_dataset.update(good.column("dataset").to_pylist())
            self._good, self._bytes, self._rows = [], 0, 0
        self.stats.commits += 1

    @staticmethod
    def _check(good: pa.Table) -> None:
        for col in REQUIRED:
            if good.column(col).null_count:
                raise RuntimeError(f"internal error: {good.column(col).null_count} good rows lack {col!r}")
