"""Label queries with a teacher router: concurrent or batched, with progress, resumable from a checkpoint.

A reply the router could not turn into weights is kept as a `LabelFailure` (query, errors, raw reply)
instead of stopping the run, so one bad answer in 10,000 costs one record, not the run; failures can be
retried later. A remote (billable) teacher is called by a bounded pool of workers, one query each, so a
slow call holds up only its own worker; an on-box one in large batches. Finished answers are appended
to a checkpoint JSONL as whole lines as they arrive (flushed at once, fsynced at least every
CHECKPOINT_FSYNC_S): after a crash or a closed tab the run resumes from the last complete line and never
relabels (or pays for) what is already done. Progress is reported as a `LabelProgress` (done, rate, ETA,
cost so far), the one payload the pages and the command line show.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from core.datasets.files import DatasetTags, ManifestFields, make_record
from core.files import atomic_write_text, path_inside
from core.routers.base import Router
from core.schema import RouteResult, RoutingDecision

if TYPE_CHECKING:
    from core.datasets.files import LoadedDataset
    from core.synth import SynthQuery

LOCAL_BATCH_SIZE = 256
BEDROCK_BATCH_SIZE = 16
CHECKPOINT_FORMAT = "vsrs-label-checkpoint-1"
CHECKPOINTS_DIR = "labelling"
# A killed process keeps every flushed line; only a power cut can lose the answers of the last interval.
CHECKPOINT_FSYNC_S = 0.25
# This many failures in a row (no credentials, a model without access, a prompt it cannot answer) stop the
# run instead of paying for thousands more of them; what was done stays in the checkpoint.
FAILURE_STREAK_LIMIT = 20

ProgressCallback = Callable[[int, int], None]
StopCheck = Callable[[], bool]


@dataclass(frozen=True)
class LabelProgress:
    """Where a labelling run is: the one progress payload the pages and the command line show."""

    total: int
    labelled: int
    failed: int
    resumed: int
    elapsed_s: float
    cost_usd: float
    in_flight: int = 0

    @property
    def done(self) -> int:
        return self.labelled + self.failed

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0

    @property
    def rate_per_s(self) -> float | None:
        """Records finished per second in this session (resumed ones are not counted)."""
        finished_now = self.done - self.resumed
        return finished_now / self.elapsed_s if finished_now > 0 and self.elapsed_s > 0 else None

    @property
    def eta_s(self) -> float | None:
        rate = self.rate_per_s
        return (self.total - self.done) / rate if rate else None

    def sentence(self) -> str:
        """E.g. "412 of 1,000 done (3 failed), 18.2 per second, about 32 s left, $0.41 so far"."""
        parts = [f"{self.done:,} of {self.total:,} done"]
        if self.failed:
            parts[0] += f" ({self.failed:,} failed)"
        if self.resumed:
            parts.append(f"{self.resumed:,} from the checkpoint")
        if self.rate_per_s is not None:
            parts.append(f"{self.rate_per_s:,.1f} per second")
        if self.eta_s is not None and self.done < self.total:
            parts.append(f"about {_duration(self.eta_s)} left")
        parts.append(f"${self.cost_usd:,.4f} so far")
        return ", ".join(parts)

    def to_json_dict(self) -> dict[str, object]:
        return {
            "total": self.total,
            "done": self.done,
            "labelled": self.labelled,
            "failed": self.failed,
            "resumed": self.resumed,
            "elapsed_s": round(self.elapsed_s, 3),
            "rate_per_s": self.rate_per_s,
            "eta_s": self.eta_s,
            "cost_usd": self.cost_usd,
        }


UpdateCallback = Callable[[LabelProgress], None]


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
    # Why the run stopped by itself (a streak of failures), or None.
    aborted: str | None = None
    elapsed_s: float = 0.0

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
    concurrency: int | None = None,
    on_progress: ProgressCallback | None = None,
    on_update: UpdateCallback | None = None,
    should_stop: StopCheck | None = None,
    retry_failed: bool = False,
) -> LabelRun:
    """Label every query with `router`.

    A remote router is called by `concurrency` workers (default: the router's own `concurrency`), one query
    each; an on-box one `batch_size` queries at a time. With a checkpoint, indices already labelled (or
    already failed, unless `retry_failed`) by a run with the same fingerprint are skipped; a checkpoint for
    another router or query list is replaced. `should_stop` is asked as answers arrive: a stopped run
    records the calls already in flight (they are paid for), returns what it has and resumes later.
    An exception from the router itself propagates; the checkpoint keeps what was done.
    """
    workers = concurrency if concurrency is not None else int(getattr(router, "concurrency", 1))
    if workers < 1:
        raise ValueError("concurrency must be at least 1")
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
    session = _Session(run, failures, checkpoint, on_progress, on_update, len(queries) - len(todo))
    session.report()
    try:
        if router.remote:
            _label_concurrently(router, queries, todo, workers, session, should_stop)
        else:
            _label_in_batches(router, queries, todo, batch_size, session, should_stop)
    finally:
        if checkpoint is not None:
            checkpoint.close()
        run.elapsed_s = session.elapsed_s()
    run.failures = [failures[i] for i in sorted(failures)]
    return run


class _Session:
    """One call of label_queries: applies finished entries (checkpoint first), counts streaks, reports progress."""

    def __init__(self, run, failures, checkpoint, on_progress, on_update, done: int):
        self.run: LabelRun = run
        self.failures: dict[int, LabelFailure] = failures
        self.checkpoint: _Checkpoint | None = checkpoint
        self.on_progress = on_progress
        self.on_update = on_update
        self.done = done
        self.streak = 0
        self.started = time.monotonic()
        self.in_flight = 0

    def elapsed_s(self) -> float:
        return time.monotonic() - self.started

    def record(self, entries: list[dict]) -> None:
        if self.checkpoint is not None:
            self.checkpoint.append(entries)
        for entry in entries:
            _apply_entry(self.run, self.failures, entry)
            self.streak = self.streak + 1 if "d" not in entry else 0
            if self.streak >= FAILURE_STREAK_LIMIT and self.run.aborted is None:
                self.run.aborted = (
                    f"Stopped after {FAILURE_STREAK_LIMIT} answers in a row failed; the last one: "
                    f"{entry['e'][0].rstrip('.')}. Fix that and resume: finished records are kept."
                )
        self.done += len(entries)
        self.report()

    def report(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self.done, self.run.total)
        if self.on_update is not None:
            self.on_update(
                LabelProgress(
                    total=self.run.total,
                    labelled=self.run.labelled,
                    failed=len(self.failures),
                    resumed=self.run.resumed,
                    elapsed_s=self.elapsed_s(),
                    cost_usd=self.run.cost_usd,
                    in_flight=self.in_flight,
                )
            )

    def should_end(self, should_stop: StopCheck | None) -> bool:
        if self.run.aborted is not None or (should_stop is not None and should_stop()):
            self.run.stopped = True
        return self.run.stopped


def _label_in_batches(
    router: Router, queries: list[str], todo: list[int], batch_size: int, session: _Session, should_stop
) -> None:
    for start in range(0, len(todo), batch_size):
        if session.should_end(should_stop):
            return
        indices = todo[start : start + batch_size]
        results = router.route_batch([queries[i] for i in indices])
        session.record([_entry(index, result) for index, result in zip(indices, results, strict=True)])


def _label_concurrently(
    router: Router, queries: list[str], todo: list[int], workers: int, session: _Session, should_stop
) -> None:
    """A bounded pool: `workers` calls in flight, a new one started as each answer arrives and is recorded."""
    pending: Iterator[int] = iter(todo)
    in_flight: dict[Future[RouteResult], int] = {}
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="label") as pool:

        def start_next() -> None:
            index = next(pending, None)
            if index is not None:
                in_flight[pool.submit(_route_one, router, queries[index])] = index

        for _ in range(workers):
            start_next()
        try:
            while in_flight:
                session.in_flight = len(in_flight)
                finished, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                entries, error = [], None
                for future in finished:
                    index = in_flight.pop(future)
                    try:
                        entries.append(_entry(index, future.result()))
                    except Exception as exc:  # the router itself broke: keep the others' answers, then raise
                        error = error or exc
                session.in_flight = len(in_flight)
                if entries:
                    session.record(entries)
                if error is not None:
                    raise error
                if not session.should_end(should_stop):
                    for _ in finished:
                        start_next()
        finally:
            for future in in_flight:
                future.cancel()


def _route_one(router: Router, query: str) -> RouteResult:
    return router.route_batch([query])[0]


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


@dataclass
class DatasetLabelling:
    """A dataset's queries labelled: the run (failures with their raw replies) and the labelled dataset's rows."""

    run: LabelRun
    records: list[dict]
    tags: list[DatasetTags]
    manifest_fields: ManifestFields


def dataset_queries(loaded: LoadedDataset) -> list[str]:
    """The queries of a valid dataset, in record order (a labelled one's labels are ignored)."""
    if not loaded.ok:
        raise ValueError(f"the dataset is not valid: {loaded.report.verdict}")
    return [query or "" for query in loaded.queries]


def label_dataset(
    router: Router,
    loaded: LoadedDataset,
    *,
    teacher_id: str,
    source_name: str,
    checkpoint_dir: Path | None = None,
    concurrency: int | None = None,
    on_update: UpdateCallback | None = None,
    should_stop: StopCheck | None = None,
    retry_failed: bool = False,
) -> DatasetLabelling:
    """Label every query of a dataset file with `router`: the `label` command and the pages call this.

    A billable router checkpoints under `checkpoint_dir`, so running it again resumes (and `retry_failed`
    asks again only for the failures). The labelled dataset keeps the source's tags and provenance; failed
    and unfinished records are left out of it and listed in the run.
    """
    from core.synth import SynthQuery

    queries = dataset_queries(loaded)
    checkpoint = checkpoint_path_for(checkpoint_dir, router, queries) if checkpoint_dir and router.billable else None
    run = label_queries(
        router,
        queries,
        checkpoint_path=checkpoint,
        concurrency=concurrency,
        on_update=on_update,
        should_stop=should_stop,
        retry_failed=retry_failed,
    )
    items = [
        SynthQuery(query, tag.focus, tag.difficulty, tag.domain)
        for query, tag in zip(queries, loaded.tags, strict=True)
    ]
    records, tags = build_dataset_rows(items, run)
    inherited = (
        loaded.manifest.model_dump(include={"seed", "mix", "generator_version", "notes"}) if loaded.manifest else {}
    )
    notes = {**inherited.get("notes", {}), "labelled_from": source_name}
    fields = ManifestFields.model_validate({**inherited, "notes": notes, **run.manifest_fields(teacher_id)})
    return DatasetLabelling(run, records, tags, fields)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _entry(index: int, result: RouteResult) -> dict:
    """One checkpoint entry: compact keys, the decision when valid, the errors and raw reply when not."""
    entry: dict = {"i": index, "it": result.input_tokens, "ot": result.output_tokens, "c": result.cost_usd}
    if result.decision is not None and result.valid:
        entry["d"] = result.decision
    else:
        if result.token_source == "estimated":
            # No usage reported: the call failed (throttled, denied) before a model answered, and bills nothing.
            entry.update({"it": 0, "ot": 0, "c": 0.0})
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
        self._synced_at = 0.0

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
        if time.monotonic() - self._synced_at >= CHECKPOINT_FSYNC_S:
            self._sync()

    def close(self) -> None:
        if self._handle is not None:
            self._sync()
            self._handle.close()
            self._handle = None

    def _sync(self) -> None:
        assert self._handle is not None
        os.fsync(self._handle.fileno())
        self._synced_at = time.monotonic()

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
