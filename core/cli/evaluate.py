"""`evaluate`: score routers against a labelled held-out set (the `evaluate --json` contract)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from core.cli.common import confirm_billable, load_labelled, open_backend, resolve_routers, router_id_help


def add_command(commands) -> None:
    evaluate = commands.add_parser("evaluate", help="score routers against a labelled held-out set")
    evaluate.add_argument("--heldout", type=Path, required=True, metavar="F.jsonl")
    evaluate.add_argument(
        "--router", action="append", required=True, metavar="ID", help=router_id_help() + " (repeatable)"
    )
    evaluate.add_argument("--json", action="store_true", help="print the figures as JSON")
    evaluate.add_argument("--yes", action="store_true", help="confirm routing through billable models")
    evaluate.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from core.evaluate import score_pairs

    backend = open_backend()
    heldout = load_labelled(args.heldout, "held-out", min_records=1)
    routers = resolve_routers(backend, args.router)
    confirm_billable(routers, len(heldout.queries), args, "scoring")
    figures = {
        router_id: score_pairs(router.route_batch(heldout.queries), heldout.decisions)
        for router_id, router in routers.items()
    }
    if args.json:
        print(json.dumps({"heldout": str(args.heldout), "n": len(heldout.queries), "routers": figures}))
        return 0
    print(f"{len(heldout.queries):,} held-out queries from {args.heldout}")
    print(f"{'router':<28} {'valid':>6} {'rubric':>7} {'mae':>6} {'dominant':>9} {'p50 ms':>8} {'$/1k':>9}")
    for router_id, f in figures.items():
        mae = f"{f['mae']:.3f}" if f["mae"] is not None else "-"
        print(
            f"{router_id:<28} {f['validity']:>6.1%} {f['rubric_mean']:>7.2f} {mae:>6} "
            f"{f['dominant_accuracy']:>9.1%} {f['latency_p50_ms']:>8.3f} {f['cost_per_1k_usd']:>9.4f}"
        )
    return 0
