"""`route`: route queries and print the four channel weights (one JSON object per query and line with --json).

Queries are read, routed and printed in chunks, so memory stays flat however long the file is and the first
results appear at once (docs/ARCHITECTURE.md, reliability).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator
from typing import TextIO

from core.cli.common import (
    QueryLine,
    UserFacingError,
    add_query_input,
    confirm_billable,
    count_queries,
    iter_queries,
    open_backend,
    resolve_routers,
)
from core.cli.common import router_id_help as _router_id_help
from core.labelling import BEDROCK_BATCH_SIZE
from core.routers.base import Router
from core.schema import MODALITIES, RouteResult

BAR_WIDTH = 20
# On-box routers answer in chunks that start small, so the first line is out at once, and then grow to where
# the per-batch cost no longer shows; a remote router answers slowly, so each small batch is printed as it ends.
FIRST_CHUNK = 64
LOCAL_CHUNK = 2048


def add_command(commands) -> None:
    route = commands.add_parser("route", help="route queries and print the four channel weights")
    add_query_input(route)
    route.add_argument("--router", default="teacher", help=_router_id_help())
    route.add_argument("--json", action="store_true", help="one JSON object per query and line")
    route.add_argument("--yes", action="store_true", help="confirm routing through a billable model")
    route.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    router = resolve_routers(open_backend(), [args.router])[args.router]
    if router.billable:
        confirm_billable({args.router: router}, count_queries(args), args, "routing")
    if not write_routes(router, iter_queries(args), sys.stdout, as_json=args.json):
        raise UserFacingError("give at least one QUERY or --file F")
    return 0


def write_routes(router: Router, queries: Iterable[QueryLine | None], out: TextIO, *, as_json: bool) -> int:
    """Route the queries chunk by chunk and write one result per query as each chunk ends; returns the count."""
    written = 0
    for chunk in _chunks(queries, remote=router.remote):
        readable = [line.text for line in chunk if line.text is not None]
        results = iter(router.route_batch(readable))
        for line in chunk:
            result = next(results) if line.text is not None else _unreadable(line, router.router_id)
            out.write((_json_line(result) if as_json else format_result(result)) + "\n")
        out.flush()
        written += len(chunk)
    return written


def format_result(result: RouteResult) -> str:
    """A person-readable block for one routed query."""
    lines = [f"{result.query.strip() or '(empty query)'}  [{result.router_id}, {result.latency_ms:.2f} ms]"]
    if result.decision is None:
        lines += [f"  invalid: {error}" for error in result.errors]
        if result.raw_text:
            lines.append(f"  raw reply: {result.raw_text[:300]}")
        return _printable("\n".join(lines))
    weights = result.decision.weights()
    for modality in MODALITIES:
        bar = "#" * round(weights[modality] * BAR_WIDTH)
        lines.append(f"  {modality:<13} {weights[modality]:.2f} {bar}")
    lines.append(f"  reasoning: {result.decision.reasoning}")
    lines += [f"  note: {warning}" for warning in result.warnings]
    return _printable("\n".join(lines))


def _chunks(queries: Iterable[QueryLine | None], *, remote: bool) -> Iterator[list[QueryLine]]:
    """Chunks of queries, ended early where the input pauses (None), so nothing read waits for the writer."""
    size = BEDROCK_BATCH_SIZE if remote else FIRST_CHUNK
    chunk: list[QueryLine] = []
    for line in queries:
        if line is not None:
            chunk.append(line)
        if chunk and (line is None or len(chunk) >= size):
            yield chunk
            chunk = []
            size = size if remote else min(LOCAL_CHUNK, size * 4)
    if chunk:
        yield chunk


def _unreadable(line: QueryLine, router_id: str) -> RouteResult:
    return RouteResult(
        query=line.shown, router_id=router_id, decision=None, raw_text="", valid=False, errors=[line.problem or ""]
    )


def _json_line(result: RouteResult) -> str:
    text = json.dumps(result.to_cli_dict(), ensure_ascii=False)
    # A lone surrogate (say, in a model's reply) cannot be written as UTF-8: escape it, as JSON allows.
    return text if text.isascii() or _encodable(text) else json.dumps(result.to_cli_dict())


def _printable(text: str) -> str:
    return text if _encodable(text) else text.encode("utf-8", "backslashreplace").decode("utf-8")


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
