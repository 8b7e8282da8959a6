"""`runs`: the evaluation history kept by `evaluate` and the Evaluation page: list, pin a baseline, compare
two runs, export one (the same core functions the page calls)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from core.cli.common import UserFacingError, check_writable_file, open_backend

EXPORTS = ("json", "leaderboard-csv", "records-csv")


def add_command(commands) -> None:
    runs = commands.add_parser("runs", help="list, pin, compare and export evaluation runs")
    actions = runs.add_subparsers(title="actions", metavar="ACTION", dest="action", required=True)
    listing = actions.add_parser("list", help="runs newest first, with the pinned baseline marked")
    listing.add_argument("--json", action="store_true")
    for name, help_text in (("pin", "make a run the baseline of its set"), ("unpin", "stop using a run as baseline")):
        action = actions.add_parser(name, help=help_text)
        action.add_argument("run_id", metavar="RUN")
    compare = actions.add_parser("compare", help="a run's figures against another's (default: its set's baseline)")
    compare.add_argument("run_id", metavar="RUN")
    compare.add_argument("--base", metavar="RUN", help="the run to compare against (default: the pinned baseline)")
    compare.add_argument("--json", action="store_true")
    export = actions.add_parser("export", help="write a run as JSON, or its leaderboard or records as CSV")
    export.add_argument("run_id", metavar="RUN")
    export.add_argument("--format", choices=EXPORTS, default="json")
    export.add_argument("--out", type=Path, required=True, metavar="FILE")
    runs.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from core.evaluate.history import EvaluationHistory, EvaluationHistoryError

    history = EvaluationHistory(open_backend().store)
    try:
        return {"list": _list, "pin": _pin, "unpin": _unpin, "compare": _compare, "export": _export}[args.action](
            history, args
        )
    except EvaluationHistoryError as exc:
        raise UserFacingError(str(exc)) from exc


def _list(history, args: argparse.Namespace) -> int:
    summaries = history.list()
    if args.json:
        print(json.dumps([s.__dict__ for s in summaries]))
        return 0
    if not summaries:
        print("no evaluation runs yet: run 'python -m core evaluate ...'")
    for s in summaries:
        mark = "  (baseline)" if s.pinned else ""
        print(f"{s.id}  {s.created_at}  {s.set_kind} {s.set_name}, {s.n:,} queries: {', '.join(s.routers)}{mark}")
    return 0


def _pin(history, args: argparse.Namespace) -> int:
    summary = history.pin(args.run_id)
    print(f"run {summary.id} is now the baseline of {summary.set_kind} set {summary.set_name}")
    return 0


def _unpin(history, args: argparse.Namespace) -> int:
    summary = history.unpin(args.run_id)
    print(f"run {summary.id} is no longer a baseline")
    return 0


def _compare(history, args: argparse.Namespace) -> int:
    comparison = history.compare(args.base, args.run_id) if args.base else history.against_baseline(args.run_id)
    if comparison is None:
        raise UserFacingError(f"run {args.run_id}'s set has no other pinned baseline: pin one, or give --base RUN")
    if args.json:
        print(json.dumps(comparison.to_json_dict()))
        return 0
    if not comparison.same_set:
        print("note: the two runs scored different sets, so their figures are not like for like")
    for router_id, changes in comparison.routers.items():
        print(router_id)
        for name, change in changes.items():
            if change.delta is not None:
                print(f"  {name:<22} {change.base:>12.4f} -> {change.other:>12.4f}  ({change.delta:+.4f})")
    for router_id in comparison.only_in_base:
        print(f"{router_id}: only in {comparison.base_id}")
    for router_id in comparison.only_in_other:
        print(f"{router_id}: only in {comparison.other_id}")
    return 0


def _export(history, args: argparse.Namespace) -> int:
    from core.evaluate.exports import leaderboard_csv, records_csv, run_json
    from core.files import atomic_write_text

    check_writable_file(args.out)
    evaluation = history.get(args.run_id)
    text = {"json": run_json, "leaderboard-csv": leaderboard_csv, "records-csv": records_csv}[args.format](evaluation)
    atomic_write_text(args.out, text)
    print(f"wrote run {evaluation.id} as {args.format} to {args.out}")
    return 0
