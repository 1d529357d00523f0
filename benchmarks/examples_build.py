"""Examples per second of the distributed example build vs the single-process reference.

A synthetic token store of ``--rows`` utterances (``--frames`` frames each, n_q = 3, speakers of
``--per-speaker`` utterances; every row lists tts, plain_tts, asr and sv, so most examples need a
prompt window from another row and cross the shuffle) is built twice, in this one process run:

* ``reference``: the single-process job as it was before the build was distributed: planning
  (:func:`~pipelines.examples.plan.plan_dataset`), :func:`pipelines.examples.reference.build_reference`
  (all needed rows read into memory at once) and the chunked Delta appends, in this process;
* ``ray``: :func:`pipelines.examples.run_examples` (planning + the Ray Data job + chunked commits)
  on a local Ray instance of ``--cpus`` CPUs, after a warm-up run on a small store (worker
  processes import their modules once).

Both build the same examples (checked: same count). Ends with one ``BENCH examples_build ...`` line.

    .venv/bin/python benchmarks/examples_build.py --rows 5000
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import tempfile
import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def synthetic_tokens(uri: str, rows: int, frames: int, per_speaker: int, seed: int = 0) -> None:
    from uniaudio.stores import delta
    from uniaudio.stores.schema import token_store_schema

    rng = np.random.default_rng(seed)
    schema = token_store_schema(3)
    batch = []
    for i in range(rows):
        n = int(frames * rng.uniform(0.6, 1.4))
        r = {f.name: None for f in schema}
        r.update(dataset="bench", utt_id=f"u{i:07d}", fingerprint=f"fp{i}", tokenizer_version="bench",
                 source_uri=f"/a/{i}.wav", duration_s=n / 50, n_frames=n, speaker=f"spk{i // per_speaker}",
                 tasks=["tts", "plain_tts", "asr", "sv"], phones=rng.integers(10, 80, n // 4).tolist(),
                 text_ids=rng.integers(32, 127, n // 5).tolist(),
                 **{f"codes_{k}": rng.integers(0, 1024, n).tolist() for k in range(3)})
        batch.append(r)
        if len(batch) == 2000 or i == rows - 1:  # a few files, like a tokenize job's chunks
            delta.append(uri, pa.Table.from_pylist(batch, schema=schema), ["dataset"])
            batch = []


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=5000)
    ap.add_argument("--frames", type=int, default=250)
    ap.add_argument("--per-speaker", type=int, default=20)
    ap.add_argument("--cpus", type=int, default=2)
    args = ap.parse_args()
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    from uniaudio.stores import delta
    from pipelines.examples import ExamplesConfig, run_examples
    from pipelines.examples.plan import plan_dataset
    from pipelines.examples.example import outcome_table
    from pipelines.examples.reference import build_reference
    from pipelines.examples.summary import ExamplesSummary
    from uniaudio.stores.schema import example_store_schema
    from uniaudio.tasks import TASKS
    from uniaudio.vocab import load_vocab

    cfg = ExamplesConfig(mlflow={"enabled": False})
    root = tempfile.mkdtemp(prefix="examples_bench_")
    try:
        tokens = f"{root}/tokens"
        synthetic_tokens(tokens, args.rows, args.frames, args.per_speaker)
        synthetic_tokens(f"{root}/warm", 200, args.frames, args.per_speaker, seed=1)

        version = delta.table_version(tokens)
        t0 = time.perf_counter()
        s = ExamplesSummary(tokens=tokens, out="", tokens_version=version, run_id="bench")
        salt = f"{cfg.choice_hash()}:{load_vocab().content_hash}"
        plan = plan_dataset("bench", tokens, version, f"{root}/none", cfg, set(TASKS), salt, s)
        ref = outcome_table(build_reference(tokens, version, [plan], cfg))
        ref = ref.filter(pc.is_null(ref.column("skip"))).drop_columns(["skip"]).cast(example_store_schema())
        for i in range(0, ref.num_rows, cfg.chunk_rows):
            delta.append(f"{root}/reference", ref.slice(i, cfg.chunk_rows), ["task", "dataset"])
        ref_s = time.perf_counter() - t0
        ref_built = ref.num_rows
        del ref, plan

        ray.init(num_cpus=args.cpus, include_dashboard=False, _node_ip_address="127.0.0.1",
                 logging_level=logging.WARNING, log_to_driver=False)
        run_examples(f"{root}/warm", f"{root}/warm_out", cfg)
        t0 = time.perf_counter()
        summary = run_examples(tokens, f"{root}/examples", cfg)
        ray_s = time.perf_counter() - t0
        ray.shutdown()
        built = summary.total("built")
        if built != ref_built:
            raise SystemExit(f"the builds disagree: ray {built} vs reference {ref_built} examples")
        print(f"reference: {ref_built} examples in {ref_s:.1f} s (1 process); ray: {built} in {ray_s:.1f} s "
              f"({args.cpus} CPUs); both: planning + build + chunked commits")
        print(f"BENCH examples_build rows={args.rows} examples={built} reference_examples_per_s={ref_built / ref_s:.1f} "
              f"ray_examples_per_s={built / ray_s:.1f} ratio={ref_s / ray_s:.2f} ray_cpus={args.cpus} "
              f"delta_version={delta.table_version(f'{root}/examples')}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
