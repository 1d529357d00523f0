"""``uniaudio codec train|encode|decode``: train the neural codec, and turn audio into codes and back.

    uniaudio codec train --data SPEC.yaml --out runs/codec --preset tiny --steps 500 --workers 2
    uniaudio codec encode speech.wav speech.npy --codec runs/codec/codec      # int16 [n_q, frames]
    uniaudio codec decode speech.npy speech_rt.wav --codec runs/codec/codec
"""

from __future__ import annotations

import argparse

from uniaudio.config import add_config_args

NAME = "codec"
HELP = "train the neural audio codec; encode audio to codes and decode codes to audio"
ORDER = 20

#: what ``codec encode`` accepts: at least 0.1 s (5 frames), not digital silence, at most an hour.
ENCODE_MIN_S = 0.1
ENCODE_MAX_S = 3600.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="codec_command", metavar="ACTION")
    sub.required = True
    t = sub.add_parser("train", help="train a codec with Ray Train (resumes when --out holds a checkpoint)")
    t.add_argument("--data", required=True, help="dataset spec YAML, a folder of audio files, or a .txt list of paths")
    t.add_argument("--out", required=True, help="run directory (checkpoints, MLflow store, exported codec/)")
    t.add_argument("--preset", default="default", help="default | tiny | paper | tiny_paper | gpu")
    t.add_argument("--steps", type=int, help="total training steps (overrides train.steps)")
    t.add_argument("--workers", type=int, default=1, help="data-parallel workers (Ray Train)")
    t.add_argument("--gpu", action="store_true", help="one GPU per worker, NCCL")
    t.add_argument("--cpus-per-worker", type=float, help="Ray CPUs per worker (default 0.5 on CPU, 2 on GPU)")
    t.add_argument("--address", help="Ray cluster address (default: $RAY_ADDRESS, else an embedded local Ray)")
    t.add_argument("--num-cpus", type=int, help="CPUs for the embedded local Ray (default: all)")
    t.add_argument("--run-name", help="MLflow run name")
    from uniaudio.cli.quiet import add_verbose

    add_verbose(t)
    add_config_args(t)
    e = sub.add_parser("encode", help="audio file -> codes .npy (int16 [n_q, frames])")
    e.add_argument("input", help="audio file (any rate/channels; resampled to 16 kHz mono)")
    e.add_argument("output", help=".npy file to write")
    e.add_argument("--codec", required=True, help="codec: checkpoint dir (codec.json + codec.safetensors), `codec train --out` "
                   "dir, or MLflow runs:/ID[/codec] | models:/NAME/VERSION URI")
    e.add_argument("--n-q", type=int, default=3, help="codebooks to keep (the LM uses 3)")
    d = sub.add_parser("decode", help="codes .npy -> 16 kHz wav")
    d.add_argument("input", help=".npy with integer codes [n_q, frames]")
    d.add_argument("output", help="wav file to write")
    d.add_argument("--codec", required=True, help="codec (the same forms as for encode)")


def run(args: argparse.Namespace) -> int:
    return {"train": _train, "encode": _encode, "decode": _decode}[args.codec_command](args)


def _train(args: argparse.Namespace) -> int:
    from codec.config import CodecConfig, preset
    from codec.ray_train import run_training
    from uniaudio.config import config_from_args
    from uniaudio.errors import UserFacingError

    if args.steps is not None:  # as an override, so the whole config is validated together
        args.overrides = list(args.overrides or []) + [f"train.steps={args.steps}"]
    cfg = config_from_args(CodecConfig, args, base=preset(args.preset))
    if args.workers < 1:
        raise UserFacingError("--workers must be >= 1")
    from uniaudio.cli.quiet import log_file, quiet

    with quiet(log_file(args.out, "codec-train"), "codec-train", args.verbose):
        summary = run_training(cfg, args.data, args.out, workers=args.workers, use_gpu=args.gpu,
                               cpus_per_worker=args.cpus_per_worker, address=args.address, num_cpus=args.num_cpus,
                               run_name=args.run_name, tags={"preset": args.preset})
    print(f"MLflow run id: {summary.run_id}")
    print(summary.line())
    return 0


def _load_codec(path: str):
    from codec import Codec
    from uniaudio.allocator import keep_freed_memory

    keep_freed_memory()  # layer outputs reuse freed heap instead of page-faulting fresh mmaps (~2x on CPU)
    return Codec.load(path)


def _encode(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from uniaudio.audio import AudioError, AudioLimits, check_audio, load_audio
    from uniaudio.errors import UserFacingError

    codec = _load_codec(args.codec)
    if not 1 <= args.n_q <= codec.max_codebooks:
        raise UserFacingError(f"--n-q {args.n_q}: this codec has 1..{codec.max_codebooks} codebooks")
    try:
        wav = load_audio(args.input, codec.sample_rate)
        check_audio(args.input, wav, codec.sample_rate, AudioLimits(min_s=ENCODE_MIN_S, max_s=ENCODE_MAX_S))
    except AudioError as err:
        raise UserFacingError(f"cannot encode {err}") from None
    codes = codec.encode(torch.from_numpy(wav), n_q=args.n_q)
    np.save(args.output, codes.numpy().astype(np.int16))
    print(f"{args.input}: {wav.shape[0] / codec.sample_rate:.2f}s -> {args.output} codes {tuple(codes.shape)} "
          f"(codec {codec.content_hash[:12]})")
    return 0


def _decode(args: argparse.Namespace) -> int:
    import numpy as np

    from uniaudio.audio import write_audio
    from uniaudio.errors import UserFacingError

    codec = _load_codec(args.codec)
    try:
        codes = np.load(args.input, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise UserFacingError(f"{args.input}: not a readable .npy array ({err})") from None
    if codes.ndim != 2 or not np.issubdtype(codes.dtype, np.integer):
        raise UserFacingError(f"{args.input}: expected integer codes [n_q, frames], got {codes.dtype} {codes.shape}")
    try:
        wav = codec.decode(codes.astype(np.int64))
    except ValueError as err:
        raise UserFacingError(f"{args.input}: {err}") from None
    write_audio(args.output, wav.numpy(), codec.sample_rate)
    print(f"{args.input}: codes {codes.shape} -> {args.output} ({wav.shape[0] / codec.sample_rate:.2f}s)")
    return 0
