"""The Search page's figures: Recall@5, Recall@10, MRR and NDCG@10 of each chosen router on the catalog's judged
queries, per focus, beside the baselines (uniform weights, each channel alone, the combined index, the oracle),
and the published figures as a reference of their own, never among ours.

The judged queries' channel answers are searched once per catalog and kept (st.cache_resource); a router's
weights for them are kept for the session, so a billable router is paid for once, after its estimate is
confirmed, and every fusion method re-scores the same weights.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import cast

import pandas as pd
import streamlit as st

from core.routers.base import Router
from core.search.engine import RoutedWeights
from core.search.evaluation import (
    PUBLISHED_RETRIEVAL,
    PUBLISHED_SETTING,
    JudgedSearch,
    baseline_figures,
    judged_weights,
    search_judged,
    weights_figures,
)
from core.search.judgements import focus_names
from dashboard import components, state
from dashboard.search_catalog_views import SearchableCatalog
from dashboard.search_charts import figures_chart
from dashboard.search_views import FUSION_LABELS
from dashboard.widgets import confirm, notices
from dashboard.widgets.formatting import markdown_usd

WEIGHTS_KEY = "search_judged_weights"
SCORE_KEY = "search_score"
FOCUS_METRIC_KEY = "search_focus_metric"
SCORE_PLACE = "search_score"
METRIC_LABELS = {"recall_at_5": "Recall@5", "recall_at_10": "Recall@10", "mrr": "MRR", "ndcg_at_10": "NDCG@10"}
BASELINE_LABELS = {
    "uniform": "uniform weights",
    "combined_index": "combined index",
    "visual_only": "visual only",
    "audio_only": "audio only",
    "transcription_only": "transcription only",
    "metadata_only": "metadata only",
    "oracle": "oracle",
}
HEADLINE_METRICS = ("recall_at_5", "ndcg_at_10")
# The baselines drawn beside the routers in the chart (the table lists them all).
CHARTED_BASELINES = ("uniform", "combined_index")
STAND_IN_NOTE = (
    "Offline, visual, audio and transcription search is a local stand-in for multimodal embeddings: it matches "
    "words and near-spellings in each segment's own caption, sound description or transcript, not meaning. So "
    "here one combined index over every field keeps every word and is a strong baseline, unlike the single "
    "embedding it stands for, which must squeeze a segment into one vector (51% Recall@5 against 90% routed in "
    "the published system). The oracle weighs equally the channels each query was written in: what routing could "
    "reach on this catalog (docs/ARCHITECTURE.md, section 11)."
)
Figures = Mapping[str, object]


def metrics_panel(
    searchable: SearchableCatalog, router_ids: Sequence[str], labels: Mapping[str, str], fusion: str
) -> None:
    """The figures of each chosen router and of the baselines on the catalog's judged queries, a chart of them
    with the published figures as reference marks, the figures per focus, and the published figures apart."""
    judgements = searchable.judgements
    if not judgements:
        st.info(
            f"{searchable.info.name} has no judged queries, so its search cannot be scored: import it again with a "
            "judged queries file, or pick a sample catalog.",
            icon=":material/rule:",
        )
        return
    st.caption(
        f"Measured here on {len(judgements):,} judged queries of {searchable.info.name}, fused by "
        f"{FUSION_LABELS[fusion]}. A segment is found when it has everything the query asks for."
    )
    with st.spinner(f"Searching the {len(judgements):,} judged queries in every channel (once per catalog)…"):
        judged = _judged(searchable.key, searchable)
        baselines = _baselines(searchable.key, fusion, judged)
    by_id = _router_figures(searchable, judged, router_ids, labels, fusion)
    if by_id:
        _headline(by_id, labels, baselines)
    scored = {labels.get(router_id, router_id): figures for router_id, figures in by_id.items()}
    # The uniform router and the uniform baseline are the same search: the chart draws it once.
    charted_baselines = [name for name in CHARTED_BASELINES if not (name == "uniform" and "uniform" in by_id)]
    charted = {**scored, **{_baseline_name(name): baselines[name] for name in charted_baselines}}
    st.altair_chart(
        figures_chart(
            {label: _metric_values(figures) for label, figures in charted.items()},
            PUBLISHED_RETRIEVAL,
            METRIC_LABELS,
            PUBLISHED_SETTING,
        ),
        width="stretch",
    )
    st.dataframe(figures_frame(scored, baselines), hide_index=True, width="stretch")
    _per_focus(scored, baselines)
    st.markdown("**Published reference, not measured here**")
    st.caption(f"From {PUBLISHED_SETTING}: shown beside our figures, never among them.")
    st.dataframe(published_frame(), hide_index=True, width="stretch")


@st.cache_resource(max_entries=2, show_spinner=False)
def _judged(key: str, _searchable: SearchableCatalog) -> JudgedSearch:
    return search_judged(_searchable.index, _searchable.judgements)


@st.cache_resource(max_entries=6, show_spinner=False)
def _baselines(key: str, fusion: str, _judged: JudgedSearch) -> dict[str, Figures]:
    return dict(baseline_figures(_judged, fusion))


@dataclass
class _Scored:
    """A router's weights for a catalog's judged queries, and their figures per fusion method once computed."""

    router: Router
    weights: list[RoutedWeights]
    figures: dict[str, Figures]


def _router_figures(
    searchable: SearchableCatalog,
    judged: JudgedSearch,
    router_ids: Sequence[str],
    labels: Mapping[str, str],
    fusion: str,
) -> dict[str, Figures]:
    """Each chosen router's figures, by router id: free routers are scored at once, billable ones once their estimate
    is confirmed. A router's weights are kept for the session, so switching fusion never routes again."""
    kept: dict[tuple[str, str], _Scored] = st.session_state.setdefault(WEIGHTS_KEY, {})
    routers: dict[str, Router] = {}
    for router_id in router_ids:
        try:
            routers[router_id] = state.router(router_id)
        except Exception:  # the search box above already says why; the other routers are still scored
            continue
    scored: dict[str, _Scored] = {}
    for router_id, router in routers.items():
        found = kept.get((searchable.key, router_id))
        if found is not None and found.router is router:
            scored[router_id] = found
    agreed = confirm.confirmed(SCORE_KEY)
    confirmed_now = list(agreed[1]) if agreed is not None and agreed[0] == searchable.key else []
    free = [router_id for router_id, router in routers.items() if not router.billable]
    for router_id in dict.fromkeys([*confirmed_now, *free]):
        if router_id in routers and router_id not in scored:
            routed = _route_judged(judged, routers[router_id], labels.get(router_id, router_id))
            if routed is not None:
                scored[router_id] = kept[(searchable.key, router_id)] = _Scored(routers[router_id], routed, {})
    notices.show(SCORE_PLACE)
    waiting = [router_id for router_id, router in routers.items() if router.billable and router_id not in scored]
    if waiting:
        _ask_to_score(searchable.key, len(judged), waiting, routers, labels)
    figures: dict[str, Figures] = {}
    for router_id in router_ids:
        entry = scored.get(router_id)
        if entry is not None:
            if fusion not in entry.figures:
                entry.figures[fusion] = weights_figures(judged, entry.weights, fusion)
            figures[router_id] = entry.figures[fusion]
    return figures


def _route_judged(judged: JudgedSearch, router: Router, label: str) -> list[RoutedWeights] | None:
    with st.spinner(f"Routing the {len(judged):,} judged queries with {label}…"):
        done = notices.attempt(SCORE_PLACE, lambda: judged_weights(judged, router))
    return done.result if done is not None else None


def _ask_to_score(
    key: str, count: int, waiting: Sequence[str], routers: Mapping[str, Router], labels: Mapping[str, str]
) -> None:
    """Billable routers are scored only after their estimate is confirmed, and only while the backend is ready."""
    listed = ", ".join(labels.get(router_id, router_id) for router_id in waiting)
    status = state.backend_status()
    if not status.ready:
        st.warning(
            components.plain_markdown(f"{status.label} is not ready, so {listed} cannot be scored now.")
            + " Open Settings in the sidebar to fix it.",
            icon=":material/block:",
        )
        return
    estimate = sum(routers[router_id].estimate_batch_cost_usd(count) for router_id in waiting)
    value = (key, tuple(waiting))
    if confirm.waiting(SCORE_KEY) != value:
        st.button(
            f"Score {listed} on the {count:,} judged queries",
            key=f"{SCORE_KEY}_ask",
            icon=":material/payments:",
            on_click=confirm.ask,
            args=(SCORE_KEY, value),
            help="Routes every judged query once; the figures of every fusion method then come from those weights.",
        )
        return
    confirm.confirm_box(
        SCORE_KEY,
        components.plain_markdown(f"Scoring sends each of the {count:,} judged queries to {listed}, and AWS bills it:")
        + f" about {markdown_usd(estimate)} in all (estimated before sending).",
        confirm="Confirm and score",
        icon=":material/payments:",
    )


def _headline(by_id: Mapping[str, Figures], labels: Mapping[str, str], baselines: Mapping[str, Figures]) -> None:
    """Each router's Recall@5 and NDCG@10, with the points it gains over uniform weights (no routing)."""
    uniform = baselines["uniform"]
    with st.container(horizontal=True, wrap=True):
        for router_id, figures in by_id.items():
            with st.container(border=True, width="content"):
                st.caption(components.plain_markdown(labels.get(router_id, router_id)))
                with st.container(horizontal=True):
                    for name in HEADLINE_METRICS:
                        value, base = _value(figures, name), _value(uniform, name)
                        st.metric(
                            METRIC_LABELS[name],
                            f"{value:.1%}",
                            # The uniform router is the baseline itself: nothing to compare.
                            delta=None if router_id == "uniform" else f"{(value - base) * 100:+.1f} pts vs uniform",
                            help="Against uniform weights (0.25 on every channel): the same search without routing.",
                        )
                fallbacks = _count(figures, "fallbacks")
                if fallbacks:
                    st.caption(f"{fallbacks:,} invalid replies were searched with uniform weights.")


def figures_frame(scored: Mapping[str, Figures], baselines: Mapping[str, Figures]) -> pd.DataFrame:
    """Our figures as percentages: the routers, then every baseline."""
    rows = [
        {
            "name": label,
            "kind": "router",
            **_percentages(figures),
            "invalid replies": f"{_count(figures, 'fallbacks'):,}",
        }
        for label, figures in scored.items()
    ]
    rows += [
        {"name": BASELINE_LABELS[name], "kind": _baseline_kind(name), **_percentages(figures), "invalid replies": "–"}
        for name, figures in baselines.items()
    ]
    return pd.DataFrame(rows, columns=["name", "kind", *METRIC_LABELS.values(), "invalid replies"])


def _per_focus(scored: Mapping[str, Figures], baselines: Mapping[str, Figures]) -> None:
    st.markdown("**Per query focus**")
    metric = st.selectbox(
        "Figure per focus",
        list(METRIC_LABELS),
        format_func=lambda name: METRIC_LABELS[name],
        key=FOCUS_METRIC_KEY,
        width=220,
    )
    entries = {**scored, **{_baseline_name(name): figures for name, figures in baselines.items()}}
    cells = {name: _by_focus(figures) for name, figures in entries.items()}
    counts: dict[str, int] = {}
    for by_focus in cells.values():
        for focus, cell in by_focus.items():
            counts.setdefault(focus, int(cell["n"]))
    foci = [focus for focus in focus_names() if focus in counts]
    rows = [
        {
            "name": name,
            **{f"{focus} ({counts[focus]:,})": _share(by_focus.get(focus, {}).get(metric)) for focus in foci},
        }
        for name, by_focus in cells.items()
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    st.caption("In brackets: how many judged queries have that focus (the channel their words were written in).")


def published_frame() -> pd.DataFrame:
    rows = [
        {"name": name, **{label: f"{figures[key]:.0%}" for key, label in METRIC_LABELS.items()}}
        for name, figures in PUBLISHED_RETRIEVAL.items()
    ]
    return pd.DataFrame(rows, columns=["name", *METRIC_LABELS.values()])


def stand_in_note() -> None:
    st.info(STAND_IN_NOTE, icon=":material/info:")


def _baseline_name(name: str) -> str:
    return f"{BASELINE_LABELS[name]} ({_baseline_kind(name)})"


def _baseline_kind(name: str) -> str:
    return "reference" if name == "oracle" else "baseline"


def _value(figures: Figures, name: str) -> float:
    return float(cast(float, figures[name]))


def _count(figures: Figures, name: str) -> int:
    return int(cast(int, figures.get(name, 0)))


def _by_focus(figures: Figures) -> Mapping[str, Mapping[str, float]]:
    return cast(Mapping[str, Mapping[str, float]], figures.get("by_focus", {}))


def _metric_values(figures: Figures) -> dict[str, float]:
    return {name: _value(figures, name) for name in METRIC_LABELS}


def _percentages(figures: Figures) -> dict[str, str]:
    return {label: _share(_value(figures, name)) for name, label in METRIC_LABELS.items()}


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"
