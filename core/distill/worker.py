"""Run one local distillation job: `python -m core.distill.worker <data_dir> <job_id> [--store PATH]`.

Phases as on Bedrock: Validation (the dataset file, line by line), DataProcessing (the local teacher
labels a prompt-only dataset; its answers, failures included, go batch by batch to a checkpoint file in
the job folder, kept there for inspection: a job runs only once, so a new job labels afresh), Training
(per-epoch metrics to the store), then a held-out evaluation through the served student router, the
artifact under `<data_dir>/models/<model-id>/` and a registered custom model. The store is the only
channel to the app: phase, throttled progress and metrics go in, the stop request comes out. Any error
ends the job Failed with one sentence; the traceback goes to the job's log only.
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
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.datasets.files import LoadedDataset, read_dataset, split_dataset
from core.datasets.library import DatasetInfo, DatasetLibrary, DatasetLibraryError
from core.datasets.validation import MIN_RECORDS
from core.distill.artifact import StudentArtifactError, save_student
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
    load_job,
    record_process,
)
from core.distill.student_model import Provenance, StudentModel
from core.distill.trainer import EpochReport, TrainingStopped, decision_targets, train_student
from core.evaluate import score_pairs
from core.labelling import label_queries
from core.model_registry import (
    HELDOUT_AGREEMENT,
    HELDOUT_MAE,
    HELDOUT_N,
    HELDOUT_RUBRIC,
    ModelRegistry,
    ModelRegistryError,
    new_model_id,
)
from core.pricing import load_price_table
from core.routers.reference import ReferenceTeacher
from core.routers.student import StudentRouter
from core.schema import RoutingDecision
from core.settings import Settings
from core.store import NOW_SQL, Store, StoreError

log = logging.getLogger("core.distill.worker")

# Where each phase ends on the job's single 0-1 progress bar.
VALIDATION_END = 0.05
DATA_PROCESSING_END = 0.25
TRAINING_END = 0.95
PROGRESS_WRITE_INTERVAL_S = 0.5
SHOWN_PROBLEMS = 3
MAX_FAILURE_CHARS = 400
SHOWN_DETAIL_CHARS = 160


class StopRequested(Exception):
    """The user asked the job to stop; it ends Stopped."""


class JobFailure(Exception):
    """A failure already worded for the user (one sentence)."""


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


@dataclass
class LabelledSet:
    queries: list[str]
    decisions: list[RoutingDecision]

    def targets(self) -> np.ndarray:
        return decision_targets(self.decisions)

    def __len__(self) -> int:
        return len(self.queries)


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
        model_id = _Pipeline(store, data_dir, job, folder, reporter).run()
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


class _Pipeline:
    def __init__(self, store: Store, data_dir: Path, job: Job, folder: Path, reporter: JobReporter):
        self.store = store
        self.data_dir = data_dir
        self.job = job
        self.folder = folder
        self.reporter = reporter
        self.params: DistillParams = job.distill_params()
        self.library = DatasetLibrary(store, data_dir)

    def run(self) -> str:
        self.reporter.enter(JobPhase.VALIDATION, 0.0)
        dataset, loaded = self._validated(self.job.dataset_id or "", "training")
        heldout_loaded = None
        if self.params.heldout_dataset_id is not None:
            _, heldout_loaded = self._validated(self.params.heldout_dataset_id, "held-out", min_records=1)
        self.reporter.progress(VALIDATION_END)

        self.reporter.enter(JobPhase.DATA_PROCESSING, VALIDATION_END)
        queries, decisions, teacher_id = self._labelled(dataset, loaded)
        train, heldout = self._split(queries, decisions, loaded, heldout_loaded)
        log.info("%d training and %d held-out examples", len(train), len(heldout) if heldout else 0)
        self.reporter.progress(DATA_PROCESSING_END)

        self.reporter.enter(JobPhase.TRAINING, DATA_PROCESSING_END)
        provenance = Provenance(
            dataset_sha256=loaded.report.sha256,
            teacher_id=teacher_id,
            prompt_version=loaded.manifest.prompt_version if loaded.manifest else None,
        )
        model = train_student(
            train.queries,
            train.targets(),
            self.params.training_config(),
            on_epoch=self._on_epoch,
            should_stop=self.reporter.stop_requested,
            provenance=provenance,
        )
        self.reporter.progress(TRAINING_END)
        self.reporter.check_stop()
        figures = self._evaluate(model, heldout)
        self.reporter.check_stop()
        return self._save(model, figures)

    def _validated(
        self, dataset_id: str, role: str, *, min_records: int = MIN_RECORDS
    ) -> tuple[DatasetInfo, LoadedDataset]:
        try:
            info = self.library.get(dataset_id)
        except DatasetLibraryError as exc:
            raise JobFailure(
                f"The {role} dataset {dataset_id!r} was deleted from the library after the job was submitted."
            ) from exc
        try:
            loaded = read_dataset(info.path, min_records=min_records)
        except OSError as exc:
            raise JobFailure(
                f"The {role} dataset {info.name!r} could not be read ({exc.strerror or exc}); import it again."
            ) from exc
        report = loaded.report
        if not report.ok:
            shown = "; ".join(report.lines()[:SHOWN_PROBLEMS])
            more = report.problem_count - min(SHOWN_PROBLEMS, len(report.problems))
            tail = f"; and {more} more problem{'s' if more != 1 else ''}" if more > 0 else ""
            raise JobFailure(f"The {role} dataset {info.name!r} is not valid: {shown}{tail}.")
        if report.sha256 != info.sha256:
            log.warning("dataset %s changed on disk since it was saved (sha256 %s)", info.name, report.sha256)
        if role == "held-out" and any(decision is None for decision in loaded.decisions):
            raise JobFailure(f"The held-out dataset {info.name!r} has no labels: label it with a teacher first.")
        return info, loaded

    def _labelled(
        self, dataset: DatasetInfo, loaded: LoadedDataset
    ) -> tuple[list[str], list[RoutingDecision | None], str | None]:
        """Every query with its label (None where the teacher failed), and who labelled them."""
        queries = [query or "" for query in loaded.queries]
        if all(decision is not None for decision in loaded.decisions):
            teacher_id = loaded.manifest.teacher_id if loaded.manifest else None
            return queries, list(loaded.decisions), teacher_id
        teacher = ReferenceTeacher(load_price_table(self.store))
        span = DATA_PROCESSING_END - VALIDATION_END
        run = label_queries(
            teacher,
            queries,
            checkpoint_path=self.folder / LABEL_CHECKPOINT_FILE,
            on_progress=lambda done, total: self.reporter.progress(VALIDATION_END + span * done / max(total, 1)),
            should_stop=self.reporter.stop_requested,
        )
        if run.stopped:
            raise StopRequested
        if run.failures:
            log.warning("the teacher could not label %d of %d queries; they are left out", run.failed, run.total)
        if not run.labelled:
            raise JobFailure(f"The teacher labelled none of the {run.total} queries of {dataset.name!r}.")
        return queries, list(run.decisions), self.params.teacher

    def _split(
        self,
        queries: list[str],
        decisions: list[RoutingDecision | None],
        loaded: LoadedDataset,
        heldout_loaded: LoadedDataset | None,
    ) -> tuple[LabelledSet, LabelledSet | None]:
        usable = [i for i, decision in enumerate(decisions) if decision is not None]
        everything = _subset(queries, decisions, usable)
        if heldout_loaded is not None:
            held_queries = [q or "" for q in heldout_loaded.queries]
            return everything, _subset(held_queries, heldout_loaded.decisions, range(len(held_queries)))
        if self.params.heldout_ratio <= 0:
            return everything, None
        # Split record positions (stratified by the records' focus tags) rather than the records themselves.
        positions = [{"position": i} for i in usable]
        train_part, _, held_part, _ = split_dataset(
            positions, [loaded.tags[i] for i in usable], self.params.heldout_ratio, self.params.seed
        )
        if not train_part or not held_part:
            raise JobFailure(
                f"{len(usable)} labelled examples are too few to hold out {self.params.heldout_ratio:.0%}: "
                "add data or set the held-out share to 0."
            )
        return (
            _subset(queries, decisions, [item["position"] for item in train_part]),
            _subset(queries, decisions, [item["position"] for item in held_part]),
        )

    def _on_epoch(self, report: EpochReport) -> None:
        self.reporter.add_metrics(
            report.epoch,
            report.epoch,
            {
                "train_loss": report.train_loss,
                "validation_loss": report.validation_loss,
                "validation_agreement": report.validation_agreement,
                "validation_mae": report.validation_mae,
            },
        )
        span = TRAINING_END - DATA_PROCESSING_END
        self.reporter.progress(DATA_PROCESSING_END + span * report.epoch / report.max_epochs)

    def _evaluate(self, model: StudentModel, heldout: LabelledSet | None) -> dict[str, float | int | None]:
        training = model.manifest.training_metrics
        figures: dict[str, float | int | None] = {
            # Every example given to training, the trainer's early-stopping share included.
            "n_train": int(training.get("n_train", 0)) + int(training.get("n_validation", 0)),
            "epochs_run": training.get("epochs_run"),
            "best_epoch": training.get("best_epoch"),
            "validation_agreement": training.get("validation_agreement"),
        }
        if heldout is None:
            return figures
        # Scored through the router users deploy (0.05-rounded weights), as `evaluate` would score it.
        results = StudentRouter(model).route_batch(heldout.queries)
        scores = score_pairs(results, heldout.decisions)
        figures.update(
            {
                HELDOUT_N: scores["n"],
                HELDOUT_AGREEMENT: scores["dominant_accuracy"],
                HELDOUT_MAE: scores["mae"],
                HELDOUT_RUBRIC: scores["rubric_mean"],
                "heldout_validity": scores["validity"],
            }
        )
        step = int(training.get("epochs_run") or 0)
        self.reporter.add_metrics(
            step,
            step,
            {
                HELDOUT_AGREEMENT: scores["dominant_accuracy"],
                HELDOUT_MAE: scores["mae"],
                HELDOUT_RUBRIC: scores["rubric_mean"],
            },
        )
        model.manifest = model.manifest.model_copy(
            update={
                "heldout_metrics": {
                    "n": scores["n"],
                    "dominant_accuracy": scores["dominant_accuracy"],
                    "mae": scores["mae"],
                    "rubric_mean": scores["rubric_mean"],
                    "validity": scores["validity"],
                }
            }
        )
        return figures

    def _save(self, model: StudentModel, figures: dict[str, float | int | None]) -> str:
        registry = ModelRegistry(self.store, self.data_dir)
        model_id = new_model_id()
        folder = registry.model_dir(model_id)
        save_student(model, folder)
        try:
            registry.register(
                self._model_name(registry), self.job.id, self.job.dataset_id, folder, figures, model_id=model_id
            )
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        log.info("model %s saved in %s", model_id, folder)
        return model_id

    def _model_name(self, registry: ModelRegistry) -> str:
        """The requested name (the registry refuses it if taken meanwhile), else one made from the job's name."""
        if self.params.model_name:
            return self.params.model_name
        # Job names may hold '.' and '+', which model names may not.
        base = re.sub(r"[^0-9A-Za-z]+", "-", self.job.name).strip("-")[:56] or "student"
        name, number = base, 2
        while registry.name_taken(name) or self._requested_by_another_job(name):
            name, number = f"{base}-{number}", number + 1
        return name

    def _requested_by_another_job(self, model_name: str) -> bool:
        with self.store.connect() as conn:
            return job_making_model(conn, model_name, other_than=self.job.id) is not None


def _subset(queries: Sequence[str], decisions: Sequence[RoutingDecision | None], picked: Sequence[int]) -> LabelledSet:
    chosen = [(queries[i], decision) for i in picked if (decision := decisions[i]) is not None]
    return LabelledSet([query for query, _ in chosen], [decision for _, decision in chosen])


def failure_sentence(exc: BaseException, phase: JobPhase | None) -> str:
    """One sentence for the job record; the traceback stays in the log."""
    stage = phase.value if phase else "Start-up"
    if isinstance(exc, (JobFailure, JobError, StudentArtifactError, ModelRegistryError, StoreError)):
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
