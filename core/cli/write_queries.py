"""`write-queries`: the Bedrock teacher writes the queries of a data mix, bucket by bucket (billable: --yes)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from core.cli.common import UserFacingError, check_writable_file, first_error_line, open_backend
from core.cli.services import confirmed, end_status_line, one_line_errors, show_estimate, status_line


def add_command(commands) -> None:
    write = commands.add_parser(
        "write-queries", help="have the Bedrock teacher write the queries of a data mix (prompt-only dataset)"
    )
    write.add_argument("--n", type=int, required=True, help="number of queries (total), 100 to 15,000")
    write.add_argument("--seed", type=int, required=True)
    write.add_argument("--mix", default="", help="shares, e.g. visual=.25,audio=.25,transcription=.25,metadata=.25")
    write.add_argument("--custom", action="append", default=[], help="a custom-domain term (repeatable)")
    write.add_argument("--avoid", type=Path, metavar="F.jsonl", help="a dataset whose queries must not be repeated")
    write.add_argument("--out", type=Path, required=True, metavar="F.jsonl")
    write.add_argument("--yes", action="store_true", help="confirm the billable calls")
    write.add_argument("--json", action="store_true", help="print the outcome as JSON")
    write.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from core.datasets.files import read_dataset, write_dataset
    from core.synth import DataMix

    if args.out.suffix != ".jsonl":
        raise UserFacingError("--out must name a .jsonl file")
    check_writable_file(args.out)
    try:
        mix = DataMix.from_cli(args.mix, args.n, args.seed, args.custom)
    except ValueError as exc:
        raise UserFacingError(first_error_line(exc)) from exc
    existing: list[str] = []
    if args.avoid is not None:
        avoided = read_dataset(args.avoid, min_records=1)
        if not avoided.ok:
            raise UserFacingError(f"the --avoid dataset is not valid: {avoided.report.verdict}")
        existing = [query for query in avoided.queries if query]
    backend = open_backend()
    with one_line_errors():
        writer = backend.query_writer()
    estimate = writer.estimate(mix)

    def work(confirm: bool):
        result = writer.write(
            mix,
            existing=existing,
            confirm=confirm,
            checkpoint_dir=backend.settings.data_dir,
            on_progress=lambda done, total: status_line(f"writing queries: {done:,} of {total:,} buckets"),
        )
        show_estimate(estimate)
        return result

    written = confirmed(work, args)
    end_status_line()
    if not written.queries:
        first = written.failures[0].errors[0] if written.failures else "no query survived deduplication"
        raise UserFacingError(f"no query was written: {first.rstrip('.')}")
    manifest = write_dataset(args.out, written.records(), written.tags(), written.manifest_fields())
    outcome = {
        "out": str(args.out),
        "requested": written.requested,
        "written": len(written.queries),
        "duplicates_removed": written.duplicates_removed,
        "rejected": len(written.rejected),
        "failed_buckets": len(written.failures),
        "calls": written.calls,
        "resumed_calls": written.resumed_calls,
        "input_tokens": written.input_tokens,
        "output_tokens": written.output_tokens,
        "cost_usd": written.cost_usd,
        "sha256": manifest.sha256,
        "estimate": estimate.to_json_dict(),
    }
    if args.json:
        print(json.dumps(outcome))
    else:
        print(
            f"wrote {len(written.queries):,} teacher-written queries to {args.out} "
            f"({written.duplicates_removed:,} duplicates removed, cost ${written.cost_usd:,.4f})"
        )
        if written.short_by:
            print(f"{written.short_by:,} short of {written.requested:,}: run again to ask the short buckets once more")
        for failure in written.failures[:3]:
            print(f"bucket {failure.bucket}: {failure.errors[0]}")
    return 0
