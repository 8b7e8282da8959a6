"""Run one local distillation job: `python -m core.distill.worker <data_dir> <job_id> [--store PATH]`.

The job goes through the one distillation pipeline (core.distill.pipeline): its datasets come from the
library, a prompt-only one is labelled by the teacher the job was submitted with (its answers, failures
included, go batch by batch to a checkpoint file in the job folder), and the student lands under
`<data_dir>/models/<model-id>/` as a registered custom model. The store is the only channel to the app:
phase, throttled progress and metrics go in, the stop request comes out. Any error ends the job Failed
with one sentence; the traceback goes to the job's log only.
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import re
import shutil
import sys
import time
from collections.abc import Sequence
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
from core.distill.pipeline import DatasetSource, PipelineFailure, StopRequested, run_distillation
from core.distill.trainer import TrainingStopped
from core.model_registry import ModelRegistry, ModelRegistryError, new_model_id
from core.naming import unique_name
from core.routers.base import Router
from core.settings import Settings
from core.store import NOW_SQL, Store, StoreError

log = logging.getLogger("core.distill.worker")

PROGRESS_WRITE_INTERVAL_S = 0.5
MAX_FAILURE_CHARS = 400
SHOWN_DETAIL_CHARS = 160


class JobEnded(Exception):
    """The job's record is no longer running (reconciled or deleted meanwhile): stop quietly."""


class JobReporter:
    """The worker's writes to the job record: phases at once, progress and metrics at most twice a second."""

    def __init__(self, store: Store, job_id: str):
        self.store = store
        self.job_id = job_id
        self.phase: JobPhase | None = None
        self._progress = 0.0
        self._pending_metrics: list[tuple[int, int | None, str, float]] = []
        self._last_write = 0.0

    def start(self) -> None:
        self._update(f"started_at = {NOW_SQL}, progress = 0", ())

    def enter(self, phase: JobPhase, progress: float) -> None:
        self.check_stop()
        self.phase = phase
        self._progress = progress
        log.info("phase %s", phase.value)
        self._flush_metrics()
        self._update("phase = ?, progress = ?", (phase.value, progress))

    def progress(self, value: float) -> None:
        self._progress = max(self._progress, min(1.0, value))
        if time.monotonic() - self._last_write >= PROGRESS_WRITE_INTERVAL_S:
            self.flush()

    def add_metrics(self, step: int, epoch: int | None, values: dict[str, float | None]) -> None:
        self._pending_metrics.extend(
            (step, epoch, name, float(value)) for name, value in values.items() if value is not None
        )

    def flush(self) -> None:
        self._flush_metrics()
        self._update("progress = ?", (self._progress,))

    def stop_requested(self) -> bool:
        row = self.store.query_one("SELECT stop_requested FROM jobs WHERE id = ?", (self.job_id,))
        return row is None or bool(row["stop_requested"])

    def check_stop(self) -> None:
        if self.stop_requested():
            raise StopRequested

    def finish(self, status: JobStatus, *, failure_message: str | None = None, model_id: str | None = None) -> None:
        self._flush_metrics()
        progress = 1.0 if status is JobStatus.COMPLETED else self._progress
        self.store.execute(
            f"UPDATE jobs SET status = ?, failure_message = ?, model_id = ?, progress = ?, ended_at = {NOW_SQL}, "
            f"updated_at = {NOW_SQL} WHERE id = ? AND status IN {ACTIVE_SQL}",
            (status.value, failure_message, model_id, progress, self.job_id),
        )
        log.info("job ended %s%s", status.value, f": {failure_message}" if failure_message else "")

    def _flush_metrics(self) -> None:
        if not self._pending_metrics:
            return
        rows = [(self.job_id, *metric) for metric in self._pending_metrics]
        with self.store.transaction() as conn:
            conn.executemany(
                "INSERT INTO job_metrics (job_id, step, epoch, name, value, recorded_at) "
                f"VALUES (?, ?, ?, ?, ?, {NOW_SQL})",
                rows,
            )
        self._pending_metrics.clear()

    def _update(self, assignments: str, params: tuple) -> None:
        changed = self.store.execute(
            f"UPDATE jobs SET {assignments}, updated_at = {NOW_SQL} WHERE id = ? AND status IN {ACTIVE_SQL}",
            (*params, self.job_id),
        )
        self._last_write = time.monotonic()
        if not changed:
            raise JobEnded


def run_job(store: Store, data_dir: Path, job_id: str) -> str:
    """Run a job recorded as InProgress to its end in this process; returns the final status."""
    data_dir = Path(data_dir).resolve()
    job = load_job(store, job_id)
    if job.status != JobStatus.IN_PROGRESS:
        log.info("job %s is %s; nothing to run", job_id, job.status)
        return job.status
    folder = job_dir(data_dir, job_id)
    folder.mkdir(parents=True, exist_ok=True)
    record_process(store, folder, job_id, os.getpid())
    reporter = JobReporter(store, job_id)
    try:
        reporter.start()
        model_id = _JobRun(store, data_dir, job, folder, reporter).run()
    except JobEnded:
        log.info("job %s was ended elsewhere; leaving it as it is", job_id)
    except (StopRequested, TrainingStopped):
        reporter.finish(JobStatus.STOPPED)
    except Exception as exc:
        log.exception("job %s failed in %s", job_id, reporter.phase.value if reporter.phase else "start-up")
        reporter.finish(JobStatus.FAILED, failure_message=failure_sentence(exc, reporter.phase))
    else:
        reporter.finish(JobStatus.COMPLETED, model_id=model_id)
    return load_job(store, job_id).status


class _JobRun:
    """One job through the distillation pipeline: its datasets from the library, its model into the registry."""

    def __init__(self, store: Store, data_dir: Path, job: Job, folder: Path, reporter: JobReporter):
        self.store = store
        self.data_dir = data_dir
        self.job = job
        self.folder = folder
        self.reporter = reporter
        self.params: DistillParams = job.distill_params()
        self.library = DatasetLibrary(store, data_dir)

    def run(self) -> str:
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
        try:
            registry.register(
                self._model_name(registry), self.job.id, self.job.dataset_id, folder, made.figures, model_id=model_id
            )
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        log.info("model %s saved in %s", model_id, folder)
        return model_id

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
        """The requested name (the registry refuses it if taken meanwhile), else one made from the job's name."""
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
    store = Store(args.store or Settings(data_dir=args.data_dir).store_path)
    try:
        status = run_job(store, args.data_dir, args.job_id)
    except JobNotFoundError as exc:
        log.error("%s", exc)
        return 2
    return 0 if status in (JobStatus.COMPLETED, JobStatus.STOPPED) else 1


if __name__ == "__main__":
    sys.exit(main())
