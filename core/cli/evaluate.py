"""`evaluate`: score routers on an evaluation set of any kind (the `evaluate --json` contract, keys added).

One function reads each kind of set; every kind prints the same figures. The run is kept in the store's
history (unless --no-save), so the Evaluation page and `evaluate-runs` see it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from core.cli.common import UserFacingError, confirm_billable, open_backend, resolve_routers, router_id_help
from core.schema import MODALITIES

SET_OPTIONS = ("--heldout", "--gold", "--expectations", "--dataset", "--studio-expectations")


def add_command(commands) -> None:
    evaluate = commands.add_parser(
        "evaluate",
        help="score routers on a held-out, gold or expectation set",
        description="Score routers on one evaluation set; the figures are those of docs/ARCHITECTURE.md "
        "(evaluation). Give exactly one set.",
    )
    sets = evaluate.add_mutually_exclusive_group(required=True)
    sets.add_argument("--heldout", type=Path, metavar="F.jsonl", help="a labelled file whose labels are the teacher's")
    sets.add_argument("--gold", metavar="NAME|F.jsonl", help="a gold set: a library dataset marked gold, or a file")
    sets.add_argument("--expectations", type=Path, metavar="F", help="JSONL or CSV of query and expected channel")
    sets.add_argument("--dataset", metavar="NAME", help="a labelled dataset of the library (gold if marked so)")
    sets.add_argument("--studio-expectations", action="store_true", help="the expectation set written for this project")
    evaluate.add_argument(
        "--router", action="append", required=True, metavar="ID", help=router_id_help() + " (repeatable)"
    )
    evaluate.add_argument(
        "--cascade-curve",
        metavar="STUDENT|TEACHER",
        help="draw a student-first cascade's quality against cost over thresholds (both are routed)",
    )
    evaluate.add_argument("--volume", type=int, metavar="N", help="project monthly cost and time at N queries a month")
    evaluate.add_argument("--judge", action="store_true", help="also grade the replies with the Bedrock judge")
    evaluate.add_argument(
        "--judge-model", default=None, metavar="MODEL", help="judge model (default Claude Sonnet 4.5)"
    )
    evaluate.add_argument("--judge-queries", type=int, default=100, metavar="N", help="judge at most N queries")
    evaluate.add_argument("--rejudge", type=float, default=0.1, metavar="SHARE", help="share judged twice for spread")
    evaluate.add_argument(
        "--judge-gold", metavar="NAME|F.jsonl", help="calibrate the judge against this gold set too (matched by query)"
    )
    evaluate.add_argument("--label", default="", help="a note kept with the run in the history")
    evaluate.add_argument("--no-save", action="store_true", help="do not keep the run in the history")
    evaluate.add_argument("--json", action="store_true", help="print the figures as JSON")
    evaluate.add_argument("--yes", action="store_true", help="confirm routing or judging through billable models")
    evaluate.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from core.evaluate.engine import run_evaluation
    from core.evaluate.history import EvaluationHistory
    from core.evaluate.sets import EvaluationSetError

    backend = open_backend()
    try:
        evaluation_set = _evaluation_set(args, backend)
    except EvaluationSetError as exc:
        for line in exc.lines:
            print(line, file=sys.stderr)
        raise UserFacingError(str(exc)) from exc
    student_id, teacher_id = _cascade_pair(args.cascade_curve) if args.cascade_curve else (None, None)
    router_ids = list(dict.fromkeys([*args.router, *(r for r in (student_id, teacher_id) if r)]))
    routers = resolve_routers(backend, router_ids)
    confirm_billable(routers, evaluation_set.n, args, "scoring")
    judge = _bedrock_judge(args, backend, evaluation_set) if args.judge else None
    gold = _calibration_gold(args, backend, evaluation_set) if args.judge else None
    progress = _progress if sys.stderr.isatty() and not args.json else None
    evaluation = run_evaluation(evaluation_set, routers, on_progress=progress, label=args.label)
    if student_id and teacher_id:
        from core.evaluate.cascade_curve import cascade_curve

        evaluation.details["cascade_curve"] = cascade_curve(
            evaluation, evaluation_set, student_id, teacher_id
        ).model_dump()
    if judge is not None:
        _judge(args, evaluation, judge, gold)
    if args.volume is not None:
        evaluation.details["projection"] = _projection(evaluation, args.volume)
    if not args.no_save:
        EvaluationHistory(backend.store).save(evaluation)
    if args.json:
        print(json.dumps(evaluation.to_cli_json()))
    else:
        print(_text_report(evaluation, saved=not args.no_save))
    return 0


# ---- one function per kind of set ---------------------------------------------------------------------------


def _evaluation_set(args: argparse.Namespace, backend):
    if args.heldout is not None:
        return _heldout_set(args.heldout)
    if args.gold is not None:
        return _gold_set(args.gold, backend)
    if args.expectations is not None:
        return _expectation_set(args.expectations)
    if args.studio_expectations:
        from core.evaluate.sets import load_studio_expectations

        return load_studio_expectations()
    return _library_set(args.dataset, backend)


def _heldout_set(path: Path):
    from core.evaluate.sets import load_labelled_file

    return load_labelled_file(path, "heldout")


def _gold_set(name_or_path: str, backend):
    """A library dataset marked gold, or else a file the user names as gold."""
    from core.evaluate.sets import load_labelled_file, load_library_set

    if backend.datasets().find(name_or_path) is not None:
        return load_library_set(backend.datasets(), name_or_path, kind="gold")
    path = Path(name_or_path)
    if not path.is_file():
        raise UserFacingError(f"{name_or_path!r} is neither a gold dataset of the library nor a file")
    return load_labelled_file(path, "gold")


def _expectation_set(path: Path):
    from core.evaluate.sets import load_expectation_file

    return load_expectation_file(path)


def _library_set(name: str, backend):
    from core.evaluate.sets import load_library_set

    return load_library_set(backend.datasets(), name)


# ---- cascade curve, judge, projection -----------------------------------------------------------------------


def _cascade_pair(text: str) -> tuple[str, str]:
    from core.routers.registry import CASCADE_SEPARATOR

    parts = [part.strip() for part in text.split(CASCADE_SEPARATOR)]
    if len(parts) != 2 or not all(parts):
        raise UserFacingError("--cascade-curve takes the student and the teacher with one '|': 'student:D|teacher'")
    return parts[0], parts[1]


def _bedrock_judge(args: argparse.Namespace, backend, evaluation_set):
    """The backend's judge, before any routing: refused on a set without weights or a backend without one."""
    from core.backends import BackendUnavailable

    if not evaluation_set.labelled:
        raise UserFacingError("--judge needs reference weights: use a held-out or gold set")
    try:
        return backend.judge(args.judge_model)
    except BackendUnavailable as exc:
        raise UserFacingError(str(exc)) from exc


def _calibration_gold(args: argparse.Namespace, backend, evaluation_set):
    """The gold set the judge is calibrated against: --judge-gold, or the evaluated set when it is gold."""
    from core.evaluate.sets import EvaluationSetError

    if args.judge_gold is None:
        return evaluation_set if evaluation_set.kind == "gold" else None
    try:
        return _gold_set(args.judge_gold, backend)
    except EvaluationSetError as exc:
        raise UserFacingError(f"--judge-gold: {exc}") from exc


def _judge(args: argparse.Namespace, evaluation, judge, gold) -> None:
    from core.evaluate.judging import JudgeConfirmationRequired, plan_judging, run_judging

    try:
        plan = plan_judging(evaluation, max_queries=args.judge_queries, rejudge_share=args.rejudge)
    except ValueError as exc:
        raise UserFacingError(str(exc)) from exc
    try:
        run_judging(evaluation, judge, plan, confirmed=args.yes, gold=gold)
    except JudgeConfirmationRequired as exc:
        raise UserFacingError(f"{exc.estimate.sentence(judge.name)}; run again with --yes to confirm") from exc


def _projection(evaluation, volume: int) -> list[dict[str, Any]]:
    from core.evaluate.projection import project_run

    try:
        return [p.to_json_dict() for p in project_run(evaluation, volume)]
    except ValueError as exc:
        raise UserFacingError(str(exc)) from exc


def _progress(done: int, total: int, router_id: str) -> None:
    from core.cli.common import progress_bar

    progress_bar(done, total, label=f"routing {router_id}")


# ---- text output --------------------------------------------------------------------------------------------


def _text_report(evaluation, *, saved: bool) -> str:
    s = evaluation.set
    lines = [f"{s['n']:,} queries, {s['kind']} set {s['name']} ({s['source']})"]
    lines.append(
        f"{'router':<34} {'valid':>6} {'rubric':>7} {'mae':>6} {'leader':>7} {'recov':>6} "
        f"{'p50 ms':>8} {'p95 ms':>8} {'$/1k':>9}"
    )
    recovered = "quality_recovered" if s["kind"] != "expectations" else "accuracy_recovered"
    for router_id, f in evaluation.figures().items():
        share = f" (teacher answered {f['teacher_share']:.0%})" if f.get("teacher_share") is not None else ""
        lines.append(
            f"{router_id:<34} {f['validity']:>6.1%} {_num(f['rubric_mean'], 7, '.2f')} {_num(f['mae'], 6, '.3f')} "
            f"{f['dominant_accuracy']:>7.1%} {_num(f[recovered], 6, '.0%')} "
            f"{f['latency_p50_ms']:>8.3f} {f['latency_p95_ms']:>8.3f} {f['cost_per_1k_usd']:>9.4f}{share}"
        )
    lines.append("leading-channel accuracy per channel (" + ", ".join(MODALITIES) + "):")
    for router_id, f in evaluation.figures().items():
        per = f["dominant_accuracy_per_channel"]
        lines.append(f"  {router_id:<32} " + " ".join(_num(per[m], 13, ".1%") for m in MODALITIES))
    if s["kind"] == "expectations":
        for router_id, f in evaluation.figures().items():
            lines.append(f"{router_id}: {f['accuracy']:.1%} of leading channels as expected ({f['invalid']} invalid)")
            for source, share in f["per_source"].items():
                lines.append(f"  source {source}: {_num(share['accuracy'], 6, '.1%')} of {share['n']:,}")
    curve = evaluation.details.get("cascade_curve")
    if curve:
        lines.append(f"cascade {curve['student']} then {curve['teacher']}, by threshold:")
        lines.append(f"  {'threshold':>9} {'to teacher':>10} {'recovered':>9} {'$/1k':>9} {'mean ms':>8}")
        for p in curve["points"]:
            lines.append(
                f"  {p['threshold']:>9g} {p['teacher_share']:>10.1%} {_num(p['recovered'], 9, '.1%')} "
                f"{p['cost_per_1k_usd']:>9.4f} {p['latency_mean_ms']:>8.3f}"
            )
        from core.evaluate.cascade_curve import CascadeCurve

        lines.append("  " + CascadeCurve.model_validate(curve).recommendation_sentence())
    judge = evaluation.details.get("judge")
    if judge:
        vs = judge["calibration"]["vs_rubric"]
        lines.append(
            f"judge {judge['judge_name']}: {judge['queries']} queries, {judge['unparseable']} unparseable replies, "
            f"agrees with the rubric {_pct(vs['exact'])} exactly, {_pct(vs['within_1'])} within one point"
        )
        gold = judge["calibration"]["vs_gold"]
        if gold is not None:
            agreed = f"{_pct(gold['exact'])} exactly, {_pct(gold['within_1'])} within one point"
            lines.append(f"  with the gold set: {agreed}")
        spread = judge["spread"]
        if spread["n"]:
            lines.append(f"  re-judged {spread['n']} replies in a new order: {_pct(spread['changed'])} changed score")
        for router_id, f in evaluation.figures().items():
            lines.append(f"  {router_id:<32} judge mean {_num(f.get('judge_mean'), 5, '.2f')}")
    for p in evaluation.details.get("projection", []):
        cost = f"${p['cost_usd']:,.2f}" if p["cost_usd"] is not None else "price unknown"
        lines.append(
            f"at {p['queries_per_month']:,} queries a month, {p['router_id']}: {cost}, "
            f"{p['routing_hours']:,.2f} hours of routing"
        )
    if saved:
        lines.append(f"kept in the history as run {evaluation.id}")
    return "\n".join(lines)


def _num(value: float | None, width: int, spec: str) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}{spec}}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"
