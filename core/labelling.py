"""Label queries with a teacher router: batched, with progress, resumable from a checkpoint.

A reply the router could not turn into weights is kept as a `LabelFailure` (query, errors, raw reply)
instead of stopping the run, so one bad answer in 10,000 costs one record, not the run. Each finished
batch is appended to a checkpoint JSONL as whole, fsynced lines; after a crash the run resumes from
the last complete line and never relabels (or pays for) what is already done.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from core.datasets.files import DatasetTags, make_record
from core.files import atomic_write_text, path_inside
from core.routers.base import Router
from core.schema import RouteResult, RoutingDecision

if TYPE_CHECKING:
    from core.synth import SynthQuery

LOCAL_BATCH_SIZE = 256
BEDROCK_BATCH_SIZE = 16
CHECKPOINT_FORMAT = "vsrs-label-checkpoint-1"
CHECKPOINTS_DIR = "labelling"

ProgressCallback = Callable[[int, int], None]
StopCheck = Callable[[], bool]


@dataclass(frozen=True)
class LabelFailure:
    """A query the teacher could not label, with why and what it actually wrote."""

    index: int
    query: str
    errors: tuple[str, ...]
    raw_text: str


@dataclass
class LabelRun:
    """The outcome of labelling: one decision (or None) per query, in query order, and what it cost."""

    router_id: str
    fingerprint: str
    decisions: list[RoutingDecision | None]
    prompt_version: str | None = None
    failures: list[LabelFailure] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    resumed: int = 0
    stopped: bool = False

    @property
    def total(self) -> int:
        return len(self.decisions)

    @property
    def labelled(self) -> int:
        return sum(decision is not None for decision in self.decisions)

    @property
    def failed(self) -> int:
        return len(self.failures)

    @property
    def pending(self) -> int:
        return self.total - self.labelled - self.failed

    @property
    def complete(self) -> bool:
        return self.pending == 0

    def manifest_fields(self, teacher_id: str | None = None) -> dict[str, object]:
        """What a dataset manifest records about this run (core.datasets.files.ManifestFields keys)."""
        return {
            "teacher_id": teacher_id or self.router_id,
            "prompt_version": self.prompt_version,
            "label_failures": self.failed,
        }


def queries_sha256(queries: Sequence[str]) -> str:
    return hashlib.sha256(json.dumps(list(queries), ensure_ascii=False).encode("utf-8")).hexdigest()


def prompt_version_of(router: Router) -> str | None:
    """The prompt version of a model-backed router (a `RouterPrompt` or plain text); None for on-box routers."""
    prompt = getattr(router, "prompt", None)
    if prompt is None:
        return None
    version = getattr(prompt, "version", None)
    if isinstance(version, str):
        return version
    return "prompt-" + hashlib.sha256(str(prompt).encode("utf-8")).hexdigest()[:10]


def router_fingerprint(router: Router) -> str:
    """Who labels: the router's kind, id, model and prompt version, so a changed teacher is a new run."""
    model = getattr(router, "model_id", None) or router.price_key or ""
    parts = [type(router).__qualname__, router.router_id, str(model), prompt_version_of(router) or ""]
    return "|".join(parts)


def run_fingerprint(router: Router, queries: Sequence[str]) -> str:
    """Identifies one labelling run: the same router on the same query list, and nothing else."""
    text = json.dumps({"router": router_fingerprint(router), "queries": queries_sha256(queries)})
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def checkpoint_path_for(data_dir: Path, router: Router, queries: Sequence[str]) -> Path:
    """Where this run's checkpoint lives: one file per fingerprint, so other runs' checkpoints are left alone."""
    return path_inside(Path(data_dir), CHECKPOINTS_DIR, f"{run_fingerprint(router, queries)[:24]}.ckpt.jsonl")


def label_queries(
    router: Router,
    queries: Sequence[str],
    *,
    checkpoint_path: Path | None = None,
    batch_size: int | None = None,
    on_progress: ProgressCallback | None = None,
    should_stop: StopCheck | None = None,
    retry_failed: bool = False,
) -> LabelRun:
    """Label every query with `router`, `batch_size` at a time (by default small for a remote, paid teacher, so
    a crash loses little and progress moves often, and large for an on-box one).

    With a checkpoint, indices already labelled (or already failed, unless `retry_failed`) by a run with
    the same fingerprint are skipped; a checkpoint for another router or query list is replaced.
    `should_stop` is asked between batches; a stopped run returns what it has and resumes later.
    An exception from the router itself (no credentials, say) propagates; the checkpoint keeps what was done.
    """
    batch_size = batch_size or (BEDROCK_BATCH_SIZE if router.remote else LOCAL_BATCH_SIZE)
    if batch_size < 1:
        raise ValueError("batch size must be at least 1")
    queries = list(queries)
    fingerprint = run_fingerprint(router, queries)
    run = LabelRun(
        router_id=router.router_id,
        fingerprint=fingerprint,
        decisions=[None] * len(queries),
        prompt_version=prompt_version_of(router),
    )
    failures: dict[int, LabelFailure] = {}
    checkpoint = _Checkpoint(checkpoint_path, fingerprint, len(queries)) if checkpoint_path else None
    if checkpoint is not None:
        for entry in checkpoint.load():
            _apply_entry(run, failures, entry)
        run.resumed = run.labelled + len(failures)
    todo = [i for i in range(len(queries)) if run.decisions[i] is None and (retry_failed or i not in failures)]
    done = len(queries) - len(todo)
    _report(on_progress, done, len(queries))
    try:
        for start in range(0, len(todo), batch_size):
            if should_stop is not None and should_stop():
                run.stopped = True
                break
            indices = todo[start : start + batch_size]
            results = router.route_batch([queries[i] for i in indices])
            entries = [_entry(index, result) for index, result in zip(indices, results, strict=True)]
            if checkpoint is not None:
                checkpoint.append(entries)
            for entry in entries:
                _apply_entry(run, failures, entry)
            done += len(indices)
            _report(on_progress, done, len(queries))
    finally:
        if checkpoint is not None:
            checkpoint.close()
    run.failures = [failures[i] for i in sorted(failures)]
    return run


def build_dataset_rows(queries: Sequence[SynthQuery], run: LabelRun | None) -> tuple[list[dict], list[DatasetTags]]:
    """Dataset records and their tags, in query order.

    Without a run every query becomes a prompt-only record. With a run only labelled queries become
    records: failed and unfinished ones are left out of the file (the run counts and lists them).
    """
    if run is not None and run.total != len(queries):
        raise ValueError(f"the labelling run covers {run.total} queries, not the {len(queries)} given")
    records: list[dict] = []
    tags: list[DatasetTags] = []
    for index, item in enumerate(queries):
        if run is None:
            records.append(make_record(item.query, None))
        else:
            decision = run.decisions[index]
            if decision is None:
                continue
            records.append(make_record(item.query, decision))
        tags.append(DatasetTags(focus=item.focus, difficulty=item.difficulty, domain=item.domain))
    return records, tags


def _report(on_progress: ProgressCallback | None, done: int, total: int) -> None:
    if on_progress is not None:
        on_progress(done, total)


def _entry(index: int, result: RouteResult) -> dict:
    """One checkpoint entry: compact keys, the decision when valid, the errors and raw reply when not."""
    entry: dict = {"i": index, "it": result.input_tokens, "ot": result.output_tokens, "c": result.cost_usd}
    if result.decision is not None and result.valid:
        entry["d"] = result.decision
    else:
        entry["q"] = result.query
        entry["e"] = list(result.errors) or ["the router returned no decision"]
        entry["r"] = result.raw_text
    return entry


def _apply_entry(run: LabelRun, failures: dict[int, LabelFailure], entry: dict) -> None:
    index = entry["i"]
    run.input_tokens += entry["it"]
    run.output_tokens += entry["ot"]
    run.cost_usd += entry["c"]
    if "d" in entry:
        run.decisions[index] = entry["d"]
        failures.pop(index, None)
    else:
        run.decisions[index] = None
        failures[index] = LabelFailure(index, entry["q"], tuple(entry["e"]), entry["r"])


def _entry_line(entry: dict) -> str:
    if "d" in entry:
        entry = {**entry, "d": entry["d"].to_json_dict()}
    return json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n"


class _Checkpoint:
    """An append-only JSONL: a header line with the run fingerprint, then one line per labelled index."""

    def __init__(self, path: Path, fingerprint: str, total: int):
        self.path = Path(path)
        self.fingerprint = fingerprint
        self.total = total
        self._handle: BinaryIO | None = None

    def load(self) -> list[dict]:
        """Entries of a matching checkpoint; a torn last line is cut off, a foreign checkpoint replaced."""
        entries: list[dict] = []
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            data = b""
        lines = data.split(b"\n")
        # Everything after the last newline is a line a crash cut short.
        complete, torn = lines[:-1], lines[-1]
        if not complete or not self._matches(complete[0]):
            self._start_fresh()
            return entries
        for line in complete[1:]:
            entry = self._decode(line)
            if entry is not None:
                entries.append(entry)
        if torn:
            with open(self.path, "r+b") as handle:
                handle.truncate(len(data) - len(torn))
        return entries

    def append(self, entries: list[dict]) -> None:
        if self._handle is None:
            self._handle = open(self.path, "ab")  # noqa: SIM115 - kept open across batches, closed in close()
        payload = "".join(_entry_line(e) for e in entries)
        self._handle.write(payload.encode("utf-8"))
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def _matches(self, header_line: bytes) -> bool:
        header = self._decode_json(header_line)
        return (
            isinstance(header, dict)
            and header.get("format") == CHECKPOINT_FORMAT
            and header.get("fingerprint") == self.fingerprint
        )

    def _start_fresh(self) -> None:
        header = {"format": CHECKPOINT_FORMAT, "fingerprint": self.fingerprint, "total": self.total}
        atomic_write_text(self.path, json.dumps(header) + "\n")

    def _decode(self, line: bytes) -> dict | None:
        """A well-formed entry for an index of this run, or None (that index is simply labelled again)."""
        entry = self._decode_json(line)
        if not isinstance(entry, dict):
            return None
        index = entry.get("i")
        if not isinstance(index, int) or not 0 <= index < self.total:
            return None
        try:
            tokens_ok = isinstance(entry["it"], int) and isinstance(entry["ot"], int)
            cost_ok = isinstance(entry["c"], (int, float))
            if "d" in entry:
                entry["d"] = RoutingDecision(**entry["d"])
            elif not (isinstance(entry["q"], str) and isinstance(entry["e"], list) and isinstance(entry["r"], str)):
                return None
        except (KeyError, TypeError, ValueError):
            return None
        return entry if tokens_ok and cost_ok else None

    @staticmethod
    def _decode_json(line: bytes) -> object:
        try:
            return json.loads(line)
        except ValueError:
            return None
