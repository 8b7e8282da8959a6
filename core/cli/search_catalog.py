"""`search-catalog`: list, make, import and delete the catalogs `search` and `search-eval` use.

`import` checks a team's catalog JSONL (and judgements JSONL) line by line and prints `line N: problem`
for each problem (exit 1), keeping nothing until both files are clean.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.cli.common import UserFacingError, open_backend


def add_command(commands) -> None:
    from core.search.catalog import DEFAULT_SEGMENTS, MAX_SEGMENTS
    from core.search.sample import DEFAULT_QUERIES, DEFAULT_SEED

    catalogs = commands.add_parser("search-catalog", help="list, make, import or delete search catalogs")
    actions = catalogs.add_subparsers(title="actions", metavar="ACTION", required=True)

    listing = actions.add_parser("list", help="the catalogs there are")
    listing.add_argument("--json", action="store_true", help="one JSON object per catalog and line")
    listing.set_defaults(handler=run_list)

    generate = actions.add_parser("generate", help="make a sample catalog from a seed and keep it under a name")
    generate.add_argument("name")
    generate.add_argument("--seed", type=int, default=DEFAULT_SEED)
    generate.add_argument(
        "--segments", type=int, default=DEFAULT_SEGMENTS, help=f"how many segments (at most {MAX_SEGMENTS:,})"
    )
    generate.add_argument("--queries", type=int, default=DEFAULT_QUERIES, help="how many judged queries")
    generate.set_defaults(handler=run_generate)

    importing = actions.add_parser("import", help="check and keep a team's own catalog (JSONL)")
    importing.add_argument("name")
    importing.add_argument("catalog", type=Path, metavar="SEGMENTS.jsonl")
    importing.add_argument("--judgements", type=Path, metavar="F.jsonl", help="judged queries for search-eval")
    importing.set_defaults(handler=run_import)

    delete = actions.add_parser("delete", help="delete a stored catalog")
    delete.add_argument("name")
    delete.set_defaults(handler=run_delete)


def _library():
    return open_backend().search_catalogs()


def run_list(args: argparse.Namespace) -> int:
    for info in _library().list():
        if args.json:
            record = {
                "name": info.name,
                "source": info.source,
                "segments": info.segments,
                "videos": info.videos,
                "queries": info.queries,
                "seed": info.spec.seed if info.spec else None,
                "created_at": info.created_at,
            }
            print(json.dumps(record))
        else:
            print(info.describe())
    return 0


def run_generate(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from core.cli.common import first_error_line
    from core.search.library import CatalogLibraryError
    from core.search.sample import CatalogSpec

    try:
        spec = CatalogSpec(seed=args.seed, segments=args.segments, queries=args.queries)
        info = _library().generate(args.name, spec)
    except ValidationError as exc:
        raise UserFacingError(first_error_line(exc)) from exc
    except CatalogLibraryError as exc:
        raise UserFacingError(str(exc)) from exc
    print(f"made {info.describe()}")
    return 0


def run_import(args: argparse.Namespace) -> int:
    from core.search.library import CatalogImportError, CatalogLibraryError

    try:
        info = _library().import_files(args.name, args.catalog, args.judgements)
    except CatalogImportError as exc:
        for line in exc.report.lines():
            print(line, file=sys.stderr)
        print(f"{exc.report.source or 'file'}: {exc.report.verdict}", file=sys.stderr)
        return 1
    except CatalogLibraryError as exc:
        raise UserFacingError(str(exc)) from exc
    print(f"imported {info.describe()}")
    return 0


def run_delete(args: argparse.Namespace) -> int:
    from core.search.library import CatalogLibraryError

    try:
        _library().delete(args.name)
    except CatalogLibraryError as exc:
        raise UserFacingError(str(exc)) from exc
    print(f"deleted the search catalog {args.name!r}")
    return 0
