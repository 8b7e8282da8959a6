"""`bench`: the performance figures against their budgets (docs/ARCHITECTURE.md), measured on this machine."""

from __future__ import annotations

import argparse
import json

from core.cli.common import UserFacingError


def add_command(commands) -> None:
    from core.bench import group_names

    bench = commands.add_parser("bench", help="measure the performance figures against their budgets")
    bench.add_argument("--json", action="store_true", help="print {'figures': [...]} as JSON")
    bench.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="GROUP",
        help=f"run only the figure groups whose name contains this: {', '.join(group_names())} (repeatable)",
    )
    bench.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from core.bench import format_figures, run_bench

    try:
        figures = run_bench(only=args.only)
    except ValueError as exc:
        raise UserFacingError(str(exc)) from exc
    if args.json:
        print(json.dumps({"figures": [f.to_json_dict() for f in figures]}))
    else:
        print(format_figures(figures))
    return 0 if all(f.ok for f in figures) else 1
