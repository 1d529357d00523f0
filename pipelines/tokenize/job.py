"""``run_tokenize``: the whole job — plan, quarantine reader problems, Ray pipeline, prune, summary.

>>> summary = run_tokenize("spec.yaml", "/data/tokens", "/ckpt/codec")        # doctest: +SKIP
>>> print(summary.report())                                                    # doctest: +SKIP
"""

from __future__ import annotations

import logging
import time
import uuid
from pathlib import Path
from typing import Callable

from uniaudio.stores import delta
from uniaudio.stores import uri as uris
from pipelines.tokenize.committer import Committer
from pipelines.tokenize.config import TokenizeConfig
from pipelines.tokenize.modalities import TOKENIZER_OF, required_tokenizers
from pipelines.tokenize.needs import check_tasks
from pipelines.tokenize.plan import make_plan
from pipelines.tokenize.quarantine import problems_table, quarantine_uri
from pipelines.tokenize.summary import TokenizeSummary, log_to_mlflow
from uniaudio.errors import UserFacingError


def _check_tokenizers(spec, cfg: TokenizeConfig) -> None:
    """Fail before any work when a task needs a tokenizer that is disabled or lacks its assets."""
    from uniaudio.tokenizers import build_tokenizers

    toks = build_tokenizers(cfg.tokenizers, codec_dir=None, check=False)
    for entry in spec.datasets:
        try:
            check_tasks(entry.tasks)
        except ValueError as err:
            raise UserFacingError(f"dataset {entry.name!r}: {err}") from None
        for name in sorted(required_tokenizers(entry.tasks)):
            if name not in toks:
                mods = sorted(m for m, t in TOKENIZER_OF.items() if t == name)
                raise UserFacingError(f"dataset {entry.name!r} feeds {', '.join(entry.tasks)}, which needs "
                                      f"{'/'.join(mods)}: enable it (--set tokenizers.{name}.enabled=true)")
            toks[name].check()  # raises TokenizerUnavailable (a UserFacingError) naming what is missing


def codec_hash(codec_dir: str) -> str:
    """The codec checkpoint's content hash (verified against its weights)."""
    if uris.is_remote(codec_dir):
        from codec import Codec

        return Codec.load(codec_dir).content_hash  # fetched from the object store, then verified
    from codec.export import read_codec_dir

    _, _, meta = read_codec_dir(uris.local_path(codec_dir))
    return meta["content_hash"]


def tracking_location(store: str, cfg: TokenizeConfig) -> tuple[str, str | None]:
    from uniaudio.tracking import default_artifact_location, local_tracking_dir, resolve_tracking_uri

    if cfg.mlflow.tracking_uri:
        return cfg.mlflow.tracking_uri, None
    run_dir = local_tracking_dir(store, "tokenize")
    uri = resolve_tracking_uri(run_dir)
    return uri, default_artifact_location(uri, run_dir)


def run_tokenize(spec, store: str, codec_dir: str, cfg: TokenizeConfig | None = None, address: str | None = None,
                 progress: bool = False, log: Callable[[str], None] = print) -> TokenizeSummary:
    """Tokenize every new or changed row of ``spec`` (a path or a DatasetSpec) into the token store."""
    from pipelines.sources import DatasetSpec, load_dataset_spec, read_spec
    from uniaudio.tokenizers import tokenizer_set_version

    t0 = time.time()
    cfg = cfg or TokenizeConfig()
    store = store if uris.is_remote(store) else uris.local_path(store)
    spec = spec if isinstance(spec, DatasetSpec) else load_dataset_spec(spec)
    _check_tokenizers(spec, cfg)
    tv = tokenizer_set_version(cfg.tokenizers, codec_hash(codec_dir))
    datasets = [d.name for d in spec.datasets]
    tasks = {d.name: list(d.tasks) for d in spec.datasets}

    read = read_spec(spec)
    plan = make_plan(datasets, read.rows, read.problems, store, tv, cfg.retry_quarantined)
    run_id = uuid.uuid4().hex
    s = TokenizeSummary(store=store, tokenizer_version=tv, run_id=run_id, rows_in=len(read.rows) + len(read.problems),
                        rows_done=plan.total("done"), rows_todo=len(plan.todo),
                        rows_skipped_quarantined=plan.total("skipped_quarantined"), read_problems=len(read.problems))
    log(f"tokenize: {len(read.rows)} manifest rows ({len(read.problems)} reader problems) in "
        f"{len(datasets)} dataset(s); {s.rows_done} already tokenized, {s.rows_todo} to do (run {run_id[:8]})")

    reasons: dict[str, int] = {}
    if plan.new_problems:
        delta.append(quarantine_uri(store), problems_table(plan.new_problems, tv, run_id), ["dataset"],
                     commit_properties={"uniaudio.job": "tokenize", "uniaudio.run_id": run_id})
        for p in plan.new_problems:
            reasons[f"read/{p.code}"] = reasons.get(f"read/{p.code}", 0) + 1

    committer = Committer(store, cfg.tokenizers.codec.n_q, cfg.commit, run_id, tv)
    if plan.todo:
        _run_ray(plan.todo, tasks, codec_dir, cfg, committer, address, progress, log)
    if cfg.prune:
        from pipelines.tokenize.prune import prune

        s.rows_pruned = prune(store, datasets, plan.manifest_keys, tv, run_id)

    st = committer.stats
    s.rows_out, s.commits = st.rows_out, st.commits
    s.rows_quarantined = st.rows_quarantined + len(plan.new_problems)
    s.audio_hours = st.audio_s / 3600
    s.wall_s = time.time() - t0
    s.x_realtime = st.audio_s / max(s.wall_s, 1e-9)
    s.table_version = delta.table_version(store)
    s.quarantine_version = delta.table_version(quarantine_uri(store))
    if s.table_version is not None:
        from uniaudio.stores.lineage import write_lineage
        from uniaudio.tasks import tasks_file_record

        write_lineage(store, {"codec_dir": str(codec_dir) if uris.is_remote(codec_dir)
                              else str(Path(uris.local_path(codec_dir)).resolve()), "codec_hash": codec_hash(codec_dir), "tokenizer_version": tv,
                              "tokenizers": cfg.tokenizers.to_dict(), "tokens_uri": store,
                              "tokens_version": s.table_version, **tasks_file_record()})
    for reason, n in st.reasons.items():
        reasons[reason] = reasons.get(reason, 0) + n
    s.reasons = dict(sorted(reasons.items()))
    for name, c in plan.per_dataset.items():
        c["out"] = st.out_by_dataset.get(name, 0)
        c["quarantined"] = st.quarantined_by_dataset.get(name, 0) + c.get("new_read_problems", 0)
        s.per_dataset[name] = c
    if cfg.mlflow.enabled:
        from uniaudio.tracking import flatten_params

        uri, artifacts = tracking_location(store, cfg)
        params = flatten_params(cfg.to_dict())
        params.update({"store": store, "codec_dir": str(codec_dir), "datasets": ",".join(datasets)})
        s.mlflow_run_id = log_to_mlflow(s, params, uri, artifacts, cfg.mlflow.experiment)
    return s


def _run_ray(todo, tasks, codec_dir, cfg, committer, address, progress, log) -> None:
    import ray
    from uniaudio.progress import bar as progress_bar

    from uniaudio.ray_init import ensure_ray
    from pipelines.tokenize.pipeline import run_pipeline

    started = ensure_ray(address, cfg.ray.num_cpus, cfg.ray.object_store_mb, logging_level=logging.WARNING)
    bar = progress_bar(total=len(todo), unit="row", desc="tokenize", disable=not progress)
    try:
        run_pipeline(todo, tasks, str(codec_dir), cfg, committer, on_rows=bar.update, log=log)
    finally:
        bar.close()
        if started:
            ray.shutdown()
