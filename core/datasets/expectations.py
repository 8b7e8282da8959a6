"""Expectation files: queries with the one channel a person expects to lead, as JSONL or CSV.

A JSONL line is an object with `query` and `expected` (visual, audio, transcription or metadata) and an
optional `source` (where the query comes from: the report gives accuracy per source); other keys are
kept out of the way (an external set's ids). A CSV file has a header row naming the same columns.
Every problem is reported with its line number, and a file with any problem is refused as a whole,
so a score never rests on a silently shortened set.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

from core.files import open_regular
from core.schema import MODALITIES

MAX_FILE_BYTES = 50_000_000
MAX_PROBLEMS_SHOWN = 20


@dataclass(frozen=True)
class Expectation:
    query: str
    expected: str
    source: str | None
    line: int


@dataclass
class ExpectationFile:
    expectations: list[Expectation] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and bool(self.expectations)

    @property
    def verdict(self) -> str:
        if self.problems:
            return f"{len(self.problems)} problem(s), first: {self.problems[0]}"
        if not self.expectations:
            return "it holds no queries"
        return f"{len(self.expectations)} queries"

    def lines(self) -> list[str]:
        shown = self.problems[:MAX_PROBLEMS_SHOWN]
        more = len(self.problems) - len(shown)
        return shown + ([f"... and {more} more"] if more > 0 else [])


def read_expectations(path: Path) -> ExpectationFile:
    """Read a JSONL or CSV expectation file (by its suffix; JSONL otherwise). OSError when unreadable."""
    with open_regular(path) as handle:
        raw = handle.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        return ExpectationFile(problems=[f"the file is larger than {MAX_FILE_BYTES // 1_000_000} MB"])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return ExpectationFile(problems=[f"the file is not UTF-8 text (byte {exc.start})"])
    if Path(path).suffix.lower() == ".csv":
        return _parse_csv(text)
    return _parse_jsonl(text)


def _parse_jsonl(text: str) -> ExpectationFile:
    result = ExpectationFile()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            result.problems.append(f"line {number}: not JSON ({exc.msg})")
            continue
        if not isinstance(row, dict):
            result.problems.append(f"line {number}: a JSON object with query and expected is needed")
            continue
        _add(result, row, number)
    return result


def _parse_csv(text: str) -> ExpectationFile:
    result = ExpectationFile()
    reader = csv.DictReader(io.StringIO(text))
    missing = [column for column in ("query", "expected") if column not in (reader.fieldnames or [])]
    if missing:
        result.problems.append(f"line 1: the header has no {' or '.join(missing)} column")
        return result
    for row in reader:
        _add(result, row, reader.line_num)
    return result


def _add(result: ExpectationFile, row: dict, number: int) -> None:
    query, expected, source = row.get("query"), row.get("expected"), row.get("source")
    if not isinstance(query, str) or not query.strip():
        result.problems.append(f"line {number}: 'query' must be a non-empty string")
        return
    if not isinstance(expected, str) or expected.strip().lower() not in MODALITIES:
        result.problems.append(f"line {number}: 'expected' must be one of {', '.join(MODALITIES)}, not {expected!r}")
        return
    if source is not None and not isinstance(source, str):
        result.problems.append(f"line {number}: 'source' must be a string when given")
        return
    result.expectations.append(Expectation(query.strip(), expected.strip().lower(), source or None, number))
