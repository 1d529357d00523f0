"""Codec training under Ray Train: a TorchTrainer (DDP; gloo on CPU, NCCL on GPU) around CodecTrainer.

Driver (:func:`run_training`): resolves the training audio (skipping bad files, with a report), opens
the MLflow run, starts or joins Ray, runs the trainer, and exports the final codec to ``OUT/codec``.
Workers (:func:`train_loop`): build the same model on every rank (seeded), resume from
``ray.train.get_checkpoint()`` when the run directory already holds one, train step by step,
validate and log on rank 0, and report a checkpoint every ``ckpt_every`` steps and at the end.

``--out`` may be an object-store URI (``s3://bucket/codec_run``): Ray Train's storage is then the
bucket (a pyarrow filesystem, the ``AWS_*`` settings forwarded to the workers), and ``run.json``,
``skipped_audio.jsonl`` and the exported ``codec/`` are uploaded there; the driver's MLflow sqlite
store and staging copies stay in a node-local folder under the cache dir (:func:`run_dirs`).

Resume = run the same command again with the same ``--out``: the trainer's ``RunConfig(name,
storage_path)`` is the same, Ray hands the latest checkpoint back, and model, both optimizers, both
schedulers, the step and the RNG states are restored; batches and n_q are functions of the step, so
the resumed run computes exactly what the uninterrupted run would have.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from codec.config import CodecConfig
from codec.data import AudioItem, collect_items, index_items, split_items, warn_skipped

STATE_FILE = "train_state.pt"
RUN_NAME = "codec"


def train_loop(config: dict[str, Any]) -> None:
    """Ray Train worker entry point (one process per rank)."""
    import ray.train
    import torch
    from ray.train import Checkpoint

    from codec.data import CropBatches, load_validation
    from codec.export import export_codec
    from codec.train_step import CodecTrainer
    from codec.validate import StepTiming, evaluate, reference_transcripts, save_samples, validation_quality
    from uniaudio.ray_fit import maybe_inject_fault
    from uniaudio.tracking import MlflowTracker, NullTracker

    cfg = CodecConfig.model_validate(config["cfg"])
    t = cfg.train
    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    torch.set_num_threads(t.threads_per_worker)
    device = ray.train.torch.get_device() if config["use_gpu"] else torch.device("cpu")
    trainer = CodecTrainer(cfg, device, ddp=world > 1)
    ckpt = ray.train.get_checkpoint()
    if ckpt is not None:
        with ckpt.as_directory() as d:
            trainer.load(Path(d) / STATE_FILE)
    tracker = NullTracker()
    if rank == 0 and config.get("tracking_uri"):
        tracker = MlflowTracker(config["tracking_uri"], config["experiment"], config.get("artifact_location"))
        tracker.start_run(name=config.get("run_name"), run_id=config.get("run_id"))
    val_wavs = []
    if rank == 0:
        val_wavs, _ = load_validation([AudioItem(**d) for d in config["val_items"]], t.val_max_s)
    if rank == 0 and trainer.step == 0 and val_wavs:
        tracker.log_metrics(evaluate(trainer.generator, val_wavs, t.val_n_q), step=0)  # the untrained baseline

    data = CropBatches([AudioItem(**d) for d in config["train_items"]], t.batch_size, t.crop_min_s, t.crop_max_s,
                       seed=t.seed, rank=rank, norm_scale=t.audio_norm_scale)
    loader = torch.utils.data.DataLoader(data, batch_size=None, sampler=range(trainer.step, t.steps),
                                         num_workers=t.loader_workers, persistent_workers=False)
    skipped: dict[str, Any] = {}
    t0, start_step = time.time(), trainer.step
    last: dict[str, float] = {}
    ref_texts = reference_transcripts(val_wavs) if rank == 0 and t.val_asr and val_wavs else None
    timing = StepTiming()
    t_data = time.perf_counter()
    for batch in loader:
        timing.data += time.perf_counter() - t_data
        maybe_inject_fault(config, rank, trainer.step)
        for s in batch["skipped"]:
            if s.uri not in skipped:
                skipped[s.uri] = s
                if rank == 0:
                    print(f"[codec] skipping {s.uri}: {s.reason} {s.detail}".rstrip(), flush=True)
        last = trainer.train_step(batch["wav"])
        timing.add(last)
        step = trainer.step
        if step % t.log_every == 0 or step == t.steps:
            last.update(timing.means())
            last["data/skipped_files"] = float(len(skipped))
            last["speed/steps_per_s"] = (step - start_step) / max(time.time() - t0, 1e-9)
            tracker.log_metrics(last, step=step)
            if rank == 0:
                print(f"[codec] step {step}/{t.steps} loss={last['loss/total']:.3f} n_q={int(last['n_q'])} "
                      f"{last['speed/steps_per_s']:.2f} steps/s", flush=True)
        report = {"step": step, **{k: v for k, v in last.items() if k.startswith("loss/")}}
        if rank == 0 and (step % t.val_every == 0 or step == t.steps) and val_wavs:
            val = evaluate(trainer.generator, val_wavs, t.val_n_q)
            val.update(validation_quality(trainer.generator, val_wavs, ref_texts, min(3, max(t.val_n_q))))
            tracker.log_metrics(val, step=step)
            report.update(val)
            if t.sample_artifacts:
                with tempfile.TemporaryDirectory() as tmp:
                    save_samples(trainer.generator, val_wavs[: t.sample_artifacts], tmp, [min(3, max(t.val_n_q)), max(t.val_n_q)])
                    # MLflow copies the files during the call, so the temp dir may go afterwards
                    tracker.log_artifact(tmp, artifact_path=f"samples/step_{step:08d}")
        if step % t.ckpt_every == 0 or step == t.steps:
            if rank == 0:
                with tempfile.TemporaryDirectory() as tmp:
                    trainer.save(Path(tmp) / STATE_FILE)
                    export_codec(trainer.generator, cfg, tmp, extra={"step": step, "mlflow_run_id": tracker.run_id})
                    ray.train.report(report, checkpoint=Checkpoint.from_directory(tmp))
            else:
                ray.train.report(report, checkpoint=None)
        t_data = time.perf_counter()
    if rank == 0 and tracker.run_id is not None:
        tracker.log_metrics({"data/skipped_files": float(len(skipped))}, step=trainer.step)
    tracker.flush()  # the driver ends the run; a worker only delivers what it buffered


@dataclass
class TrainSummary:
    run_id: str | None
    steps: int
    codec_dir: str
    metrics: dict[str, float]
    n_train: int
    n_val: int
    n_skipped: int

    def line(self) -> str:
        keys = [k for k in self.metrics if k.startswith("val/mel_distance_q") or k.startswith("val/si_snr_q")]
        shown = " ".join(f"{k[4:]}={self.metrics[k]:.3f}" for k in sorted(keys))
        return (f"codec train: mlflow_run_id={self.run_id} steps={self.steps} train_files={self.n_train} "
                f"val_files={self.n_val} skipped={self.n_skipped} {shown} codec={self.codec_dir}").strip()


def run_training(cfg: CodecConfig, data: str, out_dir: str | Path, workers: int = 1, use_gpu: bool = False,
                 cpus_per_worker: float | None = None, address: str | None = None, num_cpus: int | None = None,
                 run_name: str | None = None, tags: dict[str, str] | None = None,
                 test_hooks: dict[str, Any] | None = None) -> TrainSummary:
    """Train (or resume) a codec into ``out_dir``; returns a summary (MLflow run id, final metrics).

    A worker that dies is restarted with its group from the last checkpoint, up to
    ``cfg.train.max_failures`` times (Ray Train ``FailureConfig``).
    """
    from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchConfig, TorchTrainer

    from codec.export import META_FILE, WEIGHTS_FILE
    from uniaudio.errors import UserFacingError
    from uniaudio.ray_fit import fit_tracked
    from uniaudio.ray_init import ensure_ray
    from uniaudio.stores import uri as uris
    from uniaudio.tracking import MlflowTracker, default_artifact_location, flatten_params, resolve_tracking_uri

    out_uri, out = run_dirs(out_dir)
    items, skipped = collect_items(data)
    good, bad = index_items(items, cfg.train.min_audio_s)
    skipped += bad
    warn_skipped(skipped, f"codec train --data {data}")
    if not good:
        raise UserFacingError(f"--data {data}: no usable audio ({len(items)} listed, {len(skipped)} skipped)")
    out.mkdir(parents=True, exist_ok=True)  # only once the inputs are known good
    train_items, val_items = split_items(good, cfg.train.val_files)
    report_path = out / "skipped_audio.jsonl"
    report_path.write_text("".join(json.dumps(asdict(s)) + "\n" for s in skipped))
    _publish(out_uri, out, ["skipped_audio.jsonl"])

    uri = resolve_tracking_uri(out)
    art = default_artifact_location(uri, out)
    tracker = MlflowTracker(uri, "codec", art, fallback_path=out / "tracking_fallback.jsonl")
    state_uri = uris.join(out_uri, "run.json")  # in the run dir (the bucket): a resume on any node continues the run
    prev_state = json.loads(uris.read_text(state_uri)) if uris.is_file(state_uri) else {}
    # the same MLflow run only where it exists: a resume on another node has another local sqlite store
    prev = prev_state.get("mlflow_run_id") if prev_state.get("tracking_uri") == uri else None
    run_id = tracker.start_run(run_name or f"codec-{uris.basename(out_uri)}", tags={"component": "codec", **(tags or {})},
                               run_id=prev)
    uris.put(state_uri, json.dumps({"mlflow_run_id": run_id, "tracking_uri": uri}))
    tracker.log_params(flatten_params(cfg.to_dict()))
    tracker.log_params({"data.source": str(data), "data.train_files": len(train_items), "data.val_files": len(val_items),
                        "data.skipped_files": len(skipped), "workers": workers, "use_gpu": use_gpu})
    tracker.log_artifact(report_path)

    ensure_ray(address, num_cpus or os.cpu_count())
    cpus = cpus_per_worker if cpus_per_worker is not None else (0.5 if not use_gpu else 2.0)
    trainer = TorchTrainer(
        train_loop,
        train_loop_config={
            "cfg": cfg.to_dict(), "use_gpu": use_gpu, "tracking_uri": uri, "experiment": "codec",
            "artifact_location": art, "run_id": run_id, "run_name": run_name,
            "train_items": [asdict(i) for i in train_items], "val_items": [asdict(i) for i in val_items],
            **(test_hooks or {}),
        },
        scaling_config=ScalingConfig(num_workers=workers, use_gpu=use_gpu, resources_per_worker={"CPU": cpus}),
        torch_config=TorchConfig(backend="nccl" if use_gpu else "gloo"),
        run_config=RunConfig(name=RUN_NAME, **ray_storage(out_uri),
                             # the bucket's endpoint/credentials, also when Ray was started before this call
                             worker_runtime_env={"env_vars": uris.storage_env()} if uris.storage_env() else None,
                             checkpoint_config=CheckpointConfig(num_to_keep=cfg.train.keep_checkpoints),
                             failure_config=FailureConfig(max_failures=cfg.train.max_failures)),
    )
    result = fit_tracked(trainer, tracker, f"codec training in {out_uri}")
    codec_dir = out / "codec"
    with result.checkpoint.as_directory() as d:
        codec_dir.mkdir(exist_ok=True)
        for name in (WEIGHTS_FILE, META_FILE):  # the exported codec: the layout `--codec` accepts
            shutil.copy2(Path(d) / name, codec_dir / name)
    _publish(out_uri, out, [f"codec/{name}" for name in (WEIGHTS_FILE, META_FILE)])  # the export goes INTO the bucket
    metrics = {k: float(v) for k, v in (result.metrics or {}).items() if isinstance(v, (int, float))}
    tracker.log_artifact(codec_dir, artifact_path="codec")
    tracker.end_run()
    return TrainSummary(run_id, int(metrics.get("step", cfg.train.steps)), uris.join(out_uri, "codec"), metrics,
                        len(train_items), len(val_items), len(skipped))


def run_dirs(out_dir: str | Path) -> tuple[str, Path]:
    """``(the run's URI, a local folder for this driver's files)``. A local ``--out`` is both; an
    object-store one (``s3://b/codec_run``) gets a node-local staging folder (MLflow sqlite store, files
    before their upload) and the checkpoints, ``run.json`` and the exported ``codec/`` go to the bucket."""
    from uniaudio.stores import uri as uris

    if not uris.is_remote(out_dir):
        local = Path(uris.local_path(str(out_dir))).resolve()
        return str(local), local
    return str(out_dir).rstrip("/"), uris.staging_dir(out_dir, "codec-train")


def ray_storage(out_uri: str) -> dict[str, Any]:
    """Ray Train storage ``<out>/ray``: on an object store through a pyarrow filesystem, so every
    checkpoint is written to (and a resume read from) the bucket, not one node's disk."""
    from uniaudio.stores import uri as uris

    if not uris.is_remote(out_uri):
        return {"storage_path": uris.join(out_uri, "ray")}
    fs, path = uris.filesystem(uris.join(out_uri, "ray"))
    return {"storage_path": path, "storage_filesystem": fs}


def _publish(out_uri: str, out: Path, rel_paths: list[str]) -> None:
    """Copy files of the local staging folder into an object-store run dir (nothing to do locally)."""
    from uniaudio.stores import uri as uris

    if out_uri == str(out):
        return
    for rel in rel_paths:
        uris.put(uris.join(out_uri, rel), (out / rel).read_bytes())
