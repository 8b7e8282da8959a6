"""`validate`: check a bedrock-conversation-2024 JSONL file, line by line (exit 1 with "line N: problem")."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_command(commands) -> None:
    validate = commands.add_parser("validate", help="check a bedrock-conversation-2024 JSONL file, line by line")
    validate.add_argument("file", type=Path, metavar="F.jsonl")
    validate.add_argument("--json", action="store_true", help="print the report as JSON")
    validate.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from core.datasets.files import validate_dataset

    report = validate_dataset(args.file)
    if args.json:
        print(report.model_dump_json())
    else:
        for line in report.lines() + [f"warning: {w}" for w in report.warning_lines()]:
            print(line)
        print(report.verdict)
    return 0 if report.ok else 1
