"""The Evaluation page's cascade curve, LLM-as-judge and run history.

*Cascade*: from one run that scored a student and a teacher, core.evaluate.cascade_curve recombines their
records at every threshold; the page draws quality against cost and latency and names the cheapest threshold
recovering 95% of the teacher's quality, with its router id ready to copy and a button that puts it in the run's
router box. *Judge*: Backend.judge() grades a run's replies; it bills, so the estimate is confirmed first; a
backend without one says so in its own sentence. *History*: the runs kept, one to show, and two compared.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from core.evaluate.cascade_curve import cascade_curve
from core.evaluate.engine import TEACHER_ID, EvaluationRun
from core.evaluate.judging import plan_judging, run_judging
from dashboard import components, state
from dashboard import evaluation_charts as charts
from dashboard import evaluation_result_views as results
from dashboard import evaluation_run_views as runs
from dashboard.widgets import confirm, notices
from dashboard.widgets.formatting import format_share, format_time, format_usd

if TYPE_CHECKING:
    from core.backends import Backend
    from core.evaluate.history import EvaluationHistory

STUDENT_KEY = "evaluation_cascade_student"
TEACHER_KEY = "evaluation_cascade_teacher"
JUDGE_KEY = "evaluation_judge"
JUDGE_QUERIES_KEY = "evaluation_judge_queries"
JUDGE_PLACE = "evaluation_judge"
HISTORY_KEY = "evaluation_history_run"
COMPARE_BASE_KEY = "evaluation_compare_base"
COMPARE_OTHER_KEY = "evaluation_compare_other"
JUDGE_QUERY_CHOICES = (20, 50, 100)


# ---- cascade ------------------------------------------------------------------------------------------------


def cascade_view(run: EvaluationRun, names: Mapping[str, str]) -> None:
    router_ids = list(run.routers)
    if len(router_ids) < 2:
        st.caption("Evaluate a student and the teacher together to draw the cascade's curve.")
        return
    students = [r for r in router_ids if r.startswith("student") or r.startswith("deployment:")] or router_ids
    left, right = st.columns(2)
    with left:
        if st.session_state.get(STUDENT_KEY) not in router_ids:
            st.session_state[STUDENT_KEY] = students[-1]
        student = st.selectbox(
            "Answers first (the student)", router_ids, key=STUDENT_KEY, format_func=names.__getitem__
        )
    with right:
        if st.session_state.get(TEACHER_KEY) not in router_ids:
            st.session_state[TEACHER_KEY] = TEACHER_ID if TEACHER_ID in router_ids else router_ids[0]
        teacher = st.selectbox(
            "Answers when unsure (the teacher)", router_ids, key=TEACHER_KEY, format_func=names.__getitem__
        )
    if student == teacher:
        st.caption("Choose two different routers.")
        return
    curve = results.remembered(
        ("cascade", run.id, student, teacher), lambda: cascade_curve(run, None, student, teacher)
    )
    points = [p.model_dump() for p in curve.points]
    recommended = curve.recommended.threshold if curve.recommended is not None else None
    left, right = st.columns(2)
    with left:
        st.altair_chart(
            charts.cascade_chart(points, "cost_per_1k_usd", "USD per 1,000 queries", recommended), width="stretch"
        )
    with right:
        st.altair_chart(
            charts.cascade_chart(points, "latency_mean_ms", "mean ms per query", recommended), width="stretch"
        )
    if curve.recommended is None:
        st.info(components.plain_markdown(curve.recommendation_sentence()), icon=":material/info:")
        return
    point = curve.recommended
    st.success(
        components.plain_markdown(
            f"Threshold {point.threshold:g} recovers {format_share(point.recovered)} of the teacher's quality at the "
            f"least cost, sending {format_share(point.teacher_share)} of queries to the teacher."
        ),
        icon=":material/target:",
    )
    st.caption("Its router id, to copy (route with it from the command line, or in any router-id box):")
    st.code(point.router_id, language=None)
    with st.container(horizontal=True, wrap=True):
        st.button(
            "Evaluate this cascade",
            key="evaluation_use_cascade",
            icon=":material/call_split:",
            on_click=_use_router,
            args=(point.router_id,),
            help="Puts its id in 'Another router by id' above; run the evaluation again to score it on this set.",
        )
        st.page_link(
            state.PAGES_DIR / "playground.py",
            label="Try it in the Playground",
            icon=":material/compare_arrows:",
            query_params={"router": [teacher, point.router_id]},
            help="Opens the Playground with the teacher and this cascade side by side.",
        )


def _use_router(router_id: str) -> None:
    st.session_state[runs.EXTRA_KEY] = router_id


# ---- judge --------------------------------------------------------------------------------------------------


def judge_view(backend: Backend, history: EvaluationHistory, run: EvaluationRun) -> None:
    notices.show(JUDGE_PLACE)
    report = run.details.get("judge")
    if report:
        _judge_report(report)
    if not results.labelled(run):
        st.caption("The judge grades against reference weights: judge a held-out or gold set's run.")
        return
    try:
        judge = backend.judge()
    except Exception as exc:  # the backend has no judge (local), or its session cannot be made: its sentence
        st.info(components.plain_markdown(state.explain_error(exc)), icon=":material/gavel:")
        return
    queries = st.selectbox(
        "Queries to judge", JUDGE_QUERY_CHOICES, index=len(JUDGE_QUERY_CHOICES) - 1, key=JUDGE_QUERIES_KEY
    )
    plan = plan_judging(run, max_queries=queries)
    estimate = plan.estimate(judge)
    value = (run.id, queries)
    if confirm.confirmed(JUDGE_KEY) == value:
        _judge(history, run, judge, plan)
        return
    if confirm.waiting(JUDGE_KEY) == value:
        confirm.confirm_box(
            JUDGE_KEY,
            components.plain_markdown(estimate.sentence(judge.name)) + ", billed to your AWS account. Go on?",
            confirm="Judge and pay",
            confirm_icon=":material/payments:",
        )
        return
    st.button(
        f"Judge with {judge.name}",
        key=f"{JUDGE_KEY}_ask",
        icon=":material/gavel:",
        on_click=confirm.ask,
        args=(JUDGE_KEY, value),
        help="Grades weights and reasoning with the full rubric; the estimate is shown before anything is sent.",
    )


def _judge(history: EvaluationHistory, run: EvaluationRun, judge, plan) -> None:
    bar = st.progress(0.0, text="Judging…")

    def progress(done: int, total: int) -> None:
        bar.progress(done / total, text=f"{done:,} of {total:,} judge calls")

    done = notices.attempt(JUDGE_PLACE, lambda: run_judging(run, judge, plan, confirmed=True, on_progress=progress))
    bar.empty()
    if done is not None:
        history.save(run)
        results.select_run(run)
        notices.success(
            JUDGE_PLACE, f"Judged: {done.result['queries']} queries, {done.result['unparseable']} unparseable replies."
        )
    st.rerun()


def _judge_report(report: Mapping) -> None:
    vs = report["calibration"]["vs_rubric"]
    st.markdown(
        components.plain_markdown(
            f"Judged by {report['judge_name']}: {report['queries']} queries, {report['unparseable']} unparseable "
            f"replies; agrees with the rubric {format_share(vs['exact'])} exactly, {format_share(vs['within_1'])} "
            f"within one point. Judging cost {format_usd(report.get('cost_usd') or 0.0)} (estimated "
            f"{format_usd(report.get('estimate_usd') or 0.0)})."
        )
    )
    spread = report.get("spread") or {}
    if spread.get("n"):
        st.caption(f"Re-judged {spread['n']} replies in a new order: {format_share(spread['changed'])} changed score.")


# ---- history ------------------------------------------------------------------------------------------------


def history_view(history: EvaluationHistory, run: EvaluationRun, names: Mapping[str, str]) -> None:
    runs = history.list()
    if not runs:
        return
    rows = [
        {
            "run": r.id,
            "when": format_time(r.created_at),
            "set": r.set_name,
            "queries": r.n,
            "routers": ", ".join(r.routers),
            "baseline": "pinned" if r.pinned else "",
            "note": r.label,
        }
        for r in runs
    ]
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        width="stretch",
        key="evaluation_history",
        # Every column in view at 1024 px (wider screens share out the rest).
        column_config={
            "run": st.column_config.TextColumn("run", width=100),
            "when": st.column_config.TextColumn("when", width=130),
            "set": st.column_config.TextColumn("set", width=120),
            "queries": st.column_config.NumberColumn("queries", width=60),
            "routers": st.column_config.TextColumn("routers", width=150),
            "baseline": st.column_config.TextColumn("baseline", width=60),
            "note": st.column_config.TextColumn("note", width=80),
        },
    )
    ids = [r.id for r in runs]
    by_id = {r.id: r for r in runs}

    def label(run_id: str) -> str:
        r = by_id[run_id]
        return f"{r.id} · {format_time(r.created_at)} · {r.set_name}" + (" · baseline" if r.pinned else "")

    st.session_state[HISTORY_KEY] = run.id if run.id in ids else ids[0]
    st.selectbox("Show run", ids, key=HISTORY_KEY, format_func=label, on_change=_show_chosen, args=(history,))
    if len(ids) < 2:
        return
    st.markdown("**Compare two runs**")
    left, right = st.columns(2)
    with left:
        base = st.selectbox("Base run", ids, index=min(1, len(ids) - 1), key=COMPARE_BASE_KEY, format_func=label)
    with right:
        other = st.selectbox("Compared run", ids, index=0, key=COMPARE_OTHER_KEY, format_func=label)
    if base == other:
        st.caption("Choose two different runs.")
        return
    comparison = history.compare(base, other)
    if not comparison.same_set:
        st.warning("These runs scored different sets: the changes are not like for like.", icon=":material/warning:")
    results.comparison_table(comparison, names, key="evaluation_comparison")


def _show_chosen(history: EvaluationHistory) -> None:
    run_id = st.session_state[HISTORY_KEY]
    done = notices.attempt(results.RESULTS_PLACE, lambda: history.get(run_id))
    if done is not None:
        results.select_run(done.result)
