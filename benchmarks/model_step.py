"""Training-step throughput of the multi-scale transformer (not run in CI).

CPU (default): for each preset, one run times side by side, on the same weights and the same batch of
real sequences (TTS examples from the sequence builder, ~40 % prefix frames):

* ``ours``  - SDPA attention, local stack + head on the loss frames only, the head scoring only
  each token's allowed ids (``lm_loss`` default);
* ``full_head`` - the same with the head over all V ids and a mask (isolates the allowed-ids head);
* ``sdpa_all`` - SDPA attention, local stack + head on every frame (isolates the attention kernel);
* ``naive`` - the reference's formulation: materialised fp32 ``softmax(q k^T)`` with q and k each
  scaled by ``d_head^-0.25`` and an explicit additive mask, local stack + head on every frame.

All three compute the same loss (checked). A step = forward + backward + AdamW. CPU mode runs one
intra-op thread and measures the thread's CPU time (robust on a shared machine); steps alternate
between the variants and the median is reported.

GPU (``--gpu``): the 1B preset, bf16 autocast, forward + backward + fused AdamW on random codec
frames for ``--steps`` (>= 20) timed steps; reports frames/s, achieved TFLOP/s and MFU from
``uniaudio.model.flops.train_flops_per_frame`` (global stack once per frame, local + head per token).

    python benchmarks/model_step.py                       # CPU: tiny and mid
    python benchmarks/model_step.py --gpu                 # GPU: uniaudio-1b, bf16
    python benchmarks/model_step.py --gpu --compile --batch 8 --frames 1024

Imports only torch / numpy / pydantic / yaml and ``uniaudio`` (vocab, sequence, config, model).
"""

from __future__ import annotations

import argparse
import copy
import gc
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
try:  # the model config is pydantic; bare GPU images may lack it (and have no network)
    import pydantic  # noqa: F401
    import yaml  # noqa: F401
except ImportError as err:
    sys.exit(f"{err}. Install pydantic/pyyaml first; on a GPU machine without network, run this through "
             "benchmarks/device_suite.sh with the wheels of infra/scripts/device_bundle.sh (docs/CONTRIBUTING.md).")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from uniaudio.model import OutputRules, build_model, collate, get_preset, lm_loss  # noqa: E402
from uniaudio.model.batch import ModelBatch  # noqa: E402
from uniaudio.model.flops import mfu, six_n_flops_per_frame, train_flops_per_frame  # noqa: E402
from uniaudio.model.layers import Attention  # noqa: E402
from uniaudio.model.multiscale import autocast_for  # noqa: E402
from uniaudio.sequence import build_sequence  # noqa: E402
from uniaudio.vocab import load_vocab  # noqa: E402

PEAK_BF16_TFLOPS = {"H100": 989.0, "H200": 989.0, "GH200": 989.0, "A100": 312.0, "L40S": 362.0, "A10": 125.0}


def naive_core(q, k, v, mask, dropout_p, is_causal):
    """The reference's attention: scale q and k by d^-0.25 each, materialise the scores and an
    additive fp32 mask, softmax in fp32, then weight the values."""
    scale = q.shape[-1] ** -0.25
    scores = (q * scale).float() @ (k * scale).float().transpose(-1, -2)
    t_q, t_k = scores.shape[-2:]
    if is_causal:
        mask = torch.ones(t_q, t_k, dtype=torch.bool, device=q.device).tril()
    if mask is not None:
        scores = scores + torch.zeros(mask.shape, device=q.device).masked_fill(~mask, float("-inf"))
    probs = F.dropout(scores.softmax(-1), dropout_p)
    return (probs.to(v.dtype) @ v)


def with_naive_attention(model):
    out = copy.deepcopy(model)
    for m in out.modules():
        if isinstance(m, Attention):
            m.core = naive_core
    return out


def tts_batch(vocab, batch: int, frames: int, seed: int = 0) -> ModelBatch:
    """``batch`` TTS sequences of exactly ``frames`` frames: ~1/3 conditions (phones + 3 s prompt-like
    codes), ~2/3 target audio."""
    rng = np.random.default_rng(seed)
    seqs = []
    for _ in range(batch):
        n_phone, n_prompt = frames // 6, frames // 6
        n_target = frames - n_phone - n_prompt - 9  # 9 marker frames
        seg = {"phone": rng.integers(0, 100, n_phone), "prompt": rng.integers(0, 1024, (n_prompt, 3)),
               "target": rng.integers(0, 1024, (n_target, 3))}
        seqs.append(build_sequence("tts", seg, vocab))
    return collate(seqs, vocab)


def time_step(model, opt, batch, rules, variant) -> tuple[float, float]:
    """CPU time of one training step. With one intra-op thread all compute runs on this thread, so
    thread CPU time is what the step costs, independent of other processes on a shared machine."""
    local_frames, head = variant
    t0 = time.thread_time()
    out = lm_loss(model, batch, rules, local_frames=local_frames, head=head)
    opt.zero_grad(set_to_none=True)
    out.loss.backward()
    opt.step()
    return time.thread_time() - t0, out.loss.item()


def bench_cpu(preset: str, batch_size: int, frames: int, steps: int) -> dict:
    vocab = load_vocab()
    torch.manual_seed(0)
    base = build_model(get_preset(preset))
    batch = tts_batch(vocab, batch_size, frames)
    rules = OutputRules(vocab, base.config.n_q)
    variants = {"ours": (base, ("loss", "allowed")), "full_head": (copy.deepcopy(base), ("loss", "full")),
                "sdpa_all": (copy.deepcopy(base), ("all", "full")), "naive": (with_naive_attention(base), ("all", "full"))}
    opts = {k: torch.optim.AdamW(m.parameters(), lr=1e-4) for k, (m, _) in variants.items()}
    with torch.no_grad():  # same math: the four formulations agree before any step
        losses = {k: lm_loss(m, batch, rules, local_frames=lf, head=hd).loss.item()
                  for k, (m, (lf, hd)) in variants.items()}
    spread = max(losses.values()) - min(losses.values())
    times = {k: [] for k in variants}
    for i in range(steps + 1):  # step 0 is warm-up
        for k, (m, lf) in variants.items():
            dt, _ = time_step(m, opts[k], batch, rules, lf)
            if i:
                times[k].append(dt)
    n = batch.num_frames
    fps = {k: n / statistics.median(v) for k, v in times.items()}
    res = {"preset": preset, "frames": n, "loss_spread": spread, **{f"{k}_fps": v for k, v in fps.items()}}
    res["ratio"] = fps["ours"] / fps["naive"]
    res["head_ratio"] = fps["ours"] / fps["full_head"]  # the allowed-ids head vs the full masked head
    res["attn_ratio"] = fps["sdpa_all"] / fps["naive"]
    return res


def random_audio_batch(vocab, batch: int, frames: int, device) -> ModelBatch:
    """Random codec frames; frame 0 is ``<audio_start>`` so every later frame is an audio target."""
    offsets = torch.tensor([vocab.codebook_range(k).start for k in range(3)])
    f = torch.randint(0, 1024, (batch, frames, 3)) + offsets
    f[:, 0] = vocab.start_of("audio")
    loss_mask = torch.ones(batch, frames, dtype=torch.bool)
    loss_mask[:, 0] = False
    return ModelBatch(f, loss_mask, torch.ones(batch, dtype=torch.long), torch.full((batch,), frames)).to(device)


def bench_gpu(args) -> dict:
    device = torch.device(args.device)
    torch.backends.cuda.matmul.allow_tf32 = True
    vocab = load_vocab()
    cfg = get_preset(args.preset)
    torch.manual_seed(0)
    model = build_model(cfg, device)
    rules = OutputRules(vocab, cfg.n_q, device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=device.type == "cuda")
    batch = random_audio_batch(vocab, args.batch, args.frames, device)
    loss_fn = lambda m, b: lm_loss(m, b, rules, local_frames="all").loss  # noqa: E731 (static shapes)
    if args.compile:
        loss_fn = torch.compile(loss_fn)

    def step():
        with autocast_for(device):
            loss = loss_fn(model, batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for _ in range(args.warmup):
        step()
    sync()
    t0 = time.perf_counter()
    for _ in range(args.steps):
        loss = step()
    sync()
    dt = (time.perf_counter() - t0) / args.steps
    fps = args.batch * args.frames / dt
    per_frame = train_flops_per_frame(cfg, args.frames)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    peak = args.peak_tflops or next((v for k, v in PEAK_BF16_TFLOPS.items() if k in name), None)
    res = {"preset": args.preset, "device": name.replace(" ", "_"), "batch": args.batch, "frames": args.frames,
           "steps": args.steps, "step_ms": dt * 1e3, "frames_per_s": fps, "tflops": fps * per_frame / 1e12,
           "loss": loss.item(), "compile": args.compile}
    if peak:
        res["mfu"] = mfu(fps, per_frame, peak * 1e12)
        res["mfu_6n"] = mfu(fps, six_n_flops_per_frame(cfg), peak * 1e12)  # the usual formula, for comparison
    if device.type == "cuda":
        res["max_mem_gib"] = torch.cuda.max_memory_allocated(device) / 2**30
    return res


def fmt(res: dict) -> str:
    return " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in res.items())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gpu", action="store_true", help="GPU mode: 1B preset, bf16, random data")
    ap.add_argument("--presets", default="tiny,mid", help="CPU mode presets (comma-separated)")
    ap.add_argument("--preset", default="uniaudio-1b", help="GPU mode preset")
    ap.add_argument("--device", default="cuda", help="GPU mode device (cpu for a smoke run)")
    ap.add_argument("--batch", type=int, default=None, help="sequences per step (CPU 2, GPU 8; halved on out-of-memory)")
    ap.add_argument("--frames", type=int, default=None, help="frames per sequence (CPU 96, GPU 1024)")
    ap.add_argument("--steps", type=int, default=None, help="timed steps (CPU 4, GPU 20)")
    ap.add_argument("--warmup", type=int, default=3, help="GPU mode warm-up steps")
    ap.add_argument("--threads", type=int, default=1, help="CPU intra-op threads (CPU mode times thread CPU time: keep 1)")
    ap.add_argument("--compile", action="store_true", help="GPU mode: torch.compile the loss")
    ap.add_argument("--peak-tflops", type=float, default=None, help="hardware bf16 peak (default: by device name)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.gpu:
        args.batch, args.frames, args.steps = args.batch or 8, args.frames or 1024, args.steps or 20
        if args.device.startswith("cuda") and not torch.cuda.is_available():
            sys.exit("--gpu: no CUDA device (use --device cpu for a smoke run)")
        while True:  # on out-of-memory, halve the batch instead of losing the run
            try:
                res = bench_gpu(args)
                break
            except torch.cuda.OutOfMemoryError:
                if args.batch == 1:
                    raise
            gc.collect()
            torch.cuda.empty_cache()
            args.batch //= 2
            print(f"out of memory: retrying with --batch {args.batch}", flush=True)
        print("BENCH model_step_gpu " + fmt(res))
        return
    lines = []
    for preset in args.presets.split(","):
        res = bench_cpu(preset, args.batch or 2, args.frames or 96, args.steps or 4)
        print(f"{preset}: ours {res['ours_fps']:.1f} frames/s, full_head {res['full_head_fps']:.1f} "
              f"(allowed-ids head {res['head_ratio']:.2f}x), sdpa_all {res['sdpa_all_fps']:.1f}, "
              f"naive {res['naive_fps']:.1f}; ours/naive = {res['ratio']:.2f}x "
              f"(attention kernel alone {res['attn_ratio']:.2f}x); loss spread {res['loss_spread']:.1e}", flush=True)
        lines.append("BENCH model_step " + fmt(res))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
