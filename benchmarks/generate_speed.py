"""Generation speed: KV-cached batched decoding (``uniaudio.generate.decoder``) vs a naive no-cache loop.

Every run generates 10 s of audio (500 frames at 50 Hz) per row after a TTS-like prefix (~100 phones +
a 3 s prompt = 257 frames), random weights, the end marker disabled (min = max = 500 frames) so every
row has exactly that length. Sampling is the paper's (top-k 30, temperature 0.8).

* ``cached``: our loop: one prefill, then per frame one KV-cached global step + n_q cached local steps
  + sampling, batched over rows.
* ``naive``: no cache at all, as a straightforward implementation would do it: per frame the global
  transformer re-runs over the whole sequence so far, and per local position the local transformer
  re-runs over the frame so far. Its cost per frame grows with the sequence, so it is measured by
  probes (a few frames timed at the start, middle and end of the 500, integrated with Simpson's rule);
  for tiny at batch 1 the full naive loop also runs, to check the estimate. Both loops pick the same tokens under
  greedy decoding (checked on the first frames).

CPU (default): tiny and mid presets, batch 1 (real-time factor: compute seconds per second of audio)
and batch 32 (aggregate: seconds of audio per compute second). One intra-op thread, timed with the
thread's CPU time (robust on a shared machine). GPU (``--gpu``): the 1B preset, bf16 weights, batch 1
(target: <= 0.6 s per 10 s of audio on an H100) and batch 64, eager and with the frame step captured as
a CUDA graph, wall time with synchronisation.

    python benchmarks/generate_speed.py                 # CPU: tiny, mid
    python benchmarks/generate_speed.py --gpu           # GPU: uniaudio-1b
    python benchmarks/generate_speed.py --cfg --presets tiny --batches 32   # guidance cost

``--cfg`` instead times classifier-free guidance side by side: the same batch of instruct_tts rows (100
phones + a 16-state instruction) decoded unguided and guided (w = 3: the unconditional prefix as a
second row per request), and prints ``BENCH generate_cfg ... ratio=guided/unguided`` (expected <= 2).

Imports only torch / numpy / pydantic / yaml and the project's model, vocab, sequence and generation
loop modules (GPU machines have nothing else).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from uniaudio.conditioning_dropout import drop_conditions  # noqa: E402
from uniaudio.generate.decoder import FrameDecoder, RowSpec  # noqa: E402
from uniaudio.generate.sampling import SamplingConfig, sample_tokens, seed_keys  # noqa: E402
from uniaudio.model import OutputRules, build_model, get_preset  # noqa: E402
from uniaudio.sequence import build_sequence  # noqa: E402
from uniaudio.vocab import load_vocab  # noqa: E402

FRAMES = 500  # 10 s at 50 Hz
SAMPLING = SamplingConfig(top_k=30, temperature=0.8)


def tts_prefix(vocab, seed: int):
    rng = np.random.default_rng(seed)
    segs = {"phone": rng.integers(0, 100, 100), "prompt": rng.integers(0, 1024, (150, 3))}
    return build_sequence("tts", segs, vocab, with_target=False)


def rows(vocab, batch: int, frames: int) -> list[RowSpec]:
    return [RowSpec(tts_prefix(vocab, i), "audio", frames, frames, seed=i) for i in range(batch)]


class Clock:
    """CPU: this thread's CPU time (one intra-op thread does all the work); GPU: synchronised wall time."""

    def __init__(self, device: torch.device):
        self.cuda = device.type == "cuda"

    def now(self) -> float:
        if self.cuda:
            torch.cuda.synchronize()
            return time.perf_counter()
        return time.thread_time()


def run_cached(model, vocab, batch, frames, clock, cuda_graph=False) -> tuple[float, np.ndarray]:
    """Seconds for prefill + the whole loop, and the generated frames of row 0."""
    t0 = clock.now()
    dec = FrameDecoder(model, rows(vocab, batch, frames), SAMPLING)
    with torch.no_grad():
        outs = dec.run(check_every=16 if clock.cuda else 1, compact=False, cuda_graph=cuda_graph)
    dt = clock.now() - t0
    assert all(len(o.frames) == frames for o in outs)
    return dt, outs[0].frames


class Naive:
    """The no-cache loop over the model's full-sequence functions (global_hidden, local_logits_all)."""

    def __init__(self, model, vocab, batch, sampling=SAMPLING):
        self.model, self.sampling = model, sampling
        dev = next(model.parameters()).device
        rules = OutputRules(vocab, model.config.n_q).to(dev)
        self.allowed = rules.allowed[rules.kind_index("audio")].clone()
        self.allowed[0, vocab.end_of("audio")] = False  # end disabled: fixed length, as in `cached`
        p = tts_prefix(vocab, 0)
        self.frames = torch.from_numpy(p.frames).to(dev).expand(batch, -1, -1).contiguous()
        self.keys = seed_keys(torch.arange(batch, device=dev))
        self.width = min(sampling.top_k, 1024) if sampling.top_k else 1024

    @torch.no_grad()
    def frame(self, frames: torch.Tensor, t: int) -> torch.Tensor:
        m, n_q = self.model, self.model.config.n_q
        # the whole sequence again, every frame; global_hidden's state t has seen frames < t, so a
        # placeholder frame is appended to get the state that predicts the next frame
        h = m.global_hidden(torch.cat([frames, frames[:, -1:]], dim=1))[:, -1]
        tok = torch.zeros(frames.shape[0], n_q, dtype=torch.long, device=frames.device)
        tt = torch.full((1,), t, dtype=torch.long, device=frames.device)
        for k in range(n_q):  # the local transformer again over the frame so far, every position
            logits = m.local_logits_all(h, tok)[:, k].float()
            logits = logits.masked_fill(~self.allowed[k], float("-inf"))
            tok[:, k] = sample_tokens(logits, self.sampling, self.keys, tt, k, self.width)
        return tok

    def run(self, frames: int) -> torch.Tensor:
        seq = self.frames
        for t in range(frames):
            seq = torch.cat([seq, self.frame(seq, t)[:, None]], dim=1)
        return seq[:, self.frames.shape[1]:]

    def probe(self, clock, frames: int, n: int = 3) -> float:
        """Estimated seconds for ``frames`` frames: per-frame cost timed at the first, middle and last
        lengths (n frames each, median), integrated with Simpson's rule (exact for a per-frame cost
        quadratic in the length, as full-sequence attention is)."""
        def cost(extra: int) -> float:
            filler = self.frames[:, -1:].expand(-1, extra, -1)
            seq = torch.cat([self.frames, filler], dim=1)
            times = []
            for i in range(n):
                t0 = clock.now()
                self.frame(seq, extra)
                times.append(clock.now() - t0)
            return float(np.median(times))

        return frames * (cost(0) + 4 * cost(frames // 2) + cost(frames - 1)) / 6


def greedy_agree(model, vocab, clock, n: int = 6) -> bool:
    greedy = SamplingConfig(top_k=1)
    dec = FrameDecoder(model, [RowSpec(tts_prefix(vocab, 0), "audio", n, n, seed=0)], greedy)
    with torch.no_grad():
        cached = dec.run(compact=False)[0].frames
    naive = Naive(model, vocab, 1, greedy).run(n)[0].cpu().numpy()
    return bool(np.array_equal(cached, naive))


def bench(preset: str, batch: int, device: torch.device, dtype, full_naive: bool, graph: bool,
          frames: int = FRAMES) -> dict:
    vocab = load_vocab()
    torch.manual_seed(0)
    model = build_model(get_preset(preset)).to(device=device, dtype=dtype).eval()
    clock = Clock(device)
    audio_s = frames / 50 * batch
    res = {"preset": preset, "batch": batch, "audio_s": audio_s}
    run_cached(model, vocab, batch, 8, clock)  # warm-up
    dt, eager_frames = run_cached(model, vocab, batch, frames, clock)
    res["cached_s"] = dt
    if graph:
        try:
            run_cached(model, vocab, batch, 8, clock, cuda_graph=True)
            res["graph_s"], g_frames = run_cached(model, vocab, batch, frames, clock, cuda_graph=True)
            res["graph_same_tokens"] = bool(np.array_equal(g_frames, eager_frames))
        except Exception as err:  # keep the eager numbers if capture fails on this stack
            res["graph_error"] = type(err).__name__
            print(f"CUDA graph variant failed: {err!r}", flush=True)
    naive = Naive(model, vocab, batch)
    res["naive_s"] = naive.probe(clock, frames)
    if full_naive:
        t0 = clock.now()
        naive.run(frames)
        res["naive_full_s"] = clock.now() - t0
    best = min(res["cached_s"], res.get("graph_s", float("inf")))
    if batch == 1:
        res["rtf"] = best / audio_s  # compute seconds per second of audio
        res["per_10s_audio_s"] = best * 10.0 / audio_s
    res["xrt"] = audio_s / best  # seconds of audio per second (aggregate over the batch)
    res["speedup_vs_naive"] = res["naive_s"] / res["cached_s"]
    if device.type == "cuda":
        res["max_mem_gib"] = torch.cuda.max_memory_allocated(device) / 2**30
    return res


def cfg_rows(vocab, batch: int, frames: int, cont_dim: int, scale: float) -> list[RowSpec]:
    out = []
    for i in range(batch):
        rng = np.random.default_rng(i)
        segs = {"phone": rng.integers(0, 100, 100),
                "instruction": rng.standard_normal((16, cont_dim)).astype(np.float32)}
        p = build_sequence("instruct_tts", segs, vocab, with_target=False)
        un = drop_conditions(p, ["instruction"], vocab) if scale != 1.0 else None
        out.append(RowSpec(p, "audio", frames, frames, seed=i, uncond=un, cfg_scale=scale))
    return out


def bench_cfg(preset: str, batch: int, device: torch.device, dtype, frames: int = FRAMES, scale: float = 3.0) -> dict:
    """Guided vs unguided decoding of the same requests (eager, no compaction: every row runs ``frames``)."""
    vocab = load_vocab()
    torch.manual_seed(0)
    model = build_model(get_preset(preset)).to(device=device, dtype=dtype).eval()
    clock = Clock(device)
    res = {"preset": preset, "batch": batch, "scale": scale, "audio_s": frames / 50 * batch}
    for name, w in (("unguided_s", 1.0), ("guided_s", scale)):
        for n in (8, frames):  # warm-up, then the timed run
            rs = cfg_rows(vocab, batch, n, model.config.cont_dim, w)
            t0 = clock.now()
            with torch.no_grad():
                outs = FrameDecoder(model, rs, SAMPLING).run(check_every=16 if clock.cuda else 1, compact=False)
            res[name] = clock.now() - t0
        assert all(len(o.frames) == frames for o in outs)
    res["ratio"] = res["guided_s"] / res["unguided_s"]
    return res


def fmt(res: dict) -> str:
    return " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in res.items())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gpu", action="store_true", help="GPU mode: 1B preset, bf16 weights, batches 1 and 64")
    ap.add_argument("--presets", default=None, help="presets (default: tiny,mid on CPU, uniaudio-1b on GPU)")
    ap.add_argument("--batches", default=None, help="batch sizes (default: 1,32 on CPU, 1,64 on GPU)")
    ap.add_argument("--device", default="cuda", help="GPU mode device")
    ap.add_argument("--no-graph", action="store_true", help="GPU mode: skip the CUDA-graph variant")
    ap.add_argument("--frames", type=int, default=FRAMES, help="frames per row (500 = 10 s)")
    ap.add_argument("--threads", type=int, default=1, help="CPU intra-op threads (CPU time is measured: keep 1)")
    ap.add_argument("--cfg", action="store_true",
                    help="time guided vs unguided decoding instead (classifier-free guidance)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device if args.gpu else "cpu")
    dtype = torch.bfloat16 if args.gpu else torch.float32
    presets = (args.presets or ("uniaudio-1b" if args.gpu else "tiny,mid")).split(",")
    batches = [int(b) for b in (args.batches or ("1,64" if args.gpu else "1,32")).split(",")]
    if args.cfg:
        for preset in presets:
            for b in batches:
                res = bench_cfg(preset, b, device, dtype, frames=args.frames)
                print(f"BENCH generate_cfg {fmt(res)}", flush=True)
        return
    vocab = load_vocab()
    torch.manual_seed(0)
    check = build_model(get_preset(presets[0])).to(device=device, dtype=torch.float32).eval()
    print(f"greedy cached == naive on the first frames: {greedy_agree(check, vocab, Clock(device))}", flush=True)
    del check
    for preset in presets:
        for b in batches:
            full = not args.gpu and preset == "tiny" and b == 1
            res = bench(preset, b, device, dtype, full, graph=args.gpu and not args.no_graph, frames=args.frames)
            if args.gpu:
                name = torch.cuda.get_device_name(device) if device.type == "cuda" else str(device)
                res["device"] = name.replace(" ", "_")
            print(f"BENCH generate_speed {fmt(res)}", flush=True)


if __name__ == "__main__":
    main()
