"""`python -m core ...`: the command line beside the dashboard. It calls the same core functions as the pages."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from core.schema import MODALITIES, RouteResult

BAR_WIDTH = 20


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
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


class UserFacingError(Exception):
    """A problem the user can fix; printed as one line, no traceback."""


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core", description="Video Search Router Studio command line.")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    route = commands.add_parser("route", help="route queries and print the four channel weights")
    route.add_argument("queries", nargs="*", metavar="QUERY")
    route.add_argument("--router", default="teacher", help="router id: teacher, uniform, student, student:DIR ...")
    route.add_argument("--json", action="store_true", help="one JSON object per query and line")
    route.add_argument("--file", type=Path, help="read queries from a file, one per line ('-' for stdin)")
    route.set_defaults(handler=_route)

    bench = commands.add_parser("bench", help="measure the performance figures of DESIGN.md section 5")
    bench.add_argument("--json", action="store_true", help="print {'figures': [...]} as JSON")
    bench.add_argument("--only", action="append", default=[], help="run only figures whose name contains this")
    bench.set_defaults(handler=_bench)
    return parser


def _open_backend():
    from core.backends import make_backend
    from core.settings import load_settings
    from core.store import Store, StoreError

    settings = load_settings()
    try:
        return make_backend(settings, Store(settings.store_path))
    except StoreError as exc:
        raise UserFacingError(str(exc)) from exc


def _read_queries(args: argparse.Namespace) -> list[str]:
    queries = list(args.queries)
    if args.file is not None:
        if str(args.file) == "-":
            text = sys.stdin.read()
        else:
            try:
                text = args.file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise UserFacingError(f"cannot read {args.file}: {exc}") from exc
        queries.extend(line for line in text.splitlines() if line.strip())
    if not queries:
        raise UserFacingError("give at least one QUERY or --file F")
    return queries


def _route(args: argparse.Namespace) -> int:
    from core.backends import BackendUnavailable

    queries = _read_queries(args)
    backend = _open_backend()
    try:
        router = backend.router(args.router)
    except BackendUnavailable as exc:
        raise UserFacingError(str(exc)) from exc
    for result in router.route_batch(queries):
        if args.json:
            print(json.dumps(result.to_cli_dict(), ensure_ascii=False))
        else:
            print(format_result(result))
    return 0


def format_result(result: RouteResult) -> str:
    """A person-readable block for one routed query."""
    lines = [f"{result.query.strip() or '(empty query)'}  [{result.router_id}, {result.latency_ms:.2f} ms]"]
    if result.decision is None:
        lines += [f"  invalid: {error}" for error in result.errors]
        if result.raw_text:
            lines.append(f"  raw reply: {result.raw_text[:300]}")
        return "\n".join(lines)
    weights = result.decision.weights()
    for modality in MODALITIES:
        bar = "#" * round(weights[modality] * BAR_WIDTH)
        lines.append(f"  {modality:<13} {weights[modality]:.2f} {bar}")
    lines.append(f"  reasoning: {result.decision.reasoning}")
    lines += [f"  note: {warning}" for warning in result.warnings]
    return "\n".join(lines)


def _bench(args: argparse.Namespace) -> int:
    from core.bench import format_figures, run_bench

    figures = run_bench(only=args.only)
    if args.json:
        print(json.dumps({"figures": [f.to_json_dict() for f in figures]}))
    else:
        print(format_figures(figures))
    return 0 if all(f.ok for f in figures) else 1
