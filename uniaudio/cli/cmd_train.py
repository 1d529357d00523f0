"""``uniaudio train``: Ray Train + DeepSpeed ZeRO over the example store, tracked in MLflow."""

NAME = "train"
HELP = "train the LM on an example store (Ray Train + DeepSpeed ZeRO, MLflow)"
ORDER = 60


def add_arguments(parser) -> None:
    from uniaudio.config import add_config_args

    parser.add_argument("--examples", required=True, metavar="URI", help="example store (Delta table) to train on")
    parser.add_argument("--out", required=True, metavar="DIR", help="run directory: checkpoints, exported model, MLflow store")
    parser.add_argument("--preset", default="tiny", help="model preset (see `uniaudio model-info`)")
    parser.add_argument("--steps", type=int, help="optimizer steps")
    parser.add_argument("--workers", type=int, help="Ray Train workers (one per GPU on GPU clusters)")
    parser.add_argument("--zero", type=int, choices=(1, 2, 3), help="DeepSpeed ZeRO stage (default 2)")
    parser.add_argument("--init-from", metavar="MODEL",
                        help="fine-tune: start from an exported model (a `uniaudio train --out` dir, runs:/ or "
                             "models:/ URI); its model_config.json sets the architecture; the optimizer and LR "
                             "schedule start fresh at step 0 (same as --set init_from=MODEL)")
    parser.add_argument("--address", help="Ray cluster address (default: a local Ray instance)")
    from uniaudio.cli.quiet import add_verbose

    add_verbose(parser)
    add_config_args(parser)


def run(args) -> int:
    import json

    from uniaudio.tracking import resolve_tracking_uri
    from uniaudio.train.config import train_config
    from uniaudio.train.driver import run_training

    overrides = list(args.overrides)
    for flag, key in (("steps", "steps"), ("workers", "workers"), ("zero", "zero_stage")):
        if getattr(args, flag) is not None:
            overrides.append(f"{key}={getattr(args, flag)}")
    if args.init_from is not None:
        overrides.append(f"init_from={json.dumps(args.init_from)}")  # JSON-quoted: any path parses as a string
    # the store the driver will use: an init_from runs:/ URI resolves against the same one. Everything is
    # validated before --out is created or Ray starts.
    cfg = train_config(args.preset, args.config, overrides, tracking_uri=resolve_tracking_uri(args.out, create=False))
    from uniaudio.cli.quiet import log_file, quiet

    with quiet(log_file(args.out, "train"), "train", args.verbose):
        summary = run_training(args.examples, args.out, cfg, address=args.address)
    print(f"MLflow run id: {summary.run_id}")
    print(summary.line())
    return 0
