"""Run one local distillation job: `python -m core.distill.worker <data_dir> <job_id> [--store PATH]`.

The job goes through the one distillation pipeline (core.distill.pipeline): its datasets come from the
library, a prompt-only one is labelled by the teacher the job was submitted with (its answers, failures
included, go batch by batch to a checkpoint file in the job folder), and the student lands under
`<data_dir>/models/<model-id>/`, registered in the same transaction that records the job's end. The store
is the only channel to the app: phase, throttled progress and metrics go in, the stop request comes out.
Any error ends the job Failed with one sentence; the traceback goes to the job's log only.

Another process holding the store's lock never costs the job: progress waits and is written later, the
start and the end are retried with backoff, and an end the store still cannot take is kept in the job
folder (core.distill.outcome) for the next reconcile to record.
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from core.datasets.library import DatasetLibrary, DatasetLibraryError
from core.distill.artifact import StudentArtifactError
from core.distill.jobs import (
    ACTIVE_SQL,
    LABEL_CHECKPOINT_FILE,
    DistillParams,
    Job,
    JobError,
    JobNotFoundError,
    JobPhase,
    JobStatus,
    job_dir,
    job_making_model,
    labelling_teacher,
    load_job,
    record_process,
)
from core.distill.outcome import (
    OUTCOME_FILE,
    JobOutcome,
    ModelRecord,
    record_outcome,
    remove_outcome_file,
    write_outcome_file,
)
from core.distill.pipeline import DatasetSource, PipelineFailure, StopRequested, run_distillation
from core.distill.trainer import TrainingStopped
from core.model_registry import ModelRegistry, ModelRegistryError, new_model_id
from core.naming import unique_name
from core.routers.base import Router
from core.settings import Settings
from core.store import BUSY_TIMEOUT_S, NOW_SQL, Store, StoreBusyError, StoreError, retry_while_busy

log = logging.getLogger("core.distill.worker")

PROGRESS_WRITE_INTERVAL_S = 0.5
# A progress write waits this long for another process's lock before it is put off: training goes on.
DEFERRED_WRITE_TIMEOUT_S = 0.2
# After a busy store, progress is next tried this much later, doubling up to the longest pause.
DEFERRED_FIRST_PAUSE_S = 1.0
DEFERRED_LONGEST_PAUSE_S = 10.0
# How long the job's start and its end keep trying while another process holds the store's lock; past it the
# end stays in the job folder's outcome file, which the next reconcile records.
FINAL_WRITE_DEADLINE_S = 300.0
MAX_FAILURE_CHARS = 400
SHOWN_DETAIL_CHARS = 160


class JobEnded(Exception):
    """The job's record is no longer running (reconciled or deleted meanwhile): stop quietly."""


class JobReporter:
    """The worker's writes to the job record: phases at once, progress and metrics at most twice a second.

    None of them is lost to a busy store: while another process holds the lock they are kept and written
    with the next write that gets through (or with the job's end), and the training goes on meanwhile.
    """

    def __init__(self, store: Store, job_id: str, data_dir: Path | None = None):
        self.store = store
        self.job_id = job_id
        # The studio's layout keeps studio.db in the data directory (core.settings).
        self.data_dir = Path(data_dir) if data_dir is not None else store.path.parent
        self.phase: JobPhase | None = None
        self.progress_value = 0.0
        self._pending_metrics: list[tuple[int, int | None, str, float]] = []
        self._last_write = 0.0
        self._next_try = 0.0
        self._pause = DEFERRED_FIRST_PAUSE_S

    def start(self) -> None:
        def write() -> None:
            if not self.store.execute(
                f"UPDATE jobs SET started_at = {NOW_SQL}, progress = 0, updated_at = {NOW_SQL} "
                f"WHERE id = ? AND status IN {ACTIVE_SQL}",
                (self.job_id,),
            ):
                raise JobEnded

        retry_while_busy(write, deadline_s=FINAL_WRITE_DEADLINE_S, what="the job's start")

    def enter(self, phase: JobPhase, progress: float) -> None:
        self.check_stop()
        self.phase = phase
        self.progress_value = progress
        log.info("phase %s", phase.value)
        self.flush(force=True)

    def progress(self, value: float) -> None:
        self.progress_value = max(self.progress_value, min(1.0, value))
        if time.monotonic() - self._last_write >= PROGRESS_WRITE_INTERVAL_S:
            self.flush()

    def add_metrics(self, step: int, epoch: int | None, values: dict[str, float | None]) -> None:
        self._pending_metrics.extend(
            (step, epoch, name, float(value)) for name, value in values.items() if value is not None
        )

    def flush(self, *, force: bool = False) -> None:
        """Write the phase, progress and pending metrics now, or put them off while the store is busy."""
        now = time.monotonic()
        if now < self._next_try and not force:
            return
        try:
            with self.store.transaction(DEFERRED_WRITE_TIMEOUT_S) as conn:
                changed = conn.execute(
                    f"UPDATE jobs SET phase = COALESCE(?, phase), progress = ?, updated_at = {NOW_SQL} "
                    f"WHERE id = ? AND status IN {ACTIVE_SQL}",
                    (self.phase.value if self.phase else None, self.progress_value, self.job_id),
                ).rowcount
                if changed and self._pending_metrics:
                    conn.executemany(
                        "INSERT INTO job_metrics (job_id, step, epoch, name, value, recorded_at) "
                        f"VALUES (?, ?, ?, ?, ?, {NOW_SQL})",
                        [(self.job_id, *metric) for metric in self._pending_metrics],
                    )
        except StoreBusyError:
            if self._pause == DEFERRED_FIRST_PAUSE_S:
                log.warning("the store is busy (another process holds its lock): progress is kept and written later")
            self._next_try = now + self._pause
            self._pause = min(self._pause * 2, DEFERRED_LONGEST_PAUSE_S)
            return
        self._last_write = time.monotonic()
        self._next_try, self._pause = 0.0, DEFERRED_FIRST_PAUSE_S
        if not changed:
            raise JobEnded
        self._pending_metrics.clear()

    def finish(self, status: JobStatus, *, failure_message: str | None = None) -> str:
        """End the job without a model (Stopped, or Failed with its sentence), as run_job ends one."""
        progress = 1.0 if status is JobStatus.COMPLETED else self.progress_value
        outcome = JobOutcome(status.value, failure_message, progress, metrics=self.take_pending_metrics())
        return end_job(self.store, self.data_dir, self.job_id, outcome)

    def take_pending_metrics(self) -> list[tuple[int, int | None, str, float]]:
        """The metrics not written yet (they go with the job's end)."""
        pending, self._pending_metrics = self._pending_metrics, []
        return pending

    def stop_requested(self) -> bool:
        try:
            row = self.store.query_one("SELECT stop_requested FROM jobs WHERE id = ?", (self.job_id,))
        except StoreBusyError:
            return False  # not known now; asked again at the next check
        return row is None or bool(row["stop_requested"])

    def check_stop(self) -> None:
        if self.stop_requested():
            raise StopRequested


def run_job(store: Store, data_dir: Path, job_id: str) -> str:
    """Run a job recorded as InProgress to its end in this process; returns the final status."""
    data_dir = Path(data_dir).resolve()
    job = retry_while_busy(lambda: load_job(store, job_id), deadline_s=FINAL_WRITE_DEADLINE_S, what="the job")
    if job.status != JobStatus.IN_PROGRESS:
        log.info("job %s is %s; nothing to run", job_id, job.status)
        return job.status
    folder = job_dir(data_dir, job_id)
    folder.mkdir(parents=True, exist_ok=True)
    reporter = JobReporter(store, job_id, data_dir)
    try:
        retry_while_busy(
            lambda: record_process(store, folder, job_id, os.getpid()),
            deadline_s=FINAL_WRITE_DEADLINE_S,
            what="the job's process",
        )
        reporter.start()
        model = _JobRun(store, data_dir, job, folder, reporter).run()
    except JobEnded:
        log.info("job %s was ended elsewhere; leaving it as it is", job_id)
        return load_job(store, job_id).status
    except (StopRequested, TrainingStopped):
        outcome = JobOutcome(JobStatus.STOPPED.value, progress=reporter.progress_value)
    except Exception as exc:
        log.exception("job %s failed in %s", job_id, reporter.phase.value if reporter.phase else "start-up")
        sentence = failure_sentence(exc, reporter.phase)
        outcome = JobOutcome(JobStatus.FAILED.value, sentence, progress=reporter.progress_value)
    else:
        outcome = JobOutcome(JobStatus.COMPLETED.value, progress=1.0, model=model)
    return end_job(store, data_dir, job_id, replace(outcome, metrics=reporter.take_pending_metrics()))


def end_job(store: Store, data_dir: Path, job_id: str, outcome: JobOutcome) -> str:
    """Record how the job ended; kept in the job folder first, so that a store out of reach loses nothing."""
    folder = job_dir(data_dir, job_id)
    kept = write_outcome_file(folder, outcome)
    try:
        retry_while_busy(
            lambda: record_outcome(
                store, data_dir, job_id, outcome, busy_timeout_s=min(BUSY_TIMEOUT_S, FINAL_WRITE_DEADLINE_S)
            ),
            deadline_s=FINAL_WRITE_DEADLINE_S,
            what=f"the end of job {job_id}",
        )
    except StoreError as exc:
        where = f"; it is kept in {folder / OUTCOME_FILE} for the studio to record later" if kept else ""
        log.error("job %s ended %s but the store could not record it (%s)%s", job_id, outcome.status, exc, where)
        return outcome.status
    remove_outcome_file(folder)
    return load_job(store, job_id).status


class _JobRun:
    """One job through the distillation pipeline: its datasets from the library, its model for the registry."""

    def __init__(self, store: Store, data_dir: Path, job: Job, folder: Path, reporter: JobReporter):
        self.store = store
        self.data_dir = data_dir
        self.job = job
        self.folder = folder
        self.reporter = reporter
        self.params: DistillParams = job.distill_params()
        self.library = DatasetLibrary(store, data_dir)

    def run(self) -> ModelRecord:
        train = self._source(self.job.dataset_id or "", "training")
        heldout = self._source(self.params.heldout_dataset_id, "held-out") if self.params.heldout_dataset_id else None
        registry = ModelRegistry(self.store, self.data_dir)
        model_id = new_model_id()
        folder = registry.model_dir(model_id)
        made = run_distillation(
            train,
            self.params,
            folder,
            self.reporter,
            heldout=heldout,
            teacher=self._teacher,
            teacher_name=self.params.teacher,
            label_checkpoint=self.folder / LABEL_CHECKPOINT_FILE,
        )
        log.info("model %s saved in %s", model_id, folder)
        # Registered with the job's end, in one transaction (core.distill.outcome).
        return ModelRecord(
            id=model_id,
            name=self._model_name(registry),
            name_requested=bool(self.params.model_name),
            folder=folder.relative_to(self.data_dir).as_posix(),
            dataset_id=self.job.dataset_id,
            dataset_name=train.name,
            metrics=made.figures,
        )

    def _source(self, dataset_id: str, role: str) -> DatasetSource:
        try:
            info = self.library.get(dataset_id)
        except DatasetLibraryError as exc:
            raise PipelineFailure(
                f"The {role} dataset {dataset_id!r} was deleted from the library after the job was submitted."
            ) from exc
        return DatasetSource(info.name, info.path, info.sha256)

    def _teacher(self, n_queries: int) -> Router:
        """The labelling teacher this job was submitted with (its backend's, by its one name)."""
        return labelling_teacher(self.params.teacher, self.store, self.data_dir)

    def _model_name(self, registry: ModelRegistry) -> str:
        """The requested name (refused at registration if taken meanwhile), else one made from the job's name."""
        if self.params.model_name:
            return self.params.model_name
        # Job names may hold '.' and '+', which model names may not.
        base = re.sub(r"[^0-9A-Za-z]+", "-", self.job.name).strip("-")[:56] or "student"
        return unique_name(base, lambda name: registry.name_taken(name) or self._requested_by_another_job(name))

    def _requested_by_another_job(self, model_name: str) -> bool:
        with self.store.connect() as conn:
            return job_making_model(conn, model_name, other_than=self.job.id) is not None


def failure_sentence(exc: BaseException, phase: JobPhase | None) -> str:
    """One sentence for the job record; the traceback stays in the log."""
    stage = phase.value if phase else "Start-up"
    if isinstance(exc, (PipelineFailure, JobError, StudentArtifactError, ModelRegistryError, StoreError)):
        text = str(exc)
    elif isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        text = "The disk holding the data directory is full; free some space and run the job again."
    elif isinstance(exc, OSError):
        text = f"{stage} failed: a file could not be read or written ({exc.strerror or exc}); see the job log."
    elif isinstance(exc, ValueError) and phase is JobPhase.TRAINING:
        text = f"Training failed: {exc}."
    else:
        detail = str(exc).strip().splitlines()[0][:SHOWN_DETAIL_CHARS] if str(exc).strip() else ""
        text = f"{stage} failed unexpectedly ({type(exc).__name__}{': ' + detail if detail else ''}); see the job log."
    text = " ".join(text.split())
    return text if len(text) <= MAX_FAILURE_CHARS else text[: MAX_FAILURE_CHARS - 1] + "…"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.distill.worker", description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("job_id")
    parser.add_argument("--store", type=Path, help="the studio database (default: <data_dir>/studio.db)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s")
    path = args.store or Settings(data_dir=args.data_dir).store_path
    store = retry_while_busy(lambda: Store(path), deadline_s=FINAL_WRITE_DEADLINE_S, what="opening the store")
    try:
        status = run_job(store, args.data_dir, args.job_id)
    except JobNotFoundError as exc:
        log.error("%s", exc)
        return 2
    return 0 if status in (JobStatus.COMPLETED, JobStatus.STOPPED) else 1


if __name__ == "__main__":
    sys.exit(main())
