"""``uniaudio model-info PRESET``: parameters by part and FLOPs per frame of a model preset.

The model is built on PyTorch's ``meta`` device (no memory is allocated, so the 1B preset is
instant); the count is cross-checked against the analytic formula of ``uniaudio.model.flops``.
"""

from uniaudio.config import add_config_args

NAME = "model-info"
HELP = "parameter count by part and FLOPs per frame of a model preset"
ORDER = 40


def add_arguments(parser) -> None:
    parser.add_argument("preset", metavar="PRESET", help="model preset (tiny, small, mid, uniaudio-v1, uniaudio-1b, ...)")
    parser.add_argument("--context", type=int, default=1000,
                        help="attended frames per global query for the FLOP count (default 1000 = 20 s of audio)")
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    add_config_args(parser)


def _fmt(n: float) -> str:
    return f"{n / 1e9:8.3f} B" if n >= 1e9 else f"{n / 1e6:8.2f} M"


def run(args) -> int:
    from uniaudio.config import config_from_args
    from uniaudio.errors import UserFacingError
    from uniaudio.model import ModelConfig, build_model, count_params, flops_per_frame, get_preset, params_by_part
    from uniaudio.model.flops import six_n_flops_per_frame, train_flops_per_frame

    if args.context < 1:
        raise UserFacingError(f"--context must be >= 1, got {args.context}")
    cfg = config_from_args(ModelConfig, args, base=get_preset(args.preset))
    parts = params_by_part(build_model(cfg, "meta"))
    if parts != count_params(cfg):  # the analytic formula feeds MFU: it must describe the real module
        raise RuntimeError(f"analytic parameter count {count_params(cfg)} != module count {parts}")
    fwd = flops_per_frame(cfg, args.context)
    train = train_flops_per_frame(cfg, 2 * args.context - 1)  # causal training whose mean context = --context
    six_n = six_n_flops_per_frame(cfg)
    if args.json:
        import json

        print(json.dumps({"preset": args.preset, "config": cfg.to_dict(), "params": parts, "context": args.context,
                          "forward_flops_per_frame": fwd, "train_flops_per_frame": train,
                          "six_n_flops_per_frame": six_n}, indent=1))
        return 0
    print(f"preset {args.preset}: n_q={cfg.n_q} d={cfg.d_model} global {cfg.n_layer} layers x {cfg.n_head} heads, "
          f"local {cfg.n_local_layer} layers x {cfg.local_heads} heads, vocab {cfg.vocab}, "
          f"{cfg.frame_embedding} frame embedding, {cfg.positions} positions, {cfg.attention} attention")
    print("parameters")
    for name in ("global", "local", "embeddings", "head"):
        print(f"  {name:<12}{_fmt(parts[name])}")
    print(f"  {'total':<12}{_fmt(parts['total'])}  ({parts['total']:,})")
    print(f"forward FLOPs per frame at context {args.context} frames "
          f"(global once per frame, local + head once per token)")
    for name in ("global", "link", "local", "head"):
        print(f"  {name:<12}{fwd[name] / 1e9:8.3f} GFLOP")
    print(f"  {'total':<12}{fwd['total'] / 1e9:8.3f} GFLOP")
    print(f"training FLOPs per frame (3 x forward): {train / 1e9:.3f} GFLOP; "
          f"6*N per token would say {six_n / 1e9:.3f} GFLOP ({six_n / train:.2f}x)")
    return 0
