"""The ``uniaudio`` command: one entry point, one subcommand per ``uniaudio/cli/cmd_*.py`` module.

A command module defines ``NAME`` (the subcommand), ``HELP`` (one line), ``add_arguments(parser)``
and ``run(args) -> int``. Modules are discovered, so adding a command touches no shared file. Heavy
imports (torch, ray, mlflow) belong inside ``run`` so that ``uniaudio --help`` stays instant.
"""

from __future__ import annotations

import argparse
import os
import importlib
import pkgutil
import sys
from types import ModuleType

from uniaudio import __version__


def _command_modules() -> list[ModuleType]:
    mods = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("cmd_"):
            mods.append(importlib.import_module(f"{__name__}.{info.name}"))
    return sorted(mods, key=lambda m: getattr(m, "ORDER", 100))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="uniaudio",
        description="UniAudio: universal audio generation with one multi-scale transformer over codec tokens.",
    )
    parser.add_argument("--version", action="version", version=f"uniaudio {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in _command_modules():
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=getattr(mod, "DESCRIPTION", mod.HELP))
        mod.add_arguments(p)
        p.add_argument("--tasks-file", metavar="FILE", default=os.environ.get("UNIAUDIO_TASKS_FILE") or None,
                       help="a YAML file of extra task declarations (docs/NEW_TASK.md); recorded in lineage")
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    from uniaudio.config import ConfigError
    from uniaudio.errors import UserFacingError

    try:
        if args.tasks_file:
            from uniaudio.tasks import use_tasks_file

            use_tasks_file(args.tasks_file)
        return int(args._run(args) or 0)
    except ConfigError as err:
        print(f"uniaudio {args.command}: {err}", file=sys.stderr)
        return 2
    except UserFacingError as err:
        print(f"uniaudio {args.command}: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
