"""Line-numbered validation of `bedrock-conversation-2024` JSONL files, in one pass over the bytes.

The rules are AWS's validator's, which is stricter than its prose (docs/ARCHITECTURE.md, dataset files): no extra keys
at any level, exactly one text block per content, one user turn then at most one assistant turn, none of
Nova's reserved strings, 100 to 15,000 records, at most 1 GB. On top of those, this tool's own rules:
an assistant response must be router JSON (core.parsing decides), a prompt appears once, and a file is
all labelled or all prompt-only. A mixed file is a problem, not a warning: Bedrock would accept it, but
here it means a labelling run that half failed, and Bedrock's teacher would silently label the rest with
a different teacher than the one the manifest names.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from pydantic import BaseModel, Field, computed_field

from core.files import open_regular
from core.parsing import parse_router_output
from core.schema import RoutingDecision
from core.wording import count

SCHEMA_VERSION = "bedrock-conversation-2024"
RECORD_KEYS = ("schemaVersion", "system", "messages")
MESSAGE_KEYS = ("role", "content")
TEXT_BLOCK_KEYS = ("text",)
TURN_ROLES = ("user", "assistant")
RESERVED_STRINGS = ("User:", "Bot:", "Assistant:", "System:", "<image>", "<video>", "[EOS]")
MIN_RECORDS = 100
MAX_RECORDS = 15_000
MAX_FILE_BYTES = 1_000_000_000
# A huge broken file would otherwise hold millions of messages; the count is kept beyond this.
MAX_STORED_PROBLEMS = 1_000

_RESERVED_PATTERN = re.compile("|".join(re.escape(s) for s in RESERVED_STRINGS))
_UPLOAD_NAME = re.compile(r"[A-Za-z0-9_\-/.]+")
_UTF8_BOM = b"\xef\xbb\xbf"
_MISSING = object()
# How alike a misspelt value must be to its intended spelling before we suggest it.
_SUGGESTION_CUTOFF = 0.75
_SHOWN_CHARS = 60
# Longer than any record a job can use; a longer line is reported without being held in memory.
MAX_LINE_BYTES = 4_000_000
_SKIP_CHUNK_BYTES = 1 << 20
_SURROGATE = re.compile("[\ud800-\udfff]")


class Problem(BaseModel):
    """One finding; `line` is 1-based, or None for the whole file."""

    line: int | None
    message: str

    def text(self) -> str:
        return f"line {self.line}: {self.message}" if self.line is not None else f"file: {self.message}"


class ValidationReport(BaseModel):
    source: str | None = None
    problems: list[Problem] = Field(default_factory=list)
    problem_count: int = 0
    problem_lines: int = 0
    file_problems: int = 0
    warnings: list[Problem] = Field(default_factory=list)
    warning_count: int = 0
    records: int = 0
    labelled: int = 0
    size_bytes: int = 0
    sha256: str = ""

    @computed_field  # type: ignore[prop-decorator]  # pydantic's documented form
    @property
    def ok(self) -> bool:
        return self.problem_count == 0

    @computed_field  # type: ignore[prop-decorator]  # pydantic's documented form
    @property
    def verdict(self) -> str:
        if self.ok:
            kind = "labelled" if self.labelled else "prompt-only"
            noted = f" ({count(self.warning_count, 'warning')})" if self.warning_count else ""
            return f"Valid: {count(self.records, kind + ' record')} ready for Bedrock distillation{noted}."
        file_level = self.file_problems
        on_lines = self.problem_count - file_level
        fix = "fix it" if self.problem_count == 1 else "fix them"
        if not on_lines:
            where = f"{count(file_level, 'problem')} with the whole file"
        elif not file_level:
            where = f"{count(on_lines, 'problem')} on {count(self.problem_lines, 'line')}"
        else:
            where = (
                f"{count(self.problem_count, 'problem')} ({on_lines:,} on "
                f"{count(self.problem_lines, 'line')}, {file_level:,} with the whole file)"
            )
        return f"Invalid: {where}; {fix} and validate again."

    @property
    def problems_not_stored(self) -> int:
        """How many problems were counted but not stored."""
        return self.problem_count - len(self.problems)

    def lines(self) -> list[str]:
        """'line N: problem' strings for the command line, with a note when some were not kept."""
        shown = [problem.text() for problem in self.problems]
        if self.problems_not_stored:
            shown.append(f"... and {count(self.problems_not_stored, 'more problem')} not shown")
        return shown

    def warning_lines(self) -> list[str]:
        return [warning.text() for warning in self.warnings]

    def add_problem(self, line: int | None, message: str) -> None:
        self.problem_count += 1
        self.file_problems += line is None
        # The few whole-file problems are always kept: they matter most when a file is badly broken.
        if line is None or len(self.problems) < MAX_STORED_PROBLEMS:
            self.problems.append(Problem(line=line, message=message))

    def add_warning(self, line: int | None, message: str) -> None:
        self.warning_count += 1
        if len(self.warnings) < MAX_STORED_PROBLEMS:
            self.warnings.append(Problem(line=line, message=message))


@dataclass(frozen=True)
class ScannedRecord:
    """A line that held a JSON object, with what could be read from it (for importing a file)."""

    ordinal: int  # position among the file's non-blank lines, which is its row in the tags sidecar
    line: int
    record: dict
    query: str | None
    decision: RoutingDecision | None


@dataclass
class _RecordFacts:
    query: str | None = None
    response: str | None = None
    has_messages: bool = False
    labelled: bool = False


def validate_file(
    source: str | os.PathLike[str] | BinaryIO,
    *,
    min_records: int = MIN_RECORDS,
    max_records: int = MAX_RECORDS,
    max_bytes: int = MAX_FILE_BYTES,
) -> ValidationReport:
    """Validate a dataset file (a path, or a binary stream such as an upload) and report every problem."""
    report, _ = scan_dataset(source, min_records=min_records, max_records=max_records, max_bytes=max_bytes)
    return report


def scan_dataset(
    source: str | os.PathLike[str] | BinaryIO,
    *,
    keep_records: bool = False,
    min_records: int = MIN_RECORDS,
    max_records: int = MAX_RECORDS,
    max_bytes: int = MAX_FILE_BYTES,
) -> tuple[ValidationReport, list[ScannedRecord]]:
    """One pass over the file: the report and, with keep_records, every line that held a JSON object."""
    name = _source_name(source)
    report = ValidationReport(source=name)
    try:
        with _binary_stream(source) as (stream, declared_size):
            if declared_size is not None and declared_size > max_bytes:
                report.size_bytes = declared_size
                report.add_problem(None, _too_large(_size(declared_size), max_bytes))  # refused before reading
                return report, []
            reader = _LineReader(stream, max_bytes)
            scanned = _scan_lines(reader, report, keep_records)
    except OSError as error:
        report.add_problem(None, f"could not read the file: {error.strerror or error}")
        return report, []
    _check_file(report, name, min_records, max_records, max_bytes, read_whole=not reader.over_limit)
    report.problems.sort(key=lambda p: (p.line is None, p.line or 0))
    return report, scanned


def _source_name(source: Any) -> str | None:
    """The file name of a path, or of a stream that has one (an upload, an open file)."""
    name = source if isinstance(source, (str, os.PathLike)) else getattr(source, "name", None)
    return Path(name).name if isinstance(name, (str, os.PathLike)) else None


@contextmanager
def _binary_stream(source: Any) -> Iterator[tuple[BinaryIO, int | None]]:
    """The bytes to read and, for a file, its size; only a regular file is opened (never a device or a pipe)."""
    if isinstance(source, (str, os.PathLike)):
        with open_regular(Path(source)) as handle:
            yield handle, os.fstat(handle.fileno()).st_size
        return
    if not hasattr(source, "read"):
        raise TypeError(f"expected a path or a binary stream, got {type(source).__name__}")
    if isinstance(source.read(0), str):
        raise TypeError("open the dataset file in binary mode ('rb')")
    yield source, None


class _LineReader:
    """Lines of at most MAX_LINE_BYTES, read from at most `max_bytes` of the stream, all of them hashed.

    An over-long line is skipped in chunks and comes out as an int (its length); reading stops past
    `max_bytes` (`over_limit`), so a device, an endless upload or a file without line breaks costs bounded memory.
    """

    def __init__(self, stream: BinaryIO, max_bytes: int):
        self.stream = stream
        self.max_bytes = max_bytes
        self.hasher = hashlib.sha256()
        self.size = 0
        self.over_limit = False

    def __iter__(self) -> Iterator[bytes | int]:
        while not self.over_limit:
            raw = self._read(MAX_LINE_BYTES + 1)
            if not raw:
                return
            if len(raw) <= MAX_LINE_BYTES or raw.endswith(b"\n"):
                yield raw
                continue
            length = len(raw)
            while not raw.endswith(b"\n") and not self.over_limit:
                raw = self._read(_SKIP_CHUNK_BYTES)
                if not raw:
                    break
                length += len(raw)
            yield length - raw.endswith(b"\n")

    def _read(self, limit: int) -> bytes:
        raw = self.stream.readline(limit)
        self.hasher.update(raw)
        self.size += len(raw)
        self.over_limit = self.size > self.max_bytes
        return raw


def _scan_lines(reader: _LineReader, report: ValidationReport, keep_records: bool) -> list[ScannedRecord]:
    ordinal = 0
    first_line_of_prompt: dict[str, int] = {}
    # For the mixed-file check: the first line of each kind, whether it already had a problem, and counts.
    first_of_kind: dict[bool, tuple[int, bool]] = {}
    kind_counts = {True: 0, False: 0}
    scanned: list[ScannedRecord] = []
    line_problems: list[str] = []
    line_warnings: list[str] = []

    for line_number, raw in enumerate(reader, start=1):
        line_problems.clear()
        line_warnings.clear()
        if isinstance(raw, int):
            ordinal += 1
            report.add_problem(
                line_number, f"the line is {raw:,} bytes long; a record may be at most {MAX_LINE_BYTES:,}"
            )
            report.problem_lines += 1
            continue
        if line_number == 1 and raw.startswith(_UTF8_BOM):
            line_problems.append("the file starts with a UTF-8 byte-order mark; save it as UTF-8 without one")
            raw = raw[len(_UTF8_BOM) :]
        checked = None
        if not raw.strip():
            line_problems.append("blank line; remove it (every line must hold one record)")
        else:
            ordinal += 1
            checked = _check_line(raw, line_problems, line_warnings)
        if checked is not None:
            record, facts, decision = checked
            if facts.query is not None:
                key = " ".join(facts.query.split()).casefold()
                first = first_line_of_prompt.setdefault(key, line_number)
                if first != line_number:
                    line_problems.append(
                        f"duplicate prompt: the same query as line {first} (ignoring case and spacing)"
                    )
            if facts.has_messages:
                kind_counts[facts.labelled] += 1
                first_of_kind.setdefault(facts.labelled, (line_number, bool(line_problems)))
            report.labelled += facts.labelled
            if keep_records:
                scanned.append(ScannedRecord(ordinal - 1, line_number, record, facts.query, decision))
        for message in line_problems:
            report.add_problem(line_number, message)
        for message in line_warnings:
            report.add_warning(line_number, message)
        if line_problems:
            report.problem_lines += 1

    report.records = ordinal
    report.size_bytes = reader.size
    report.sha256 = reader.hasher.hexdigest()
    _check_mixed(report, kind_counts, first_of_kind)
    return scanned


def _check_line(
    raw: bytes, problems: list[str], warnings: list[str]
) -> tuple[dict, _RecordFacts, RoutingDecision | None] | None:
    """The record, what it holds and its parsed label; None when the line is not a JSON object."""
    try:
        # Without its line ending, so that a JSON error's column is on this line.
        text = raw.rstrip(b"\r\n").decode("utf-8")
    except UnicodeDecodeError as error:
        problems.append(f"not valid UTF-8 (byte {error.start + 1} of the line); save the file as UTF-8")
        return None
    try:
        record = json.loads(text)
    except json.JSONDecodeError as error:
        problems.append(f"not valid JSON: {error.msg} at column {error.colno}")
        return None
    except ValueError:  # Python refuses to convert integers this long (a guard against slow conversions)
        problems.append(
            f"a number on this line has more than {sys.get_int_max_str_digits():,} digits; no record holds one"
        )
        return None
    except RecursionError:
        problems.append("not valid JSON: nested too deeply")
        return None
    if not isinstance(record, dict):
        problems.append(f"expected a JSON object (one record per line), got {_kind(record)}")
        return None
    facts = _check_record(record, problems)
    decision = None
    if facts.response is not None:
        decision = _check_response(facts.response, problems, warnings)
    return record, facts, decision


def _check_record(record: dict, problems: list[str]) -> _RecordFacts:
    for key in record:
        if key not in RECORD_KEYS:
            problems.append(
                _unexpected_key(key, "the record", RECORD_KEYS, otherwise="; keep per-record data in the tags sidecar")
            )
    _check_schema_version(record.get("schemaVersion", _MISSING), problems)
    if "system" in record:
        _check_system(record["system"], problems)
    return _check_messages(record, problems)


def _check_schema_version(value: Any, problems: list[str]) -> None:
    if value is _MISSING:
        problems.append(f'missing "schemaVersion": it must be "{SCHEMA_VERSION}"')
    elif not isinstance(value, str):
        problems.append(f'"schemaVersion" must be the text "{SCHEMA_VERSION}", not {_show(value)}')
    elif value != SCHEMA_VERSION:
        similarity = difflib.SequenceMatcher(None, value.strip().lower(), SCHEMA_VERSION).ratio()
        close = similarity >= _SUGGESTION_CUTOFF
        advice = f'did you mean "{SCHEMA_VERSION}"?' if close else f'it must be "{SCHEMA_VERSION}"'
        problems.append(f'"schemaVersion" is {_show(value)}; {advice}')


def _check_system(system: Any, problems: list[str]) -> None:
    if not isinstance(system, list):
        problems.append(f'"system" must be a list with one {{"text": ...}} block, not {_kind(system)}')
        return
    if len(system) != 1:
        problems.append(f'"system" must hold exactly one {{"text": ...}} block, not {len(system)}')
    for index, block in enumerate(system):
        _check_text_block(block, f"system[{index}]", problems)


def _check_messages(record: dict, problems: list[str]) -> _RecordFacts:
    facts = _RecordFacts()
    if "messages" not in record:
        problems.append('missing "messages": a record needs a user turn')
        return facts
    messages = record["messages"]
    if not isinstance(messages, list):
        problems.append(f'"messages" must be a list of turns, not {_kind(messages)}')
        return facts
    facts.has_messages = True
    # A second turn makes a record labelled, whatever its role says (a wrong role is its own problem).
    facts.labelled = len(messages) > 1
    if not messages:
        problems.append('"messages" is empty: a record needs a user turn')
        return facts
    if len(messages) > len(TURN_ROLES):
        problems.append(
            f'"messages" has {len(messages)} turns; a record holds one user turn and at most one assistant turn'
        )
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            problems.append(f'{where} must be an object with "role" and "content", not {_kind(message)}')
            continue
        for key in message:
            if key not in MESSAGE_KEYS:
                problems.append(_unexpected_key(key, where, MESSAGE_KEYS))
        role = message.get("role", _MISSING)
        _check_role(role, index, where, problems)
        text = _check_content(message, where, problems)
        if index == 0 and role == "user":
            facts.query = text
        elif index == 1 and role == "assistant":
            facts.response = text
    return facts


def _check_role(role: Any, index: int, where: str, problems: list[str]) -> None:
    expected = TURN_ROLES[index % 2]
    if role is _MISSING:
        problems.append(f'{where} has no "role" (expected "{expected}")')
    elif role == expected:
        return
    elif role not in TURN_ROLES:
        problems.append(f'{where} role {_show(role)} is not allowed; use "user" or "assistant" ("{expected}" here)')
    elif index == 0:
        problems.append(f'{where} role is "{role}"; the first turn must be "user"')
    else:
        problems.append(f'{where} role is "{role}"; turns alternate, so this one must be "{expected}"')


def _check_content(message: dict, where: str, problems: list[str]) -> str | None:
    if "content" not in message:
        problems.append(f'{where} has no "content"')
        return None
    content = message["content"]
    if not isinstance(content, list):
        problems.append(f'{where}.content must be a list with one {{"text": ...}} block, not {_kind(content)}')
        return None
    if not content:
        problems.append(f'{where}.content is empty; it needs one {{"text": ...}} block')
        return None
    if len(content) > 1:
        problems.append(f"{where}.content has {len(content)} blocks; exactly one text block is allowed")
    texts = [_check_text_block(block, f"{where}.content[{i}]", problems) for i, block in enumerate(content)]
    return texts[0]


def _check_text_block(block: Any, where: str, problems: list[str]) -> str | None:
    """The block's text when it is usable; problems for anything else."""
    if not isinstance(block, dict):
        problems.append(f'{where} must be an object like {{"text": "..."}}, not {_kind(block)}')
        return None
    for key in block:
        if key not in TEXT_BLOCK_KEYS:
            problems.append(_unexpected_key(key, where, TEXT_BLOCK_KEYS))
    if "text" not in block:
        problems.append(f'{where} has no "text"')
        return None
    text = block["text"]
    if not isinstance(text, str):
        problems.append(f"{where}.text must be a string, not {_kind(text)}")
        return None
    if not text.strip():
        problems.append(f"{where}.text is empty" if not text else f"{where}.text is only whitespace")
        return None
    surrogate = _SURROGATE.search(text)
    if surrogate:
        problems.append(
            f"{where}.text holds a lone surrogate (\\u{ord(surrogate.group()):04x}), which is not a character "
            "and cannot be written as UTF-8; remove it"
        )
        return None
    found = _RESERVED_PATTERN.findall(text)
    if found:
        names = ", ".join(f'"{s}"' for s in dict.fromkeys(found))
        problems.append(f"{where}.text contains {names}, reserved in Nova training data; reword it")
    return text


def _check_response(text: str, problems: list[str], warnings: list[str]) -> RoutingDecision | None:
    # Clean JSON is decoded once and handed over as an object: parse_router_output reaches the same
    # verdict either way (the object is the first and only candidate it would find in the text).
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        value = None
    bare = isinstance(value, dict)
    outcome = parse_router_output(value if bare else text)
    if not outcome.valid:
        problems.append("assistant response is not router JSON: " + "; ".join(outcome.errors))
        return None
    if not bare:
        warnings.append("assistant response has text around its JSON; the student would learn to write it too")
    for warning in outcome.warnings:
        warnings.append(f"assistant response: {warning}")
    return outcome.decision


def _check_mixed(
    report: ValidationReport, kind_counts: dict[bool, int], first_of_kind: dict[bool, tuple[int, bool]]
) -> None:
    if not (kind_counts[True] and kind_counts[False]):
        return
    minority = kind_counts[True] < kind_counts[False]  # ties: the prompt-only records are the odd ones out
    line, line_had_problem = first_of_kind[minority]
    total = kind_counts[True] + kind_counts[False]
    have = "have" if kind_counts[minority] > 1 else "has"
    what = "an assistant response" if minority else "no assistant response"
    report.add_problem(
        line,
        f"{kind_counts[minority]:,} of {total:,} records {have} {what} (the first is here); "
        "a dataset must be all labelled or all prompt-only",
    )
    if not line_had_problem:
        report.problem_lines += 1


def _check_file(
    report: ValidationReport, name: str | None, min_records: int, max_records: int, max_bytes: int, read_whole=True
) -> None:
    if not read_whole:
        report.add_problem(None, _too_large(f"more than {_size(max_bytes)}", max_bytes) + " (it was read no further)")
    elif report.records == 0:
        report.add_problem(
            None, f"the file has no records; Bedrock distillation needs {min_records:,} to {max_records:,}"
        )
    elif report.records < min_records:
        report.add_problem(
            None, f"only {count(report.records, 'record')}; Bedrock distillation needs at least {min_records:,}"
        )
    elif report.records > max_records:
        report.add_problem(
            None,
            f"{report.records:,} records; Bedrock distillation accepts at most "
            f"{max_records:,} (split or sample the file)",
        )
    if read_whole and report.size_bytes > max_bytes:
        report.add_problem(None, _too_large(_size(report.size_bytes), max_bytes))
    if name is not None and not _UPLOAD_NAME.fullmatch(name):
        report.add_warning(
            None,
            f"the file name {_show(name)} has characters Bedrock does not accept "
            "(letters, digits, _ - / . only); rename it before uploading",
        )


def _too_large(size: str, max_bytes: int) -> str:
    return f"the file is {size}; Bedrock accepts at most {_size(max_bytes)}"


def _unexpected_key(key: str, where: str, allowed: tuple[str, ...], otherwise: str = "") -> str:
    """Name the key, and suggest the allowed key it looks like a misspelling of (else add `otherwise`)."""
    message = f"unexpected key {_show(key)} in {where}"
    by_lower = {name.lower(): name for name in allowed}
    close = difflib.get_close_matches(key.lower(), list(by_lower), n=1, cutoff=_SUGGESTION_CUTOFF)
    if close:
        return f'{message}; did you mean "{by_lower[close[0]]}"?'
    return f"{message} (only {', '.join(allowed)} allowed){otherwise}"


def _show(value: Any) -> str:
    shown = json.dumps(value, ensure_ascii=False)
    if _SURROGATE.search(shown):
        shown = json.dumps(value)  # escaped, so the message stays printable
    return shown if len(shown) <= _SHOWN_CHARS else shown[: _SHOWN_CHARS - 3] + '..."'


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "true/false", type(None): "null"}
    return names.get(type(value), "a number")


def _size(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"
