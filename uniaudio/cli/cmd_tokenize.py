"""``uniaudio tokenize SPEC.yaml --store URI --codec DIR``: corpora -> the token store (Ray Data job).

Only new or changed manifest rows are processed; an unchanged re-run does no work and says so.
Rejected rows go to ``<store>/_quarantine``. Ends with the MLflow run id and a one-line summary.
"""

NAME = "tokenize"
HELP = "tokenize the datasets of a spec into the token store (Delta Lake), incrementally"
DESCRIPTION = __doc__
ORDER = 40


def add_arguments(parser) -> None:
    from uniaudio.config import add_config_args

    parser.add_argument("spec", metavar="SPEC.yaml", help="dataset spec (datasets: name, reader, root, tasks)")
    parser.add_argument("--store", required=True, metavar="URI", help="token store (a Delta table; created if missing)")
    parser.add_argument("--codec", required=True, metavar="CODEC",
                        help="codec: checkpoint dir, `codec train --out` dir, or MLflow runs:/ID[/codec] | models:/ URI")
    parser.add_argument("--address", metavar="ADDR", help="Ray cluster address (default: $RAY_ADDRESS or a local instance)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--json", metavar="FILE", help="also write the summary as JSON to FILE")
    from uniaudio.cli.quiet import add_verbose

    add_verbose(parser)
    add_config_args(parser)


def run(args) -> int:
    from pathlib import Path

    from pipelines.tokenize import TokenizeConfig, run_tokenize
    from uniaudio.config import config_from_args
    from uniaudio.errors import UserFacingError

    if not Path(args.spec).is_file():
        raise UserFacingError(f"dataset spec {args.spec!r} does not exist")
    cfg = config_from_args(TokenizeConfig, args)
    from codec.api import MLFLOW_SCHEMES, resolve_codec

    codec = str(resolve_codec(args.codec)) if args.codec.startswith(MLFLOW_SCHEMES) else args.codec
    from uniaudio.cli.quiet import log_file, quiet

    with quiet(log_file(args.store, "tokenize", store=True), "tokenize", args.verbose) as say:
        summary = run_tokenize(args.spec, args.store, codec, cfg, address=args.address,
                               progress=not args.no_progress, log=say)
    if args.json:
        Path(args.json).write_text(summary.to_json() + "\n")
    print(summary.report())
    print(f"MLflow run id: {summary.mlflow_run_id}")
    return 0
