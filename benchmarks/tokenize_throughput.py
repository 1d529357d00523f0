"""Throughput of the tokenization job's CPU stages, Ray vs a plain loop, and bits/token on disk.

1. A fixed synthetic corpus: ``--n`` FLAC files of ``--seconds`` s at 44.1 kHz (speech-like harmonic
   signals with a moving pitch, plus noise; seeded).
2. The CPU stages -- decode + resample to 16 kHz + validation + (UTF-8 text ids) + the chunked Delta
   write, codec excluded -- run twice on the same rows, in this one process run:
   * ``loop``: one process calling :func:`pipelines.tokenize.stage.cpu_stage` block by block and the
     :class:`~pipelines.tokenize.committer.Committer` (the same functions the Ray job runs);
   * ``ray``: the job's Ray Data pipeline (``run_pipeline`` without the codec stage) on a local Ray
     instance of ``--cpus`` CPUs, after a warm-up run (worker processes import their modules once).
   Throughput is seconds of audio per CPU-second: the loop's process CPU time; for Ray the CPU time
   of the driver and every process of the Ray instance (GCS, raylet, workers), measured with psutil.
   The requirement: ray_per_cpu / loop_per_cpu >= 0.8.
3. Bits per token on disk of the codec columns (the Parquet column chunks' compressed bytes, list
   levels included), for (a) tokens of the real job with an untrained tiny codec (codebooks k-means
   initialised on the corpus; a degenerate, low-entropy distribution) and (b) tokens drawn from a
   trained-codec-like distribution (near-uniform use of 1024 codes), written through the same
   committer. Reported against two references: the order-0 empirical entropy of the same tokens
   (``*_ratio``; the issue's original target <= 1.02x) and the fixed-width floor log2(1024) = 10 bits
   (``*_vs_fixed``; the store's target <= 1.02x, i.e. <= 10.2 bits/token). Why the target is the
   fixed-width floor and not the entropy (a readable Parquet layout cannot entropy-code 10-bit
   symbols; alternatives measured) is recorded in docs/ARCHITECTURE.md and docs/STORES.md.

Ends with ``BENCH tokenize_throughput ...`` lines.

    .venv/bin/python benchmarks/tokenize_throughput.py --n 300 --seconds 10
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np


def make_corpus(root: Path, n: int, seconds: float, sr: int = 44100) -> Path:
    import soundfile as sf

    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * sr)) / sr
    lines = []
    for i in range(n):
        f0 = 110 + 90 * rng.random() + 20 * np.sin(2 * np.pi * rng.uniform(0.2, 1.0) * t)
        phase = 2 * np.pi * np.cumsum(f0) / sr
        x = sum(np.sin(k * phase) / k for k in range(1, 8)) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t) ** 2)
        x = 0.2 * x / np.abs(x).max() + 0.005 * rng.standard_normal(t.size)
        sf.write(root / f"utt{i:04d}.flac", x.astype("float32"), sr)
        lines.append(json.dumps({"utt_id": f"utt{i:04d}", "audio": f"utt{i:04d}.flac", "text": f"utterance {i}"}))
    (root / "manifest.jsonl").write_text("\n".join(lines) + "\n")
    spec = root.parent / "spec.yaml"
    spec.write_text(f"datasets:\n  - name: bench\n    reader: manifest\n    root: {root}\n    tasks: [asr]\n")
    return spec


def tree_cpu(proc) -> float:
    """CPU seconds of ``proc`` and all its live descendants (the whole local Ray instance)."""
    import psutil

    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            c = p.cpu_times()
            total += c.user + c.system + c.children_user + c.children_system
        except psutil.Error:
            pass
    return total


def run_loop(rows, tasks, cfg, store: str) -> tuple[float, float, float]:
    from pipelines.tokenize.columns import manifest_to_carrier, to_table
    from pipelines.tokenize.committer import Committer
    from pipelines.tokenize.stage import cpu_stage

    n_q, k = cfg.tokenizers.codec.n_q, cfg.ray.block_rows
    t0, c0 = time.perf_counter(), time.process_time()
    committer = Committer(store, n_q, cfg.commit, "loop", "bench")
    for i in range(0, len(rows), k):
        block = to_table([manifest_to_carrier(r, tasks[r.dataset]) for r in rows[i : i + k]], n_q)
        committer.add(cpu_stage(block, cfg.audio.to_dict(), cfg.tokenizers.model_dump_json(), n_q, without_codec=True))
    committer.flush()
    return time.perf_counter() - t0, time.process_time() - c0, committer.stats.audio_s


def run_ray(rows, tasks, cfg, store: str) -> tuple[float, float, float]:
    import psutil

    from pipelines.tokenize.committer import Committer
    from pipelines.tokenize.pipeline import run_pipeline

    me = psutil.Process()
    t0, c0 = time.perf_counter(), tree_cpu(me)
    committer = Committer(store, cfg.tokenizers.codec.n_q, cfg.commit, "ray", "bench")
    run_pipeline(rows, tasks, None, cfg, committer)
    return time.perf_counter() - t0, tree_cpu(me) - c0, committer.stats.audio_s


CODEBOOK_SIZE = 1024


def entropy_bits(values: np.ndarray) -> float:
    _, counts = np.unique(values, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())


def bits_per_token(store: str, n_q: int) -> tuple[float, float]:
    """(on-disk bits per token of codes_0..n_q-1, their order-0 empirical entropy), over the live files."""
    import pyarrow.parquet as pq

    from uniaudio.stores import delta

    disk_bytes, tokens, weighted_h = 0, 0, 0.0
    for uri in delta.open_table(store).file_uris():
        meta = pq.ParquetFile(uri.replace("file://", "")).metadata
        for rg in range(meta.num_row_groups):
            for c in range(meta.num_columns):
                col = meta.row_group(rg).column(c)
                if col.path_in_schema.split(".")[0] in {f"codes_{k}" for k in range(n_q)}:
                    disk_bytes += col.total_compressed_size
    t = delta.read_table(store, columns=[f"codes_{k}" for k in range(n_q)])
    for k in range(n_q):
        v = t.column(f"codes_{k}").combine_chunks().flatten().to_numpy()
        tokens += v.size
        weighted_h += entropy_bits(v) * v.size
    return 8 * disk_bytes / tokens, weighted_h / tokens


def synthetic_codes_store(store: str, n_utts: int, frames: int, cfg) -> None:
    """Trained-codec-like tokens: i.i.d. over 1024 codes with log-normal popularity (entropy ~9.8 bits)."""
    from pipelines.tokenize.columns import to_table
    from pipelines.tokenize.committer import Committer

    rng = np.random.default_rng(1)
    probs = [np.exp(rng.normal(0, 0.5, 1024)) for _ in range(3)]
    probs = [p / p.sum() for p in probs]
    rows = []
    for i in range(n_utts):
        r = {"dataset": "synth", "utt_id": f"s{i}", "fingerprint": f"f{i}", "source_uri": "/x", "duration_s": frames / 50,
             "n_frames": frames, "q_reason": None}
        for k in range(3):
            r[f"codes_{k}"] = rng.choice(1024, size=frames, p=probs[k]).astype(np.int16)
        rows.append(r)
    c = Committer(store, 3, cfg.commit, "synth", "bench")
    c.add(to_table(rows, 3))
    c.flush()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=300, help="files in the corpus")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray instance")
    ap.add_argument("--codec-files", type=int, default=40, help="files tokenized with the codec for bits/token")
    ap.add_argument("--repeats", type=int, default=3, help="alternating runs of each; the best is kept")
    ap.add_argument("--workdir", default=None)
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    work = Path(args.workdir or tempfile.mkdtemp(prefix="tokbench-"))
    shutil.rmtree(work / "stores", ignore_errors=True)

    import ray

    from pipelines.sources import load_dataset_spec, read_spec
    from pipelines.tokenize import TokenizeConfig

    t = time.perf_counter()
    spec_path = work / "spec.yaml"
    if not spec_path.exists() or len(list((work / "corpus").glob("*.flac"))) != args.n:
        spec_path = make_corpus(work / "corpus", args.n, args.seconds)
    print(f"corpus: {args.n} x {args.seconds:g} s FLAC 44.1 kHz in {work} ({time.perf_counter() - t:.1f} s)")
    spec = load_dataset_spec(spec_path)
    rows = read_spec(spec).rows
    tasks = {d.name: list(d.tasks) for d in spec.datasets}
    cfg = TokenizeConfig(mlflow={"enabled": False}, commit={"chunk_mb": 64.0})

    ray.init(num_cpus=args.cpus, include_dashboard=False, _node_ip_address="127.0.0.1",
             logging_level=logging.WARNING, log_to_driver=False)
    try:
        from pipelines.tokenize.committer import Committer
        from pipelines.tokenize.pipeline import run_pipeline

        # warm-up: every Ray worker imports its modules once (amortised over hours of audio in production)
        run_pipeline(rows[: 4 * cfg.ray.block_rows], tasks, None, cfg,
                     Committer(str(work / "stores" / "warm"), 3, cfg.commit, "w", "b"))
        # Alternate the two so that both see the same (shared, noisy) machine; keep each one's best.
        loops, rays = [], []
        for rep in range(args.repeats):
            loops.append(run_loop(rows, tasks, cfg, str(work / "stores" / f"loop{rep}")))
            rays.append(run_ray(rows, tasks, cfg, str(work / "stores" / f"ray{rep}")))
            print(f"repeat {rep}: loop wall {loops[-1][0]:.1f} s cpu {loops[-1][1]:.1f} s | "
                  f"ray wall {rays[-1][0]:.1f} s cpu {rays[-1][1]:.1f} s ({args.cpus} CPUs)")
        loop_wall, loop_cpu, audio = min(loops, key=lambda r: r[1])
        ray_wall, ray_cpu, audio_r = min(rays, key=lambda r: r[1])
        assert abs(audio_r - audio) < 1e-3, "both runs must process the same audio"
        # bits per token: the real job (codec included) on a subset, and trained-like synthetic tokens
        codec_dir = make_codec(work / "codec", rows[:8])
        sub = rows[: args.codec_files]
        run_pipeline(sub, tasks, str(codec_dir), cfg, Committer(str(work / "stores" / "codes"), 3, cfg.commit, "c", "b"))
        real_bits, real_h = bits_per_token(str(work / "stores" / "codes"), 3)
        synthetic_codes_store(str(work / "stores" / "synth"), 8000, 500, cfg)
        syn_bits, syn_h = bits_per_token(str(work / "stores" / "synth"), 3)
    finally:
        ray.shutdown()

    loop_rate, ray_rate = audio / loop_cpu, audio_r / ray_cpu
    print(f"codec tokens (tiny untrained codec, {len(sub)} files): {real_bits:.2f} bits/token on disk, "
          f"entropy {real_h:.2f} bits")
    print(f"codec tokens (trained-like synthetic): {syn_bits:.2f} bits/token on disk, entropy {syn_h:.2f} bits")
    fixed = float(np.log2(CODEBOOK_SIZE))
    print(f"target: <= 1.02 x {fixed:.0f} bits (fixed-width floor) = {1.02 * fixed:.2f} bits/token: "
          f"tiny codec {'met' if real_bits <= 1.02 * fixed else 'MISSED'}, "
          f"trained-like {'met' if syn_bits <= 1.02 * fixed else 'MISSED'}")
    print(f"BENCH tokenize_throughput loop_audio_s_per_cpu_s={loop_rate:.1f} ray_audio_s_per_cpu_s={ray_rate:.1f} "
          f"ratio={ray_rate / loop_rate:.2f} loop_xrt_wall={audio / loop_wall:.1f} ray_xrt_wall={audio_r / ray_wall:.1f} "
          f"ray_cpus={args.cpus} files={args.n} seconds={args.seconds:g} repeats={args.repeats}")
    print(f"BENCH tokenize_bits_per_token tiny_codec_bits={real_bits:.3f} tiny_codec_entropy={real_h:.3f} "
          f"tiny_codec_ratio={real_bits / real_h:.3f} synthetic_bits={syn_bits:.3f} synthetic_entropy={syn_h:.3f} "
          f"synthetic_ratio={syn_bits / syn_h:.3f} tiny_codec_vs_fixed={real_bits / fixed:.3f} "
          f"synthetic_vs_fixed={syn_bits / fixed:.3f}")


def make_codec(out: Path, rows) -> Path:
    """The tiny codec preset, random weights, codebooks k-means initialised on a few corpus files."""
    import torch

    from codec.config import preset
    from codec.export import export_codec
    from codec.model import CodecModel
    from uniaudio.audio import load_audio

    torch.manual_seed(0)
    cfg = preset("tiny")
    model = CodecModel(cfg).train()
    x = torch.stack([torch.from_numpy(load_audio(r.audio_uri)[:32000]) for r in rows])
    with torch.no_grad():
        model(x.unsqueeze(1), n_q=cfg.quantizer.n_q)
    return export_codec(model, cfg, out)


if __name__ == "__main__":
    main()
