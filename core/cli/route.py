"""`route`: route queries and print the four channel weights (one JSON object per query and line with --json)."""

from __future__ import annotations

import argparse
import json

from core.cli.common import add_query_input, confirm_billable, open_backend, read_queries, resolve_routers
from core.cli.common import router_id_help as _router_id_help
from core.labelling import BEDROCK_BATCH_SIZE
from core.schema import MODALITIES, RouteResult

BAR_WIDTH = 20


def add_command(commands) -> None:
    route = commands.add_parser("route", help="route queries and print the four channel weights")
    add_query_input(route)
    route.add_argument("--router", default="teacher", help=_router_id_help())
    route.add_argument("--json", action="store_true", help="one JSON object per query and line")
    route.add_argument("--yes", action="store_true", help="confirm routing through a billable model")
    route.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    queries = read_queries(args)
    router = resolve_routers(open_backend(), [args.router])[args.router]
    confirm_billable({args.router: router}, len(queries), args, "routing")
    # A remote router answers slowly: print each small batch as it finishes rather than all at the end.
    step = BEDROCK_BATCH_SIZE if router.remote else len(queries)
    for start in range(0, len(queries), step):
        for result in router.route_batch(queries[start : start + step]):
            print(
                json.dumps(result.to_cli_dict(), ensure_ascii=False) if args.json else format_result(result), flush=True
            )
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
