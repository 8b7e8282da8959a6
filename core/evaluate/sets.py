"""The three kinds of evaluation set, loaded into one shape the engine scores.

- **held-out**: a labelled `bedrock-conversation-2024` file or library dataset whose labels are the teacher's
  (a dataset's held-out split, or any labelled file a user uploads); the reference is the teacher.
- **gold**: a labelled dataset whose weights people set (saved in the library with manifest notes
  `{"gold": true}`); the reference is people, so the teacher is scored against it like any router.
- **expectation**: queries with the one channel a person expects to lead, no weights; read by
  core.datasets.expectations (JSONL or CSV, line-numbered problems) and scored on leading-channel credit.

Every loader returns an EvaluationSet or raises EvaluationSetError, whose message is one sentence and whose
`lines` hold the line-numbered problems of a bad file.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Literal

from core.datasets.expectations import ExpectationFile, read_expectations
from core.datasets.files import UNKNOWN_TAG, DatasetTags, LoadedDataset, read_dataset
from core.schema import MODALITIES, RoutingDecision

if TYPE_CHECKING:
    from core.datasets.library import DatasetLibrary

SetKind = Literal["heldout", "gold", "expectations"]
SET_KIND_LABELS = {
    "heldout": "teacher-labelled held-out set",
    "gold": "gold set (weights people set)",
    "expectations": "expectation set (the channel people expect)",
}
TAG_FIELDS: tuple[str, ...] = ("focus", "difficulty", "domain")
SOURCE_FIELD = "source"
# An evaluation set may be small (a gold set of twenty queries is worth having); a job's minimum does not apply.
MIN_SET_RECORDS = 1
# The expectation set written for this project: hand-written queries and the channel a person expects.
STUDIO_EXPECTATIONS = Path(__file__).with_name("data") / "studio_expectations.jsonl"
EXPECTATION_SUFFIXES = (".jsonl", ".csv")


class EvaluationSetError(ValueError):
    """A set that cannot be evaluated: one sentence, and the line-numbered problems of a bad file."""

    def __init__(self, message: str, lines: Sequence[str] = ()):
        super().__init__(message)
        self.lines = list(lines)


@dataclass(frozen=True)
class EvaluationSet:
    """Queries with what a router is scored against: reference weights (held-out, gold) or an expected channel.

    `tags` (focus, difficulty, domain) come from the dataset's sidecar; `lines` are the file's line numbers,
    so a record can be traced back to where it was written.
    """

    kind: SetKind
    name: str
    source: str
    queries: list[str]
    references: list[RoutingDecision] | None = None
    expected: list[str] | None = None
    tags: list[DatasetTags] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    # Where each query comes from (an expectation file's optional `source`), None where not said.
    sources: list[str | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        n = len(self.queries)
        if n < MIN_SET_RECORDS:
            raise EvaluationSetError(f"The {SET_KIND_LABELS[self.kind]} {self.name!r} has no queries to evaluate.")
        if (self.references is None) == (self.expected is None):
            raise ValueError("an evaluation set has either reference decisions or expected channels")
        for what, values in (("references", self.references), ("expected", self.expected)):
            if values is not None and len(values) != n:
                raise ValueError(f"{len(values)} {what} for {n} queries")
        if self.expected is not None and (bad := sorted(set(self.expected) - set(MODALITIES))):
            raise ValueError(f"unknown expected channels {bad}; use {', '.join(MODALITIES)}")
        if not self.tags:
            object.__setattr__(self, "tags", [DatasetTags()] * n)
        if not self.lines:
            object.__setattr__(self, "lines", list(range(1, n + 1)))
        if not self.sources:
            object.__setattr__(self, "sources", [None] * n)
        if len(self.tags) != n or len(self.lines) != n or len(self.sources) != n:
            raise ValueError("give one tag, one line number and one source per query")

    @property
    def n(self) -> int:
        return len(self.queries)

    @property
    def labelled(self) -> bool:
        """True when there are reference weights (the rubric applies); False for an expectation set."""
        return self.references is not None

    @property
    def reference_is_teacher(self) -> bool:
        """The labels are the teacher's own answers, so the teacher scores perfectly by construction."""
        return self.kind == "heldout"

    @property
    def tag_fields(self) -> list[str]:
        """The fields this set can be sliced by: the tags that say something (not all unknown), and `source`
        when some queries name theirs."""
        known = [f for f in TAG_FIELDS if any(getattr(tag, f) != UNKNOWN_TAG for tag in self.tags)]
        return [*known, SOURCE_FIELD] if any(s is not None for s in self.sources) else known

    @cached_property
    def sha256(self) -> str:
        """A fingerprint of what is scored (kind, queries, references): runs on the same set compare."""
        digest = hashlib.sha256(self.kind.encode())
        targets: list[object] = (
            [r.weights() for r in self.references] if self.references is not None else list(self.expected or [])
        )
        for query, target in zip(self.queries, targets, strict=True):
            digest.update(json.dumps([query, target], sort_keys=True).encode("utf-8"))
        return digest.hexdigest()

    @property
    def key(self) -> str:
        """What runs share when they scored the same set: its kind and fingerprint."""
        return f"{self.kind}:{self.sha256[:16]}"

    def summary(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "name": self.name,
            "source": self.source,
            "n": self.n,
            "sha256": self.sha256,
            "key": self.key,
            "tag_fields": self.tag_fields,
        }


# ---- labelled sets (held-out and gold) ----------------------------------------------------------------------


def load_labelled_file(
    source: str | os.PathLike[str] | BinaryIO, kind: SetKind = "heldout", name: str | None = None
) -> EvaluationSet:
    """A labelled `bedrock-conversation-2024` file (a path or an upload) as a held-out or gold set."""
    if kind == "expectations":
        raise ValueError("an expectation file is read by load_expectation_file")
    shown = name or (Path(source).name if isinstance(source, (str, os.PathLike)) else "uploaded file")
    try:
        loaded = read_dataset(source, min_records=MIN_SET_RECORDS)
    except OSError as exc:
        raise EvaluationSetError(f"The file {shown} could not be read ({exc.strerror or exc}).") from exc
    return _from_loaded(loaded, kind, shown, str(source) if isinstance(source, (str, os.PathLike)) else shown)


def load_library_set(library: DatasetLibrary, id_or_name: str, kind: SetKind | None = None) -> EvaluationSet:
    """A labelled dataset of the library: a gold set when its manifest notes say so, else a held-out set.

    Asking for `kind="gold"` refuses a dataset that is not marked gold, so teacher labels are never
    mistaken for people's.
    """
    info = library.find(id_or_name)
    if info is None:
        raise EvaluationSetError(f"There is no dataset named {id_or_name!r} in the library: see the Datasets page.")
    found: SetKind = "gold" if info.is_gold else "heldout"
    if kind == "gold" and found != "gold":
        raise EvaluationSetError(
            f"The dataset {info.name!r} is not a gold set: its labels are the teacher's. Label queries by hand in "
            "the Playground to make one, or evaluate it as a held-out set."
        )
    if kind == "expectations":
        raise EvaluationSetError(f"The dataset {info.name!r} holds weights, not expected channels.")
    if info.kind != "labelled":
        raise EvaluationSetError(
            f"The dataset {info.name!r} is prompt-only: label it with the teacher first (Data Mix or Distillation)."
        )
    try:
        loaded = read_dataset(info.path, min_records=MIN_SET_RECORDS)
    except OSError as exc:
        raise EvaluationSetError(f"The dataset {info.name!r} could not be read ({exc.strerror or exc}).") from exc
    return _from_loaded(loaded, found, info.name, f"dataset:{info.name}")


def _from_loaded(loaded: LoadedDataset, kind: SetKind, name: str, source: str) -> EvaluationSet:
    if not loaded.report.ok:
        raise EvaluationSetError(f"{name} is not a valid dataset: {loaded.report.verdict}", loaded.report.lines())
    if any(decision is None for decision in loaded.decisions):
        raise EvaluationSetError(
            f"{name} has no labels to score against: label it with the teacher first ('synth --label teacher', "
            "or the Data Mix page)."
        )
    return EvaluationSet(
        kind=kind,
        name=name,
        source=source,
        queries=[q or "" for q in loaded.queries],
        references=[d for d in loaded.decisions if d is not None],
        tags=list(loaded.tags),
        lines=list(loaded.lines),
    )


# ---- expectation sets ----------------------------------------------------------------------------------------


def from_expectations(expectations: ExpectationFile, name: str, source: str) -> EvaluationSet:
    """An expectation file read by the reader, as an EvaluationSet (refused with its problems when invalid)."""
    if not expectations.ok:
        raise EvaluationSetError(
            f"the expectation file {source} cannot be used: {expectations.verdict}", expectations.lines()
        )
    rows = list(expectations.expectations)
    return EvaluationSet(
        kind="expectations",
        name=name,
        source=source,
        queries=[row.query for row in rows],
        expected=[row.expected for row in rows],
        sources=[row.source for row in rows],
        lines=[row.line for row in rows],
    )


def load_expectation_file(path: str | os.PathLike[str], name: str | None = None) -> EvaluationSet:
    """An expectation file (JSONL or CSV of query and expected channel), read by core.datasets.expectations."""
    path = Path(path)
    return from_expectations(_read_expectations(path, path.name), name or path.name, str(path))


def load_expectation_upload(data: bytes, filename: str) -> EvaluationSet:
    """An uploaded expectation file (its bytes and the name it was uploaded as, whose suffix says JSONL or CSV),
    read through a private temporary copy; sentences and problems name the upload, never the copy."""
    import tempfile

    suffix = Path(filename).suffix.lower()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"upload{suffix if suffix in EXPECTATION_SUFFIXES else '.jsonl'}"
        path.write_bytes(data)
        expectations = _read_expectations(path, filename)
    return from_expectations(expectations, filename, filename)


def _read_expectations(path: Path, shown: str) -> ExpectationFile:
    try:
        return read_expectations(path)
    except OSError as exc:
        raise EvaluationSetError(f"The file {shown} could not be read ({exc.strerror or exc}).") from exc


def load_studio_expectations() -> EvaluationSet:
    """The expectation set written for this project (hand-written queries, balanced over the four channels)."""
    return load_expectation_file(STUDIO_EXPECTATIONS, name="Studio expectations")
