"""`search-eval`: what routers' weights do to search results, on a catalog's judged queries.

Recall@5, Recall@10, MRR and NDCG@10 per router and per query focus, beside the baselines (uniform
weights, each channel alone, the combined index and the oracle); `--json` is the contract of
docs/ARCHITECTURE.md (command line).
"""

from __future__ import annotations

import argparse
import json

from core.cli.common import UserFacingError, confirm_billable, open_backend, resolve_routers, router_id_help
from core.cli.search import add_catalog_option, open_catalog

DEFAULT_ROUTERS = ("teacher", "uniform")
COLUMNS = (("recall_at_5", "R@5"), ("recall_at_10", "R@10"), ("mrr", "MRR"), ("ndcg_at_10", "NDCG@10"))


def add_command(commands) -> None:
    from core.search.fusion import DEFAULT_FUSION, FUSION_METHODS
    from core.search.library import SAMPLE_NAME

    evaluate = commands.add_parser("search-eval", help="retrieval figures of routed search on judged queries")
    evaluate.add_argument(
        "--router",
        action="append",
        metavar="ID",
        help=router_id_help() + f" (repeatable; default {' and '.join(DEFAULT_ROUTERS)})",
    )
    evaluate.add_argument("--fusion", choices=FUSION_METHODS, default=DEFAULT_FUSION, help="how channels are fused")
    add_catalog_option(evaluate, SAMPLE_NAME)
    evaluate.add_argument("--json", action="store_true", help="print the figures as JSON")
    evaluate.add_argument("--yes", action="store_true", help="confirm routing through billable models")
    evaluate.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from core.search.evaluation import evaluate_search

    backend = open_backend()
    routers = resolve_routers(backend, args.router or DEFAULT_ROUTERS)
    opened, index = open_catalog(backend, args.catalog)
    if not opened.judgements:
        raise UserFacingError(
            f"the catalog {opened.info.name!r} has no judged queries: import it again with --judgements F.jsonl"
        )
    confirm_billable(routers, len(opened.judgements), args, "routing")
    figures = evaluate_search(index, opened.judgements, routers, fusion=args.fusion)
    figures = {"catalog": opened.info.name, **figures}
    if args.json:
        print(json.dumps(figures))
        return 0
    print_figures(figures)
    return 0


def print_figures(figures: dict) -> None:
    from core.search.evaluation import PUBLISHED_RETRIEVAL, PUBLISHED_SETTING

    print(
        f"catalog {figures['catalog']}: {figures['segments']:,} segments, {figures['queries']:,} judged queries, "
        f"fusion {figures['fusion']}"
    )
    width = max(len(name) for name in [*figures["routers"], *(f"[baseline] {b}" for b in figures["baselines"])]) + 2
    header = f"{'':<{width}}" + "".join(f"{label:>9}" for _, label in COLUMNS)
    print(header)
    entries = [(router_id, f) for router_id, f in figures["routers"].items()]
    entries += [(f"[baseline] {name}", f) for name, f in figures["baselines"].items()]
    for name, f in entries:
        fallbacks = f" ({f['fallbacks']:,} invalid replies searched with uniform weights)" if f.get("fallbacks") else ""
        print(f"{name:<{width}}" + "".join(f"{f[key]:>9.1%}" for key, _ in COLUMNS) + fallbacks)
    print("\nper query focus (R@5 / NDCG@10):")
    foci = list(dict.fromkeys(focus for _, f in entries for focus in f["by_focus"]))
    print(f"{'':<{width}}" + "".join(f"{focus:>16}" for focus in foci))
    for name, f in entries:
        cells = [f["by_focus"].get(focus) for focus in foci]
        shown = [f"{c['recall_at_5']:.0%} / {c['ndcg_at_10']:.0%}" if c else "-" for c in cells]
        print(f"{name:<{width}}" + "".join(f"{cell:>16}" for cell in shown))
    print(f"\npublished reference, not measured here ({PUBLISHED_SETTING}):")
    for name, published in PUBLISHED_RETRIEVAL.items():
        print(f"{name:<{width}}" + "".join(f"{published[key]:>9.0%}" for key, _ in COLUMNS))
