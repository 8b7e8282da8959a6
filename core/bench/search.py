"""Search over 10,000 segments: building the index, and one fused query with a router's weights."""

from __future__ import annotations

from core.bench.figures import BenchFigure, best_seconds, median_call_ms


def search() -> list[BenchFigure]:
    from core.routers.reference import ReferenceTeacher
    from core.search.catalog import MAX_SEGMENTS
    from core.search.engine import SearchIndex
    from core.search.sample import CatalogSpec, generate_catalog

    sample = generate_catalog(CatalogSpec(segments=MAX_SEGMENTS))
    indexes: list[SearchIndex] = []
    build = best_seconds(lambda: indexes.append(SearchIndex.build(sample.catalog)))
    index = indexes[-1]
    queries = [q.query for q in sample.judgements]
    # Routing is measured on its own (router_latency); here each query searches with the teacher's weights.
    weights = {r.query: r.decision.weights() for r in ReferenceTeacher().route_batch(queries) if r.decision}
    fused = median_call_ms(lambda query: index.search(query, weights[query]), list(weights))
    return [
        BenchFigure("search_index_build_10k", build, "s", 10.0),
        BenchFigure("search_fused_query_10k_p50", fused, "ms", 30.0),
    ]
