"""`bench`: the performance figures against their budgets (docs/ARCHITECTURE.md), measured on this machine."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

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
    bench.add_argument(
        "--expectations",
        type=Path,
        metavar="F",
        help="also score the student and its peer on this expectation file (JSONL or CSV of query, expected)",
    )
    bench.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from core.bench import format_figures, run_bench

    if args.expectations is not None:
        _check_expectations(args.expectations)
    try:
        figures = run_bench(only=args.only, expectations=args.expectations)
    except ValueError as exc:
        raise UserFacingError(str(exc)) from exc
    if args.json:
        print(json.dumps({"figures": [f.to_json_dict() for f in figures]}))
    else:
        print(format_figures(figures))
    return 0 if all(f.ok for f in figures) else 1


def _check_expectations(path: Path) -> None:
    """Refuse a bad expectation file before minutes of measuring, with its line-numbered problems."""
    from core.evaluate.sets import EvaluationSetError, load_expectation_file

    try:
        load_expectation_file(path)
    except EvaluationSetError as exc:
        raise UserFacingError("; ".join([str(exc), *exc.lines[:3]])) from exc
