"""`compare`: route queries through up to four routers side by side, with agreement against the teacher.

The same comparison as the playground (core.compare), kept in the same history. --json prints one object
(docs/ARCHITECTURE.md, command line); --csv writes the per-query table; billable routers need --yes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.cli.common import (
    UserFacingError,
    check_writable_file,
    confirm_billable,
    open_backend,
    progress_bar,
    resolve_routers,
    router_id_help,
)
from core.compare import (
    MAX_ROUTERS,
    CompareError,
    Comparison,
    QueryComparison,
    check_router_ids,
    compare_batch,
    comparison_csv,
)
from core.schema import MODALITIES

SHORT = {"visual": "v", "audio": "a", "transcription": "t", "metadata": "m"}


def add_command(commands) -> None:
    compare = commands.add_parser("compare", help="route queries through several routers side by side")
    compare.add_argument("queries", nargs="*", metavar="QUERY")
    compare.add_argument(
        "--file", type=Path, help="queries: text lines, a CSV with a 'query' column or JSONL ('-' for stdin lines)"
    )
    compare.add_argument(
        "--router",
        action="append",
        required=True,
        metavar="ID",
        help=f"{router_id_help()} (repeatable, up to {MAX_ROUTERS}; the teacher is the reference when listed)",
    )
    compare.add_argument("--json", action="store_true", help="print the comparison as one JSON object")
    compare.add_argument("--only-disagreements", action="store_true", help="show only queries where they disagree")
    compare.add_argument("--csv", type=Path, metavar="OUT.csv", help="also write the per-query table as CSV")
    compare.add_argument("--yes", action="store_true", help="confirm routing through billable models")
    compare.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        router_ids = check_router_ids(args.router)
    except CompareError as exc:
        raise UserFacingError(str(exc)) from exc
    queries = read_compare_queries(args)
    if args.csv is not None:
        check_writable_file(args.csv)
    backend = open_backend()
    routers = resolve_routers(backend, router_ids)
    confirm_billable(routers, len(queries), args, "comparing")
    try:
        comparison = compare_batch(
            routers.__getitem__,
            queries,
            list(routers),
            progress=lambda done, total: progress_bar(done, total, "routing"),
        )
    except CompareError as exc:
        raise UserFacingError(str(exc)) from exc
    comparison.kind = "query" if len(queries) == 1 and not args.file else "batch"
    backend.comparisons().save(comparison, source="cli")
    if args.csv is not None:
        from core.files import atomic_write_bytes

        atomic_write_bytes(args.csv, comparison_csv(comparison, args.only_disagreements))
    shown = comparison.disagreements if args.only_disagreements else comparison.queries
    if args.json:
        print(json.dumps(comparison_json(comparison, shown), ensure_ascii=False))
    else:
        print(format_comparison(comparison, shown))
    return 0


def read_compare_queries(args: argparse.Namespace) -> list[str]:
    from core.compare import read_query_file

    queries = [q for q in args.queries if q.strip()]
    if args.file is not None:
        try:
            if str(args.file) == "-":
                queries += read_query_file(sys.stdin.read())
            else:
                queries += read_query_file(args.file.read_bytes(), args.file.name)
        except CompareError as exc:
            raise UserFacingError(f"{args.file}: {exc}") from exc
        except UnicodeDecodeError as exc:
            raise UserFacingError(f"{args.file} is not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    if not queries:
        raise UserFacingError("give at least one QUERY or --file F")
    return queries


def comparison_json(comparison: Comparison, shown: list[QueryComparison]) -> dict[str, object]:
    """The `compare --json` object of docs/ARCHITECTURE.md (command line)."""
    return {
        "run_id": comparison.run_id,
        "reference": comparison.reference,
        "routers": comparison.router_ids,
        "n": len(comparison.queries),
        "agreement_rate": comparison.agreement_rate,
        "disagreements": len(comparison.disagreements),
        "queries": [
            {
                "query": item.query,
                "disagree": item.disagree,
                "results": {
                    router_id: {
                        **outcome.result.to_cli_dict(),
                        "leading": outcome.leading_channels(),
                        "agreement": None if outcome.agreement is None else outcome.agreement.leading,
                        "l1": None if outcome.agreement is None else outcome.agreement.l1,
                        "input_tokens": outcome.result.input_tokens,
                        "output_tokens": outcome.result.output_tokens,
                        "token_source": outcome.result.token_source,
                        "cost_usd": outcome.result.cost_usd,
                    }
                    for router_id, outcome in item.outcomes.items()
                },
            }
            for item in shown
        ],
        "summary": {router_id: summary.to_json_dict() for router_id, summary in comparison.summaries.items()},
    }


def format_comparison(comparison: Comparison, shown: list[QueryComparison]) -> str:
    width = max(len(r) for r in comparison.router_ids) + 2
    lines = []
    for item in shown:
        lines.append(f"{item.query}{'  [they disagree]' if item.disagree else ''}")
        for router_id, outcome in item.outcomes.items():
            result = outcome.result
            if not result.valid or result.decision is None:
                lines.append(f"  {router_id:<{width}} invalid: {'; '.join(result.errors) or 'no answer'}")
                if result.raw_text:
                    lines.append(f"  {'':<{width}} raw reply: {result.raw_text[:200]}")
                continue
            weights = " ".join(f"{SHORT[m]} {result.decision.weights()[m]:.2f}" for m in MODALITIES)
            against = ""
            if outcome.agreement is not None and outcome.agreement.l1 is not None:
                verdict = "agrees" if outcome.agreement.agrees else "differs"
                against = f"  {verdict} (L1 {outcome.agreement.l1:.2f})"
            lead = "+".join(SHORT[m] for m in outcome.leading_channels())
            lines.append(f"  {router_id:<{width}} {weights}  lead {lead:<7} {result.latency_ms:8.2f} ms{against}")
        lines.append("")
    lines.append(
        f"{len(comparison.queries):,} queries against {comparison.reference}; "
        f"{len(comparison.disagreements):,} where they disagree; run {comparison.run_id}"
    )
    lines.append(
        f"{'router':<{width}} {'valid':>6} {'agree':>6} {'mean L1':>8} {'p50 ms':>8} {'p95 ms':>8} {'$/1M':>10}"
    )
    for router_id, s in comparison.summaries.items():
        agree = "-" if s.agreement_rate is None else f"{s.agreement_rate:.0%}"
        mean_l1 = "-" if s.mean_l1 is None else f"{s.mean_l1:.3f}"
        lines.append(
            f"{router_id:<{width}} {s.validity:>6.0%} {agree:>6} {mean_l1:>8} {s.latency_p50_ms:>8.2f} "
            f"{s.latency_p95_ms:>8.2f} {s.cost_per_million_usd:>10.2f}"
        )
    return "\n".join(lines)
