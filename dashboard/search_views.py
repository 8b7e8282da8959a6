"""The Search page's query pieces: choose up to four routers and a fusion method, search one query through each
router, and show their ranked segments side by side, each hit's score split by channel, and how far the lists
agree with the teacher's.

The routers, the fusion method and the query are kept in the address (st.query_params), with the catalog
(search_catalog_views), so a link reproduces the view; a billable router routes only after its estimate is
confirmed (the shared try-router box). Catalog text is rendered with st.text, st.dataframe or Altair.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import streamlit as st

from core.schema import RouteResult
from core.search.engine import DEFAULT_K, RoutedWeights, SearchHit, route_weights
from core.search.fusion import DEFAULT_FUSION, FUSION_METHODS, RRF_K, SKIP_THRESHOLD
from core.search.judgements import JudgedQuery, focus_names
from core.search.metrics import overlap_at_k, rank_correlation
from dashboard import components
from dashboard.search_catalog_views import SearchableCatalog
from dashboard.search_charts import channel_key_chart, contributions_chart
from dashboard.widgets import router_picker
from dashboard.widgets.formatting import weights_text
from dashboard.widgets.try_router import EXAMPLE_QUERIES, Routed, last_routed, request_route, try_router_box

if TYPE_CHECKING:
    from core.backends import Backend

QUERY_PARAM = "q"
FUSION_PARAM = "fusion"
ROUTERS_KEY = "search_routers"
FUSION_KEY = "search_fusion"
TRY_KEY = "search_try"
HANDLED_QUERY_KEY = "search_handled_query"
TOP_K = DEFAULT_K
SAMPLE_QUERY_CHARS = 45
LISTS_PER_ROW = 2
# A hit shows what is seen; when the audio or transcription channel gave most of its score, also what is heard
# or said, so the reason it ranks there is on the page.
HEARD_OR_SAID = {"audio": "Heard", "transcription": "Said"}
SEGMENT_TEXT = {"audio": "audio_description", "transcription": "transcript"}
FUSION_LABELS = {"minmax": "min-max (the system's choice)", "rrf": f"weighted RRF (k = {RRF_K})", "zscore": "z-score"}


@dataclass(frozen=True)
class RouterSearch:
    router_id: str
    label: str
    result: RouteResult
    routed: RoutedWeights
    hits: list[SearchHit]
    searched: list[str]
    skipped: list[str]


# ---- routers and fusion --------------------------------------------------------------------------------------


def pick_routers(backend: Backend) -> tuple[list[str], dict[str, str]]:
    """Up to four routers from the backend's choices (the address wins on arrival), and each one's label."""
    wanted = router_picker.address_routers()
    labels = router_picker.router_labels(backend, wanted)
    chosen = router_picker.pick_routers(
        labels,
        key=ROUTERS_KEY,
        wanted=wanted,
        on_change=_routers_changed,
        help="Each router gives the query its channel weights; the segments are then ranked by those weights.",
    )
    return chosen, labels


def _routers_changed() -> None:
    # The last query is searched again with the routers now chosen (a billable one still asks first).
    last = last_routed(TRY_KEY)
    if last is not None and last.query.strip():
        request_route(TRY_KEY, last.query)


def pick_fusion() -> str:
    if FUSION_KEY not in st.session_state:
        wanted = st.query_params.get(FUSION_PARAM)
        st.session_state[FUSION_KEY] = wanted if wanted in FUSION_METHODS else DEFAULT_FUSION
    fusion = st.radio(
        "Fusion",
        FUSION_METHODS,
        key=FUSION_KEY,
        format_func=lambda method: FUSION_LABELS[method],
        horizontal=True,
        help=(
            "How the channels' scores become one ranking. Min-max: each channel scaled to 0-1, then the weighted "
            f"sum. Weighted RRF: the sum of weight / ({RRF_K} + rank). Z-score: the weighted sum of standardised "
            f"scores. A channel weighted under {SKIP_THRESHOLD} is not searched at all."
        ),
    )
    st.query_params[FUSION_PARAM] = fusion
    return fusion


# ---- one query, side by side ---------------------------------------------------------------------------------


def search_box(
    searchable: SearchableCatalog, router_ids: Sequence[str], labels: Mapping[str, str], fusion: str
) -> None:
    """The query box with sample queries; each router's ranked segments side by side, and how far they agree."""
    if not router_ids:
        st.info("Choose at least one router above to search with.", icon=":material/alt_route:")
        return
    _apply_link_query()
    chosen = tuple(router_ids)
    try_router_box(
        chosen,
        labels={router_id: labels.get(router_id, router_id) for router_id in chosen},
        key=TRY_KEY,
        examples=sample_queries(searchable.judgements),
        route_label="Search",
        results_view=lambda routed: ranked_lists(searchable, routed, fusion),
    )
    last = last_routed(TRY_KEY)
    if last is not None:
        st.query_params[QUERY_PARAM] = st.session_state[HANDLED_QUERY_KEY] = last.query
    if last is None or last.router_ids != chosen:
        st.caption("Nothing searched yet: type what you are looking for, or pick a sample query.")


def _apply_link_query() -> None:
    """A query the address brings (a link, an edited address) is searched once (billable routers still ask)."""
    query = st.query_params.get(QUERY_PARAM)
    if query is None or query == st.session_state.get(HANDLED_QUERY_KEY):
        return
    st.session_state[HANDLED_QUERY_KEY] = query
    last = last_routed(TRY_KEY)
    if query.strip() and (last is None or last.query != query):
        request_route(TRY_KEY, query)


def sample_queries(judgements: Sequence[JudgedQuery]) -> list[str]:
    """A short judged query of each focus, so the samples show each channel leading; the published examples
    for a catalog without judged queries."""
    picked: list[str] = []
    for focus in focus_names():
        of_focus = [q.query for q in judgements if q.focus == focus]
        short = [text for text in of_focus if len(text) <= SAMPLE_QUERY_CHARS]
        if short or of_focus:
            picked.append((short or of_focus)[0])
    return picked or list(EXAMPLE_QUERIES)


def ranked_lists(searchable: SearchableCatalog, routed: Routed, fusion: str) -> None:
    """How far the lists agree with the teacher's, then each router's ranked segments, two side by side."""
    if not routed.query.strip():
        st.info("The query is empty: type what you are looking for.", icon=":material/search:")
        return
    searches = [
        _search(searchable, router_id, label, result, fusion)
        for router_id, (label, result) in zip(routed.answered, routed.results, strict=True)
    ]
    agreement(searches)
    st.caption(
        f"The top {TOP_K} of {len(searchable.catalog):,} segments in {searchable.info.name} for each router, "
        f"fused by {FUSION_LABELS[fusion]}. Each bar splits a segment's score by the channel it came from:"
    )
    st.altair_chart(channel_key_chart(), width="content")
    for start in range(0, len(searches), LISTS_PER_ROW):
        row = searches[start : start + LISTS_PER_ROW]
        for column, search in zip(st.columns(LISTS_PER_ROW, gap="medium"), row, strict=False):
            with column, st.container(border=True):
                router_hits(search)


def _search(
    searchable: SearchableCatalog, router_id: str, label: str, result: RouteResult, fusion: str
) -> RouterSearch:
    routed = route_weights(result)
    found = searchable.index.search(result.query, routed.weights, k=TOP_K, fusion=fusion)
    return RouterSearch(router_id, label, result, routed, found.hits, found.searched, found.skipped)


def router_hits(search: RouterSearch) -> None:
    """One router's list: its weights, the channels it searched, a stacked bar per hit and each hit's details."""
    st.markdown(f"**{components.plain_markdown(search.label)}**")
    st.text(weights_text(search.routed.weights))
    if search.routed.fallback:
        st.warning("This router's reply was not valid, so its list uses uniform weights.", icon=":material/build:")
        st.text(search.routed.reason or "")
    if search.skipped:
        st.caption(f"Not searched (weight under {SKIP_THRESHOLD}): {', '.join(search.skipped)}.")
    if not search.hits:
        st.info("No segment matches this query in the channels searched.", icon=":material/search_off:")
        return
    st.altair_chart(contributions_chart(search.hits), width="stretch")
    for hit in search.hits:
        st.markdown(hit_markdown(hit))


def hit_markdown(hit: SearchHit) -> str:
    """A hit for reading, its catalog text escaped: rank and video title, time range and people, what is seen,
    and what is heard or said when that channel gave the most of its score."""
    segment = hit.segment
    facts = " · ".join(part for part in (segment.time_range(), ", ".join(segment.people)) if part)
    lines = [f"**{hit.rank}. {components.plain_markdown(segment.title)}** · {components.plain_markdown(facts)}"]
    lines.append(components.plain_markdown(segment.caption))
    leading = max(hit.contributions, key=lambda channel: hit.contributions[channel], default=None)
    if leading in HEARD_OR_SAID:
        label, text = HEARD_OR_SAID[leading], getattr(segment, SEGMENT_TEXT[leading])
        lines.append(f"*{label}:* {components.plain_markdown(text)}")
    return "  \n".join(lines)


def agreement(searches: Sequence[RouterSearch]) -> None:
    """Overlap@k and rank correlation of each list against the teacher's (or the first router's)."""
    if len(searches) < 2:
        return
    reference = next((s for s in searches if s.router_id == "teacher"), searches[0])
    others = [s for s in searches if s is not reference]
    st.markdown(f"**Against {components.plain_markdown(reference.label)}'s list** (top {TOP_K})")
    ours = [hit.segment.id for hit in reference.hits]
    with st.container(horizontal=True, wrap=True):
        for other in others:
            theirs = [hit.segment.id for hit in other.hits]
            with st.container(border=True, width="content"):
                st.caption(components.plain_markdown(other.label))
                with st.container(horizontal=True):
                    st.metric(
                        f"Overlap@{TOP_K}",
                        f"{overlap_at_k(ours, theirs, TOP_K):.0%}",
                        help=f"Share of the top {TOP_K} segments both lists hold.",
                    )
                    st.metric(
                        "Rank correlation",
                        f"{rank_correlation(ours, theirs, TOP_K):+.2f}",
                        help=(
                            f"Spearman's rho over the segments either top {TOP_K} holds (one a list lacks ranks "
                            f"{TOP_K + 1}): 1 is the same order, -1 the reverse."
                        ),
                    )
