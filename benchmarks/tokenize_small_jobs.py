"""Many small tokenization jobs in one process (what a workflow does: one job per dataset), with the codec
stage as an actor pool vs as tasks (``codec_pool.mode``), alternating, on one local Ray instance.

An actor is a fresh worker process per job: it imports torch and loads the codec every time. Task
workers outlive the job and keep their encoder (:func:`pipelines.tokenize.codec_stage.encode_block`),
so after the first job only the work remains. Both forms must write the same codes (checked).

Ends with ``BENCH tokenize_small_jobs actors_s=... tasks_s=... ratio=...`` (median wall seconds per job).

    .venv/bin/python benchmarks/tokenize_small_jobs.py --jobs 4 --files 12
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from tokenize_throughput import make_codec, make_corpus  # noqa: E402


def codes(store: str) -> list[dict]:
    import deltalake

    t = deltalake.DeltaTable(store).to_pyarrow_table().sort_by("utt_id")
    return t.select(["utt_id"] + [c for c in t.column_names if "codes_" in c]).to_pylist()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=4, help="jobs per form (alternating)")
    ap.add_argument("--files", type=int, default=12, help="files per job")
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--cpus", type=int, default=2)
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    work = Path(tempfile.mkdtemp(prefix="toksmall-"))
    from pipelines.sources import load_dataset_spec, read_spec
    from pipelines.tokenize import TokenizeConfig, run_tokenize
    from uniaudio.ray_init import ensure_ray

    spec = make_corpus(work / "corpus", args.files, args.seconds)
    rows = read_spec(load_dataset_spec(spec)).rows
    codec_dir = str(make_codec(work / "codec", rows[:4]))
    ensure_ray(None, num_cpus=args.cpus, logging_level=logging.ERROR, log_to_driver=False)
    times: dict[str, list[float]] = {"actors": [], "tasks": []}
    for i in range(args.jobs):
        for mode in times:
            store = str(work / f"{mode}{i}")
            cfg = TokenizeConfig(mlflow={"enabled": False}, codec_pool={"mode": mode})
            t = time.perf_counter()
            run_tokenize(str(spec), store, codec_dir, cfg, log=lambda m: None)
            times[mode].append(time.perf_counter() - t)
            print(f"job {i} {mode}: {times[mode][-1]:.1f} s", flush=True)
    same = codes(str(work / "actors0")) == codes(str(work / "tasks0"))
    a, b = statistics.median(times["actors"]), statistics.median(times["tasks"])
    shutil.rmtree(work, ignore_errors=True)
    print(f"BENCH tokenize_small_jobs jobs={args.jobs} files={args.files} actors_s={a:.1f} tasks_s={b:.1f} "
          f"ratio={a / b:.2f} same_codes={same}")


if __name__ == "__main__":
    main()
