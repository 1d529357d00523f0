"""``uniaudio import-reference codec DIR --out OUT``: bring the published UniAudio checkpoints into this project.

    uniaudio import-reference codec universal_model/ --out codecs/published   # then --codec codecs/published

See docs/REFERENCE_MODELS.md for the published files and the worked path.
"""

from __future__ import annotations

import argparse

NAME = "import-reference"
HELP = "import the published UniAudio checkpoints (codec, ...) into this project's formats"
ORDER = 90


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="import_command", metavar="KIND")
    sub.required = True
    c = sub.add_parser("codec", help="published codec dir (config.yaml + model.pth) -> a codec checkpoint dir")
    c.add_argument("source", metavar="DIR", help="the unpacked universal_model (config.yaml + model.pth)")
    c.add_argument("--out", required=True, help="codec checkpoint dir to write (codec.json + codec.safetensors)")


def run(args: argparse.Namespace) -> int:
    return {"codec": _codec}[args.import_command](args)


def _codec(args: argparse.Namespace) -> int:
    from codec.export import read_codec_dir
    from codec.published import import_codec

    out = import_codec(args.source, args.out)
    cfg, _, meta = read_codec_dir(out)
    print(f"{args.source}: published SoundStream ({cfg.model.channels} filters, D={cfg.model.dimension}, "
          f"{cfg.quantizer.n_q} x {cfg.quantizer.codebook_size} codebooks) -> {out} "
          f"(codec {meta['content_hash'][:12]}; 1.5 kbps = --n-q 3, 6 kbps = --n-q 12)")
    return 0
