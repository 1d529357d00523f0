"""``uniaudio vocab``: show the vocabulary layout, or check a checkpoint's vocab.json against it."""

NAME = "vocab"
HELP = "show the token-id layout, or check a vocab.json against this code's vocabulary"
ORDER = 11


def add_arguments(parser) -> None:
    parser.add_argument("--version", dest="vocab_version", default="v1", help="built-in vocabulary version")
    parser.add_argument("--check", metavar="PATH", help="vocab.json (or a folder holding one) to check")


def run(args) -> int:
    from uniaudio.vocab import iter_specials, load_vocab

    v = load_vocab(args.vocab_version)
    if args.check:
        v.check_compatible(args.check, what=args.check)
        print(f"{args.check}: compatible with {v}")
        return 0
    print(f"{v}")
    print(f"{'range':<14} {'start':>6} {'stop':>6} {'size':>6}")
    for r in v.ranges.values():
        print(f"{r.name:<14} {r.start:>6} {r.stop:>6} {r.size:>6}")
    print("specials:", ", ".join(f"{name}={i}" for name, i in iter_specials(v)))
    return 0
