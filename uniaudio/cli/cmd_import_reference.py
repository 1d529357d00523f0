"""``uniaudio import-reference KIND ...``: import the published UniAudio checkpoints (docs/REFERENCE_MODELS.md).

    uniaudio import-reference lm EXP_DIR [--checkpoint FILE] --out OUT    # LM experiment dir -> exported model
    uniaudio import-reference codec universal_model/ --out codecs/published   # then --codec codecs/published
    uniaudio import-reference phones lang_nosp/ --out phones/published          # then lm --phones phones/published
    uniaudio import-reference semantic hubert_base_ls960.pt hubert_base_ls960_L9_km500.bin --out semantic/published

Every kind reads the published files without running code from them and writes what this project's
commands already open. See docs/REFERENCE_MODELS.md for the published files and the worked path. One subcommand per published artifact; each registers itself below with an
``_add_<kind>(sub)`` function that sets ``_kind_run``.
"""

from __future__ import annotations

import argparse

NAME = "import-reference"
HELP = "import the published UniAudio checkpoints (LM, codec, phone table, semantic tokenizer)"
ORDER = 90


def _add_lm(sub) -> None:
    p = sub.add_parser("lm", help="published LM experiment dir (config.yaml + ep<N>.checkpoint) -> exported model",
                       description="Read the training arguments and token_list of EXP_DIR/config.yaml and the model "
                       "weights of its checkpoint (weights-only), translate the token ids by name, and write a model "
                       "export (generate --model / evaluate / train --init-from) plus OUT/import_report.json.")
    p.add_argument("exp_dir", metavar="EXP_DIR", help="the published experiment dir (config.yaml + checkpoints)")
    p.add_argument("--checkpoint", metavar="FILE", help="checkpoint to import (default: the highest ep<N>.checkpoint)")
    p.add_argument("--out", required=True, metavar="OUT", help="exported model directory to write")
    p.add_argument("--codec", metavar="DIR", help="codec the LM's tokens came from (an imported codec dir): recorded "
                   "in the lineage, so generate needs no --codec")
    p.add_argument("--phones", metavar="DIR", help="imported phone dir (import-reference phones) of the LM's phone "
                   "table: phone ids translate through it and generation tokenizes text with it")
    p.add_argument("--tracking-uri", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else OUT/_mlflow)")
    p.add_argument("--log-model", action="store_true", help="also log the export as the MLflow run's 'model' "
                   "artifact, so --model runs:/<run_id>/model works (copies the weights into the artifact store)")
    p.set_defaults(_kind_run=_run_lm)


def _run_lm(args: argparse.Namespace) -> int:
    from pathlib import Path

    from uniaudio.reference.lm_import import import_lm

    extra = {}
    if args.codec:
        from codec import Codec

        codec = Codec.load(args.codec)
        extra = {"codec_dir": str(Path(args.codec).resolve()), "codec_hash": codec.content_hash}
    result = import_lm(args.exp_dir, args.out, args.checkpoint, lineage_extra=extra, tracking_uri=args.tracking_uri,
                       phones=args.phones, log_model=args.log_model)
    print(result.summary() + (f"; MLflow run {result.run_id}" if result.run_id else ""))
    return 0


def _add_codec(sub) -> None:
    c = sub.add_parser("codec", help="published codec dir (config.yaml + model.pth) -> a codec checkpoint dir")
    c.add_argument("source", metavar="DIR", help="the unpacked universal_model (config.yaml + model.pth)")
    c.add_argument("--out", required=True, help="codec checkpoint dir to write (codec.json + codec.safetensors)")
    c.set_defaults(_kind_run=_codec)


def _codec(args: argparse.Namespace) -> int:
    from codec.export import read_codec_dir
    from codec.published import import_codec

    out = import_codec(args.source, args.out)
    cfg, _, meta = read_codec_dir(out)
    print(f"{args.source}: published SoundStream ({cfg.model.channels} filters, D={cfg.model.dimension}, "
          f"{cfg.quantizer.n_q} x {cfg.quantizer.codebook_size} codebooks) -> {out} "
          f"(codec {meta['content_hash'][:12]}; 1.5 kbps = --n-q 3, 6 kbps = --n-q 12)")
    return 0


def _add_phones(sub) -> None:
    p = sub.add_parser("phones", help="published Kaldi lang dir (phones.txt + lexicon) -> an imported phone dir",
                       description="Write the published phone table as a phone inventory and its position-dependent "
                       "lexicon, for PhoneConfig(backend=lexicon) and 'import-reference lm --phones'.")
    p.add_argument("lang_dir", metavar="LANG_DIR", help="the unpacked lang_nosp (phones.txt, phones/align_lexicon.txt)")
    p.add_argument("--out", required=True, metavar="DIR", help="imported phone dir to write")
    p.set_defaults(_kind_run=_run_phones)


def _run_phones(args: argparse.Namespace) -> int:
    import json

    from uniaudio.tokenizers.phone_table import INVENTORY, LEXICON, TABLE, import_lang_dir

    out = import_lang_dir(args.lang_dir, args.out)
    meta = json.loads((out / TABLE).read_text(encoding="utf-8"))
    words = sum(1 for _ in (out / LEXICON).open(encoding="utf-8"))
    print(f"{args.lang_dir}: {len(meta['published'])} published phones (incl. <UNK>), {words} lexicon words -> {out} "
          f"(tokenizer: phone.backend=lexicon phone.lexicon={out.resolve()} phone.inventory={out.resolve() / INVENTORY})")
    return 0


def _add_semantic(sub) -> None:
    p = sub.add_parser("semantic", help="fairseq HuBERT checkpoint + joblib k-means -> a semantic tokenizer dir",
                       description="Map the fairseq HuBERT weights into the transformers HubertModel the semantic "
                       "tokenizer uses (layer-9 features) and the k-means centres into this project's k-means file. "
                       "The k-means pickle is read by a restricted unpickler (numpy / scikit-learn k-means only).")
    p.add_argument("hubert", metavar="HUBERT.pt", help="fairseq HuBERT checkpoint (hubert_base_ls960.pt)")
    p.add_argument("kmeans", metavar="KMEANS.bin", help="joblib k-means (hubert_base_ls960_L9_km500.bin)")
    p.add_argument("--out", required=True, metavar="DIR", help="semantic tokenizer dir to write (hubert/ + kmeans.npz)")
    p.add_argument("--layer", type=int, default=9, help="HuBERT layer whose states the k-means was fitted on (9)")
    p.set_defaults(_kind_run=_run_semantic)


def _run_semantic(args: argparse.Namespace) -> int:
    from uniaudio.reference.semantic_import import import_semantic

    r = import_semantic(args.hubert, args.kmeans, args.out, args.layer)
    s = r["tokenizer"]["semantic"]
    skipped = f"; skipped checkpoint entries: {', '.join(r['skipped_entries'])}" if r["skipped_entries"] else ""
    print(f"{args.hubert} + {args.kmeans}: HuBERT {r['hubert_config']['num_hidden_layers']} layers x "
          f"{r['hubert_config']['hidden_size']}, {r['k']} units on layer {r['layer']} -> {args.out} (tokenizer: "
          f"semantic.enabled=true semantic.kmeans_path={s['kmeans_path']} semantic.hubert_dir={s['hubert_dir']}){skipped}")
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="reference_kind", metavar="KIND")
    sub.required = True
    _add_lm(sub)
    _add_codec(sub)
    _add_phones(sub)
    _add_semantic(sub)


def run(args: argparse.Namespace) -> int:
    return int(args._kind_run(args) or 0)
