"""`preflight`: check what Bedrock work needs before any of it runs (exit 1 when a check is red)."""

from __future__ import annotations

import argparse
import json

from core.cli.common import UserFacingError, open_backend
from core.cli.services import one_line_errors

MARKS = {"green": "ok  ", "amber": "warn", "red": "FAIL"}


def add_command(commands) -> None:
    preflight = commands.add_parser(
        "preflight", help="check credentials, region, model access, bucket and role before Bedrock work runs"
    )
    preflight.add_argument("--bucket", help="the S3 bucket jobs read and write (default: Settings)")
    preflight.add_argument("--role-arn", help="the service role jobs run as (default: Settings)")
    preflight.add_argument("--teacher", help="teacher model key, e.g. nova-premier (default: the backend's)")
    preflight.add_argument("--student", help="student model key, e.g. nova-micro (default: the teacher's first)")
    preflight.add_argument("--json", action="store_true", help="print the checks as JSON")
    preflight.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from core.aws.models import MODELS

    for key in (args.teacher, args.student):
        if key is not None and key not in MODELS:
            raise UserFacingError(f"unknown model key {key!r}; use one of {', '.join(MODELS)}")
    with one_line_errors():
        report = open_backend().preflight(
            bucket=args.bucket, role_arn=args.role_arn, teacher=args.teacher, student=args.student
        )
    if args.json:
        print(json.dumps(report.to_json_dict()))
    else:
        print(f"region {report.region}")
        for check in report.checks:
            print(f"[{MARKS[check.level]}] {check.title}: {check.message}")
            if check.action:
                print(f"       {check.action}")
        print("ready" if report.ok else "not ready: fix the FAIL lines first")
    return 0 if report.ok else 1
