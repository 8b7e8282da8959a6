"""`search`: route one query, search a catalog with the router's weights, print the ranked segments.

Each hit shows what every queried channel contributed to its fused score (docs/ARCHITECTURE.md, search).
"""

from __future__ import annotations

import argparse
import json
import time

from core.cli.common import UserFacingError, confirm_billable, open_backend, resolve_routers, router_id_help
from core.schema import MODALITIES


def add_command(commands) -> None:
    from core.search.engine import DEFAULT_K, MAX_K
    from core.search.fusion import DEFAULT_FUSION, FUSION_METHODS
    from core.search.library import SAMPLE_NAME

    search = commands.add_parser("search", help="search a video catalog with a router's channel weights")
    search.add_argument("query", nargs="+", metavar="QUERY", help="what to look for (several words are one query)")
    search.add_argument("--router", default="teacher", metavar="ID", help=router_id_help())
    search.add_argument("--k", type=int, default=DEFAULT_K, help=f"how many segments to show (1-{MAX_K})")
    search.add_argument("--fusion", choices=FUSION_METHODS, default=DEFAULT_FUSION, help="how channels are fused")
    add_catalog_option(search, SAMPLE_NAME)
    search.add_argument("--json", action="store_true", help="print the result as one JSON object")
    search.add_argument("--yes", action="store_true", help="confirm routing through a billable model")
    search.set_defaults(handler=run)


def add_catalog_option(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument(
        "--catalog", default=default, metavar="NAME", help=f"search catalog (default {default}; see search-catalog)"
    )


def open_catalog(backend, name: str):
    """The named catalog and its search index, or one line saying why it cannot be opened."""
    from core.search.engine import SearchIndex
    from core.search.library import CatalogLibraryError

    try:
        opened = backend.search_catalogs().open(name)
    except CatalogLibraryError as exc:
        raise UserFacingError(str(exc)) from exc
    return opened, SearchIndex.build(opened.catalog)


def run(args: argparse.Namespace) -> int:
    from core.search.engine import MAX_K, route_weights
    from core.search.fusion import SKIP_THRESHOLD

    query = " ".join(args.query).strip()
    if not query:
        raise UserFacingError("the query is empty: type what you are looking for")
    if not 1 <= args.k <= MAX_K:
        raise UserFacingError(f"--k must be between 1 and {MAX_K}, not {args.k}")
    backend = open_backend()
    router = resolve_routers(backend, [args.router])[args.router]
    confirm_billable({args.router: router}, 1, args, "routing")
    opened, index = open_catalog(backend, args.catalog)
    started = time.perf_counter()
    routed_result = router.route(query)
    route_ms = (time.perf_counter() - started) * 1000.0
    routed = route_weights(routed_result)
    result = index.search(query, routed.weights, k=args.k, fusion=args.fusion)
    if args.json:
        print(
            json.dumps(
                {
                    "query": query,
                    "router": args.router,
                    "catalog": opened.info.name,
                    "segments": len(opened.catalog),
                    "fusion": args.fusion,
                    "valid": routed_result.valid,
                    "fallback": routed.fallback,
                    "errors": routed_result.errors,
                    "weights": routed.weights,
                    "searched": result.searched,
                    "skipped": result.skipped,
                    "hits": [hit.to_json_dict() for hit in result.hits],
                    "route_ms": round(route_ms, 3),
                    "search_ms": round(result.search_ms, 3),
                },
                ensure_ascii=False,
            )
        )
        return 0
    weights = "  ".join(f"{m} {routed.weights[m]:.2f}" for m in MODALITIES)
    print(f"{query}  [router {args.router}: {weights}]")
    if routed.fallback:
        print(f"  the router's reply was not valid ({routed.reason}); searched with uniform weights")
    skipped = f"; skipped (weight under {SKIP_THRESHOLD}): {', '.join(result.skipped)}" if result.skipped else ""
    print(
        f"  catalog {opened.info.name} ({len(opened.catalog):,} segments), fusion {args.fusion}, "
        f"routing {route_ms:.1f} ms, search {result.search_ms:.1f} ms{skipped}"
    )
    if not result.hits:
        print("  no segment matches this query in any channel")
    for hit in result.hits:
        segment = hit.segment
        people = f"  ({', '.join(segment.people)})" if segment.people else ""
        print(f"{hit.rank:>3}. {hit.score:.3f}  {segment.id}  {segment.time_range()}  {segment.title}{people}")
        print(f"      seen:  {segment.caption}")
        print(f"      heard: {segment.audio_description}")
        print(f"      said:  {segment.transcript}")
        parts = "  ".join(f"{m} {value:+.3f}" for m, value in hit.contributions.items())
        print(f"      score from: {parts}")
    return 0
