"""`label`: label a dataset file's prompts with a teacher on demand (concurrent, resumable, failures kept)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.cli.common import UserFacingError, check_writable_file, open_backend, resolve_routers
from core.cli.common import router_id_help as _router_id_help
from core.cli.services import confirmed, end_status_line, show_estimate, status_line, write_failures
from core.wording import count


def add_command(commands) -> None:
    label = commands.add_parser("label", help="label a prompt-only dataset file with a teacher (on demand)")
    label.add_argument("--file", type=Path, required=True, metavar="IN.jsonl", help="the dataset to label")
    label.add_argument("--out", type=Path, required=True, metavar="OUT.jsonl", help="the labelled dataset")
    label.add_argument("--router", default="teacher", help=_router_id_help())
    label.add_argument("--retry-failed", action="store_true", help="ask again for the records that failed last time")
    label.add_argument("--json", action="store_true", help="print the outcome as JSON")
    label.add_argument("--yes", action="store_true", help="confirm labelling with a billable model")
    label.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from core.datasets.files import read_dataset, write_dataset
    from core.estimates import require_confirmation, router_labelling_estimate
    from core.labelling import dataset_queries, label_dataset

    if args.out.suffix != ".jsonl" or args.out.resolve() == args.file.resolve():
        raise UserFacingError("--out must name a new .jsonl file, not the input")
    check_writable_file(args.out)
    loaded = read_dataset(args.file, min_records=1)
    if not loaded.ok:
        for line in loaded.report.lines():
            print(line, file=sys.stderr)
        raise UserFacingError(f"the dataset is not valid: {loaded.report.verdict}")
    backend = open_backend()
    router = resolve_routers(backend, [args.router])[args.router]
    teacher_id = backend.teacher_name if args.router == "teacher" else args.router
    queries = dataset_queries(loaded)
    estimate = router_labelling_estimate(router, queries, teacher=teacher_id)

    def work(confirm: bool):
        require_confirmation(f"Labelling {len(queries):,} prompts with {teacher_id}", estimate, confirm)
        show_estimate(estimate)
        return label_dataset(
            router,
            loaded,
            teacher_id=teacher_id,
            source_name=args.file.name,
            checkpoint_dir=backend.settings.data_dir,
            on_update=lambda progress: status_line(progress.sentence()),
            retry_failed=args.retry_failed,
        )

    made = confirmed(work, args)
    end_status_line()
    run = made.run
    if not made.records:
        raise UserFacingError(
            f"no prompt was labelled: {run.aborted or run.failures[0].errors[0] if run.failures else 'nothing to do'}"
        )
    manifest = write_dataset(args.out, made.records, made.tags, made.manifest_fields)
    failures_file = write_failures(args.out, run.failures)
    outcome = {
        "source": str(args.file),
        "out": str(args.out),
        "router": args.router,
        "n": run.total,
        "labelled": run.labelled,
        "failed": run.failed,
        "pending": run.pending,
        "resumed": run.resumed,
        "stopped": run.stopped,
        "aborted": run.aborted,
        "input_tokens": run.input_tokens,
        "output_tokens": run.output_tokens,
        "cost_usd": run.cost_usd,
        "seconds": round(run.elapsed_s, 3),
        "failures_file": str(failures_file) if failures_file else None,
        "sha256": manifest.sha256,
        "estimate": estimate.to_json_dict(),
    }
    if args.json:
        print(json.dumps(outcome))
        return 0 if run.complete else 1
    print(f"wrote {count(run.labelled, 'labelled record')} to {args.out} (cost ${run.cost_usd:,.4f})")
    if run.failed:
        print(f"{run.failed:,} could not be labelled: see {failures_file}; run again with --retry-failed to ask again")
    if run.aborted:
        print(run.aborted)
    if run.pending:
        print(f"{run.pending:,} still pending: run the same command again to finish (finished records are kept)")
    return 0 if run.complete else 1
