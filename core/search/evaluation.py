"""Search impact: the retrieval figures of routed fusion per router and per query focus, beside baselines.

Every judged query is searched once per channel (and once in the combined index); each router's weights,
and each baseline's, then only re-fuse those hits, so all rankings of a query come from the same channel
answers. Routers route the judged queries in one batch; a reply that is not valid searches with uniform
weights and is counted as a fallback.

Baselines: `uniform` (0.25 on every channel: no routing), one channel alone (`visual_only`, ...), the
`combined_index` (one index over every field, the system's own single-embedding baseline) and `oracle`
(equal weight on the channels the query was written in, read from the judgements: what perfect routing
could reach here, a reference rather than a router).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from core.routers.base import Router
from core.schema import MODALITIES
from core.search.channels import DEFAULT_DEPTH, ChannelHits
from core.search.engine import UNIFORM_WEIGHTS, RoutedWeights, SearchIndex, route_weights
from core.search.fusion import DEFAULT_FUSION, fuse
from core.search.judgements import JudgedQuery, focus_names, oracle_weights
from core.search.metrics import METRIC_NAMES, mean_metrics, query_metrics

FIGURE_DIGITS = 4
# The system's own published retrieval figures (docs/ARCHITECTURE.md, section 10): a reference to show
# beside ours, never mixed with them.
PUBLISHED_SETTING = "the published system: 10 long videos, 20 queries"
PUBLISHED_RETRIEVAL: dict[str, dict[str, float]] = {
    "routed hybrid search": {"recall_at_5": 0.90, "recall_at_10": 0.95, "mrr": 0.90, "ndcg_at_10": 0.88},
    "combined embedding": {"recall_at_5": 0.51, "recall_at_10": 0.64, "mrr": 0.48, "ndcg_at_10": 0.54},
}
BASELINE_DESCRIPTIONS: dict[str, str] = {
    "uniform": "0.25 on every channel: fusion without routing",
    **{f"{m}_only": f"the {m} channel alone" for m in MODALITIES},
    "combined_index": "one index over every field (a single combined embedding in the system it models)",
    "oracle": "equal weight on the channels each query was written in, from the judgements: a reference, not a router",
}


@dataclass(frozen=True)
class _QueryHits:
    query: JudgedQuery
    channels: dict[str, ChannelHits]
    combined: ChannelHits
    grades: dict[int, int]  # the judgements by catalog row, which is what rankings hold


@dataclass(frozen=True)
class JudgedSearch:
    """Every judged query searched once in each channel and in the combined index: the costly part of the
    figures, which each router's and baseline's weights then only re-fuse (the Search page keeps one per catalog)."""

    segments: int
    queries: tuple[_QueryHits, ...]

    def __len__(self) -> int:
        return len(self.queries)

    @property
    def texts(self) -> list[str]:
        return [q.query.query for q in self.queries]


def search_judged(index: SearchIndex, judgements: Sequence[JudgedQuery], depth: int = DEFAULT_DEPTH) -> JudgedSearch:
    texts = [q.query for q in judgements]
    channels = index.channel_hits_many(texts, depth)
    combined = index.combined.search_many(texts, depth)
    positions = index.catalog.positions
    searched = tuple(
        _QueryHits(q, c, h, {positions[segment_id]: grade for segment_id, grade in q.relevant.items()})
        for q, c, h in zip(judgements, channels, combined, strict=True)
    )
    return JudgedSearch(len(index.catalog), searched)


def judged_weights(judged: JudgedSearch, router: Router) -> list[RoutedWeights]:
    """A router's weights for every judged query, routed in one batch (what a billable router is paid for)."""
    return [route_weights(result) for result in router.route_batch(judged.texts)]


def weights_figures(
    judged: JudgedSearch, routed: Sequence[RoutedWeights], fusion: str = DEFAULT_FUSION
) -> dict[str, object]:
    """The figures of routed weights (one per judged query) under a fusion method; invalid replies counted."""
    figures = _figures(judged.queries, [r.weights for r in routed], fusion)
    figures["fallbacks"] = sum(r.fallback for r in routed)
    return figures


def router_figures(judged: JudgedSearch, router: Router, fusion: str = DEFAULT_FUSION) -> dict[str, object]:
    """One router's figures: its weights for every judged query, fused."""
    return weights_figures(judged, judged_weights(judged, router), fusion)


def baseline_figures(judged: JudgedSearch, fusion: str = DEFAULT_FUSION) -> dict[str, dict[str, object]]:
    """Uniform weights, each channel alone, the combined index and, when every query names its channels, the oracle."""
    searched = judged.queries
    baselines: dict[str, dict[str, object]] = {"uniform": _figures(searched, [UNIFORM_WEIGHTS] * len(searched), fusion)}
    for m in MODALITIES:
        only = {c: float(c == m) for c in MODALITIES}
        baselines[f"{m}_only"] = _figures(searched, [only] * len(searched), fusion)
    baselines["combined_index"] = _scored(searched, [q.combined.rows for q in searched])
    oracle = [oracle_weights(q.query) for q in searched]
    if all(weights is not None for weights in oracle):
        baselines["oracle"] = _figures(searched, oracle, fusion)  # type: ignore[arg-type]
    for name, figures in baselines.items():
        figures["description"] = BASELINE_DESCRIPTIONS[name]
    return baselines


def evaluate_search(
    index: SearchIndex,
    judgements: Sequence[JudgedQuery],
    routers: Mapping[str, Router],
    *,
    fusion: str = DEFAULT_FUSION,
    depth: int = DEFAULT_DEPTH,
) -> dict[str, object]:
    """The `search-eval --json` figures (docs/ARCHITECTURE.md, command line)."""
    judged = search_judged(index, judgements, depth)
    return {
        "segments": judged.segments,
        "queries": len(judged),
        "fusion": fusion,
        "routers": {router_id: router_figures(judged, router, fusion) for router_id, router in routers.items()},
        "baselines": baseline_figures(judged, fusion),
    }


def _figures(searched: Sequence[_QueryHits], weights: Sequence[Mapping[str, float]], fusion: str) -> dict[str, object]:
    return _scored(searched, [fuse(q.channels, w, fusion).rows for q, w in zip(searched, weights, strict=True)])


def _scored(searched: Sequence[_QueryHits], rankings: Sequence[np.ndarray]) -> dict[str, object]:
    per_query = []
    by_focus: dict[str, list[dict[str, float]]] = defaultdict(list)
    for q, rows in zip(searched, rankings, strict=True):
        scored = query_metrics(rows.tolist(), q.grades)
        per_query.append(scored)
        by_focus[q.query.focus].append(scored)
    figures: dict[str, object] = {**_rounded(mean_metrics(per_query)), "n": len(per_query)}
    figures["by_focus"] = {
        focus: {**_rounded(mean_metrics(by_focus[focus])), "n": len(by_focus[focus])}
        for focus in focus_names()
        if by_focus.get(focus)
    }
    return figures


def _rounded(figures: Mapping[str, float]) -> dict[str, float]:
    return {name: round(figures[name], FIGURE_DIGITS) for name in METRIC_NAMES}
