"""`python -m core ...`: the command line beside the dashboard. It calls the same core functions as the pages.

Each command lives in its own module of this package, which adds its subparser; COMMANDS lists them
(a new command is a new module and one line here). docs/ARCHITECTURE.md gives the JSON shapes.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from core.cli.common import UserFacingError

# Modules that each define `add_command(subparsers)`, in the order `--help` lists them.
COMMANDS = (
    "core.cli.route",
    "core.cli.synth",
    "core.cli.validate",
    "core.cli.distill",
    "core.cli.evaluate",
    "core.cli.runs",
    "core.cli.bench",
    "core.cli.search",
    "core.cli.search_eval",
    "core.cli.search_catalog",
    "core.cli.preflight",
    "core.cli.label",
    "core.cli.batch_label",
    "core.cli.write_queries",
    "core.cli.job",
    "core.cli.models",
    "core.cli.deploy",
    "core.cli.compare",
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except UserFacingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {exc.filename or 'a file'}: {exc.strerror or exc}", file=sys.stderr)
        return 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core", description="Video Search Router Studio command line.")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    for module in COMMANDS:
        importlib.import_module(module).add_command(commands)
    return parser


__all__ = ["COMMANDS", "UserFacingError", "build_parser", "main"]
