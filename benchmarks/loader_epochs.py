"""Epochs of the training loader over a small example store: re-read every epoch vs kept in memory.

The LM trainer is step-based and rolls over epochs; on a small store (the demo's 133 examples) an
epoch is a handful of batches, so a per-epoch Ray Data job dominated the loader. This times, side by
side on the same store, ``epochs`` epochs of ``BatchLoader`` with ``reader=ray, cache_mb=0`` (a Ray
Data job per epoch), ``reader=arrow, cache_mb=0`` and the default (files read once, rows kept), and
checks the three streams are identical.

    python benchmarks/loader_epochs.py RUN/outputs/examples/examples [--epochs 5]

Ends with ``BENCH loader_epochs ...`` (wall and process CPU seconds per epoch, ratios).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from uniaudio.data.loader import BatchLoader, LoaderConfig, StoreSnapshot  # noqa: E402


def run(snap, cfg, epochs):
    w0, c0 = time.perf_counter(), time.process_time()
    ids = [b.example_ids for b in BatchLoader(snap, cfg, epochs=epochs)]
    return (time.perf_counter() - w0) / epochs, (time.process_time() - c0) / epochs, ids


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("store", help="example store (Delta table) URI or path")
    ap.add_argument("--epochs", type=int, default=5)
    args = ap.parse_args()
    from uniaudio.ray_init import ensure_ray

    ensure_ray(None, 2, logging_level="ERROR", log_to_driver=False)
    snap = StoreSnapshot.open(args.store)
    base = dict(max_frames_per_batch=1024)
    res = {}
    for name, cfg in (("ray_reread", LoaderConfig(**base, reader="ray", cache_mb=0)),
                      ("arrow_reread", LoaderConfig(**base, reader="arrow", cache_mb=0)),
                      ("in_memory", LoaderConfig(**base))):
        res[name] = run(snap, cfg, args.epochs)
    same = res["ray_reread"][2] == res["arrow_reread"][2] == res["in_memory"][2]
    out = {"rows": sum(sum(t.values()) for t in snap.counts.values()), "epochs": args.epochs, "same_stream": same}
    for k, (w, c, _) in res.items():
        out[f"{k}_wall_s"], out[f"{k}_cpu_s"] = round(w, 4), round(c, 4)
    out["wall_ratio"] = round(res["ray_reread"][0] / res["in_memory"][0], 1)
    out["cpu_ratio"] = round(res["ray_reread"][1] / res["in_memory"][1], 1)
    print("BENCH loader_epochs " + " ".join(f"{k}={v}" for k, v in out.items()))


if __name__ == "__main__":
    main()
