"""`python -m core ...`: the command line beside the dashboard. It calls the same core functions as the pages.

Each command lives in its own module of this package, which adds its subparser; COMMANDS lists them
(a new command is a new module and one line here). docs/ARCHITECTURE.md gives the JSON shapes.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from core.cli.common import UserFacingError, check_text_arguments, explained_error

EXIT_BROKEN_PIPE = 128 + 13  # SIGPIPE
EXIT_INTERNAL_ERROR = 70  # EX_SOFTWARE
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
        check_text_arguments(args)
        return args.handler(args)
    except BrokenPipeError:
        # The reader went away (`| head -1`): stop quietly, as a program killed by SIGPIPE would.
        _discard_stdout()
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except UserFacingError as exc:
        return _error(str(exc))
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        return _error(f"{where}{exc.strerror or exc}")
    except Exception as exc:
        if explained_error(exc):
            return _error(str(exc))
        first_line = (str(exc).strip().splitlines() or [""])[0]
        return _error(
            f"unexpected {type(exc).__name__}: {first_line}; this is a bug in the studio: please report it with the "
            "command you ran",
            EXIT_INTERNAL_ERROR,
        )


def _error(message: str, code: int = 2) -> int:
    print(f"error: {' '.join(message.split())}", file=sys.stderr)
    return code


def _discard_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's final flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core", description="Video Search Router Studio command line.")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    for module in COMMANDS:
        importlib.import_module(module).add_command(commands)
    return parser


__all__ = ["COMMANDS", "UserFacingError", "build_parser", "main"]
