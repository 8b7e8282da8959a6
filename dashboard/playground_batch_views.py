"""The Playground's batch compare: paste or upload up to 1,000 queries (text lines, or CSV / JSONL with a `query`
column), run the chosen routers over them with a progress bar, and read the summary (agreement, mean L1, latency
p50/p95, cost in all and per million queries), the per-query table (only where they disagree, if asked), the CSV,
and any row side by side, where it can be saved as a gold label. Reading and checking the queries, the figures and
the CSV are core.compare's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from core.compare import (
    MAX_BATCH_QUERIES,
    CompareError,
    Comparison,
    QueryComparison,
    RouterSummary,
    check_queries,
    comparison_csv,
    read_query_file,
)
from core.schema import MODALITIES
from dashboard import components, gold_views, playground_views
from dashboard import playground_runs as runs
from dashboard.widgets.formatting import MISSING, format_ms, format_share, format_usd, preview
from dashboard.widgets.layout import Figure, figure_row

if TYPE_CHECKING:
    from core.backends import Backend

TEXT_KEY = "playground_batch_text"
FILE_KEY = "playground_batch_file"
RUN_KEY = "playground_batch_run"
CONFIRM_KEY = "playground_confirm_batch"
ONLY_KEY = "playground_only_disagreements"
ROW_KEY = "playground_batch_row"
GOLD_KEY = "playground_gold_batch"
MAX_UPLOAD_MB = 5
SHORT = {"visual": "v", "audio": "a", "transcription": "t", "metadata": "m"}


def batch_box(backend: Backend, router_ids: list[str], labels: dict[str, str]) -> None:
    queries = query_input()
    n = len(queries) if queries else 0
    clicked = st.button(
        f"Compare {n:,} queries" if n else "Compare the queries",
        key=RUN_KEY,
        type="primary",
        icon=":material/table_rows:",
        disabled=not (n and router_ids),
    )
    if clicked and queries:
        runs.ask_or_run(CONFIRM_KEY, runs.RunRequest("batch", tuple(router_ids), tuple(queries)))
    runs.pending(CONFIRM_KEY, labels)
    comparison = runs.shown("batch")
    if comparison is None:
        st.caption("No batch compared yet.")
        return
    results(backend, comparison, labels)


def query_input() -> list[str] | None:
    """The queries to compare, from the upload when there is one, else from the box; a problem is shown by line."""
    st.text_area(
        f"Queries, one a line (up to {MAX_BATCH_QUERIES:,})",
        key=TEXT_KEY,
        height=120,
        placeholder="dog barking loudly\nsunset over mountains",
    )
    upload = st.file_uploader(
        "Or upload text lines, a CSV with a 'query' column, or JSONL",
        type=["txt", "csv", "jsonl", "json"],
        key=FILE_KEY,
        max_upload_size=MAX_UPLOAD_MB,
        help="A JSONL line is an object with a 'query' key, or a dataset record.",
    )
    try:
        if upload is not None:
            queries = read_query_file(upload.getvalue(), upload.name)
            source = upload.name
        else:
            queries = read_query_file(st.session_state.get(TEXT_KEY) or "")
            source = "the box"
        if not queries:
            return None
        queries = check_queries(queries)
    except UnicodeDecodeError as exc:
        st.error(
            f"The file is not UTF-8 text (byte {exc.start:,} cannot be read): save it as UTF-8.",
            icon=":material/error:",
        )
        return None
    except CompareError as exc:
        st.error(components.plain_markdown(str(exc)), icon=":material/error:")
        return None
    st.caption(components.plain_markdown(f"{len(queries):,} queries from {source}."))
    return queries


def results(backend: Backend, comparison: Comparison, labels: dict[str, str]) -> None:
    reference = labels.get(comparison.reference, comparison.reference)
    disagreements = len(comparison.disagreements)
    figure_row(
        [
            Figure("Queries", f"{len(comparison.queries):,}"),
            Figure(
                "All agree",
                format_share(comparison.agreement_rate),
                f"Share of queries on which every router leads with {reference}'s channel.",
            ),
            Figure("Disagreements", f"{disagreements:,}"),
            Figure("Took", f"{comparison.elapsed_s:,.2f} s"),
        ]
    )
    summary_table(comparison, labels)
    only = st.toggle("Only where they disagree", key=ONLY_KEY)
    shown = comparison.disagreements if only else comparison.queries
    st.dataframe(
        rows_table(comparison, shown, labels),
        hide_index=True,
        width="stretch",
        column_config={
            "Query": st.column_config.TextColumn(width=230),
            "Router": st.column_config.TextColumn(width=130),
            "Weights": st.column_config.TextColumn(width=150, help="v visual, a audio, t transcription, m metadata"),
            "Agrees": st.column_config.CheckboxColumn(width=65, help=f"Same leading channel as {reference}"),
            "L1": st.column_config.TextColumn(width=55, help="L1 distance of the weights, 0 to 2"),
        },
    )
    st.caption(
        components.plain_markdown(
            f"{len(shown):,} of {len(comparison.queries):,} queries, one line per router; weights as v visual, "
            f"a audio, t transcription, m metadata; agreement and L1 against {reference}."
        )
    )
    st.download_button(
        "Download CSV",
        data=comparison_csv(comparison, only),
        file_name=f"comparison-{comparison.run_id or 'unsaved'}{'-disagreements' if only else ''}.csv",
        mime="text/csv",
        on_click="ignore",
        icon=":material/download:",
        key="playground_batch_csv",
    )
    if shown:
        row_detail(backend, comparison, shown, labels)


def summary_table(comparison: Comparison, labels: dict[str, str]) -> None:
    """One column per router, one row per figure (so four routers fit at 1024 px)."""
    figures = {labels.get(r, r): summary_figures(s, r == comparison.reference) for r, s in comparison.summaries.items()}
    table = pd.DataFrame(figures)
    st.dataframe(
        table,
        width="stretch",
        column_config={"_index": st.column_config.TextColumn("Figure", width=190)}
        | {name: st.column_config.TextColumn(width=130) for name in figures},
    )
    for router_id, summary in comparison.summaries.items():
        if summary.error:
            st.error(
                components.plain_markdown(f"{labels.get(router_id, router_id)}: {summary.error}"),
                icon=":material/error:",
            )


def summary_figures(summary: RouterSummary, is_reference: bool) -> dict[str, str]:
    return {
        "Valid replies": format_share(summary.validity),
        "Agreement": "the reference" if is_reference else format_share(summary.agreement_rate),
        "Mean L1": MISSING if summary.mean_l1 is None else f"{summary.mean_l1:.3f}",
        "Latency p50": format_ms(summary.latency_p50_ms),
        "Latency p95": format_ms(summary.latency_p95_ms),
        "Cost in all": format_usd(summary.total_cost_usd),
        "Per million queries": format_usd(summary.cost_per_million_usd),
        f"Tokens in / out ({summary.token_source})": f"{summary.input_tokens:,} / {summary.output_tokens:,}",
    }


def rows_table(comparison: Comparison, shown: list[QueryComparison], labels: dict[str, str]) -> pd.DataFrame:
    rows = []
    for item in shown:
        for router_id in comparison.router_ids:
            outcome = item.outcomes[router_id]
            result = outcome.result
            if result.valid and result.decision is not None:
                weights = result.decision.weights()
                text = "  ".join(f"{SHORT[m]} {weights[m]:.2f}" for m in MODALITIES)
            else:
                text = "invalid: " + ("; ".join(result.errors) or "no answer")
            agreement = outcome.agreement
            rows.append(
                {
                    "Query": item.query,
                    "Router": labels.get(router_id, router_id),
                    "Weights": text,
                    "Agrees": None if agreement is None or agreement.leading is None else agreement.agrees,
                    "L1": MISSING if agreement is None or agreement.l1 is None else f"{agreement.l1:.2f}",
                }
            )
    return pd.DataFrame(rows, columns=["Query", "Router", "Weights", "Agrees", "L1"])


def row_detail(backend: Backend, comparison: Comparison, shown: list[QueryComparison], labels: dict[str, str]) -> None:
    """Any row of the table side by side, with a gold label to save for it."""
    index_of = {id(item): index for index, item in enumerate(comparison.queries)}
    choices = [index_of[id(item)] for item in shown]
    if st.session_state.get(ROW_KEY) not in choices:
        st.session_state[ROW_KEY] = choices[0]
    index = st.selectbox(
        "Look at one query side by side (and label it)",
        choices,
        key=ROW_KEY,
        format_func=lambda i: f"{i + 1}. {preview(comparison.queries[i].query, 80)}",
    )
    with st.container(border=True):
        playground_views.side_by_side(comparison, labels, index)
        with st.expander("Save a gold label for this query", icon=":material/verified:"):
            gold_views.gold_editor(
                backend.gold_labels(),
                comparison.queries[index].query,
                playground_views.start_weights(comparison, index),
                key=GOLD_KEY,
                run_id=comparison.run_id,
            )
