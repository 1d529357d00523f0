"""``uniaudio simulate --recipe NAME --spec SPEC --from DATASET --name NEW --tasks T --out DIR``.

Applies a simulation recipe chosen by name (:mod:`pipelines.simulation.recipes`, e.g. ``bandlimit``) to
the rows of one dataset of a spec, writes the pairs as a ``manifest`` dataset under ``DIR/NEW`` and a
spec ``DIR/spec.yaml`` = the input spec + the new dataset feeding ``--tasks`` (tokenize it like any
other). ``--param k=v`` sets recipe parameters (``--param rate=8000``).
"""

NAME = "simulate"
HELP = "make a paired dataset with a simulation recipe chosen by name (e.g. bandlimit)"
DESCRIPTION = __doc__
ORDER = 38


def add_arguments(parser) -> None:
    parser.add_argument("--recipe", required=True, help="recipe name (pipelines/simulation/recipes.py)")
    parser.add_argument("--spec", required=True, metavar="SPEC.yaml", help="dataset spec holding the source dataset")
    parser.add_argument("--from", dest="source", required=True, metavar="DATASET", help="dataset of the spec to read")
    parser.add_argument("--name", required=True, help="name of the new dataset")
    parser.add_argument("--tasks", required=True, metavar="t1,t2", help="tasks the new dataset feeds")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for the dataset and the new spec")
    parser.add_argument("--count", type=int, help="at most this many rows (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--param", action="append", default=[], metavar="K=V", help="recipe parameter")


def run(args) -> int:
    from pathlib import Path

    import yaml

    from pipelines.simulation.recipes import RECIPES, simulate_recipe
    from pipelines.sources import load_dataset_spec, read_dataset
    from uniaudio.errors import UserFacingError
    from uniaudio.tasks import TASKS

    if args.recipe not in RECIPES:
        raise UserFacingError(f"--recipe: unknown simulation recipe {args.recipe!r}; known: {', '.join(RECIPES)}")
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    unknown = [t for t in tasks if t not in TASKS]
    if unknown:
        raise UserFacingError(f"--tasks: unknown task(s) {', '.join(unknown)} (a new task needs --tasks-file)")
    params = {}
    for item in args.param:
        if "=" not in item:
            raise UserFacingError(f"--param {item!r}: expected KEY=VALUE")
        k, v = item.split("=", 1)
        params[k] = yaml.safe_load(v)
    spec = load_dataset_spec(args.spec)
    try:
        entry = spec.get(args.source)
    except KeyError:
        raise UserFacingError(f"--from: no dataset {args.source!r} in {args.spec}") from None
    if args.name in [d.name for d in spec.datasets]:
        raise UserFacingError(f"--name: {args.name!r} is already a dataset of {args.spec}")
    out = Path(args.out).resolve()
    try:
        manifest, problems = simulate_recipe(args.recipe, read_dataset(entry).rows, out / args.name, params,
                                             args.seed, args.count)
    except ValueError as err:
        raise UserFacingError(f"recipe {args.recipe}: {err}") from None
    for p in problems:
        print(f"skipped {p}")
    doc = spec.to_dict() if hasattr(spec, "to_dict") else spec.model_dump()
    doc["datasets"].append({"name": args.name, "reader": "manifest", "root": str(out / args.name), "tasks": tasks,
                            "options": {}})
    (out / "spec.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    n = sum(1 for _ in manifest.open())
    print(f"{n} pairs by {args.recipe} from {args.source} -> {manifest}; spec with {args.name}: {out / 'spec.yaml'}")
    return 0
