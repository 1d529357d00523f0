"""``uniaudio examples --tokens URI --out URI``: build the example store from the token store.

Per task (``--tasks`` to restrict), using the task templates: prompts of another utterance of the
same speaker, noisy/clean pairs, masked speech-edit spans, SV trials, ... Incremental: only new or
changed examples are built, superseded ones removed. The build of the new examples is a Ray Data job:
on the cluster at ``--address`` (or ``$RAY_ADDRESS``), else on a local Ray instance (started only
when there is something to build). Ends with the MLflow run id and a summary line.
"""

NAME = "examples"
HELP = "build the example store (frame sequences + loss spans per task) from the token store"
DESCRIPTION = __doc__
ORDER = 45


def add_arguments(parser) -> None:
    from uniaudio.config import add_config_args

    parser.add_argument("--tokens", required=True, metavar="URI", help="token store written by `uniaudio tokenize`")
    parser.add_argument("--out", required=True, metavar="URI", help="example store (a Delta table; created if missing)")
    parser.add_argument("--tasks", metavar="t1,t2", help="only these tasks (default: every task a token row lists)")
    parser.add_argument("--datasets", metavar="d1,d2", help="only these datasets (default: all)")
    parser.add_argument("--address", metavar="ADDR", help="Ray cluster address (default: $RAY_ADDRESS or a local instance)")
    from uniaudio.cli.quiet import add_verbose

    add_verbose(parser)
    add_config_args(parser)


def run(args) -> int:
    from pipelines.examples import ExamplesConfig, run_examples
    from uniaudio.config import config_from_args

    cfg = config_from_args(ExamplesConfig, args)
    if args.tasks:
        cfg.tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    if args.datasets:
        cfg.datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]
    from uniaudio.cli.quiet import log_file, quiet

    with quiet(log_file(args.out, "examples", store=True), "examples", args.verbose):
        summary = run_examples(args.tokens, args.out, cfg, address=args.address)
    print(summary.report())
    print(f"MLflow run id: {summary.mlflow_run_id}")
    return 0
