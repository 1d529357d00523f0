"""The per-worker training loop run by Ray Train (one process per rank).

Rank 0 logs to the MLflow run the driver created; every rank saves its ZeRO shard into the checkpoint
it reports, so Ray Train restarts a failed worker group from the last reported checkpoint.
"""

from __future__ import annotations

import tempfile
import time
from typing import Any

import torch


def _system_metrics(config: dict[str, Any]):
    """MLflow's CPU/memory/disk/network (and GPU) sampler on rank 0; never fatal."""
    try:
        from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor

        monitor = SystemMetricsMonitor(config["run_id"], sampling_interval=config.get("system_metrics_interval", 10),
                                       node_id="rank0", tracking_uri=config["tracking_uri"])
        monitor.start()
        return monitor
    except Exception as err:  # noqa: BLE001 - tracking must not stop training
        print(f"warning: system metrics disabled ({type(err).__name__}: {err})")
        return None


def _apply_init(model, config: dict[str, Any], cfg, restoring: bool, rank: int) -> None:
    """Fine-tune start: the base weights go into the full module before DeepSpeed partitions it (ZeRO-3
    included). A restored checkpoint wins: a retried or resumed fine-tune continues where it was."""
    ref = config.get("init_weights")
    if ref is None:
        return
    if restoring:
        if rank == 0:
            print(f"resuming from the restored checkpoint; init_from {cfg.init_from} is not applied", flush=True)
        return
    import ray

    from uniaudio.train.init_from import load_into

    load_into(model, ray.get(ref))
    if rank == 0:
        print(f"initialised from {cfg.init_from} (fresh optimizer and LR schedule, step 0)", flush=True)


def train_loop(config: dict[str, Any]) -> None:
    import ray.train

    from uniaudio.data.loader import BatchLoader, StoreSnapshot
    from uniaudio.model import OutputRules, build_model, flops_per_frame
    from uniaudio.tracking import MlflowTracker, NullTracker
    from uniaudio.ray_fit import maybe_inject_fault
    from uniaudio.train import checkpoint as ckpt
    from uniaudio.train.config import TrainConfig
    from uniaudio.train.engine import initialize
    from uniaudio.train.step import State, eval_step, train_step
    from uniaudio.vocab import load_vocab

    cfg = TrainConfig.model_validate(config["train"])
    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    device = ray.train.torch.get_device()
    torch.manual_seed(cfg.seed + rank)
    vocab = load_vocab(cfg.model.vocab)
    snap = StoreSnapshot(**config["snapshot"])

    model = build_model(cfg.model)
    restored = ray.train.get_checkpoint()
    _apply_init(model, config, cfg, restored is not None, rank)
    model = model.to(device)
    engine, scheduler, guard, precision = initialize(model, cfg, device, world)
    rules = OutputRules(vocab, cfg.model.n_q, device)

    state = State(init_sha256=config.get("init_sha256") if restored is None else None)
    if restored is not None:
        with restored.as_directory() as d:
            state = ckpt.load(engine, d, rank)
    loader = BatchLoader(snap, cfg.loader, "train", rank, world, vocab, cont_dim=cfg.model.cont_dim)
    if state.loader:
        loader.load_state_dict(state.loader)
    val_tasks = sorted(snap.counts.get("valid", {}))
    train_tasks = sorted(snap.counts.get("train", {}))

    tracker = MlflowTracker(config["tracking_uri"], experiment=cfg.experiment) if rank == 0 else NullTracker()
    tracker.start_run(run_id=config["run_id"])
    monitor = _system_metrics(config) if rank == 0 else None
    ctx_frames = max(1, cfg.loader.max_example_frames // 2)
    fpf = 3 * flops_per_frame(cfg.model, ctx_frames, vocab.size)["total"]  # train = 3x forward
    peak = cfg.peak_flops_per_worker or (989e12 if device.type == "cuda" else None)

    it = iter(loader)
    t_last, frames_since, wait_since = time.perf_counter(), 0.0, 0.0
    # the task mix: expected shares (stored counts x task weights / alpha) and, as it goes, the share of
    # examples each task had in this rank's batches (mix/<task>; the paper's stage 2 replays old tasks)
    total = sum(n * loader.factors.get(t, 1.0) for t, n in loader.counts.items()) or 1.0
    tracker.log_metrics({f"mix_expected/{t}": n * loader.factors.get(t, 1.0) / total
                         for t, n in loader.counts.items()}, step=0)
    seen: dict[str, int] = {}
    while state.step < cfg.steps:
        maybe_inject_fault(config, rank, state.step)
        w0 = loader.wait_s
        batches = [next(it) for _ in range(cfg.optim.grad_accum)]
        for b in batches:
            for t in b.tasks:
                seen[t] = seen.get(t, 0) + 1
        wait_since += loader.wait_s - w0
        m = train_step(engine, batches, rules, guard, device, cfg.first_codebook_weight, train_tasks)
        state.step += 1
        state.skipped_steps += int(not m["step_applied"])
        state.frames_seen += int(m["local_frames"])
        frames_since += m["frames"]
        if state.first_loss is None:
            state.first_loss = m["loss"]
        state.history.append((state.step, m["loss"]))
        state.history = state.history[-50:]
        if state.step % cfg.log_every == 0 or state.step == cfg.steps:
            dt = max(time.perf_counter() - t_last, 1e-9)
            fps = frames_since / dt
            log = {(k if "_by_task/" in k else f"train/{k}"): v for k, v in m.items()
                   if k not in ("frames", "local_frames")}
            log.update({"train/lr": scheduler.get_last_lr()[0], "train/frames_per_s": fps,
                        "train/loader_wait_frac": min(1.0, wait_since / dt), "train/skipped_steps": state.skipped_steps,
                        "train/epoch": loader.epoch})
            n_seen = sum(seen.values()) or 1
            log.update({f"mix/{t}": seen.get(t, 0) / n_seen for t in loader.counts})
            log["mix/examples"] = float(sum(seen.values()))
            if peak:
                log["train/mfu"] = fps * fpf / (peak * world)
            tracker.log_metrics(log, step=state.step)
            if rank == 0:  # progress on the driver's console (Ray forwards worker stdout)
                print(f"step {state.step}/{cfg.steps} loss {m['loss']:.3f} lr {log['train/lr']:.2e} "
                      f"{fps:,.0f} frames/s", flush=True)
            t_last, frames_since, wait_since = time.perf_counter(), 0.0, 0.0
        metrics: dict[str, float] = {"step": state.step, "loss": m["loss"]}
        if val_tasks and (state.step % cfg.validate_every == 0 or state.step == cfg.steps):
            val_loader = BatchLoader(snap, cfg.loader, "valid", rank, world, vocab, epochs=1,
                                     cont_dim=cfg.model.cont_dim, shard_rows=True)
            vb = [b for _, b in zip(range(cfg.val_batches), val_loader)]
            engine.eval()
            vm = eval_step(engine, vb, rules, device, val_tasks)
            engine.train()
            tracker.log_metrics(vm, step=state.step)
            metrics.update(vm)
        if state.step % cfg.checkpoint_every == 0 or state.step == cfg.steps:
            state.loader = loader.state_dict()
            with tempfile.TemporaryDirectory() as d:
                ckpt.save(engine, d, state, rank)
                ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(d))
    tracker.set_tags({"train.precision": precision, "train.zero_stage": str(cfg.zero_stage),
                      "train.skipped_steps": str(state.skipped_steps)})
    tracker.flush()  # the driver ends the run after exporting the model
    if monitor is not None:
        monitor.finish()
