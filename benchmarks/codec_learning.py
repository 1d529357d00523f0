"""How much a codec recipe learns per CPU-second: two presets trained for the same CPU budget, side by side.

    python benchmarks/codec_learning.py --corpus DEMO_CORPUS --cpu-minutes 12 --out /tmp/codec_learning
    python benchmarks/codec_learning.py --corpus DEMO_CORPUS --step-cost           # CPU-s per step only

``DEMO_CORPUS`` is what ``uniaudio demo-corpus OUT`` builds. Its real speech, music and sound files are
split once (hash order): held-out files for evaluation (speech with its transcript), the rest for
training. Each recipe (``--recipes``, default ``tiny_paper`` = the published recipe at the tiny size,
``tiny`` = ours) trains in its own process with one torch thread until the process has used the
budget in **CPU seconds** (``time.process_time``: fair on a shared box, where wall time is not);
the processes run concurrently. Evaluation time is not charged to the budget. At each quarter of the
budget (``--curve-points`` sets how many equal fractions) an evaluation without ASR (mel, STFT distance,
SI-SNR, PESQ, STOI) gives a learning curve; at the end every metric of :mod:`codec.quality` at 3 codebooks (the LM's), including PESQ, STOI and the Whisper WER of
the resynthesized held-out speech. Prints one ``BENCH codec_learning`` line per recipe and a
``BENCH codec_learning_ratio`` line (recipe 2 vs recipe 1), plus ``BENCH codec_step`` (CPU-s per step
and the generator / discriminator split).

``--variant LABEL:KEY=VALUE`` (repeatable; repeat a label for several overrides) adds an arm: recipe 2 with
its ``--set`` overrides and these, on the same split and budget, concurrently; it gets its own
``BENCH codec_learning ... arm=LABEL`` and ratio lines (vs recipe 1)::

    python benchmarks/codec_learning.py --corpus DEMO_CORPUS --cpu-minutes 20 --variant lr3:train.lr=3e-3
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DOMAINS = {"speech": "real_speech/wav", "music": "music/wav", "sound": "sfx/wav"}


def _h(name: str) -> str:
    return hashlib.sha1(name.encode()).hexdigest()


def make_split(corpus: Path, n_speech: int, n_other: int) -> dict:
    """Held-out and training files per domain (deterministic); speech transcripts from the Kaldi text file."""
    from uniaudio.audio import audio_info

    texts = {}
    text_file = corpus / "real_speech" / "text"
    if text_file.is_file():
        for line in text_file.read_text().splitlines():
            utt, _, txt = line.partition(" ")
            texts[utt] = txt.strip()
    split = {"train": [], "eval": []}
    for dom, sub in DOMAINS.items():
        files = sorted((corpus / sub).rglob("*.wav"), key=lambda f: _h(f.name))
        if not files:
            raise SystemExit(f"{corpus / sub}: no wav files (is {corpus} a demo corpus?)")
        n = n_speech if dom == "speech" else n_other
        held = []
        for f in files:
            dur = audio_info(str(f))[2]
            ok = dom != "speech" or (f.stem in texts and len(texts[f.stem].split()) >= 4 and 1.5 <= dur <= 6.0)
            if ok and len(held) < n:
                held.append({"uri": str(f), "domain": dom, "text": texts.get(f.stem) if dom == "speech" else None})
            else:
                split["train"].append({"uri": str(f), "duration_s": dur})
        split["eval"].extend(held)
    return split


def _load_eval(split: dict, max_s: float):
    from codec.data import AudioItem, index_items, load_validation
    from codec.quality import EvalItem

    out = []
    for e in split["eval"]:
        good, _ = index_items([AudioItem(e["uri"])], 0.5)
        wavs, _ = load_validation(good, max_s)
        if wavs:
            out.append(EvalItem(wavs[0], speech=e["domain"] == "speech", text=e["text"]))
    return out


def worker(args) -> None:
    """One recipe, one process, one thread: train to the CPU budget, evaluate, write result.json."""
    import torch

    torch.set_num_threads(1)
    from codec.config import CodecConfig, load_config, preset
    from codec.data import AudioItem, CropBatches
    from codec.export import export_codec
    from codec.quality import quality
    from codec.train_step import CodecTrainer

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    split = json.loads(Path(args.split).read_text())
    cfg = load_config(CodecConfig, overrides=args.set or [], base=preset(args.worker))
    t = cfg.train
    items = [AudioItem(d["uri"], duration_s=d["duration_s"]) for d in split["train"]]
    data = CropBatches(items, t.batch_size, t.crop_min_s, t.crop_max_s, seed=t.seed, norm_scale=t.audio_norm_scale)
    evals = _load_eval(split, args.eval_max_s)
    trainer = CodecTrainer(cfg)
    budget = args.cpu_s
    points = args.curve_points
    marks = [budget * i / (points + 1) for i in range(1, points + 1)]
    curve, spent, excluded = [], 0.0, 0.0
    c0 = time.process_time()
    sums = {"data": 0.0, "gen": 0.0, "disc": 0.0}
    log = open(out / "train.log", "w")
    while spent < budget:
        d0 = time.process_time()
        batch = data[trainer.step]["wav"]
        sums["data"] += time.process_time() - d0
        m = trainer.train_step(batch)
        sums["gen"] += m["time/generator_s"]
        sums["disc"] += m.get("time/discriminator_s", 0.0)
        spent = time.process_time() - c0 - excluded
        if trainer.step % 25 == 0:
            print(f"step {trainer.step} cpu {spent:.0f}s loss {m['loss/total']:.3f}", file=log, flush=True)
        if marks and spent >= marks[0]:
            marks.pop(0)
            e0 = time.process_time()
            q = quality(trainer.generator, evals, 3, asr=False)
            curve.append({"step": trainer.step, "cpu_s": spent, **q})
            print(json.dumps(curve[-1]), file=log, flush=True)
            excluded += time.process_time() - e0
    steps = trainer.step
    final = quality(trainer.generator, evals, 3, asr=True)
    curve.append({"step": steps, "cpu_s": spent, **final})
    export_codec(trainer.generator, cfg, out / "codec", extra={"step": steps, "benchmark": "codec_learning"})
    wall = sum(sums[k] for k in ("gen", "disc")) or 1.0
    res = {"recipe": args.worker, "overrides": args.set or [], "steps": steps, "cpu_s": spent,
           "cpu_s_per_step": spent / max(steps, 1), "disc_share": sums["disc"] / wall,
           "data_cpu_s_per_step": sums["data"] / max(steps, 1), "final": final, "curve": curve}
    (out / "result.json").write_text(json.dumps(res, indent=1))


def plan_arms(recipes: list[str], sets: list[str], variants: list[str]) -> dict[str, tuple[str, list[str]]]:
    """``{label: (preset, overrides)}``: the two recipes under their own names, then each variant (recipe 2
    with its overrides plus the variant's).

    >>> plan_arms(["tiny_paper", "tiny"], ["tiny:train.lr=2e-3"], ["lr3:train.lr=3e-3", "lr3:loss.waveform=0"])
    {'tiny_paper': ('tiny_paper', []), 'tiny': ('tiny', ['train.lr=2e-3']), 'lr3': ('tiny', ['train.lr=2e-3', 'train.lr=3e-3', 'loss.waveform=0'])}
    >>> plan_arms(["tiny_paper", "tiny"], [], ["tiny:train.lr=3e-3"])
    Traceback (most recent call last):
    ...
    ValueError: --variant 'tiny:train.lr=3e-3': the label must differ from the recipes and be a plain name (letters, digits, _ - .)
    """
    if len(recipes) != 2 or recipes[0] == recipes[1]:
        raise ValueError(f"--recipes takes two different presets (recipe 1, recipe 2), got {recipes}")
    bad = next((s for s in sets + variants if not re.fullmatch(r"[^:]+:[^=]+=.*", s)), None)
    if bad is not None:
        raise ValueError(f"{bad!r}: expected NAME:KEY=VALUE")
    arms = {r: (r, [s.split(":", 1)[1] for s in sets if s.split(":", 1)[0] == r]) for r in recipes}
    for v in variants:
        label, kv = v.split(":", 1)
        if label in recipes or not re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*", label):  # it names a folder
            raise ValueError(f"--variant {v!r}: the label must differ from the recipes and be a plain name "
                             "(letters, digits, _ - .)")
        arms.setdefault(label, (recipes[1], list(arms[recipes[1]][1])))[1].append(kv)
    return arms


def _ratio_line(name: str, a: dict, b: dict) -> str:
    return (f"BENCH codec_learning_ratio {name} mel_distance_ratio={b['mel_distance'] / a['mel_distance']:.3f} "
            f"stft_distance_ratio={b['stft_distance'] / a['stft_distance']:.3f} si_snr_gain_db={b['si_snr'] - a['si_snr']:.2f} "
            f"pesq_gain={b.get('pesq', 0) - a.get('pesq', 0):.3f} stoi_gain={b.get('stoi', 0) - a.get('stoi', 0):.3f} "
            f"wer_change={b.get('wer', 0) - a.get('wer', 0):.3f}")


def _fmt(res: dict) -> str:
    f = res["final"]
    keys = ["mel_distance", "stft_distance", "si_snr", "pesq", "stoi", "wer"]
    return (f"recipe={res['recipe']} steps={res['steps']} cpu_s={res['cpu_s']:.0f} "
            f"cpu_s_per_step={res['cpu_s_per_step']:.3f} " + " ".join(f"{k}={f[k]:.3f}" for k in keys if k in f))


def step_cost(recipes: list[str], steps: int) -> None:
    """CPU-s per training step of each recipe on a random batch of its own shape (batch size and the mean
    of its crop range, whole frames: the crop length is part of a recipe's cost), 1 thread."""
    import torch

    torch.set_num_threads(1)
    from codec.config import preset
    from codec.train_step import CodecTrainer

    costs = {}
    for name in recipes:
        cfg = preset(name)
        trainer = CodecTrainer(cfg)
        hop, t = cfg.model.hop_length, cfg.train
        frames = round((t.crop_min_s + t.crop_max_s) / 2 * cfg.model.sample_rate / hop)
        wav = 0.1 * torch.randn(t.batch_size, 1, frames * hop)
        trainer.train_step(wav)
        c0, gen, disc = time.process_time(), 0.0, 0.0
        for _ in range(steps):
            m = trainer.train_step(wav)
            gen, disc = gen + m["time/generator_s"], disc + m.get("time/discriminator_s", 0.0)
        costs[name] = (time.process_time() - c0) / steps
        print(f"BENCH codec_step recipe={name} crop_s={wav.shape[-1] / cfg.model.sample_rate:.2f} "
              f"cpu_s_per_step={costs[name]:.3f} "
              f"disc_update_share={disc / (gen + disc):.2f}", flush=True)
    if len(recipes) == 2:
        a, b = recipes
        print(f"BENCH codec_step_ratio {a}/{b}={costs[a] / costs[b]:.2f}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", help="a demo corpus folder (uniaudio demo-corpus OUT)")
    ap.add_argument("--out", default="/tmp/codec_learning")
    ap.add_argument("--recipes", default="tiny_paper,tiny", help="two presets: recipe 1, recipe 2")
    ap.add_argument("--cpu-minutes", type=float, default=12.0, help="CPU budget per recipe")
    ap.add_argument("--set", action="append", default=[], metavar="RECIPE:KEY=VALUE",
                    help="override a field of one recipe, e.g. tiny:loss.waveform=2")
    ap.add_argument("--variant", action="append", default=[], metavar="LABEL:KEY=VALUE",
                    help="an extra arm: recipe 2 plus this override (repeat a label for several), e.g. lr3:train.lr=3e-3")
    ap.add_argument("--eval-speech", type=int, default=8)
    ap.add_argument("--eval-other", type=int, default=4, help="held-out music and sound files each")
    ap.add_argument("--eval-max-s", type=float, default=4.0)
    ap.add_argument("--curve-points", type=int, default=3,
                    help="evaluations (without ASR) at equal fractions of the budget: 3 = each quarter")
    ap.add_argument("--step-cost", action="store_true", help="only print the CPU cost per step")
    ap.add_argument("--steps", type=int, default=5, help="steps timed by --step-cost")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--split", help=argparse.SUPPRESS)
    ap.add_argument("--cpu-s", type=float, help=argparse.SUPPRESS)
    args = ap.parse_args()
    recipes = args.recipes.split(",")
    if args.worker:
        return worker(args)
    if args.step_cost:
        return step_cost(recipes, args.steps)
    if not args.corpus:
        ap.error("--corpus is required (or --step-cost)")
    from codec.config import CodecConfig, load_config, preset
    from uniaudio.config import ConfigError

    try:
        arms = plan_arms(recipes, args.set, args.variant)
        for name, sets in arms.values():  # a bad preset or override fails here, before any process starts
            load_config(CodecConfig, overrides=sets, base=preset(name))
    except (ValueError, ConfigError) as err:
        ap.error(str(err))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    split = make_split(Path(args.corpus), args.eval_speech, args.eval_other)
    (out / "split.json").write_text(json.dumps(split))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "UNIAUDIO_EVAL_THREADS": "1"}
    procs = []
    for label, (name, sets) in arms.items():
        cmd = [sys.executable, __file__, "--worker", name, "--split", str(out / "split.json"), "--out", str(out / label),
               "--cpu-s", str(args.cpu_minutes * 60), "--eval-max-s", str(args.eval_max_s),
               "--curve-points", str(args.curve_points)]
        cmd += [x for s in sets for x in ("--set", s)]
        procs.append(subprocess.Popen(cmd, env=env, cwd=ROOT))
    failed = [label for label, p in zip(arms, procs) if p.wait()]  # every arm ends before the summary
    if failed:
        raise SystemExit(f"arm(s) {', '.join(failed)} failed (see {out}/ARM/train.log and the errors above)")
    res = {label: json.loads((out / label / "result.json").read_text()) for label in arms}
    print(f"# {len(split['train'])} training files, {len(split['eval'])} held out; budget {args.cpu_minutes} CPU-min "
          f"per arm; metrics at 3 codebooks")
    for label, r in res.items():
        arm = "" if label in recipes else f" arm={label} overrides={','.join(r['overrides'])}"
        print(f"BENCH codec_learning {_fmt(r)}{arm}")
        print("#   curve " + " | ".join(f"step {c['step']}: mel {c['mel_distance']:.3f} si_snr {c['si_snr']:.2f}"
                                     for c in r["curve"]))
    base = res[recipes[0]]["final"]
    for label, r in res.items():
        if label != recipes[0]:
            print(_ratio_line(f"{label}_vs_{recipes[0]}", base, r["final"]))


if __name__ == "__main__":
    main()
