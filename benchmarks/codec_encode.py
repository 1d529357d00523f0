"""Codec encode speed: ``Codec.encode`` (default and opt-in fast_cpu plan) vs. the published SoundStream and PyPI ``encodec``.

Published comparison (``BENCH codec_encode_vs_published``, the issue-18 goal >= 1.5x): a full-size
SoundStream in the published layout (32 filters, D=256, 12 x 1024; random weights, calibrated by
``codec.soundstream_ref.calibrate`` so that its codes follow the input: uncalibrated, every frame gets
the same code and a code comparison would test nothing) run as the
published code runs it (:class:`codec.soundstream_ref.ReferenceSoundStream`: weight norm hooks
unfolded, ``nn.Sequential``, ``F.pad``), against the same weights imported with
``codec.published.import_codec`` and encoded by ``Codec.encode`` (the default module path, the same
arithmetic as before this benchmark existed) and with ``fast_cpu=True`` (the opt-in time-major plan of
``codec/fast_encode.py``), and with bf16 autocast. One process, one
thread, CPU time, the same allocator setting for all, ``--repeats`` alternating rounds,
median; 1.5 kbps (3 codebooks); batch of one 10 s clip and of 8 x 10 s. Under glibc's default
allocator each implementation runs in ``--fresh-runs`` fresh processes of its own (interleaved rounds;
one warm-up call, then ``--repeats``; the median, and each round's ratio as ``*_ratio_runs``),
as in a user's own process: the allocator's mmap threshold adapts to what the process freed before, so
in one process each implementation's rounds would change the next one's speed (measured with the same
weights: the published code at 20.8x real time in rounds with three other arms, 24.4x beside ours alone). It also
counts codes that differ from the published implementation's, and the largest latent difference of the
module path.

Speed is seconds of audio encoded per CPU-second (x real time) on ONE thread, measured with
``time.process_time`` (CPU time, so other load on the machine does not count), best of ``--repeats``.
Both models run twice: with glibc's default allocator, and after ``uniaudio.allocator.keep_freed_memory()``
(what ``uniaudio codec encode`` and the tokenization codec actors apply; about half of the default-allocator
CPU time is page faults on freshly mmapped layer outputs). ``ours_xrt`` is the tuned number.

- ours: the ``default`` preset (SEANet 32->512 channels, 2-layer LSTM, D=128, 14.85 M params with the
  decoder), random weights, weight norm folded as ``Codec.load`` does, 16 kHz, n_q=3 (1.5 kbps).
- encodec: ``EncodecModel.encodec_model_24khz(pretrained=False)`` (same SEANet family, 32->512,
  2-layer LSTM, D=128), random weights, 24 kHz, 1.5 kbps (2 codebooks). It is reported with weight
  norm folded like ours (``encodec_xrt``) and as shipped (``encodec_shipped_xrt``).

Both encode the same real speech (LibriVox clips from pocketsphinx-testdata, tiled), resampled with
soxr to each model's rate, as a batch of ``--batch`` items of ``--seconds`` each.

Needs ``.venv/bin/pip install --no-deps encodec`` (not a project dependency). encodec imports
torchaudio at module level for file I/O it does not use here; a stub module stands in for it,
inside this script only.

    .venv/bin/python benchmarks/codec_encode.py            # BENCH codec_encode_vs_published ..., BENCH codec_encode ...
    .venv/bin/python benchmarks/codec_encode.py --published-only
    .venv/bin/python benchmarks/codec_encode.py --device cuda --bf16 --hours 1   # GPU: batched bf16, then the codes' agreement with the CPU
    .venv/bin/python benchmarks/codec_encode.py --agreement    # the agreement check alone (here: CPU vs CPU)
"""

from __future__ import annotations

import argparse
import functools
import glob
import os
import sys
import time
import types
from pathlib import Path

import numpy as np
import torch


def _audio_files(kind: str, packaged: str) -> list[str]:
    """The benchmark's speech files: under ``$UNIAUDIO_BENCH_AUDIO/<kind>/`` where set (the copy that
    ``infra/scripts/device_bundle.sh`` takes to a GPU machine without the Debian packages), else the
    packaged ones."""
    bundle = os.environ.get("UNIAUDIO_BENCH_AUDIO")
    return sorted(glob.glob(os.path.join(bundle, kind, "*.wav") if bundle else packaged))


def _speech(seconds: float, sr: int) -> np.ndarray:
    from uniaudio.audio import load_audio

    files = _audio_files("librivox", "/usr/share/pocketsphinx/test/data/librivox/*.wav")
    if files:
        wav = np.concatenate([load_audio(f, sr) for f in files])
    else:  # no packaged speech: a deterministic noise stand-in (speed does not depend on content)
        wav = np.random.default_rng(0).standard_normal(sr * 10).astype(np.float32) * 0.1
    reps = int(np.ceil(seconds * sr / len(wav)))
    return np.tile(wav, reps)[: int(seconds * sr)].astype(np.float32)


def _cpu_time(fn, repeats: int) -> float:
    fn()  # warm-up (allocator, oneDNN primitive caches)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best


def ours(batch: int, seconds: float, repeats: int, device: str = "cpu", bf16: bool = False) -> float:
    from codec import Codec
    from codec.config import preset
    from codec.model import CodecModel

    torch.manual_seed(0)
    cfg = preset("default")
    codec = Codec.from_generator(CodecModel(cfg), cfg).to(device)
    codec.autocast_dtype = torch.bfloat16 if bf16 else None
    x = torch.from_numpy(np.stack([np.roll(_speech(seconds, 16000), i * 997) for i in range(batch)])).to(device)

    def run():
        codec.encode(x, n_q=3)
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    if device.startswith("cuda"):  # wall time on a GPU (process_time would count only the host)
        run()
        t0 = time.perf_counter()
        for _ in range(repeats):
            run()
        return batch * seconds * repeats / (time.perf_counter() - t0)
    return batch * seconds / _cpu_time(run, repeats)


def encodec(batch: int, seconds: float, repeats: int, fold: bool) -> float:
    sys.modules.setdefault("torchaudio", types.ModuleType("torchaudio"))  # stub: only its I/O is imported
    from encodec import EncodecModel

    torch.manual_seed(0)
    model = EncodecModel.encodec_model_24khz(pretrained=False)
    model.set_target_bandwidth(1.5)
    model.eval()
    if fold:
        for m in model.modules():
            if hasattr(m, "weight_g"):
                torch.nn.utils.remove_weight_norm(m)
    x = torch.from_numpy(np.stack([np.roll(_speech(seconds, 24000), i * 997) for i in range(batch)])).unsqueeze(1)

    def run():
        with torch.no_grad():
            model.encode(x)

    return batch * seconds / _cpu_time(run, repeats)


def _calibration_audio(seconds: float) -> np.ndarray:
    """Other speech than the timed clips (the asterisk prompts where packaged), to fit the codebooks on."""
    from uniaudio.audio import load_audio

    parts, n = [], 0
    for f in _audio_files("calibration", "/usr/share/asterisk/sounds/en*/*.wav"):
        if n >= seconds * 16000:
            break
        parts.append(load_audio(f, 16000))
        n += len(parts[-1])
    wav = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    if len(wav) < seconds * 16000:  # not packaged: the timed speech at another offset and level
        wav = 0.5 * np.roll(_speech(seconds, 16000), 12345)
    return wav[: int(seconds * 16000)].astype(np.float32)


def write_calibrated_published(src: str) -> None:
    """Write the calibrated published-layout SoundStream (32 filters, D=256, 12 x 1024) into ``src`` in the
    published format, and its import into ``src/imported``. Random weights, calibrated
    (``codec.soundstream_ref.calibrate``): with the default init every frame of every clip gets one and the
    same code per codebook, so counting differing codes would test nothing; calibrated, a 10 s clip uses
    ~65 distinct codes in codebook 1."""
    from codec.published import import_codec
    from codec.soundstream_ref import ReferenceSoundStream, calibrate

    torch.set_num_threads(1)
    torch.manual_seed(0)
    ref = calibrate(ReferenceSoundStream(n_filters=32, D=256).eval(),
                    torch.from_numpy(_calibration_audio(45.0)).view(1, 1, -1))
    import_codec(ref.save(src), Path(src) / "imported")


@functools.lru_cache(maxsize=1)
def calibrated_dir() -> str:
    """A folder with the calibrated published-layout checkpoint and its import, written by a child process
    (its large calibration buffers stay out of this process's allocator)."""
    import multiprocessing
    import tempfile

    src = tempfile.mkdtemp(prefix="published-")
    child = multiprocessing.get_context("spawn").Process(target=write_calibrated_published, args=(src,))
    child.start()
    child.join()
    if child.exitcode != 0:
        raise SystemExit(f"calibrating the published-layout codec failed (exit code {child.exitcode})")
    return src


def load_pair(src: str, device: str = "cpu"):
    """(the published-layout reference, the same weights imported as a ``Codec`` on ``device``) from ``src``."""
    from codec import Codec
    from codec.soundstream_ref import ReferenceSoundStream

    ref = ReferenceSoundStream(n_filters=32, D=256).eval()
    ref.load_state_dict(torch.load(Path(src) / "model.pth", weights_only=True)["codec_model"])
    return ref, Codec.load(Path(src) / "imported", device=device)


def device_agreement(device: str, seconds: float, batch: int = 8) -> dict[str, int]:
    """Codes differing from the fp32 CPU encode when the calibrated codec encodes the same ``batch`` clips on
    ``device``: fp32 as PyTorch sets it up (cuDNN convs in TF32), fp32 with cuDNN's TF32 off, bf16 autocast.
    On a GPU node this says whether its tokens can share a store with a CPU node's (docs/CODEC.md)."""
    from torch.backends import cudnn

    x = _clips(batch, seconds)
    want = load_pair(calibrated_dir())[1].encode(x, n_q=3)
    codec = load_pair(calibrated_dir(), device)[1]

    def differ() -> int:
        return int((codec.encode(x, n_q=3).cpu() != want).sum())

    res = {"codes": want.numel(), "fp32": differ()}
    saved = cudnn.conv.fp32_precision, cudnn.rnn.fp32_precision
    cudnn.conv.fp32_precision = cudnn.rnn.fp32_precision = "ieee"
    try:
        res["fp32_ieee"] = differ()
    finally:
        cudnn.conv.fp32_precision, cudnn.rnn.fp32_precision = saved
    codec.autocast_dtype = torch.bfloat16
    res["bf16"] = differ()
    return res


def implementations(ref, codec, x: torch.Tensor) -> dict:
    """name -> a call that encodes ``x [B, T]`` at 1.5 kbps and returns codes ``[B, 3, F]``."""
    def published():
        return ref.encode(x.unsqueeze(1), 3).permute(1, 0, 2)

    def before():  # Codec.encode as shipped (the module path, chunked where it applies)
        codec.fast_cpu = False
        return codec.encode(x, n_q=3)

    def unchunked():  # the module path without codec/chunked_encode.py (its arithmetic is the same)
        from codec import chunked_encode

        codec.fast_cpu, chunked_encode.ENABLED = False, False
        try:
            return codec.encode(x, n_q=3)
        finally:
            chunked_encode.ENABLED = True

    def after():  # the opt-in fast_cpu plan
        codec.fast_cpu = True
        return codec.encode(x, n_q=3)

    def bf16():  # bf16 autocast (the GPU setting); fast only where the CPU has AVX-512 BF16 (or AMX)
        codec.fast_cpu, codec.autocast_dtype = False, torch.bfloat16
        try:
            return codec.encode(x, n_q=3)
        finally:
            codec.autocast_dtype = None

    return {"published": published, "unchunked": unchunked, "before": before, "ours": after, "bf16": bf16}


def _clips(batch: int, seconds: float) -> torch.Tensor:
    return torch.from_numpy(np.stack([np.roll(_speech(seconds, 16000), i * 997) for i in range(batch)]))


def time_one(name: str, src: str, batch: int, seconds: float, repeats: int) -> float:
    """x real time (median of ``repeats`` after one warm-up call) of one implementation, in this process."""
    ref, codec = load_pair(src)
    fn = implementations(ref, codec, _clips(batch, seconds))[name]
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return batch * seconds / float(np.median(times))


def _time_in_fresh_process(name: str, batch: int, seconds: float, repeats: int) -> float:
    import subprocess

    out = subprocess.run([sys.executable, __file__, "--time-one", name, "--model-dir", calibrated_dir(),
                          "--batch", str(batch), "--seconds", str(seconds), "--repeats", str(repeats)],
                         check=True, capture_output=True, text=True).stdout
    return float(out.split()[-1])


def published_side_by_side(batch: int, seconds: float, repeats: int, fresh_runs: int = 0) -> dict:
    """x real time (median) of the published-layout reference and ``Codec.encode`` (its module path, its
    unchunked variant, the opt-in ``fast_cpu`` plan, bf16 autocast) on the same weights, plus how many
    codes differ from the reference's. ``fresh_runs`` > 0: each implementation timed in that many fresh
    processes of its own, interleaved (glibc's default allocator adapts its mmap threshold to what the
    process freed before, so under it one implementation's rounds change the next one's speed, and even a
    fresh process's speed varies from run to run: ``ratios`` holds each round's ours / published);
    otherwise alternating rounds here."""
    ref, codec = load_pair(calibrated_dir())
    x = _clips(batch, seconds)
    fns = implementations(ref, codec, x)
    outs = {k: f() for k, f in fns.items()}  # warm-up, and the codes to compare
    if fresh_runs:
        runs: dict[str, list[float]] = {k: [] for k in fns}
        for _ in range(fresh_runs):
            for k in fns:
                runs[k].append(_time_in_fresh_process(k, batch, seconds, repeats))
        res: dict = {k: float(np.median(v)) for k, v in runs.items()}
        res["ratios"] = [o / p for o, p in zip(runs["before"], runs["published"])]
    else:
        times: dict[str, list[float]] = {k: [] for k in fns}
        for _ in range(repeats):
            for k, f in fns.items():
                t0 = time.process_time()
                f()
                times[k].append(time.process_time() - t0)
        res = {k: batch * seconds / float(np.median(v)) for k, v in times.items()}
        res["ratios"] = []
    res["codes"] = outs["ours"].numel()
    res["diff_vs_published"] = int((outs["ours"] != outs["published"]).sum())
    res["diff_before_vs_published"] = int((outs["before"] != outs["published"]).sum())
    res["diff_bf16_vs_published"] = int((outs["bf16"] != outs["published"]).sum())
    res["distinct_codes"] = len(torch.unique(outs["published"][:, 0]))
    res["chunked_bitwise"] = int(torch.equal(outs["before"], outs["unchunked"]))
    with torch.no_grad():
        res["latent_maxdiff"] = float((codec.model.encoder(x.unsqueeze(1)) - ref.encoder(x.unsqueeze(1))).abs().max())
    return res


def params_m(model: torch.nn.Module) -> float:
    return sum(p.numel() for p in model.parameters()) / 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=10.0, help="per item")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--bf16", action="store_true", help="bf16 autocast (GPU path)")
    ap.add_argument("--hours", type=float, default=1.0, help="GPU path: total audio per timed pass")
    ap.add_argument("--published-only", action="store_true", help="only the side-by-side with the published SoundStream")
    ap.add_argument("--agreement", action="store_true",
                    help="only the codes of --device vs the fp32 CPU encode (fp32, fp32 without TF32, bf16); "
                         "the GPU mode prints it too")
    ap.add_argument("--fresh-runs", type=int, default=3,
                    help="default-allocator timing: fresh processes per implementation (interleaved rounds)")
    ap.add_argument("--time-one", help=argparse.SUPPRESS)  # child process: time one implementation
    ap.add_argument("--model-dir", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.fresh_runs < 1:
        ap.error("--fresh-runs must be >= 1")
    torch.set_num_threads(1)
    if args.time_one:
        print(f"XRT {time_one(args.time_one, args.model_dir, args.batch, args.seconds, args.repeats):.4f}")
        return
    if args.device != "cpu" and not args.agreement:
        batch = max(1, int(args.hours * 3600 / args.seconds))
        xrt = ours(batch, args.seconds, args.repeats, args.device, args.bf16)
        print(f"ours on {args.device}: {batch} x {args.seconds:.0f}s per pass, {xrt:,.0f}x real time")
        print(f"BENCH codec_encode_gpu ours_xrt={xrt:.0f} batch={batch} bf16={int(args.bf16)}")
    if args.device != "cpu" or args.agreement:
        r = device_agreement(args.device, args.seconds)
        print(f"BENCH codec_encode_device_agreement device={args.device} " + " ".join(
            f"{k}_code_diffs={r[k]}/{r['codes']}" for k in ("fp32", "fp32_ieee", "bf16")))
        return
    if args.published_only:
        _published(args)
        return
    # glibc's default allocator first (fresh mmap + page faults for every large layer output), then the
    # tuning the product applies in its encoding processes (uniaudio/allocator.py), to both models
    ours_default = ours(args.batch, args.seconds, args.repeats)
    enc_default = encodec(args.batch, args.seconds, args.repeats, fold=True)
    from uniaudio.allocator import keep_freed_memory

    tuned = keep_freed_memory()
    ours_xrt = ours(args.batch, args.seconds, args.repeats)
    ours_bf16 = ours(args.batch, args.seconds, args.repeats, bf16=True)
    enc_xrt = encodec(args.batch, args.seconds, args.repeats, fold=True)
    shipped_xrt = encodec(args.batch, args.seconds, args.repeats, fold=False)
    print(f"audio: {args.batch} x {args.seconds:.0f}s real speech per pass, 1 thread, CPU time, best of {args.repeats}")
    print(f"allocator: glibc default, then keep_freed_memory() (applied: {tuned})")
    print(f"ours    (16 kHz, n_q=3)        : {ours_default:7.1f}x -> {ours_xrt:.1f}x real time (fp32), "
          f"{ours_bf16:.1f}x with bf16 autocast")
    print(f"encodec (24 kHz, 1.5 kbps)     : {enc_default:7.1f}x -> {enc_xrt:.1f}x real time (weight norm folded), "
          f"{shipped_xrt:.1f}x as shipped")
    print(f"BENCH codec_encode ours_xrt={ours_xrt:.1f} encodec_xrt={enc_xrt:.1f} ratio={ours_xrt / enc_xrt:.2f} "
          f"ours_default_alloc_xrt={ours_default:.1f} encodec_default_alloc_xrt={enc_default:.1f} "
          f"encodec_shipped_xrt={shipped_xrt:.1f} ours_bf16_xrt={ours_bf16:.1f}")
    _published(args)


def _published(args: argparse.Namespace) -> None:
    """Both allocator settings, the same for all implementations: glibc's default (what a user's own
    Python process has), each implementation in a fresh process of its own, then ``keep_freed_memory()``
    (what ``uniaudio codec encode`` and the tokenization actors apply), alternating rounds in this one."""
    from uniaudio import allocator

    fields = [f"host_sgemm_gmacs={host_sgemm_gmacs():.1f}"]
    fields += _published_fields(args, "defalloc_", "glibc default allocator, a fresh process each")
    allocator.keep_freed_memory()
    fields += _published_fields(args, "", "keep_freed_memory(), alternating rounds")
    print("BENCH codec_encode_vs_published " + " ".join(fields))


def host_sgemm_gmacs() -> float:
    """Single-thread fp32 GEMM rate of this host (1024^3 ``torch.mm``, best of 5), printed with the ratios:
    the same code gives different ratios on hosts of different speed (docs/CODEC.md "Encode speed")."""
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    return 1024**3 / _cpu_time(lambda: torch.mm(a, b), 5) / 1e9


def _published_fields(args: argparse.Namespace, prefix: str, alloc: str) -> list[str]:
    fields = []
    for batch in (1, 8):
        r = published_side_by_side(batch, args.seconds, args.repeats, args.fresh_runs if prefix == "defalloc_" else 0)
        print(f"published layout, {batch} x {args.seconds:.0f}s, {alloc}, median of {args.repeats}: "
              f"published {r['published']:.1f}x, Codec.encode {r['before']:.1f}x ({r['before'] / r['published']:.2f}x; "
              f"{r['before'] / r['unchunked']:.2f}x its unchunked path), "
              f"fast_cpu plan {r['ours']:.1f}x ({r['ours'] / r['published']:.2f}x the published, "
              f"{r['ours'] / r['before']:.2f}x the module path), bf16 autocast {r['bf16']:.1f}x "
              f"({r['bf16'] / r['published']:.2f}x) real time; codes differing from the published: "
              f"{r['diff_before_vs_published']} (module path), {r['diff_vs_published']} (plan), "
              f"{r['diff_bf16_vs_published']} (bf16) of {r['codes']} ({r['distinct_codes']} distinct codes in codebook 1); "
              f"latents within {r['latent_maxdiff']:.1e} of the published; "
              f"chunked == unchunked bitwise: {bool(r['chunked_bitwise'])}"
              + (f"; ours / published per fresh-process round: {', '.join(f'{v:.2f}' for v in r['ratios'])}" if r["ratios"] else ""))
        b = f"{prefix}b{batch}"
        fields += [f"{b}_ratio={r['before'] / r['published']:.2f}", f"{b}_plan_ratio={r['ours'] / r['published']:.2f}",
                   f"{b}_plan_vs_module={r['ours'] / r['before']:.2f}", f"{b}_module_xrt={r['before']:.1f}",
                   f"{b}_plan_xrt={r['ours']:.1f}", f"{b}_published_xrt={r['published']:.1f}",
                   f"{b}_code_diffs={r['diff_vs_published']}/{r['codes']}",
                   f"{b}_module_code_diffs={r['diff_before_vs_published']}/{r['codes']}",
                   f"{b}_bf16_ratio={r['bf16'] / r['published']:.2f}",
                   f"{b}_bf16_code_diffs={r['diff_bf16_vs_published']}/{r['codes']}",
                   f"{b}_distinct_codes={r['distinct_codes']}", f"{b}_module_latent_maxdiff={r['latent_maxdiff']:.1e}",
                   f"{b}_chunked_vs_unchunked={r['before'] / r['unchunked']:.3f}",
                   f"{b}_unchunked_xrt={r['unchunked']:.1f}", f"{b}_chunked_bitwise={r['chunked_bitwise']}"]
        if r["ratios"]:
            fields.append(f"{b}_ratio_runs={','.join(f'{v:.2f}' for v in r['ratios'])}")
    return fields


if __name__ == "__main__":
    main()
