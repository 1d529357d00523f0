"""``uniaudio tasks``: the task registry as a table."""

NAME = "tasks"
HELP = "list the registered tasks (conditions -> target)"
ORDER = 10


def add_arguments(parser) -> None:
    parser.add_argument("--json", action="store_true", help="print the templates as JSON")


def run(args) -> int:
    from uniaudio.tasks import TASKS, format_task_table

    if args.json:
        import json
        from dataclasses import asdict

        print(json.dumps({name: asdict(t) for name, t in TASKS.items()}, indent=1))
    else:
        print(format_task_table())
    return 0
