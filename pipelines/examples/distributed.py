"""The distributed build of the new examples: a Ray Data job over the token store (one pinned version).

::

    read_delta(the pinned version, filtered to the datasets with new examples)   # via uniaudio.stores.delta
      .map_batches(select_uses)          # tasks: keep the rows some new example uses; one record per
                                         #   target row (whole row) + one per prompt use (its window)
      .sort(_group)                      # shuffle: a target row meets its prompt windows
      .map_batches(build_block)          # build every new example of the block's targets (build_or_skip)
      -> iter_batches on the driver      # built rows + skip records, committed chunk by chunk

Records are grouped by TARGET ROW, not by example: a row that is the target of several tasks' examples
(tts, vc, asr, sv, speech edit, ... of one utterance) crosses the shuffle once, and a prompt taken from
another row crosses it as its 3-s window only (``prompt_len`` frames), not as that whole row. The
shuffle moves about the size of the rows used, not rows x uses.

The lookup (:class:`~pipelines.examples.lookup.UsePlan`) is put in the object store once and read
zero-copy by the workers (cached per worker process). Memory: the driver holds the planning metadata
and one commit chunk; a worker holds a block of token rows (select_uses) or one shuffle partition
(build_block).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from typing import Any, Iterator

import pyarrow as pa

from uniaudio.stores import delta
from pipelines.examples.config import ExamplesConfig, ExamplesRayConfig
from pipelines.examples.example import build_or_skip, outcome_table
from pipelines.examples.lookup import UsePlan, key_hash
from pipelines.data_context import job_data_context
from uniaudio.stores.schema import I16_LIST

GROUP, FP = "_group", "_fp"  # shuffle key (hash of the target row key); example fingerprint of a window
MIN_BLOCK_BYTES = 2**20  # ~3k examples of work (~0.4 s): far above Ray's per-task cost (~20-50 ms)
_CACHE: dict[str, Any] = {}  # per worker process: the current job's lookup, config and vocabulary


def window_col(k: int) -> str:
    return f"_w{k}"


def _lookup(box: list) -> UsePlan:
    """The job's lookup from its object ref (boxed in a list so that Ray passes the ref itself)."""
    import ray

    ref = box[0]
    key = ref.hex() if isinstance(ref, ray.ObjectRef) else str(id(ref))
    if _CACHE.get("lookup_key") != key:
        _CACHE.clear()
        _CACHE.update(lookup_key=key, lookup=ray.get(ref) if isinstance(ref, ray.ObjectRef) else ref)
    return _CACHE["lookup"]


def _row_fps(block: pa.Table) -> list[str]:
    return [f"{a}:{b}" for a, b in zip(block.column("fingerprint").to_pylist(),
                                       block.column("tokenizer_version").to_pylist())]


def select_uses(block: pa.Table, plan: list, n_q: int) -> pa.Table:
    """Token rows -> the records of the new examples that use them (others are dropped here)."""
    lk = _lookup(plan)
    keys = list(zip(block.column("dataset").to_pylist(), block.column("utt_id").to_pylist(), _row_fps(block)))
    own = [i for i, k in enumerate(keys) if lk.is_target(*k)]
    uses = [(i, u) for i, k in enumerate(keys) for u in lk.prompt_uses(*k)]
    extra = [pa.field(GROUP, pa.int64()), pa.field(FP, pa.string())] + [pa.field(window_col(k), I16_LIST)
                                                                        for k in range(n_q)]
    schema = pa.schema([f.with_nullable(True) for f in block.schema] + extra)  # window records: mostly nulls
    parts = []
    if own:
        t = block.take(own)
        cols = [pa.array([key_hash(*keys[i]) for i in own], pa.int64()), pa.nulls(len(own), pa.string())]
        cols += [pa.nulls(len(own), I16_LIST) for _ in range(n_q)]
        parts.append(pa.Table.from_arrays(t.columns + cols, schema=schema))
    if uses:
        idx = [i for i, _ in uses]
        cols = [block.column(f.name).take(idx) if f.name in ("dataset", "utt_id") else pa.nulls(len(idx), f.type)
                for f in block.schema]
        cols += [pa.array([u["group"] for _, u in uses], pa.int64()), pa.array([u["fp"] for _, u in uses], pa.string())]
        for k in range(n_q):
            win = []
            for i, u in uses:
                src = block.column(f"{u['role']}codes_{k}")[i].as_py()
                win.append(None if src is None else src[u["start"] : u["start"] + u["len"]])
            cols.append(pa.array(win, I16_LIST))
        parts.append(pa.Table.from_arrays(cols, schema=schema))
    return pa.concat_tables(parts) if parts else schema.empty_table()


def build_block(block: pa.Table, plan: list, cfg_json: str, tokens_version: int) -> pa.Table:
    """A block of whole groups (every record of a target row lands in the block its group key sorts
    or hashes to) -> built rows and skip records of every new example whose target row is here."""
    from uniaudio.vocab import load_vocab

    lk = _lookup(plan)
    if _CACHE.get("cfg_json") != cfg_json:
        _CACHE.update(cfg_json=cfg_json, cfg=ExamplesConfig.model_validate_json(cfg_json), vocab=load_vocab())
    cfg, vocab = _CACHE["cfg"], _CACHE["vocab"]
    records = block.to_pylist()
    windows = {r[FP]: r for r in records if r[FP] is not None}  # an example's fingerprint names its window
    seen: set[tuple[str, str, str]] = set()
    outcomes = []
    for r in records:
        key = (r["dataset"], r["utt_id"], f"{r['fingerprint']}:{r['tokenizer_version']}")
        if r[FP] is not None or key in seen:
            continue
        seen.add(key)
        for fp, c in lk.targets_of(*key):
            rows = {c.utt_id: r}
            if c.prompt_utt and c.prompt_utt != c.utt_id:
                w = windows.get(fp)
                if w is None:
                    raise RuntimeError(f"internal error: no prompt window of row {c.prompt_utt!r} reached "
                                       f"example {c.example_id} (token store version {tokens_version})")
                # The window already is the [prompt_start, +prompt_len) slice of the prompt row's codes.
                rows[c.prompt_utt] = {f"{c.prompt_role}codes_{k}": w[window_col(k)] for k in range(cfg.n_q)}
                c = dataclasses.replace(c, prompt_start=0)
            row, reason = build_or_skip(c, fp, rows, vocab, cfg, tokens_version)
            outcomes.append((c, row, reason))
    return outcome_table(outcomes)


def token_bytes(tokens: str, version: int, datasets: list[str]) -> int:
    """Total size of the live Parquet files of ``datasets`` at ``version`` (from the Delta log's add
    actions: no file is listed or opened)."""
    actions = pa.table(delta.open_table(tokens, version).get_add_actions(flatten=True))
    keep = set(datasets)
    sizes = [n for n, d in zip(actions.column("size_bytes").to_pylist(), actions.column("partition.dataset").to_pylist())
             if d in keep]
    return int(sum(sizes))


@contextlib.contextmanager
def data_context(cfg: ExamplesRayConfig):
    """Ray Data settings for the job, restored afterwards (the context is process-global)."""
    from ray.data.context import ShuffleStrategy

    strategy = ShuffleStrategy.HASH_SHUFFLE if cfg.shuffle == "hash" else ShuffleStrategy.SORT_SHUFFLE_PULL_BASED
    settings = {"enable_progress_bars": cfg.progress_bars, "verbose_stats_logs": False,
                "enable_auto_log_stats": False, "shuffle_strategy": strategy}
    with job_data_context(settings) as c:
        yield c


def stream_outcomes(tokens: str, version: int, lookup: UsePlan, cfg: ExamplesConfig) -> Iterator[pa.Table]:
    """Run the job; yields :func:`~pipelines.examples.example.outcome_schema` blocks as they finish."""
    import pyarrow.dataset as pads
    import ray
    import ray.data

    datasets = lookup.datasets()
    size = token_bytes(tokens, version, datasets)
    # Blocks of at most read_block_mb of Parquet each, and one per CPU of the cluster where there is
    # enough data (MIN_BLOCK_BYTES each): the shuffle keeps the block count, so this is also how many
    # build tasks run side by side. A small increment on a big cluster stays a few tasks.
    cpus = int(ray.cluster_resources().get("CPU", 1))
    blocks = max(1, math.ceil(size / (cfg.ray.read_block_mb * 2**20)), min(cpus, size // MIN_BLOCK_BYTES))
    box = [ray.put(lookup)]
    with data_context(cfg.ray):
        # Ray's Delta reader over the pinned version (uniaudio.stores.delta: the safe filesystem; the Delta
        # log's schema, so files of older schema versions read null-filled). The partition filter
        # leaves other datasets' files unread but for their footers.
        ds = delta.read_ray(tokens, version, filter=pads.field("dataset").isin(datasets), override_num_blocks=blocks)
        ds = ds.map_batches(select_uses, batch_size=None, batch_format="pyarrow",
                            fn_kwargs={"plan": box, "n_q": cfg.n_q})
        # Bring each target row's records into one block: Ray Data's sort (range partitions by the key)
        # or hash repartition (hash partitions by the key). Either way every record of a group lands
        # in the same output block -- the property groupby().map_groups() itself rests on -- and the
        # block is built in one call (map_groups would make a Python call and an output table per
        # group: ~3x slower here, where groups hold 1-3 records).
        if cfg.ray.shuffle == "hash":
            parts = cfg.ray.hash_partitions or ray.data.DataContext.get_current().default_hash_shuffle_parallelism
            ds = ds.repartition(parts, keys=[GROUP])
        else:
            ds = ds.sort(GROUP)
        ds = ds.map_batches(build_block, batch_size=None, batch_format="pyarrow",
                            fn_kwargs={"plan": box, "cfg_json": cfg.model_dump_json(), "tokens_version": version})
        for block in ds.iter_batches(batch_size=None, batch_format="pyarrow", prefetch_batches=1):
            yield block
