"""The training driver: pin the example store, start Ray Train, track in MLflow, export the model.

>>> # run_training("runs/examples", "runs/lm", train_config("tiny", overrides=["steps=20"]))
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from uniaudio.stores import uri as uris
from uniaudio.train.config import TrainConfig


@dataclass
class TrainSummary:
    run_id: str | None
    out_dir: str
    steps: int
    zero_stage: int
    workers: int
    first_loss: float | None
    last_loss: float | None
    val_loss: float | None
    skipped_steps: int
    seconds: float
    examples_version: int
    init_from: str | None = None  # "<uri> (sha256 <12 hex>)" of a fine-tune's base

    def line(self) -> str:
        fmt = lambda x: "n/a" if x is None else f"{x:.3f}"  # noqa: E731
        base = f" from {self.init_from}" if self.init_from else ""
        return (f"trained {self.steps} steps{base} with DeepSpeed ZeRO-{self.zero_stage} on {self.workers} worker(s) in "
                f"{self.seconds:.0f}s: loss {fmt(self.first_loss)} -> {fmt(self.last_loss)}, val {fmt(self.val_loss)}, "
                f"{self.skipped_steps} skipped; examples v{self.examples_version}; model in {self.out_dir}; "
                f"MLflow run {self.run_id}")


def _git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                              cwd=Path(__file__).resolve().parent).stdout.strip() or "unknown"
    except Exception:  # noqa: BLE001
        return "unknown"


def run_training(examples_uri: str, out_dir: str, cfg: TrainConfig, address: str | None = None,
                 test_hooks: dict[str, Any] | None = None, run_tags: dict[str, str] | None = None) -> TrainSummary:
    """Train (or resume) into ``out_dir``. ``run_tags`` go on the MLflow run from its start (a workflow
    passes ``mlflow.parentRunId`` so the run is nested under its step while it trains)."""
    import ray
    from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchConfig, TorchTrainer

    from uniaudio.data.loader import StoreSnapshot
    from uniaudio.ray_fit import fit_tracked
    from uniaudio.ray_init import ensure_ray
    from uniaudio.tracking import MlflowTracker, default_artifact_location, flatten_params, resolve_tracking_uri
    from uniaudio.train import checkpoint as ckpt
    from uniaudio.stores.exported import write_export
    from uniaudio.train.export import consolidate

    t0 = time.time()
    out_uri, out = _run_dirs(out_dir)
    snap = StoreSnapshot.open(examples_uri)  # pins the Delta version for the whole run (lineage)
    out.mkdir(parents=True, exist_ok=True)  # only once the inputs are known good
    uri = resolve_tracking_uri(out)
    # A fine-tune's base model is validated before anything starts (no MLflow run for a bad base).
    init = _prepare_init(cfg, out, uri) if cfg.init_from else None
    # CPU workers must not probe for an accelerator (DeepSpeed would pick a CUDA build's defaults)
    ensure_ray(address, max(2, os.cpu_count() or 2),
               runtime_env={"env_vars": {"DS_ACCELERATOR": "cpu"}} if not cfg.use_gpu else None, log_to_driver=True)
    use_gpu = cfg.use_gpu if cfg.use_gpu is not None else bool(ray.cluster_resources().get("GPU", 0))

    tracker = MlflowTracker(uri, experiment=cfg.experiment, artifact_location=default_artifact_location(uri, out),
                            fallback_path=out / "mlflow_unsent.jsonl")
    name = cfg.run_name or f"lm-{cfg.preset}-{time.strftime('%Y%m%d-%H%M%S')}"
    from uniaudio.stores.lineage import read_lineage
    from uniaudio.tasks import tasks_file_record

    # codec + tokenizers + token store, as recorded by `uniaudio tokenize` / `uniaudio examples`
    lineage = {**read_lineage(examples_uri), "examples_uri": examples_uri, "examples_version": snap.version,
               "git_commit": _git_commit(), "preset": cfg.preset, "zero_stage": cfg.zero_stage,
               # what generation needs to know before it applies classifier-free guidance
               "cond_dropout": cfg.loader.cond_dropout,
               "cond_dropout_segments": cfg.loader.cond_dropout_segments if cfg.loader.cond_dropout > 0 else {},
               **tasks_file_record()}
    if init is not None:
        lineage["init_from"] = init.lineage()
    tags = {f"lineage.{k}": str(v) for k, v in lineage.items() if not isinstance(v, dict)}
    if init is not None:
        tags.update({"lineage.init_from": init.uri, "lineage.init_from_sha256": init.sha256})
    run_id = tracker.start_run(name, tags={"component": "lm", **tags, **(run_tags or {})})
    tracker.log_params(flatten_params(cfg.to_dict()))
    if init is not None:
        tracker.log_params({"init_from_sha256": init.sha256, "init_from_path": str(init.directory)})
    (out / "train_config.yaml").write_text(cfg.to_yaml())
    tracker.log_artifact(out / "train_config.yaml")
    if out_uri != str(out):
        uris.put(uris.join(out_uri, "train_config.yaml"), cfg.to_yaml())

    loop_config = {"train": cfg.to_dict(), "snapshot": dataclasses.asdict(snap), "tracking_uri": uri,
                   "run_id": run_id, **(test_hooks or {})}
    if init is not None:
        # The weights travel through the object store: every rank gets exactly the bytes hashed above,
        # with no shared filesystem needed. The ref stays alive (loop_config) until fit() returns.
        loop_config["init_weights"] = ray.put(init.state_dict)
        loop_config["init_sha256"] = init.sha256
        init.state_dict = {}
    trainer = TorchTrainer(
        train_loop_per_worker=_train_loop,
        train_loop_config=loop_config,
        scaling_config=ScalingConfig(num_workers=cfg.workers, use_gpu=use_gpu,
                                     resources_per_worker=None if use_gpu else {"CPU": cfg.cpus_per_worker}),
        torch_config=TorchConfig(backend="nccl" if use_gpu else "gloo"),
        run_config=RunConfig(
            name=name, **_ray_storage(out_uri, out),
            # also when Ray was started before this call (a workflow's embedded instance, tests)
            worker_runtime_env={"env_vars": uris.storage_env()} if uris.storage_env() else None,
            checkpoint_config=CheckpointConfig(num_to_keep=cfg.keep_checkpoints),
            failure_config=FailureConfig(max_failures=cfg.max_failures),
        ),
    )
    result = fit_tracked(trainer, tracker, f"LM training in {out}")
    metrics = result.metrics or {}
    with result.checkpoint.as_directory() as d:
        tag = ckpt.latest_tag(d)
        state_dict = consolidate(d, tag)
        import torch

        state0 = torch.load(Path(d) / "train_state_rank0.pt", weights_only=True)["state"]
    lineage.update(run_id=run_id, steps=state0["step"], checkpoint=_checkpoint_uri(out_uri, result.checkpoint.path))
    _lineage_of_resumed_init(lineage, init, state0.get("init_sha256"), tracker)
    write_export(out, state_dict, cfg.model, lineage)
    if out_uri != str(out):  # the export goes INTO the bucket; the local copy is this node's cache
        for name_ in ("model_config.json", "vocab.json", "lineage.json", "model.safetensors"):
            with (out / name_).open("rb") as f:
                uris.put(uris.join(out_uri, name_), f.read())
    for name_ in ("model_config.json", "vocab.json", "lineage.json", "model.safetensors"):
        tracker.log_artifact(out / name_, artifact_path="model")
    history = state0.get("history") or []
    summary = TrainSummary(
        run_id=run_id, out_dir=out_uri, steps=state0["step"], zero_stage=cfg.zero_stage, workers=cfg.workers,
        first_loss=state0.get("first_loss"), last_loss=history[-1][1] if history else None,
        val_loss=metrics.get("val/all/loss"), skipped_steps=state0["skipped_steps"], seconds=time.time() - t0,
        examples_version=snap.version,
        init_from=_describe_init(lineage.get("init_from")),
    )
    tracker.log_metrics({"summary/seconds": summary.seconds}, step=summary.steps)
    tracker.flush()
    _log_pytorch_model(uri, run_id, out)
    tracker.end_run("FINISHED")
    return summary


def _run_dirs(out_dir: str) -> tuple[str, Path]:
    """``(the run's URI, a local folder for this driver's files)``. A local ``--out`` is both; an
    object-store one (``s3://b/run``) gets a node-local staging folder under the cache dir, and every
    checkpoint and the export are written to the bucket (nothing is left only on this node)."""
    if not uris.is_remote(out_dir):
        local = Path(uris.local_path(out_dir)).resolve()
        return str(local), local
    import hashlib

    return out_dir.rstrip("/"), uris.cache_dir() / "train" / hashlib.sha256(out_dir.encode()).hexdigest()[:24]


def _ray_storage(out_uri: str, out: Path) -> dict[str, Any]:
    """Ray Train storage: ``<out>/ray_results``, on the object store through a pyarrow filesystem (every
    rank uploads its own ZeRO shard there, so no node needs another's disk)."""
    if not uris.is_remote(out_uri):
        return {"storage_path": str(out / "ray_results")}
    fs, path = uris.filesystem(uris.join(out_uri, "ray_results"))
    return {"storage_path": path, "storage_filesystem": fs}


def _checkpoint_uri(out_uri: str, path: str) -> str:
    """Ray reports a checkpoint's path inside its storage filesystem; lineage records a full URI."""
    return f"{uris.scheme(out_uri)}://{path.lstrip('/')}" if uris.is_remote(out_uri) else str(path)


def _prepare_init(cfg: TrainConfig, out: Path, tracking_uri: str):
    from uniaudio.train.init_from import prepare_init

    init = prepare_init(cfg, out, tracking_uri)
    print(f"init_from {init.uri}: weights sha256 {init.sha256[:16]}; the architecture is its model_config.json "
          f"(preset {cfg.preset!r} ignored for the architecture); fresh optimizer and LR schedule from step 0 "
          f"(a restored checkpoint takes precedence)", flush=True)
    return init


def _describe_init(rec: dict | None) -> str | None:
    if not rec or not rec.get("sha256"):
        return None
    return f"{rec.get('uri', 'a resumed checkpoint')} (sha256 {rec['sha256'][:12]})"


def _lineage_of_resumed_init(lineage: dict, init, applied: str | None, tracker) -> None:
    """Record the base the weights really descend from. A resumed run continues its checkpoint (which
    remembers the sha256 of the base it started from), so the configured init_from may not be it."""
    configured = init.sha256 if init is not None else None
    if applied == configured:
        return
    note = (f"resumed from a checkpoint whose run started from base weights {str(applied)[:16]}; "
            f"the configured init_from ({init.uri if init else 'none'}) was not applied")
    print(f"warning: {note}", flush=True)
    lineage["init_from"] = {"sha256": applied, "note": note} if applied else None
    if init is not None:
        lineage["init_from_configured"] = init.lineage()
    tracker.set_tags({"lineage.init_from_sha256": applied or "none"})


def _log_pytorch_model(tracking_uri: str, run_id: str | None, out: Path) -> None:
    """Also log the model as an MLflow pytorch flavor (``mlflow.pytorch.load_model("runs:/<id>/pytorch_model")``).

    The exported files under ``model/`` stay the canonical format (safetensors + config + vocab); this
    flavor pickles the module, so loading it needs this package installed. Never fatal.
    """
    if run_id is None:
        return
    try:
        import mlflow

        from uniaudio.stores.exported import load_exported

        model, _, _, _ = load_exported(out)
        mlflow.set_tracking_uri(tracking_uri)
        import torch

        with mlflow.start_run(run_id=run_id):
            mlflow.pytorch.log_model(model, name="pytorch_model", serialization_format="pickle",
                                     pip_requirements=[f"torch=={torch.__version__.split('+')[0]}"])
    except Exception as err:  # noqa: BLE001 - tracking must not fail a finished training run
        print(f"warning: could not log the pytorch model flavor to MLflow ({type(err).__name__}: {err})")


def _train_loop(config: dict[str, Any]) -> None:  # top-level so Ray can pickle it by reference
    from uniaudio.train.worker import train_loop

    train_loop(config)
