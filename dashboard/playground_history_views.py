"""The Playground's history: every comparison run kept in the store (Backend.comparisons()), newest first, any of
them shown again or run again (a billable router still asks first). Showing a run puts `run=<id>` in the address,
so a link brings that run back exactly as it was."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.compare import LINK_QUERY, LINK_ROUTER, LINK_RUN, CompareHistory, RunSummary
from dashboard import components
from dashboard import playground_runs as runs
from dashboard.widgets.formatting import MISSING, format_share, format_time, preview

PICK_KEY = "playground_history_pick"
SHOW_KEY = "playground_history_show"
RERUN_KEY = "playground_history_rerun"
CONFIRM_KEY = "playground_confirm_rerun"
KINDS = {"query": "one query", "batch": "batch"}


def history(history: CompareHistory, labels: dict[str, str]) -> None:
    try:
        stored = history.list()
    except Exception as exc:  # e.g. a locked database
        components.show_error(exc)
        return
    ran = runs.pending(CONFIRM_KEY, labels)
    if ran is not None:
        st.rerun()  # the new run shows in its section above, and tops the list
    if not stored:
        st.caption("No runs yet: every comparison made here or with `python -m core compare` is kept and listed.")
        return
    st.dataframe(
        pd.DataFrame([_row(run, labels) for run in stored]),
        hide_index=True,
        width="stretch",
        column_config={
            "When": st.column_config.TextColumn(width=140),
            "Kind": st.column_config.TextColumn(width=80),
            "Queries": st.column_config.NumberColumn(width=70),
            "Routers": st.column_config.TextColumn(width=190),
            "All agree": st.column_config.TextColumn(width=75),
            "First query": st.column_config.TextColumn(width=170),
        },
    )
    by_id = {run.id: run for run in stored}
    if st.session_state.get(PICK_KEY) not in by_id:
        st.session_state[PICK_KEY] = stored[0].id
    chosen = by_id[
        st.selectbox("Run", list(by_id), key=PICK_KEY, format_func=lambda run_id: _label(by_id[run_id], labels))
    ]
    with st.container(horizontal=True):
        st.button("Show it", key=SHOW_KEY, icon=":material/visibility:", on_click=_show, args=(history, chosen.id))
        if st.button("Run it again", key=RERUN_KEY, icon=":material/replay:"):
            try:
                old = history.get(chosen.id)
            except Exception as exc:  # deleted meanwhile
                components.show_error(exc)
                return
            request = runs.RunRequest(old.kind, tuple(old.router_ids), tuple(q.query for q in old.queries), chosen.id)
            if runs.ask_or_run(CONFIRM_KEY, request) is not None:
                st.rerun()
            runs.pending(CONFIRM_KEY, labels)


def _show(history: CompareHistory, run_id: str) -> None:
    try:
        comparison = history.get(run_id)
    except Exception as exc:  # deleted meanwhile
        from dashboard.widgets import notices

        notices.failure(notices.PAGE, exc)
        return
    runs.keep(comparison)
    pick(run_id)
    for name in (LINK_QUERY, LINK_ROUTER):
        st.query_params.pop(name, None)
    st.query_params[LINK_RUN] = run_id


def pick(run_id: str) -> None:
    """Make a stored run the one the history's buttons act on."""
    st.session_state[PICK_KEY] = run_id


def _row(run: RunSummary, labels: dict[str, str]) -> dict[str, object]:
    return {
        "When": format_time(run.created_at),
        "Kind": KINDS.get(run.kind, run.kind) + ("" if run.source == runs.SOURCE else f" ({run.source})"),
        "Queries": run.query_count,
        "Routers": " vs ".join(labels.get(r, r) for r in run.router_ids),
        "All agree": format_share(run.summary.get("agreement_rate")) if run.router_ids[1:] else MISSING,
        "First query": preview(run.first_query, 80),
    }


def _label(run: RunSummary, labels: dict[str, str]) -> str:
    what = preview(run.first_query, 40) if run.kind == "query" else f"{run.query_count:,} queries"
    n = len(run.router_ids)
    return f"{format_time(run.created_at)} · {what} · {n} router{'' if n == 1 else 's'}"
