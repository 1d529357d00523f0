"""``uniaudio evaluate RESULTS.jsonl``: score generated audio with the paper's metric families.

    uniaudio evaluate gen/results.jsonl --out gen/eval                      # all metrics per task
    uniaudio evaluate gen/results.jsonl --metrics wer,sim_prompt --ground-truth
    uniaudio evaluate gen/results.jsonl --codec runs/codec/codec --n-q 3    # + codec upper bound rows
    uniaudio evaluate --list                                                 # task -> metrics

Besides the table it writes OUT/report.html: per task the request's inputs, the generated audio, the
reference and its codec resynthesis (players + spectrograms) and the metrics (self-contained page).

The RESULTS.jsonl contract and every metric are described in docs/EVALUATION.md.
"""

from __future__ import annotations

import argparse

from uniaudio.config import add_config_args

NAME = "evaluate"
HELP = "score a results JSONL (WER, speaker similarity, PESQ/STOI/SI-SNR, DNSMOS, MCD, FD) into a table"
ORDER = 80


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", nargs="?", help="RESULTS.jsonl written by `uniaudio generate` (see docs/EVALUATION.md)")
    parser.add_argument("--out", help="output folder (default: <results folder>/<results name>_eval)")
    parser.add_argument("--metrics", help="comma-separated metric names to compute (default: all per task)")
    parser.add_argument("--codec", help="codec (checkpoint dir, `codec train --out` dir, or MLflow runs:/ | models:/ URI): "
                        "add 'codec_resynthesis' upper-bound rows")
    parser.add_argument("--n-q", type=int, help="codebooks used by the resynthesis (default 3)")
    parser.add_argument("--ground-truth", action="store_true", help="add 'ground_truth' rows (the references scored)")
    parser.add_argument("--samples", type=int, help="items per task logged as wav + spectrogram (default 2)")
    parser.add_argument("--no-mlflow", action="store_true", help="do not log an MLflow run")
    parser.add_argument("--tracking-uri", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else sqlite in --out)")
    parser.add_argument("--experiment", help="MLflow experiment (default 'evaluate')")
    parser.add_argument("--run-name", help="MLflow run name")
    parser.add_argument("--list", action="store_true", help="print which metrics apply to which task and exit")
    from uniaudio.cli.quiet import add_verbose

    add_verbose(parser)
    add_config_args(parser)


def _overrides(args: argparse.Namespace) -> list[str]:
    """CLI flags as config overrides, so the config is validated once, with clear field names."""
    import json

    sets = list(args.overrides or [])
    if args.metrics is not None:
        names = [m.strip() for m in args.metrics.split(",") if m.strip()]
        sets.append(f"metrics={json.dumps(names)}")
    flags = {"codec": args.codec, "n_q": args.n_q, "samples_per_task": args.samples,
             "tracking_uri": args.tracking_uri, "experiment": args.experiment, "run_name": args.run_name}
    sets += [f"{k}={json.dumps(v)}" for k, v in flags.items() if v is not None]
    if args.ground_truth:
        sets.append("ground_truth=true")
    if args.no_mlflow:
        sets.append("mlflow=false")
    return sets


def _local_out(out_uri: str):
    import hashlib
    import shutil

    from uniaudio.stores import uri as uris

    d = uris.cache_dir() / "evaluate" / hashlib.sha256(out_uri.encode()).hexdigest()[:24]
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    return d


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from uniaudio.config import load_config
    from uniaudio.errors import UserFacingError
    from uniaudio.evaluate.registry import format_registry

    if args.list:
        print(format_registry())
        return 0
    if not args.results:
        raise UserFacingError("give a RESULTS.jsonl to evaluate (or --list)")
    from uniaudio.evaluate.runner import EvaluateConfig, evaluate

    from uniaudio.stores import uri as uris

    cfg = load_config(EvaluateConfig, args.config, _overrides(args))
    results = args.results if uris.is_remote(args.results) else Path(args.results)
    if args.out:
        out_uri = args.out
    elif uris.is_remote(results):
        out_uri = uris.join(uris.parent(results), f"{Path(uris.basename(results)).stem}_eval")
    else:
        out_uri = str(results.resolve().parent / f"{results.stem}_eval")
    # an object-store --out is written through a node-local folder and uploaded at the end
    out = _local_out(out_uri) if uris.is_remote(out_uri) else Path(out_uri)
    from uniaudio.cli.quiet import log_file, quiet
    from uniaudio.evaluate.report_page import Header, write_report

    # a results file in an object store: its folder (results + generated wavs) through the node cache
    local_results = uris.fetch(uris.parent(results)) / uris.basename(results) if uris.is_remote(results) else results
    with quiet(log_file(out_uri, "evaluate"), "evaluate", args.verbose):
        report = evaluate(local_results, out, cfg)
        page = write_report(local_results, out, out / "report.html", Header(title=f"evaluation of {results}"))
    if uris.is_remote(out_uri):
        uris.upload_dir(out, out_uri)
        page = uris.join(out_uri, "report.html")
    print(report.table.format())
    if report.run_id:
        print(f"MLflow run id: {report.run_id}")
    print(report.summary())
    print(f"report page: {page}  (open it in a browser: inputs, outputs and spectrograms per task)")
    return 0
