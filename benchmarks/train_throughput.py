"""Training throughput on CPU: trainer frames/s vs. what the loader alone sustains, side by side.

    .venv/bin/python benchmarks/train_throughput.py [--preset tiny] [--examples 600] [--steps 30]

1. builds a synthetic example store (real frame sequences from the sequence builder, SE + TTS-like lengths);
2. loader alone: frames/s of BatchLoader (pyarrow reader and Ray Data reader) producing collated batches;
3. trainer: frames/s of DeepSpeed ZeRO-2 steps (one rank, gloo, fp32) on the same batches, and the
   loader's share of each step when they run together;
4. optionally (--ray) the full Ray Train run with 2 workers, reading frames/s and loader wait from MLflow.
Ends with ``BENCH train_throughput ...``. Target: loader >= 10x the trainer's consumption.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DS_ACCELERATOR", "cpu")


def build_store(uri: str, n: int) -> None:
    from tests.train.helpers import make_example_store

    make_example_store(uri, n=n)


def loader_fps(uri: str, reader: str, epochs: int = 3) -> float:
    """Frames/s over whole epochs (each epoch starts a new read, so its start-up cost is included)."""
    from uniaudio.data.loader import BatchLoader, LoaderConfig, StoreSnapshot

    snap = StoreSnapshot.open(uri)
    loader = BatchLoader(snap, LoaderConfig(reader=reader, max_frames_per_batch=512), cont_dim=384, epochs=epochs)
    frames, t0 = 0, time.perf_counter()
    for b in loader:
        frames += b.num_frames
    return frames / (time.perf_counter() - t0)


def trainer_fps(uri: str, preset: str, steps: int) -> tuple[float, float]:
    import torch
    import torch.distributed as dist

    from uniaudio.data.loader import BatchLoader, StoreSnapshot
    from uniaudio.model import OutputRules, build_model
    from uniaudio.train.config import train_config
    from uniaudio.train.engine import initialize
    from uniaudio.train.step import train_step
    from uniaudio.vocab import load_vocab

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    os.environ.update(LOCAL_RANK="0", RANK="0", WORLD_SIZE="1", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=0, world_size=1)
    cfg = train_config(preset, overrides=[f"steps={steps}", "loader.reader=arrow", "loader.max_frames_per_batch=512"])
    engine, _, guard, _ = initialize(build_model(cfg.model), cfg, torch.device("cpu"), 1)
    loader = BatchLoader(StoreSnapshot.open(uri), cfg.loader, vocab=load_vocab(), cont_dim=cfg.model.cont_dim)
    rules, it = OutputRules(load_vocab(), cfg.model.n_q), iter(loader)
    train_step(engine, [next(it)], rules, guard, torch.device("cpu"))  # warm-up
    frames, wait0, t0 = 0, loader.wait_s, time.perf_counter()
    for _ in range(steps):
        frames += train_step(engine, [next(it)], rules, guard, torch.device("cpu"))["frames"]
    dt = time.perf_counter() - t0
    return frames / dt, (loader.wait_s - wait0) / dt


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--examples", type=int, default=3000)
    ap.add_argument("--steps", type=int, default=30)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    uri = tempfile.mkdtemp() + "/examples"
    build_store(uri, args.examples)
    arrow = loader_fps(uri, "arrow")
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    ray_fps = loader_fps(uri, "ray")
    ray.shutdown()
    train, wait_share = trainer_fps(uri, args.preset, args.steps)
    print(f"loader (pyarrow): {arrow:,.0f} frames/s; loader (Ray Data): {ray_fps:,.0f} frames/s")
    print(f"trainer ({args.preset}, ZeRO-2, 1 rank, fp32, 1 thread): {train:,.0f} frames/s; loader share of step time {wait_share:.1%}")
    print(f"BENCH train_throughput preset={args.preset} trainer_fps={train:.0f} loader_arrow_fps={arrow:.0f} "
          f"loader_ray_fps={ray_fps:.0f} ratio_arrow={arrow / train:.1f} ratio_ray={ray_fps / train:.1f} "
          f"loader_share={wait_share:.3f}")


if __name__ == "__main__":
    main()
