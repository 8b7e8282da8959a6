"""Importing a team's own catalog (and, optionally, its relevance judgements) as JSONL, checked line by line.

A catalog line is one segment with exactly the fields of core.search.catalog (no others); a judgements
line is `{"query": ..., "relevant": {segment id: 1 or 2, ...}}` with optional `id`, `focus` (one of the data
mix's foci), `channels` (the channels the query is written in) and `facets`. Problems are reported as
`line N: problem`, in the style and with the limits of the dataset validator (core.datasets.validation):
every problem is counted, the first MAX_STORED_PROBLEMS are kept, and nothing is imported unless the
whole file is clean.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO

from pydantic import BaseModel, Field, computed_field

from core.datasets.validation import MAX_STORED_PROBLEMS, Problem, _kind, _show, _size, _unexpected_key
from core.schema import MODALITIES
from core.search.catalog import MAX_SEGMENTS, SEGMENT_FIELDS, VIDEO_FIELDS, Catalog, Segment, segment_from_dict
from core.search.judgements import FULL_MATCH, GRADES, JudgedQuery, judged_query_from_dict
from core.synth.mix import FOCI
from core.wording import count

MAX_CATALOG_BYTES = 50_000_000
MAX_JUDGEMENT_BYTES = 20_000_000
MAX_JUDGED_QUERIES = 5_000
MAX_ID_CHARS = 200
MAX_TEXT_CHARS = 4_000
MAX_SHORT_TEXT_CHARS = 300
MAX_PEOPLE = 50
MAX_QUERY_CHARS = 500
JUDGEMENT_KEYS = ("id", "query", "focus", "channels", "facets", "relevant")
TEXT_FIELDS = ("caption", "audio_description", "transcript")
SHORT_FIELDS = ("title", "genre", "channel")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_UTF8_BOM = b"\xef\xbb\xbf"


class ImportReport(BaseModel):
    """What checking one file found; `ok` when it can be imported as it is."""

    kind: str  # "catalog" or "judgements"
    source: str | None = None
    problems: list[Problem] = Field(default_factory=list)
    problem_count: int = 0
    problem_lines: int = 0
    records: int = 0
    size_bytes: int = 0
    sha256: str = ""

    @computed_field  # type: ignore[prop-decorator]  # pydantic's documented form
    @property
    def ok(self) -> bool:
        return self.problem_count == 0

    @computed_field  # type: ignore[prop-decorator]  # pydantic's documented form
    @property
    def verdict(self) -> str:
        noun = "segment" if self.kind == "catalog" else "judged query"
        if self.ok:
            return f"Valid: {count(self.records, noun)} ready to search."
        where = count(self.problem_count, "problem")
        if self.problem_lines:
            where += f" on {count(self.problem_lines, 'line')}"
        return f"Invalid: {where}; fix {'it' if self.problem_count == 1 else 'them'} and import again."

    def lines(self) -> list[str]:
        shown = [problem.text() for problem in self.problems]
        hidden = self.problem_count - len(self.problems)
        if hidden:
            shown.append(f"... and {count(hidden, 'more problem')} not shown")
        return shown

    def add_problem(self, line: int | None, message: str) -> None:
        self.problem_count += 1
        if line is None or len(self.problems) < MAX_STORED_PROBLEMS:
            self.problems.append(Problem(line=line, message=message))


@dataclass(frozen=True)
class CatalogImport:
    report: ImportReport
    catalog: Catalog | None  # None unless the report is ok


@dataclass(frozen=True)
class JudgementsImport:
    report: ImportReport
    queries: list[JudgedQuery]  # empty unless the report is ok


Source = str | os.PathLike[str] | BinaryIO


def check_catalog(source: Source, *, max_bytes: int = MAX_CATALOG_BYTES) -> CatalogImport:
    report = ImportReport(kind="catalog", source=_source_name(source))
    segments: list[Segment] = []
    first_line_of_id: dict[str, int] = {}
    first_of_video: dict[str, tuple[int, dict]] = {}

    def check(line: int, record: dict, problems: list[str]) -> None:
        _check_segment(record, problems)
        if problems:
            return
        first = first_line_of_id.setdefault(record["id"], line)
        if first != line:
            problems.append(f"duplicate segment id {_show(record['id'])}: first on line {first}")
        video_line, video = first_of_video.setdefault(record["video_id"], (line, record))
        for name in VIDEO_FIELDS:
            if record[name] != video[name]:
                problems.append(
                    f"{name} {_show(record[name])} differs from {_show(video[name])} on line {video_line}, the first "
                    f"segment of video {_show(record['video_id'])}; a video's metadata is the same on every segment"
                )
        if not problems:
            segments.append(segment_from_dict(record))

    _scan(source, report, max_bytes, check)
    if report.ok and not report.records:
        report.add_problem(None, "the file has no segments")
    if report.records > MAX_SEGMENTS:
        report.add_problem(None, f"{report.records:,} segments; a catalog holds at most {MAX_SEGMENTS:,}")
    return CatalogImport(report, Catalog(tuple(segments)) if report.ok else None)


def check_judgements(source: Source, catalog: Catalog, *, max_bytes: int = MAX_JUDGEMENT_BYTES) -> JudgementsImport:
    report = ImportReport(kind="judgements", source=_source_name(source))
    queries: list[JudgedQuery] = []
    first_line_of_query: dict[str, int] = {}
    first_line_of_id: dict[str, int] = {}

    def check(line: int, record: dict, problems: list[str]) -> None:
        _check_judgement(record, catalog.positions, problems)
        if problems:
            return
        key = " ".join(record["query"].split()).casefold()
        first = first_line_of_query.setdefault(key, line)
        if first != line:
            problems.append(f"duplicate query: the same query as line {first} (ignoring case and spacing)")
        if record.get("id") is not None:
            first_id = first_line_of_id.setdefault(record["id"], line)
            if first_id != line:
                problems.append(f"duplicate id {_show(record['id'])}: first on line {first_id}")
        if not problems:
            queries.append(judged_query_from_dict(record, len(queries) + 1))

    _scan(source, report, max_bytes, check)
    if report.ok and not report.records:
        report.add_problem(None, "the file has no judged queries")
    if report.records > MAX_JUDGED_QUERIES:
        report.add_problem(None, f"{report.records:,} judged queries; at most {MAX_JUDGED_QUERIES:,} are accepted")
    return JudgementsImport(report, queries if report.ok else [])


# ---- one pass over the lines ------------------------------------------------------------------------------


def _source_name(source: Any) -> str | None:
    name = source if isinstance(source, (str, os.PathLike)) else getattr(source, "name", None)
    return Path(name).name if isinstance(name, (str, os.PathLike)) else None


def _read_bytes(source: Source, max_bytes: int) -> bytes:
    """At most max_bytes + 1 bytes, so a file over the limit is refused without reading all of it."""
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as handle:
            return handle.read(max_bytes + 1)
    data = source.read(max_bytes + 1)
    if isinstance(data, str):
        raise TypeError("open the file in binary mode ('rb')")
    return data


def _scan(source: Source, report: ImportReport, max_bytes: int, check: Callable[[int, dict, list[str]], None]) -> None:
    try:
        data = _read_bytes(source, max_bytes)
    except OSError as error:
        report.add_problem(None, f"could not read the file: {error.strerror or error}")
        return
    if len(data) > max_bytes:
        report.add_problem(None, f"the file is larger than {_size(max_bytes)}, the most a {report.kind} file may be")
        return
    report.size_bytes = len(data)
    report.sha256 = hashlib.sha256(data).hexdigest()
    problems: list[str] = []
    for number, raw in enumerate(data.splitlines(), start=1):
        problems.clear()
        if number == 1 and raw.startswith(_UTF8_BOM):
            problems.append("the file starts with a UTF-8 byte-order mark; save it as UTF-8 without one")
            raw = raw[len(_UTF8_BOM) :]
        if not raw.strip():
            problems.append("blank line; remove it (every line must hold one record)")
        else:
            report.records += 1
            record = _decode(raw, problems)
            if record is not None:
                check(number, record, problems)
        for message in problems:
            report.add_problem(number, message)
        report.problem_lines += bool(problems)


def _decode(raw: bytes, problems: list[str]) -> dict | None:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        problems.append(f"not valid UTF-8 (byte {error.start + 1} of the line); save the file as UTF-8")
        return None
    try:
        record = json.loads(text)
    except json.JSONDecodeError as error:
        problems.append(f"not valid JSON: {error.msg} at column {error.colno}")
        return None
    except RecursionError:
        problems.append("not valid JSON: nested too deeply")
        return None
    if not isinstance(record, dict):
        problems.append(f"expected a JSON object (one record per line), got {_kind(record)}")
        return None
    return record


# ---- a segment --------------------------------------------------------------------------------------------


def _check_segment(record: dict, problems: list[str]) -> None:
    for key in record:
        if key not in SEGMENT_FIELDS:
            problems.append(_unexpected_key(key, "the segment", SEGMENT_FIELDS))
    missing = [name for name in SEGMENT_FIELDS if name not in record]
    if missing:
        problems.append(
            f"missing {', '.join(map(repr, missing))}: every segment needs all of {', '.join(SEGMENT_FIELDS)}"
        )
        return
    for name in ("id", "video_id"):
        _check_text(record[name], name, problems, limit=MAX_ID_CHARS, required=True, single_line=True)
    for name in TEXT_FIELDS:
        _check_text(record[name], name, problems, limit=MAX_TEXT_CHARS)
    for name in SHORT_FIELDS:
        _check_text(record[name], name, problems, limit=MAX_SHORT_TEXT_CHARS, required=name == "title")
    if not problems and not any(record[name].strip() for name in TEXT_FIELDS):
        problems.append("caption, audio_description and transcript are all empty: nothing to find this segment by")
    _check_people(record["people"], problems)
    _check_times(record["start_s"], record["end_s"], problems)
    _check_date(record["upload_date"], problems)


def _check_text(
    value: Any, name: str, problems: list[str], *, limit: int, required: bool = False, single_line: bool = False
) -> None:
    if not isinstance(value, str):
        problems.append(f"{name} must be text, not {_kind(value)}")
    elif required and not value.strip():
        problems.append(f"{name} is empty")
    elif len(value) > limit:
        problems.append(f"{name} is {len(value):,} characters; at most {limit:,}")
    elif single_line and _CONTROL.search(value):
        problems.append(f"{name} {_show(value)} holds a line break or control character")


def _check_people(value: Any, problems: list[str]) -> None:
    if not isinstance(value, list):
        problems.append(f"people must be a list of names, not {_kind(value)}")
        return
    if len(value) > MAX_PEOPLE:
        problems.append(f"people lists {len(value):,} names; at most {MAX_PEOPLE}")
    for index, name in enumerate(value):
        if not isinstance(name, str) or not name.strip():
            problems.append(f"people[{index}] must be a name, not {_show(name)}")
        elif len(name) > MAX_SHORT_TEXT_CHARS:
            problems.append(f"people[{index}] is {len(name):,} characters; at most {MAX_SHORT_TEXT_CHARS}")


def _seconds(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _check_times(start: Any, end: Any, problems: list[str]) -> None:
    start_s, end_s = _seconds(start), _seconds(end)
    if start_s is None:
        problems.append(f"start_s must be a number of seconds, not {_show(start)}")
    if end_s is None:
        problems.append(f"end_s must be a number of seconds, not {_show(end)}")
    if start_s is None or end_s is None:
        return
    if start_s < 0:
        problems.append(f"start_s is {start_s:g}; a segment cannot start before its video")
    if end_s <= start_s:
        problems.append(f"end_s ({end_s:g}) must be after start_s ({start_s:g})")


def _check_date(value: Any, problems: list[str]) -> None:
    try:
        if not isinstance(value, str) or len(value) != len("2024-01-31"):
            raise ValueError
        date.fromisoformat(value)
    except ValueError:
        problems.append(f"upload_date {_show(value)} is not a date written YYYY-MM-DD")


# ---- a judged query ---------------------------------------------------------------------------------------


def _check_judgement(record: dict, positions: Mapping[str, int], problems: list[str]) -> None:
    for key in record:
        if key not in JUDGEMENT_KEYS:
            problems.append(_unexpected_key(key, "the judged query", JUDGEMENT_KEYS))
    query = record.get("query")
    if "query" not in record:
        problems.append('missing "query"')
    else:
        _check_text(query, "query", problems, limit=MAX_QUERY_CHARS, required=True, single_line=True)
    if record.get("id") is not None:
        _check_text(record["id"], "id", problems, limit=MAX_ID_CHARS, required=True, single_line=True)
    focus = record.get("focus")
    if focus is not None and focus not in FOCI:
        problems.append(f"focus {_show(focus)} is not one of {', '.join(FOCI)}")
    _check_channels(record.get("channels"), problems)
    facets = record.get("facets")
    if facets is not None and not (isinstance(facets, dict) and all(isinstance(v, str) for v in facets.values())):
        problems.append("facets must be an object of text values")
    _check_relevant(record, positions, problems)


def _check_channels(channels: Any, problems: list[str]) -> None:
    if channels is None:
        return
    if not isinstance(channels, list) or not channels:
        problems.append(f"channels must be a list of some of {', '.join(MODALITIES)}")
        return
    unknown = [c for c in channels if c not in MODALITIES]
    if unknown:
        problems.append(f"channels: {_show(unknown[0])} is not one of {', '.join(MODALITIES)}")
    elif len(set(channels)) != len(channels):
        problems.append("channels lists a channel twice")


def _check_relevant(record: dict, positions: Mapping[str, int], problems: list[str]) -> None:
    if "relevant" not in record:
        problems.append('missing "relevant": the segments that match, as {"segment id": 2 (full) or 1 (partly)}')
        return
    relevant = record["relevant"]
    if not isinstance(relevant, dict) or not relevant:
        problems.append('"relevant" must be an object like {"segment id": 2}, with at least one segment')
        return
    unknown = [segment_id for segment_id in relevant if segment_id not in positions]
    if unknown:
        more = f" (and {len(unknown) - 1:,} more)" if len(unknown) > 1 else ""
        problems.append(f"relevant segment {_show(unknown[0])} is not in the catalog{more}")
    bad = [grade for grade in relevant.values() if isinstance(grade, bool) or grade not in GRADES]
    if bad:
        problems.append(f"grade {_show(bad[0])} is not 2 (a full match) or 1 (a partial match)")
    elif FULL_MATCH not in relevant.values():
        problems.append("no segment has grade 2: a judged query needs at least one segment that truly matches it")
