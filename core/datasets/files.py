"""Dataset files: strict `bedrock-conversation-2024` records, a tags sidecar and a manifest.

A dataset `<stem>.jsonl` has two companions: `<stem>.tags.jsonl` (focus, difficulty, domain per record, in
the same order, because Bedrock rejects any extra key inside a record) and `<stem>.manifest.json` (how the
data was made and the sha256 of the exact bytes written). The data and tags files hold no timestamps, so
the same input always gives the same bytes; only the manifest's `created_at` varies, and it can be pinned.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.datasets.validation import (
    MAX_FILE_BYTES,
    MAX_RECORDS,
    MIN_RECORDS,
    SCHEMA_VERSION,
    ScannedRecord,
    ValidationReport,
    scan_dataset,
)
from core.files import open_regular, read_regular_file, recover_file_set, replace_file_set
from core.prompts import STUDENT_SYSTEM_TEXT
from core.schema import RoutingDecision

DATA_SUFFIX = ".jsonl"
TAGS_SUFFIX = ".tags.jsonl"
MANIFEST_SUFFIX = ".manifest.json"
UNKNOWN_TAG = "unknown"
# A manifest is a few kilobytes; anything this large is not one.
MAX_MANIFEST_BYTES = 10_000_000

DatasetKind = Literal["prompt-only", "labelled"]
SplitRole = Literal["train", "heldout"]


class DatasetTags(BaseModel):
    """Per-record facts kept beside the data (never inside a record)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    focus: str = UNKNOWN_TAG
    difficulty: str = UNKNOWN_TAG
    domain: str = UNKNOWN_TAG


class SplitInfo(BaseModel):
    role: SplitRole
    heldout_ratio: float
    seed: int
    parent: str | None = None


class ManifestFields(BaseModel):
    """What the caller knows about how a dataset was made; write_dataset adds what it measures."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    seed: int | None = None
    mix: dict[str, Any] = Field(default_factory=dict)
    generator_version: str | None = None
    teacher_id: str | None = None
    prompt_version: str | None = None
    split: SplitInfo | None = None
    label_failures: int = 0
    notes: dict[str, str | int | float | bool | None] = Field(default_factory=dict)
    # Pin it for a byte-identical manifest; left empty it is the time of writing.
    created_at: datetime | None = None


class DatasetManifest(ManifestFields):
    model_config = ConfigDict(extra="ignore")

    name: str
    created_at: datetime
    kind: DatasetKind
    schema_version: str = SCHEMA_VERSION
    record_count: int
    sha256: str
    tags_sha256: str
    data_file: str
    tags_file: str


class DatasetPaths(NamedTuple):
    data: Path
    tags: Path
    manifest: Path


@dataclass
class LoadedDataset:
    """An imported file: every line that held a JSON object, its tags, query and parsed label, in order."""

    records: list[dict]
    tags: list[DatasetTags]
    queries: list[str | None]
    decisions: list[RoutingDecision | None]
    lines: list[int]
    report: ValidationReport
    manifest: DatasetManifest | None

    @property
    def ok(self) -> bool:
        return self.report.ok


def router_json(decision: RoutingDecision) -> str:
    """The router-output JSON a labelled record teaches: the four weights and reasoning, compact."""
    return json.dumps(decision.to_json_dict(), ensure_ascii=False, separators=(",", ":"))


def make_record(query: str, decision: RoutingDecision | None, system_text: str = STUDENT_SYSTEM_TEXT) -> dict:
    """One strict record: the user's query, and the router's answer when labelled."""
    query = query.strip()
    if not query:
        raise ValueError("a record needs a non-empty query")
    if not system_text.strip():
        raise ValueError("the system text must not be empty")
    messages: list[dict[str, Any]] = [{"role": "user", "content": [{"text": query}]}]
    if decision is not None:
        messages.append({"role": "assistant", "content": [{"text": router_json(decision)}]})
    return {"schemaVersion": SCHEMA_VERSION, "system": [{"text": system_text}], "messages": messages}


def record_query(record: Mapping[str, Any]) -> str | None:
    """The user's query of a well-formed record, else None."""
    return _turn_text(record, 0, "user")


def record_response(record: Mapping[str, Any]) -> str | None:
    """The assistant's response text of a well-formed labelled record, else None."""
    return _turn_text(record, 1, "assistant")


def dataset_kind(records: Sequence[Mapping[str, Any]]) -> DatasetKind:
    """'labelled' when every record has an assistant turn, 'prompt-only' when none has; mixed is an error."""
    labelled = sum(1 for record in records if _has_second_turn(record))
    if labelled and labelled != len(records):
        raise ValueError(
            f"{labelled} of {len(records)} records are labelled; a dataset must be all labelled or all prompt-only"
        )
    return "labelled" if labelled else "prompt-only"


def dataset_paths(path: str | os.PathLike[str]) -> DatasetPaths:
    """`<stem>.jsonl` and its companions `<stem>.tags.jsonl` and `<stem>.manifest.json`."""
    path = Path(path)
    stem = path.name[: -len(DATA_SUFFIX)] if path.name.endswith(DATA_SUFFIX) else path.stem
    return DatasetPaths(path, path.with_name(stem + TAGS_SUFFIX), path.with_name(stem + MANIFEST_SUFFIX))


def encode_records(records: Sequence[Mapping[str, Any]]) -> bytes:
    return _encode_lines(records)


def encode_tags(tags: Sequence[DatasetTags]) -> bytes:
    return _encode_lines([tag.model_dump() for tag in tags])


def dataset_target_problem(path: str | os.PathLike[str]) -> str | None:
    """Why the dataset set at `path` (the records and their companions) cannot be written, or None.

    Checked before any work is spent on the set (and again when it is written): a wrong name, a folder or a
    device where a file of the set goes, or a file the user made read-only.
    """
    paths = dataset_paths(path)
    name = paths.data.name
    if not name.endswith(DATA_SUFFIX) or name.endswith(TAGS_SUFFIX):
        return f"a dataset file name must end in {DATA_SUFFIX} (and not {TAGS_SUFFIX}); {name!r} does not"
    for part in paths:
        try:
            mode = os.stat(part).st_mode
        except FileNotFoundError:
            continue
        except OSError as exc:
            return f"{part} cannot be checked ({exc.strerror or exc})"
        if stat.S_ISDIR(mode):
            return f"{part.name} is a folder where a file of the dataset goes; move it aside or choose another name"
        if not stat.S_ISREG(mode):
            return f"{part.name} is not a regular file; choose another name"
        if not mode & 0o222:
            return f"{part.name} is read-only; make it writable (chmod u+w) or choose another name"
    return None


def write_dataset(
    path: str | os.PathLike[str],
    records: Sequence[Mapping[str, Any]],
    tags: Sequence[DatasetTags] | None = None,
    manifest_fields: ManifestFields | Mapping[str, Any] | None = None,
) -> DatasetManifest:
    """Write the data, tags and manifest files as one set; the manifest hashes the exact bytes written.

    The set is replaced as a whole (core.files.replace_file_set): killed or out of disk at any point, the
    folder holds the whole old set or the whole new one. Raises ValueError for a path that cannot take the
    set (before anything is written) and OSError when writing fails (the old set is then unchanged).
    """
    paths = dataset_paths(path)
    problem = dataset_target_problem(paths.data)
    if problem:
        raise ValueError(problem)
    tags = list(tags) if tags is not None else [DatasetTags()] * len(records)
    if len(tags) != len(records):
        raise ValueError(f"{len(tags)} tags for {len(records)} records; give one per record")
    fields = ManifestFields.model_validate(manifest_fields or {})
    data = encode_records(records)
    tag_bytes = encode_tags(tags)
    manifest = DatasetManifest(
        **fields.model_dump(exclude={"name", "created_at"}),
        name=fields.name or paths.data.name[: -len(DATA_SUFFIX)],
        created_at=fields.created_at or datetime.now(UTC).replace(microsecond=0),
        kind=dataset_kind(records),
        record_count=len(records),
        sha256=hashlib.sha256(data).hexdigest(),
        tags_sha256=hashlib.sha256(tag_bytes).hexdigest(),
        data_file=paths.data.name,
        tags_file=paths.tags.name,
    )
    manifest_bytes = (manifest.model_dump_json(indent=2) + "\n").encode("utf-8")
    replace_file_set([(paths.data, data), (paths.tags, tag_bytes), (paths.manifest, manifest_bytes)])
    return manifest


def read_manifest(path: str | os.PathLike[str]) -> DatasetManifest:
    """The manifest beside a dataset file (path of the .jsonl); raises if absent or unreadable."""
    return DatasetManifest.model_validate_json(read_regular_file(dataset_paths(path).manifest, MAX_MANIFEST_BYTES))


def read_dataset(
    source: str | os.PathLike[str] | BinaryIO,
    *,
    min_records: int = MIN_RECORDS,
    max_records: int = MAX_RECORDS,
    max_bytes: int = MAX_FILE_BYTES,
) -> LoadedDataset:
    """Import a dataset (ours or a user's own JSONL) in one pass: records, tags, labels and the validation.

    For a path, the tags sidecar and manifest are read when present (tags default to unknown), and a set
    that does not match its manifest is a problem.
    """
    report, scanned, sidecar, manifest = _scan_set(source, True, min_records, max_records, max_bytes)
    tags = [sidecar[item.ordinal] if sidecar else DatasetTags() for item in scanned]
    return LoadedDataset(
        records=[item.record for item in scanned],
        tags=tags,
        queries=[item.query for item in scanned],
        decisions=[item.decision for item in scanned],
        lines=[item.line for item in scanned],
        report=report,
        manifest=manifest,
    )


def validate_dataset(
    source: str | os.PathLike[str] | BinaryIO,
    *,
    min_records: int = MIN_RECORDS,
    max_records: int = MAX_RECORDS,
    max_bytes: int = MAX_FILE_BYTES,
) -> ValidationReport:
    """The validation of a dataset file and, for a path, of its set: records, tags sidecar and manifest agree."""
    return _scan_set(source, False, min_records, max_records, max_bytes)[0]


def _scan_set(
    source: str | os.PathLike[str] | BinaryIO, keep_records: bool, min_records: int, max_records: int, max_bytes: int
) -> tuple[ValidationReport, list[ScannedRecord], list[DatasetTags] | None, DatasetManifest | None]:
    paths = dataset_paths(source) if isinstance(source, (str, os.PathLike)) else None
    recovery_problem = None
    if paths is not None:
        try:
            recover_file_set(list(paths))
        except OSError as exc:
            recovery_problem = f"an interrupted replace of this dataset could not be finished ({exc.strerror or exc})"
    report, scanned = scan_dataset(
        source, keep_records=keep_records, min_records=min_records, max_records=max_records, max_bytes=max_bytes
    )
    if recovery_problem:
        report.add_problem(None, recovery_problem)
    if paths is None:
        return report, scanned, None, None
    manifest = _read_manifest_checked(paths, report)
    sidecar = _read_tags(paths.tags, report, manifest, max_bytes)
    return report, scanned, sidecar, manifest


def split_dataset(
    records: Sequence[dict], tags: Sequence[DatasetTags], heldout_ratio: float, seed: int
) -> tuple[list[dict], list[DatasetTags], list[dict], list[DatasetTags]]:
    """Train and held-out parts, stratified by focus and deterministic for a seed; each keeps file order.

    The held-out size is round(n * ratio) overall, shared among focus groups by largest remainder.
    """
    if not 0.0 < heldout_ratio < 1.0:
        raise ValueError("the held-out ratio must be between 0 and 1 (exclusive)")
    if len(tags) != len(records):
        raise ValueError(f"{len(tags)} tags for {len(records)} records; give one per record")
    groups: dict[str, list[int]] = {}
    for index, tag in enumerate(tags):
        groups.setdefault(tag.focus, []).append(index)
    focuses = sorted(groups)
    quotas = _heldout_quotas({focus: len(groups[focus]) for focus in focuses}, heldout_ratio, len(records))
    rng = random.Random(seed)
    heldout: set[int] = set()
    for focus in focuses:
        members = groups[focus]
        heldout.update(rng.sample(members, quotas[focus]))
    train_idx = [i for i in range(len(records)) if i not in heldout]
    held_idx = sorted(heldout)
    return (
        [records[i] for i in train_idx],
        [tags[i] for i in train_idx],
        [records[i] for i in held_idx],
        [tags[i] for i in held_idx],
    )


def _turn_text(record: Mapping[str, Any], index: int, role: str) -> str | None:
    messages = record.get("messages")
    if not isinstance(messages, list) or len(messages) <= index:
        return None
    message = messages[index]
    if not isinstance(message, dict) or message.get("role") != role:
        return None
    content = message.get("content")
    if not isinstance(content, list) or not content or not isinstance(content[0], dict):
        return None
    text = content[0].get("text")
    return text if isinstance(text, str) else None


def _has_second_turn(record: Mapping[str, Any]) -> bool:
    messages = record.get("messages")
    return isinstance(messages, list) and len(messages) > 1


def _encode_lines(values: Sequence[Any]) -> bytes:
    lines = [json.dumps(value, ensure_ascii=False, separators=(",", ":")) for value in values]
    return "".join(line + "\n" for line in lines).encode("utf-8")


def _heldout_quotas(sizes: dict[str, int], ratio: float, total: int) -> dict[str, int]:
    exact = {focus: size * ratio for focus, size in sizes.items()}
    quotas = {focus: math.floor(share) for focus, share in exact.items()}
    left = round(total * ratio) - sum(quotas.values())
    # Largest remainder first; ties go to the bigger group, then to the name, so the result is stable.
    order = sorted(sizes, key=lambda f: (-(exact[f] - quotas[f]), -sizes[f], f))
    for focus in order[: max(0, left)]:
        quotas[focus] += 1
    return quotas


def _read_tags(
    path: Path, report: ValidationReport, manifest: DatasetManifest | None, max_bytes: int
) -> list[DatasetTags] | None:
    """The sidecar's tags when it matches the data file row for row (and its manifest); otherwise None."""
    if not path.exists():
        return None
    tags: list[DatasetTags] = []
    hasher = hashlib.sha256()
    size = 0
    try:
        with open_regular(path) as handle:
            for line_number, raw in enumerate(handle, start=1):
                hasher.update(raw)
                size += len(raw)
                if size > max_bytes:
                    report.add_warning(None, f"tags file {path.name} is larger than the data allows; tags ignored")
                    return None
                if not raw.strip():
                    continue
                try:
                    tags.append(DatasetTags.model_validate_json(raw))
                except ValidationError:
                    report.add_warning(
                        None, f"tags file {path.name} line {line_number} is not a tags object; tags ignored"
                    )
                    return None
    except OSError as error:
        report.add_warning(None, f"tags file {path.name} could not be read ({error.strerror}); tags ignored")
        return None
    if manifest is not None and hasher.hexdigest() != manifest.tags_sha256:
        report.add_problem(
            None,
            f"{path.name} does not match {path.name[: -len(TAGS_SUFFIX)]}{MANIFEST_SUFFIX} (its sha256 differs): "
            "the set was edited or only partly replaced; write it again, or move the manifest and tags aside to use "
            "the records on their own",
        )
        return None
    if len(tags) != report.records:
        report.add_warning(
            None, f"tags file {path.name} has {len(tags):,} rows for {report.records:,} records; tags ignored"
        )
        return None
    return tags


def _read_manifest_checked(paths: DatasetPaths, report: ValidationReport) -> DatasetManifest | None:
    if not paths.manifest.exists():
        return None
    try:
        manifest = DatasetManifest.model_validate_json(read_regular_file(paths.manifest, MAX_MANIFEST_BYTES))
    except (OSError, ValidationError):
        report.add_warning(None, f"manifest {paths.manifest.name} could not be read; it was ignored")
        return None
    if manifest.sha256 != report.sha256:
        report.add_problem(
            None,
            f"{paths.data.name} does not match {paths.manifest.name} (its sha256 differs): the file was edited or "
            "only partly replaced; write the set again, or move the manifest and tags aside to use the file on its own",
        )
    return manifest
