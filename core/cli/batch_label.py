"""`batch-label`: label a large prompt-only dataset with the Bedrock teacher as a batch job (about half the price).

`start` uploads the records and creates the job; `get` (with --wait, polls until it ends), `list` and
`stop` follow it; `collect` joins its results back onto the prompts and writes the labelled dataset.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.cli.common import UserFacingError, check_writable_file, open_backend
from core.cli.services import confirmed, key_values, one_line_errors, show_estimate, write_failures
from core.wording import count


def add_command(commands) -> None:
    batch = commands.add_parser("batch-label", help="label a large dataset with the Bedrock teacher as a batch job")
    actions = batch.add_subparsers(title="actions", metavar="ACTION", required=True)

    start = actions.add_parser("start", help="upload the prompts and create the batch job (billable: --yes)")
    start.add_argument("--file", type=Path, required=True, metavar="IN.jsonl", help="a prompt-only dataset")
    start.add_argument("--name", required=True, help="batch job name (letters, digits, '-', '+', '.')")
    start.add_argument("--bucket", help="S3 bucket for input and output (default: Settings)")
    start.add_argument("--prefix", default="video-search-router/batch", help="S3 prefix inside the bucket")
    start.add_argument("--role-arn", help="service role the job runs as (default: Settings)")
    start.add_argument("--timeout-hours", type=int, help="24 to 168; Bedrock's default when left out")
    start.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE", help="a job tag (repeatable)")
    start.add_argument("--yes", action="store_true", help="confirm the billable batch")
    start.add_argument("--json", action="store_true")
    start.set_defaults(handler=run_start)

    listing = actions.add_parser("list", help="every batch run, newest first")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=run_list)

    get = actions.add_parser("get", help="one batch run as Bedrock reports it now")
    get.add_argument("id")
    get.add_argument("--wait", action="store_true", help="poll until the run ends")
    get.add_argument("--interval", type=float, default=60.0, help="seconds between polls with --wait")
    get.add_argument("--json", action="store_true")
    get.set_defaults(handler=run_get)

    stop = actions.add_parser("stop", help="stop a running batch (records done so far are kept)")
    stop.add_argument("id")
    stop.add_argument("--json", action="store_true")
    stop.set_defaults(handler=run_stop)

    collect = actions.add_parser("collect", help="join a finished batch's results and write the labelled dataset")
    collect.add_argument("id")
    collect.add_argument("--out", type=Path, required=True, metavar="OUT.jsonl")
    collect.add_argument("--json", action="store_true")
    collect.set_defaults(handler=run_collect)


def run_start(args: argparse.Namespace) -> int:
    from core.datasets.files import read_dataset
    from core.labelling import dataset_queries

    loaded = read_dataset(args.file, min_records=1, max_records=50_000)
    if not loaded.ok:
        for line in loaded.report.lines():
            print(line, file=sys.stderr)
        raise UserFacingError(f"the dataset is not valid: {loaded.report.verdict}")
    queries = dataset_queries(loaded)
    backend = open_backend()
    with one_line_errors():
        service = backend.batch_inference()
        teacher = backend.teacher()
    source = {"file": str(args.file.resolve()), "sha256": loaded.report.sha256, "teacher": backend.teacher_name}

    def work(confirm: bool):
        run = service.start(
            args.name,
            teacher,
            queries,
            source=source,
            bucket=args.bucket,
            prefix=args.prefix,
            role_arn=args.role_arn,
            timeout_hours=args.timeout_hours,
            tags=key_values(args.tag, "--tag"),
            confirm=confirm,
        )
        show_estimate(service.estimate(teacher, queries))
        return run

    run = confirmed(work, args)
    return _print_run(run, args)


def run_list(args: argparse.Namespace) -> int:
    with one_line_errors():
        runs = open_backend().batch_inference().list()
    if args.json:
        print(json.dumps({"runs": [run.to_json_dict() for run in runs]}))
    else:
        for run in runs:
            print(f"{run.id}  {run.name:<32} {run.status:<18} {run.records:>6,} records  {run.created_at}")
        if not runs:
            print("no batch runs yet")
    return 0


def run_get(args: argparse.Namespace) -> int:
    with one_line_errors():
        service = open_backend().batch_inference()
        if args.wait:
            run = service.wait(
                args.id,
                interval_s=args.interval,
                on_poll=lambda now: print(f"{now.status} {now.counts}", file=sys.stderr),
            )
        else:
            run = service.get(args.id)
    return _print_run(run, args)


def run_stop(args: argparse.Namespace) -> int:
    with one_line_errors():
        run = open_backend().batch_inference().stop(args.id)
    return _print_run(run, args)


def run_collect(args: argparse.Namespace) -> int:
    from core.datasets.files import write_dataset

    if args.out.suffix != ".jsonl":
        raise UserFacingError("--out must name a .jsonl file")
    check_writable_file(args.out)
    backend = open_backend()
    with one_line_errors():
        service = backend.batch_inference()
        run = service.get(args.id)
        made = service.labelled_dataset(args.id, backend.teacher())
    labels = made.run
    if not made.records:
        raise UserFacingError("the batch labelled no prompt: see 'batch-label get' for Bedrock's message")
    manifest = write_dataset(args.out, made.records, made.tags, made.manifest_fields)
    failures_file = write_failures(args.out, labels.failures)
    outcome = {
        "id": run.id,
        "out": str(args.out),
        "n": labels.total,
        "labelled": labels.labelled,
        "failed": labels.failed,
        "input_tokens": labels.input_tokens,
        "output_tokens": labels.output_tokens,
        "cost_usd": labels.cost_usd,
        "failures_file": str(failures_file) if failures_file else None,
        "sha256": manifest.sha256,
    }
    if args.json:
        print(json.dumps(outcome))
    else:
        print(f"wrote {count(labels.labelled, 'labelled record')} to {args.out} (batch cost ${labels.cost_usd:,.4f})")
        if labels.failed:
            unlabelled = count(labels.failed, "record")
            print(f"{unlabelled} without a label: see {failures_file}; label them on demand with 'label'")
    return 0


def _print_run(run, args: argparse.Namespace) -> int:
    if args.json:
        print(json.dumps(run.to_json_dict()))
        return 0
    print(f"{run.id}  {run.name}  {run.status}  {count(run.records, 'record')}")
    if run.message:
        print(f"  {run.message}")
    if run.counts:
        print("  " + ", ".join(f"{key} {value:,}" for key, value in run.counts.items()))
    if run.active:
        print(f"  follow it with: python -m core batch-label get {run.id} --wait")
    elif run.has_results:
        print(f"  collect it with: python -m core batch-label collect {run.id} --out labelled.jsonl")
    return 0
