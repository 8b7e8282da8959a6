"""The Evaluation page's results of one run: which run is shown (kept in the address as `run`), its facts, pin
and exports, the leaderboard with deltas against the set's pinned baseline, every chart, the records behind a
confusion cell or a slice, and the monthly projection at a volume the user types. Figures come from core."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import pandas as pd
import streamlit as st

from core.evaluate.engine import INVALID, EvaluationRun, RecordScore
from core.evaluate.exports import leaderboard_csv, records_csv, run_json
from core.evaluate.history import EvaluationHistoryError
from core.evaluate.projection import project_run
from core.evaluate.published import PUBLISHED_EVALUATION, PUBLISHED_EVALUATION_SETTING
from core.evaluate.sets import SET_KIND_LABELS
from core.schema import MODALITIES
from dashboard import components
from dashboard import evaluation_charts as charts
from dashboard.widgets import notices
from dashboard.widgets.formatting import MISSING, format_ms, format_share, format_time, format_usd
from dashboard.widgets.layout import fact_row

if TYPE_CHECKING:
    from core.evaluate.history import EvaluationHistory, RunComparison

T = TypeVar("T")
RUN_PARAM = "run"
RUN_CACHE_KEY = "evaluation_shown_run"
MEMO_KEY = "evaluation_memo"
MEMO_ENTRIES = 16
CONFUSION_ROUTER_KEY = "evaluation_confusion_router"
CELL_KEY = "evaluation_cell"
HEATMAP_KEY = "evaluation_heatmap"
SLICE_FIELD_KEY = "evaluation_slice_field"
SLICE_VALUE_KEY = "evaluation_slice_value"
SLICE_ROUTER_KEY = "evaluation_slice_router"
VOLUME_KEY = "evaluation_volume"
RESULTS_PLACE = "evaluation_results"
DEFAULT_VOLUME = "1000000"
SHOWN_RECORDS = 200
ROUTER_COLUMN_PX = 170
FIGURE_COLUMN_PX = 62
LONG_FIGURE_COLUMN_PX = 86
SHORT_HEADING_CHARS = 6
# Leaderboard and delta columns: figure key -> (heading, formatter).
FIGURE_COLUMNS: dict[str, tuple[str, Any]] = {
    "validity": ("valid", format_share),
    "rubric_mean": ("rubric", lambda v: MISSING if v is None else f"{v:.2f}"),
    "mae": ("MAE", lambda v: MISSING if v is None else f"{v:.3f}"),
    "dominant_accuracy": ("leader right", format_share),
    "quality_recovered": ("recovered", format_share),
    "accuracy_recovered": ("recovered", format_share),
    "judge_mean": ("judge", lambda v: MISSING if v is None else f"{v:.2f}"),
    "latency_p50_ms": ("p50", lambda v: MISSING if v is None else format_ms(v)),
    "latency_p95_ms": ("p95", lambda v: MISSING if v is None else format_ms(v)),
    "cost_per_1k_usd": ("$ / 1k", lambda v: MISSING if v is None else format_usd(v)),
    "teacher_share": ("to teacher", format_share),
}


# ---- what a run's views compute once ---------------------------------------------------------------------------


def remembered(key: tuple, compute: Callable[[], T]) -> T:
    """What `compute` gives, kept for the session under `key` (which names the run, and what else it depends on):
    a kept run's records do not change, so a rerun draws its figures without recomputing them."""
    memo: dict[tuple, Any] = st.session_state.setdefault(MEMO_KEY, {})
    if key not in memo:
        if len(memo) >= MEMO_ENTRIES:
            memo.clear()
        memo[key] = compute()
    return memo[key]


# ---- which run ----------------------------------------------------------------------------------------------


def select_run(run: EvaluationRun) -> None:
    """Show this run (just made, or chosen in the history) from now on; the address keeps it."""
    st.session_state[RUN_CACHE_KEY] = run
    st.query_params[RUN_PARAM] = run.id


def shown_run(history: EvaluationHistory) -> EvaluationRun | None:
    """The run the address names, else the newest one kept; None when there is none yet."""
    wanted = st.query_params.get(RUN_PARAM)
    kept: EvaluationRun | None = st.session_state.get(RUN_CACHE_KEY)
    if kept is not None and kept.id == wanted:
        return kept
    if wanted:
        try:
            run = history.get(wanted)
        except EvaluationHistoryError as exc:
            st.warning(components.plain_markdown(f"{exc} Showing the newest run instead."), icon=":material/help:")
        else:
            select_run(run)
            return run
    newest = history.list(limit=1)
    if not newest:
        return None
    run = history.get(newest[0].id)
    select_run(run)
    return run


def labelled(run: EvaluationRun) -> bool:
    return run.set.get("kind") != "expectations"


def display_names(run: EvaluationRun, labels: Mapping[str, str]) -> dict[str, str]:
    """Router id -> the name charts show (the picker's label when it is still offered, else the id)."""
    names: dict[str, str] = {}
    for router_id in run.routers:
        name = labels.get(router_id, router_id)
        names[router_id] = name if name not in names.values() else f"{name} ({router_id})"
    return names


# ---- facts, pin, exports ------------------------------------------------------------------------------------


def run_header(run: EvaluationRun, history: EvaluationHistory) -> None:
    notices.show(RESULTS_PLACE)
    s = run.set
    fact_row(
        [
            ("run", run.id),
            ("when", format_time(run.created_at)),
            ("set", f"{s['name']} ({SET_KIND_LABELS.get(s['kind'], s['kind'])})"),
            ("queries", f"{s['n']:,}"),
            ("routing cost", format_usd(remembered(("cost", run.id), lambda: run_cost_usd(run)))),
            *([("note", run.label)] if run.label else []),
        ]
    )
    pinned = history.summary(run.id).pinned
    with st.container(horizontal=True, wrap=True):
        if pinned:
            st.button(
                "Unpin baseline",
                key="evaluation_unpin",
                icon=":material/push_pin:",
                on_click=_unpin,
                args=(history, run.id),
            )
        else:
            st.button(
                "Pin as the set's baseline",
                key="evaluation_pin",
                icon=":material/push_pin:",
                on_click=_pin,
                args=(history, run.id),
                help="Later runs on the same set show their change against it.",
            )
        st.download_button(
            "Run (JSON)",
            lambda: run_json(run),
            file_name=f"evaluation-{run.id}.json",
            mime="application/json",
            key="evaluation_export_json",
            icon=":material/download:",
        )
        st.download_button(
            "Leaderboard (CSV)",
            leaderboard_csv(run),
            file_name=f"evaluation-{run.id}-leaderboard.csv",
            mime="text/csv",
            key="evaluation_export_leaderboard",
            icon=":material/download:",
        )
        st.download_button(
            "Every record (CSV)",
            lambda: records_csv(run),
            file_name=f"evaluation-{run.id}-records.csv",
            mime="text/csv",
            key="evaluation_export_records",
            icon=":material/download:",
        )


def run_cost_usd(run: EvaluationRun) -> float:
    """What routing the run cost, every router and query (what a billable run was confirmed for)."""
    return math.fsum(r.cost_usd for evaluation in run.routers.values() for r in evaluation.records)


def _pin(history: EvaluationHistory, run_id: str) -> None:
    if notices.attempt(RESULTS_PLACE, lambda: history.pin(run_id)) is not None:
        notices.success(RESULTS_PLACE, f"Run {run_id} is now the baseline of its set.")


def _unpin(history: EvaluationHistory, run_id: str) -> None:
    if notices.attempt(RESULTS_PLACE, lambda: history.unpin(run_id)) is not None:
        notices.success(RESULTS_PLACE, f"Run {run_id} is no longer a baseline.")


# ---- leaderboard and deltas ---------------------------------------------------------------------------------


def leaderboard(run: EvaluationRun, names: Mapping[str, str], history: EvaluationHistory) -> None:
    columns = _figure_columns(run)
    rows = [
        {"router": names[router_id], **{FIGURE_COLUMNS[k][0]: FIGURE_COLUMNS[k][1](f.get(k)) for k in columns}}
        for router_id, f in run.figures().items()
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", column_config=_widths(columns))
    basis = {f.get("latency_basis") for f in run.figures().values()}
    notes = [
        "Rubric 1-5 against the reference weights (deterministic); MAE is the mean absolute weight error; "
        "recovered is (router - uniform) / (teacher - uniform)."
        if labelled(run)
        else "An expectation set is scored on the leading channel only: no rubric and no weight error."
    ]
    if "batch share" in basis:
        notes.append("On-box routers' latency is a batch's time shared among its queries.")
    st.caption(" ".join(notes))
    deltas(run, names, history)


def _figure_columns(run: EvaluationRun) -> list[str]:
    figures = run.figures().values()
    wanted = [k for k in FIGURE_COLUMNS if any(f.get(k) is not None for f in figures)]
    recovered = "quality_recovered" if labelled(run) else "accuracy_recovered"
    return [k for k in wanted if k not in ("quality_recovered", "accuracy_recovered") or k == recovered]


def _widths(columns: Sequence[str]) -> dict[str, Any]:
    # Every figure column fits 1024 px beside the router's name (wider screens share out the rest).
    config: dict[str, Any] = {"router": st.column_config.TextColumn("router", width=ROUTER_COLUMN_PX)}
    for key in columns:
        heading = FIGURE_COLUMNS[key][0]
        width = FIGURE_COLUMN_PX if len(heading) <= SHORT_HEADING_CHARS else LONG_FIGURE_COLUMN_PX
        config[heading] = st.column_config.TextColumn(heading, width=width)
    return config


def deltas(run: EvaluationRun, names: Mapping[str, str], history: EvaluationHistory) -> None:
    """The run against its set's pinned baseline, router by router (or why there is nothing to compare)."""
    baseline = history.baseline(run.set["key"])
    if baseline is None:
        st.caption("No baseline pinned for this set: pin a run to see later runs' changes against it.")
        return
    if baseline.id == run.id:
        st.caption("This run is the pinned baseline of its set.")
        return
    comparison = history.compare(baseline.id, run.id)
    st.markdown(f"**Change against the pinned baseline** (run {baseline.id}, {format_time(baseline.created_at)})")
    comparison_table(comparison, names, key="evaluation_deltas")


def comparison_table(comparison: RunComparison, names: Mapping[str, str], key: str) -> None:
    rows = []
    for router_id, changes in comparison.routers.items():
        for figure, change in changes.items():
            if figure not in FIGURE_COLUMNS or (change.base is None and change.other is None):
                continue
            quality = changes.get("quality_recovered")
            if figure == "accuracy_recovered" and quality is not None and quality.other is not None:
                continue  # a set with weights recovers on the rubric (the leaderboard's "recovered")
            heading, shown = FIGURE_COLUMNS[figure]
            rows.append(
                {
                    "router": names.get(router_id, router_id),
                    "figure": heading,
                    "baseline": shown(change.base),
                    "this run": shown(change.other),
                    "change": _signed(figure, change.delta),
                }
            )
    if not rows:
        st.caption("The two runs share no router to compare.")
    else:
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key=key)
    for what, ids in (
        ("only in the baseline", comparison.only_in_base),
        ("only in this run", comparison.only_in_other),
    ):
        if ids:
            st.caption(components.plain_markdown(f"Routers {what}: {', '.join(names.get(r, r) for r in ids)}"))


def _signed(figure: str, delta: float | None) -> str:
    if delta is None:
        return MISSING
    if figure in ("validity", "dominant_accuracy", "quality_recovered", "accuracy_recovered", "teacher_share"):
        return f"{delta * 100:+.1f} pts"
    if figure.endswith("_ms"):
        return f"{delta:+,.3f} ms"
    if figure == "cost_per_1k_usd":
        return f"{'-' if delta < 0 else '+'}${abs(delta):.6f}"
    return f"{delta:+.3f}"


# ---- charts -------------------------------------------------------------------------------------------------


def figure_charts(run: EvaluationRun, names: Mapping[str, str]) -> None:
    """Quality, latency and cost per router, the rubric histogram, cost against quality, latency spread."""
    figures = {names[r]: f for r, f in run.figures().items()}
    st.markdown("**Quality per router**")
    st.altair_chart(charts.quality_chart(figures, PUBLISHED_EVALUATION, PUBLISHED_EVALUATION_SETTING), width="stretch")
    st.caption(
        "The published rubric scores were given by an LLM judge on Amazon Bedrock routers: a reference mark, not "
        "measured here and not the same scorer as ours."
    )
    st.markdown("**Latency per router**")
    st.altair_chart(charts.latency_chart(figures, PUBLISHED_EVALUATION, PUBLISHED_EVALUATION_SETTING), width="stretch")
    if all(not f.get("cost_per_1k_usd") for f in figures.values()):
        st.caption("Every router here costs nothing per query: none of them is billed per token.")
    left, right = st.columns(2)
    with left:
        st.markdown("**Cost per 1,000 queries**")
        st.altair_chart(charts.cost_chart(figures), width="stretch")
    with right:
        st.markdown("**Cost against quality**")
        key, title = ("rubric_mean", "rubric mean") if labelled(run) else ("dominant_accuracy", "leader right")
        st.altair_chart(charts.cost_quality_chart(figures, key, title), width="stretch")
    if labelled(run):
        st.markdown("**Rubric scores per router**")
        st.altair_chart(charts.histogram_chart(figures), width="stretch")
    st.markdown("**Latency per query**")
    spreads = remembered(
        ("latency", run.id),
        lambda: {
            r: charts.latency_spread([x.latency_ms for x in e.records]) for r, e in run.routers.items() if e.records
        },
    )
    st.altair_chart(charts.latency_distribution_chart({names[r]: v for r, v in spreads.items()}), width="stretch")


def channel_charts(run: EvaluationRun, names: Mapping[str, str]) -> None:
    figures = {names[r]: f for r, f in run.figures().items()}
    left, right = st.columns(2)
    with left:
        st.markdown("**Leading channel right, per reference channel**")
        st.altair_chart(charts.channel_chart(figures, "dominant_accuracy_per_channel", "share right"), width="stretch")
    with right:
        if labelled(run):
            st.markdown("**Mean absolute weight error, per channel**")
            st.altair_chart(charts.channel_chart(figures, "mae_per_channel", "mean absolute error"), width="stretch")


# ---- drilling into records ----------------------------------------------------------------------------------


def confusion_view(run: EvaluationRun, names: Mapping[str, str]) -> None:
    """One router's confusion heatmap, and the records behind the cell chosen below it."""
    router_ids = list(run.routers)
    if st.session_state.get(CONFUSION_ROUTER_KEY) not in router_ids:
        st.session_state[CONFUSION_ROUTER_KEY] = router_ids[-1]
    router_id = st.selectbox("Confusion matrix of", router_ids, key=CONFUSION_ROUTER_KEY, format_func=names.__getitem__)
    confusion = run.figures()[router_id]["confusion"]
    st.altair_chart(
        charts.confusion_chart(confusion),
        width="content",
        key=f"{HEATMAP_KEY}_{router_id}",
        on_select=_cell_clicked,
        selection_mode=charts.CELL_SELECTION,
    )
    st.caption("Click a cell (or choose it below) to see its queries.")
    cells = [
        (reference, candidate, count)
        for reference, row in confusion.items()
        for candidate, count in row.items()
        if count > 0
    ]
    options = ["", *(f"{reference}|{candidate}" for reference, candidate, _ in cells)]
    counts = {f"{reference}|{candidate}": count for reference, candidate, count in cells}
    if st.session_state.get(CELL_KEY) not in options:
        st.session_state[CELL_KEY] = ""
    chosen = st.selectbox(
        "See the queries of a cell",
        options,
        key=CELL_KEY,
        format_func=lambda o: "choose a cell" if not o else _cell_label(o, counts[o]),
    )
    if chosen:
        reference, candidate = chosen.split("|")
        records_table(run.records(router_id, cell=(reference, candidate)), key="evaluation_cell_records")


def _cell_clicked() -> None:
    """A click on a heatmap cell chooses that cell below (the selectbox stays the one place it is kept)."""
    router_id = st.session_state.get(CONFUSION_ROUTER_KEY)
    event = st.session_state.get(f"{HEATMAP_KEY}_{router_id}")
    points = (event or {}).get("selection", {}).get(charts.CELL_SELECTION) or []
    if points:
        st.session_state[CELL_KEY] = f"{points[0]['reference']}|{points[0]['candidate']}"


def _cell_label(option: str, count: float) -> str:
    reference, candidate = option.split("|")
    said = "an invalid reply" if candidate == INVALID else f"{candidate} leads"
    return f"reference {reference} leads, router: {said} ({count:,.4g} queries)"


def slice_view(run: EvaluationRun, names: Mapping[str, str]) -> None:
    """A figure per slice value (focus, difficulty, domain or source), and the records of one slice."""
    fields = list(run.set.get("tag_fields") or [])
    if not fields:
        st.caption("This set has no tags (focus, difficulty, domain) or sources to slice by.")
        return
    field_name = st.selectbox("Slice by", fields, key=SLICE_FIELD_KEY)
    key, title = ("rubric_mean", "rubric mean") if labelled(run) else ("dominant_accuracy", "leader right")
    figures = {names[r]: f for r, f in run.figures().items()}
    st.altair_chart(charts.slice_chart(figures, field_name, key, title), width="stretch")
    values = sorted({v for f in run.figures().values() for v in (f.get("slices") or {}).get(field_name, {})})
    left, right = st.columns(2)
    with left:
        router_ids = list(run.routers)
        router_id = st.selectbox("Queries of", router_ids, key=SLICE_ROUTER_KEY, format_func=names.__getitem__)
    with right:
        if st.session_state.get(SLICE_VALUE_KEY) not in ["", *values]:
            st.session_state[SLICE_VALUE_KEY] = ""
        value = st.selectbox(
            "See the queries of a slice",
            ["", *values],
            key=SLICE_VALUE_KEY,
            format_func=lambda v: v or "choose a slice",
        )
    if value:
        records_table(run.records(router_id, slice_by=(field_name, value)), key="evaluation_slice_records")


def records_table(records: Sequence[RecordScore], key: str) -> None:
    """The records behind a figure; weights as four numbers in the channel order (every column fits 1024 px)."""
    st.caption(
        f"{len(records):,} queries"
        + (
            f"; the first {SHOWN_RECORDS} are listed (export every record above)"
            if len(records) > SHOWN_RECORDS
            else ""
        )
        + f". Weights are {WEIGHT_ORDER}."
    )
    rows = [
        {
            "line": r.line,
            "query": r.query,
            "router's weights": compact_weights(r.weights) if r.weights else "invalid: " + "; ".join(r.errors),
            "reference": compact_weights(r.reference) if r.reference else (r.expected or MISSING),
            "rubric": r.rubric if r.rubric is not None else MISSING,
            "leads": " ".join(r.leaders) or MISSING,
        }
        for r in records[:SHOWN_RECORDS]
    ]
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        width="stretch",
        key=key,
        column_config={
            "line": st.column_config.NumberColumn("line", width=45),
            "query": st.column_config.TextColumn("query", width=200),
            "router's weights": st.column_config.TextColumn("router's weights", width=160),
            "reference": st.column_config.TextColumn("reference", width=160),
            "rubric": st.column_config.TextColumn("rubric", width=50),
            "leads": st.column_config.TextColumn("leads", width=90),
        },
    )


WEIGHT_ORDER = " / ".join(MODALITIES)


def compact_weights(weights: Mapping[str, float]) -> str:
    return " / ".join(f"{weights[m]:.2f}" for m in MODALITIES)


# ---- projection ---------------------------------------------------------------------------------------------


def projection_view(run: EvaluationRun, names: Mapping[str, str]) -> None:
    if VOLUME_KEY not in st.session_state:
        st.session_state[VOLUME_KEY] = DEFAULT_VOLUME
    typed = st.text_input("Queries a month", key=VOLUME_KEY, help="Whole queries, such as 1000000 (commas allowed).")
    try:
        projections = project_run(run, _volume(typed))
    except ValueError as exc:
        st.error(components.plain_markdown(str(exc)), icon=":material/error:")
        return
    rows = [
        {
            "router": names[p.router_id],
            "cost a month": MISSING if p.cost_usd is None else format_usd(p.cost_usd),
            "routing time a month": MISSING if p.routing_hours is None else f"{p.routing_hours:,.2f} h",
            "mean per query": MISSING if p.latency_mean_ms is None else format_ms(p.latency_mean_ms),
            "p95 per query": MISSING if p.latency_p95_ms is None else format_ms(p.latency_p95_ms),
        }
        for p in projections
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="evaluation_projection")
    st.caption(
        "Cost is the measured cost per 1,000 queries at on-demand token prices, scaled to the volume (provisioned "
        "throughput bills by the hour and is not in it); time is mean latency times the volume."
    )


def _volume(typed: str) -> object:
    text = typed.replace(",", "").replace("_", "").strip()
    try:
        return int(text)
    except ValueError:
        return text
