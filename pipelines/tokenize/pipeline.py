"""The Ray Data pipeline: manifest blocks -> CPU tasks -> codec stage -> driver-side commits.

::

    from_arrow(blocks of block_rows manifest rows)
      .map_batches(cpu_stage)                    # tasks: select tasks, decode, resample, validate, modalities
      .map_batches(CodecEncoder, ActorPool)      # GPU: actors, codec loaded once each
      | .map_batches(encode_block)               # CPU: tasks, codec cached per worker process
      -> iter_batches on the driver -> Committer  # chunked atomic Delta appends

With an actor pool the two map stages are kept apart (Ray would otherwise fuse them): the CPU work
runs in as many parallel tasks as the cluster has CPUs left, while the codec stays in its small pool.
On a small CPU cluster the pool's CPU reservation is lowered so that the tasks can always be scheduled
(whole-CPU actors on 2 cores would otherwise starve the tasks and hang the job). In the task form
(the default without GPUs, :mod:`pipelines.tokenize.codec_stage`) Ray may fuse the stages: decode and
encode then run in one task, which on CPU saves a hop through the object store.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Callable

from pipelines.tokenize.codec_stage import CodecEncoder, encode_block
from pipelines.tokenize.columns import manifest_to_carrier, to_table
from pipelines.data_context import job_data_context
from pipelines.tokenize.committer import Committer
from pipelines.tokenize.config import TokenizeConfig
from pipelines.tokenize.stage import cpu_stage


@dataclass
class Resources:
    task_cpus: float
    actor_cpus: float
    num_gpus: float
    device: str
    task_memory: float = 0.0  # bytes reserved per CPU task
    note: str = ""


def plan_resources(cfg: TokenizeConfig, cluster: dict[str, float]) -> Resources:
    """Fit the pool and the tasks into the cluster (see the module doc).

    >>> r = plan_resources(TokenizeConfig(), {"CPU": 2.0})
    >>> (r.task_cpus, r.actor_cpus, r.num_gpus, r.device)
    (1.0, 1.0, 0, 'cpu')
    >>> plan_resources(TokenizeConfig(codec_pool={"actors": 2}), {"CPU": 2.0}).actor_cpus
    0.5
    """
    cpus = float(cluster.get("CPU", 1.0))
    gpus = float(cluster.get("GPU", 0.0))
    pool = cfg.codec_pool
    num_gpus = pool.num_gpus if pool.num_gpus is not None else (1 if gpus >= 1 else 0)
    device = "cuda" if num_gpus else cfg.tokenizers.codec.device
    task_cpus = min(cfg.ray.task_cpus, cpus / 2)
    actor_cpus = pool.actor_cpus
    note = ""
    if pool.actors * actor_cpus + task_cpus > cpus:
        actor_cpus = round(max(0.05, (cpus - task_cpus) / pool.actors), 3)
        note = f"codec actors reserve {actor_cpus} CPU each so CPU tasks fit in {cpus:g} CPUs"
    # Per task: a worker's baseline (torch, text encoder) plus block_rows rows of up to max_s seconds,
    # each held as 16 kHz float32 for its own audio and up to two paired files.
    per_row = cfg.audio.max_s * 16_000 * 4 * 3
    memory = cfg.ray.task_memory_mb * 2**20 if cfg.ray.task_memory_mb else 512 * 2**20 + cfg.ray.block_rows * per_row
    return Resources(task_cpus, actor_cpus, num_gpus, device, float(memory), note)


def build_dataset(todo: list[Any], tasks: dict[str, list[str]], codec_dir: str | None, cfg: TokenizeConfig,
                  res: Resources):
    """The lazy Ray dataset of the job (``codec_dir=None``: a dry run without the codec stage)."""
    import ray.data

    n_q = cfg.tokenizers.codec.n_q
    k = cfg.ray.block_rows
    blocks = [to_table([manifest_to_carrier(r, tasks[r.dataset]) for r in todo[i : i + k]], n_q)
              for i in range(0, len(todo), k)]
    codec_cfg = cfg.tokenizers.codec.model_copy(update={"device": res.device}).to_dict()
    ds = ray.data.from_arrow(blocks)
    # The memory reservation also keeps Ray from fusing this stage into the codec actors when both
    # reserve the same CPUs: fused, the CPU work would run inside the small actor pool.
    ds = ds.map_batches(
        cpu_stage, batch_size=None, batch_format="pyarrow", num_cpus=res.task_cpus, memory=res.task_memory,
        fn_kwargs={"audio_cfg": cfg.audio.to_dict(), "tok_cfg_json": cfg.tokenizers.model_dump_json(), "n_q": n_q,
                   "without_codec": codec_dir is None})
    if codec_dir is None:
        return ds
    codec_kwargs = {"codec_dir": codec_dir, "codec_cfg": codec_cfg, "torch_threads": cfg.codec_pool.torch_threads}
    if use_tasks(cfg, res):
        return ds.map_batches(encode_block, batch_size=cfg.codec_pool.batch_rows, batch_format="pyarrow",
                              num_cpus=res.task_cpus, memory=res.task_memory, fn_kwargs=codec_kwargs)
    return ds.map_batches(
        CodecEncoder, batch_size=cfg.codec_pool.batch_rows, batch_format="pyarrow",
        compute=ray.data.ActorPoolStrategy(size=cfg.codec_pool.actors), num_cpus=res.actor_cpus,
        num_gpus=res.num_gpus or None,
        fn_constructor_kwargs=codec_kwargs)


def use_tasks(cfg: TokenizeConfig, res: Resources) -> bool:
    """Whether the codec stage runs as tasks (see the module doc).

    >>> cpu = Resources(1.0, 1.0, 0, "cpu")
    >>> use_tasks(TokenizeConfig(), cpu), use_tasks(TokenizeConfig(codec_pool={"mode": "actors"}), cpu)
    (True, False)
    >>> use_tasks(TokenizeConfig(), Resources(1.0, 1.0, 1, "cuda"))
    False
    """
    mode = cfg.codec_pool.mode
    return mode == "tasks" or (mode == "auto" and not res.num_gpus)


@contextlib.contextmanager
def data_context(cfg: TokenizeConfig):
    """Ray Data settings for the job, restored afterwards (the context is process-global, and the
    caller may run other Ray Data work in the same process)."""

    settings = {
        "enable_progress_bars": cfg.ray.progress_bars,
        "verbose_stats_logs": False,
        "enable_auto_log_stats": False,
        # Ray Data's per-task memory sampler reads /proc/<pid>/smaps of every worker each second
        # (tens of ms per call for a worker holding torch): measurable CPU next to light per-row
        # work. The task memory is reserved explicitly instead (see plan_resources).
        "memory_usage_poll_interval_s": None,
    }
    with job_data_context(settings) as c:
        yield c


def run_pipeline(todo: list[Any], tasks: dict[str, list[str]], codec_dir: str | None, cfg: TokenizeConfig,
                 committer: Committer, on_rows: Callable[[int], None] | None = None, log=print) -> Resources:
    """Stream the todo rows through Ray into ``committer`` (which commits chunk by chunk)."""
    import ray

    res = plan_resources(cfg, ray.cluster_resources())
    if res.note:
        log(f"tokenize: {res.note}")
    with data_context(cfg):
        ds = build_dataset(todo, tasks, codec_dir, cfg, res)
        for block in ds.iter_batches(batch_size=None, batch_format="pyarrow", prefetch_batches=1):
            committer.add(block)
            if on_rows:
                on_rows(block.num_rows)
    committer.flush()
    return res
