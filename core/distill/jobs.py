"""Local distillation jobs: records in the store, each run by a worker in its own process.

A job outlives the page that started it: the worker (`python -m core.distill.worker`) runs in a new
session and writes its phase, progress and metrics to SQLite, and the pages only read them. Status
words are Bedrock's, so local and remote jobs read alike. A job whose process vanished (killed, machine
restarted) is found by `reconcile()` and ended as its worker's outcome file says, else Failed "interrupted"
(Stopped if a stop was asked for); a worker that has not stopped STOP_DEADLINE_S after a stop request is
killed. The first reconcile also removes what killed processes left behind (core.leftovers).
"""

from __future__ import annotations

import builtins
import json
import logging
import shutil
import sqlite3
import sys
import uuid
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.aws.names import check_custom_model_name, check_job_name
from core.distill.outcome import read_outcome_file, record_outcome, remove_outcome_file
from core.files import path_inside
from core.leftovers import clean_leftovers
from core.processes import (
    ChildProcesses,
    kill_process_group,
    process_alive,
    recorded_start,
    spawn_detached,
    write_process_file,
)
from core.store import NOW_SQL, Store

if TYPE_CHECKING:
    from core.datasets.library import DatasetInfo
    from core.distill.trainer import TrainingConfig
    from core.estimates import CostEstimate
    from core.routers.base import Router

log = logging.getLogger(__name__)

JOBS_FOLDER = "jobs"
LOG_FILE = "worker.log"
PROCESS_FILE = "process.json"
LABEL_CHECKPOINT_FILE = "labels.checkpoint.jsonl"
LOCAL_BACKEND = "local"
STUDENT_KIND: Literal["hashed-ngram-softmax"] = "hashed-ngram-softmax"
# What jobs recorded as their teacher before every teacher had one name.
LEGACY_LOCAL_TEACHER = "reference"
LOCAL_STUDENT_LABEL = "Local compact student (hashed n-grams)"
INTERRUPTED = "interrupted"
# A job row is written just before its worker starts; give the launch this long before calling it lost.
LAUNCH_GRACE_S = 30
# A worker checks for a stop between batches and epochs; one that has not stopped this long after the request
# (stuck, or suspended) is killed and its job ends Stopped.
STOP_DEADLINE_S = 30


class JobStatus(StrEnum):
    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPING = "Stopping"
    STOPPED = "Stopped"


class JobPhase(StrEnum):
    VALIDATION = "Validation"
    DATA_PROCESSING = "DataProcessing"
    TRAINING = "Training"


ACTIVE_STATUSES = (JobStatus.IN_PROGRESS, JobStatus.STOPPING)
FINISHED_STATUSES = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.STOPPED)
# SQL lists of the status words, for conditional updates that never overwrite a job's end.
ACTIVE_SQL = "(" + ", ".join(f"'{status.value}'" for status in ACTIVE_STATUSES) + ")"
FINISHED_SQL = "(" + ", ".join(f"'{status.value}'" for status in FINISHED_STATUSES) + ")"


class JobError(Exception):
    """A job request that cannot be done; the message says why and what to do."""


class JobNotFoundError(JobError):
    pass


class DistillParams(BaseModel):
    """What a local distillation job is asked to do; saved with the job so that a run can be repeated.

    The flat form (`flat()`, and what `parse_params` accepts) mixes these job settings with the
    trainer's own (epochs, learning_rate, batch_size, ...), which land in `training`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    heldout_ratio: float = Field(default=0.1, ge=0.0, lt=0.9)
    seed: int = Field(default=0, ge=0)
    # Who labels a prompt-only dataset, by the teacher's one name; the job service fills in its own.
    teacher: str | None = None
    student: Literal["hashed-ngram-softmax"] = STUDENT_KIND
    # A separate labelled held-out dataset; when given, the whole training dataset is trained on.
    heldout_dataset_id: str | None = None
    model_name: str | None = None
    training: dict[str, Any] = Field(default_factory=dict)

    def training_config(self) -> TrainingConfig:
        from core.distill.trainer import TrainingConfig

        return TrainingConfig.model_validate({**self.training, "seed": self.seed})

    def flat(self) -> dict[str, Any]:
        """Every setting, defaults included, so the record says exactly how the job ran."""
        return {**self.model_dump(exclude={"training"}), **self.training_config().model_dump()}


@dataclass(frozen=True)
class Job:
    id: str
    name: str
    backend: str
    status: str
    phase: str | None
    progress: float
    dataset_id: str | None
    teacher: str | None
    student: str | None
    pid: int | None
    stop_requested: bool
    failure_message: str | None
    model_id: str | None
    remote_arn: str | None
    created_at: str
    started_at: str | None
    ended_at: str | None
    updated_at: str
    params: dict = field(default_factory=dict)
    # Each phase's own status where the service reports them (Bedrock's statusDetails); empty for local jobs.
    phase_statuses: dict[str, str] = field(default_factory=dict)
    # The training dataset's name at submit (kept up to date on rename), shown once the dataset is deleted.
    dataset_name: str | None = None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def finished(self) -> bool:
        return self.status in FINISHED_STATUSES

    def distill_params(self) -> DistillParams:
        return parse_params(self.params)

    def phases(self) -> list[tuple[str, str]]:
        """(phase, status) for Validation, DataProcessing and Training, in order, with Bedrock's sub-status words:
        NotStarted, InProgress, Completed, Stopping, Stopped, Failed. A local job's are read from its phase."""
        order = [phase.value for phase in JobPhase]
        if self.phase_statuses:
            return [(phase, self.phase_statuses.get(phase, "NotStarted")) for phase in order]
        if self.status == JobStatus.COMPLETED:
            return [(phase, JobStatus.COMPLETED.value) for phase in order]
        current = order.index(self.phase) if self.phase in order else 0
        return [
            (phase, "Completed" if i < current else self.status if i == current else "NotStarted")
            for i, phase in enumerate(order)
        ]

    def to_row(self) -> dict[str, object]:
        """One flat row for a table of jobs."""
        return {
            "id": self.id,
            "name": self.name,
            "backend": self.backend,
            "status": self.status,
            "phase": self.phase,
            "progress": self.progress,
            "dataset": self.dataset_id,
            "dataset_name": self.dataset_name,
            "model": self.model_id,
            "created": self.created_at,
            "ended": self.ended_at,
            "failure": self.failure_message,
        }


def load_job(store: Store, job_id: str) -> Job:
    row = store.query_one("SELECT * FROM jobs WHERE id = ?", (job_id,))
    if row is None:
        raise JobNotFoundError(f"There is no job {job_id!r}; it may have been deleted.")
    return _job_from_row(row)


def heldout_note(heldout_ratio: float, heldout_dataset: str | None) -> str | None:
    """The sentence a run without held-out data gets (the launch form and `distill` show it), else None."""
    if heldout_ratio > 0 or heldout_dataset:
        return None
    return (
        "With a held-out share of 0 and no held-out set, the model will have no held-out figures: its agreement "
        "with the teacher on unseen queries stays unknown (hold out a share, or pick a held-out set)."
    )


def job_dir(data_dir: Path, job_id: str) -> Path:
    return path_inside(data_dir, JOBS_FOLDER, job_id)


def parse_params(params: Mapping[str, object] | None) -> DistillParams:
    """Validate flat job settings; anything unknown or out of range is one sentence naming the setting."""
    from core.distill.trainer import TrainingConfig

    values = dict(params or {})
    training = {key: values.pop(key) for key in list(values) if key in TrainingConfig.model_fields and key != "seed"}
    try:
        settings = DistillParams.model_validate({**values, "training": training})
        settings.training_config()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = str(first["loc"][-1]) if first["loc"] else "params"
        raise JobError(f"Job setting {where!r} is not valid: {first['msg']}.") from exc
    return settings


@dataclass(frozen=True)
class StudentKind:
    """A student a job service can train: its key (the job's `student`) and a label for the form."""

    key: str
    label: str


LOCAL_STUDENTS = (StudentKind(STUDENT_KIND, LOCAL_STUDENT_LABEL),)


class JobService(ABC):
    """Submit, watch, stop and clean up distillation jobs: the jobs capability of a backend.

    Every method raises JobError with a sentence; statuses and phases are Bedrock's words. Anything that
    bills is estimated first (`estimate`) and needs `confirm=True` at submit.
    """

    # The one name of the teacher that labels a prompt-only dataset in this service's jobs.
    teacher_name: str
    # One sentence on where this service's students train and what they cost, for the launch form.
    description: str

    @abstractmethod
    def students(self, teacher: str | None = None) -> builtins.list[StudentKind]:
        """The students this service can train (those `teacher` can teach, when given), the default first."""

    def teachers(self) -> builtins.list[str]:
        """The teachers a job can be submitted with, by their one name, the default first."""
        return [self.teacher_name]

    @abstractmethod
    def submit(
        self, name: str, dataset_id: str, params: Mapping[str, object] | None = None, *, confirm: bool = False
    ) -> Job:
        """Start a job; one that bills raises ConfirmationRequired (a JobError) with its estimate unless confirmed."""

    def estimate(self, dataset_id: str, params: Mapping[str, object] | None = None) -> CostEstimate:
        """What a job with these settings would cost before it is submitted (local training costs nothing)."""
        from core.estimates import NOTHING_BILLED

        return NOTHING_BILLED

    def notice(self) -> str | None:
        """A sentence the job list should show when part of it could not be read just now (else None)."""
        return None

    @abstractmethod
    def get(self, job_id: str) -> Job: ...

    @abstractmethod
    def list(self) -> list[Job]:
        """Every job, newest first (reconciled first, so a job whose runner vanished has ended)."""

    @abstractmethod
    def stop(self, job_id: str) -> Job: ...

    @abstractmethod
    def reconcile(self) -> builtins.list[str]:
        """End the jobs whose runner is gone; returns their ids."""

    @abstractmethod
    def delete(self, job_id: str) -> None: ...

    @abstractmethod
    def metrics(self, job_id: str) -> builtins.list[dict[str, object]]:
        """Metric rows (step, epoch, name, value), ready for `pandas.DataFrame(rows)`."""

    @abstractmethod
    def log_text(self, job_id: str, max_chars: int = 20_000) -> str: ...

    def teacher_for(self, dataset: DatasetInfo, params: Mapping[str, object] | None = None) -> str:
        """Who teaches a job on this dataset with these settings, as the job will record it: a labelled dataset
        keeps the labels of the teacher that made them."""
        if dataset.kind == "labelled":
            return str(dataset.manifest.get("teacher_id") or "the teacher that labelled it")
        return self.teacher_name

    def settings_model(self, student: str) -> type[BaseModel]:
        """The settings a job of this student takes, as the model that checks them: the launch form shows its
        fields and no others (DistillParams, the trainer's TrainingConfig in `training`, for the local student)."""
        return DistillParams

    def launch_defaults(self, name: str) -> dict[str, object]:
        """What a job named `name` gets for the settings the form leaves empty (e.g. a role saved in Settings)."""
        return {}

    def problem(self, name: str, dataset_id: str, params: Mapping[str, object] | None = None) -> str | None:
        """What would stop this job from being submitted, as a sentence, or None; checked without any remote call,
        so the launch form can say it beside Start while the settings are typed."""
        return None


class JobRunner(JobService):
    """Local distillation jobs, each run by a worker process (the pages and the CLI share this)."""

    description = "The student is trained on this machine and costs nothing per query once deployed."

    def __init__(self, store: Store, data_dir: Path, teacher_name: str | None = None):
        from core.routers.reference import ReferenceTeacher

        self.store = store
        self.data_dir = Path(data_dir).resolve()
        self.teacher_name = teacher_name or ReferenceTeacher.name
        # Workers this runner started, kept so that finished ones are reaped instead of lingering as zombies.
        self._workers = ChildProcesses()
        self._swept_leftovers = False

    def students(self, teacher: str | None = None) -> builtins.list[StudentKind]:
        return list(LOCAL_STUDENTS)

    def job_dir(self, job_id: str) -> Path:
        return job_dir(self.data_dir, job_id)

    def log_path(self, job_id: str) -> Path:
        return self.job_dir(job_id) / LOG_FILE

    def submit(  # background=False: foreground runs and tests only
        self,
        name: str,
        dataset_id: str,
        params: Mapping[str, object] | None = None,
        *,
        confirm: bool = False,
        background: bool = True,
    ) -> Job:
        """Record a job and start its worker process (a local job bills nothing, so `confirm` changes nothing).

        With `background=False` only the record is made: the caller runs `core.distill.worker.run_job`
        itself (a foreground command line run, or a test that drives the phases).
        """
        name = (name or "").strip()
        problem = check_job_name(name)
        if problem:
            raise JobError(problem)
        settings = parse_params(params)
        dataset, settings = self._resolve_sources(dataset_id, settings)
        # A labelled dataset was taught by whoever labelled it; the job's teacher only labels prompt-only data.
        teacher = self.teacher_for(dataset)
        job_id = "job-" + uuid.uuid4().hex[:12]
        try:
            # One transaction, so two submits at once cannot both claim the same model name.
            with self.store.transaction() as conn:
                if settings.model_name is not None:
                    maker = job_making_model(conn, settings.model_name)
                    if maker is not None:
                        raise JobError(
                            f"Job {maker!r} is already making a model named {settings.model_name!r}; "
                            "choose another model name."
                        )
                conn.execute(
                    "INSERT INTO jobs (id, name, backend, status, phase, progress, dataset_id, dataset_name, teacher, "
                    "student, params_json, created_at, updated_at) "
                    f"VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, {NOW_SQL}, {NOW_SQL})",
                    (
                        job_id,
                        name,
                        LOCAL_BACKEND,
                        JobStatus.IN_PROGRESS.value,
                        JobPhase.VALIDATION.value,
                        dataset.id,
                        dataset.name,
                        teacher,
                        settings.student,
                        json.dumps(settings.flat()),
                    ),
                )
        except sqlite3.IntegrityError as exc:
            raise JobError(f"A job named {name!r} already exists; choose another name.") from exc
        self.job_dir(job_id).mkdir(parents=True, exist_ok=True)
        if background:
            self._launch(job_id)
        return self.get(job_id)

    def get(self, job_id: str) -> Job:
        return load_job(self.store, job_id)

    def list(self) -> list[Job]:
        self.reconcile()
        rows = self.store.query("SELECT * FROM jobs ORDER BY created_at DESC, rowid DESC")
        return [_job_from_row(row) for row in rows]

    def metrics(self, job_id: str) -> builtins.list[dict[str, object]]:
        """Per-epoch metric rows (step, epoch, name, value), ready for `pandas.DataFrame(rows)`."""
        rows = self.store.query(
            "SELECT step, epoch, name, value FROM job_metrics WHERE job_id = ? ORDER BY step, name, rowid", (job_id,)
        )
        return [dict(row) for row in rows]

    def log_text(self, job_id: str, max_chars: int = 20_000) -> str:
        """The end of the worker's log (tracebacks live there, never in the failure message)."""
        try:
            text = self.log_path(job_id).read_bytes()[-max_chars:].decode("utf-8", errors="replace")
        except FileNotFoundError:
            return ""
        return text

    def stop(self, job_id: str) -> Job:
        """Ask the worker to stop; it ends Stopped at its next check, or is killed STOP_DEADLINE_S after the request
        (a stuck or suspended worker). A job with no process is Stopped at once."""
        job = self.get(job_id)
        if job.backend != LOCAL_BACKEND:
            raise JobError(f"Job {job.name!r} runs on {job.backend}: stop it from the Bedrock jobs view.")
        if job.finished:
            raise JobError(f"Job {job.name!r} has already ended ({job.status}); there is nothing to stop.")
        self.store.execute(
            f"UPDATE jobs SET stop_requested = 1, status = ?, stop_requested_at = COALESCE(stop_requested_at, "
            f"{NOW_SQL}), updated_at = {NOW_SQL} WHERE id = ? AND status IN {ACTIVE_SQL}",
            (JobStatus.STOPPING.value, job_id),
        )
        self._workers.reap()
        if not self._worker_alive(job):
            self._end_without_worker(self.get(job_id))
        return self.get(job_id)

    def reconcile(self) -> builtins.list[str]:
        """End every running local job whose worker is gone, and kill a worker still running STOP_DEADLINE_S after
        a stop request; returns the ids of the jobs ended.

        A job ends as its worker left it in its outcome file (core.distill.outcome) when there is one; else
        Stopped if a stop was asked for, else Failed "interrupted". The first reconcile of a runner (the app's
        start) and any that ends a job also remove what killed processes left behind (core.leftovers).
        """
        self._workers.reap()
        rows = self.store.query(
            f"SELECT *, created_at < strftime('%Y-%m-%d %H:%M:%f', 'now', '-{LAUNCH_GRACE_S} seconds') AS overdue, "
            f"stop_requested_at < strftime('%Y-%m-%d %H:%M:%f', 'now', '-{STOP_DEADLINE_S} seconds') AS stop_overdue "
            f"FROM jobs WHERE backend = ? AND status IN {ACTIVE_SQL}",
            (LOCAL_BACKEND,),
        )
        ended = []
        for row in rows:
            job = _job_from_row(row)
            if job.pid is None and not row["overdue"]:
                continue
            alive = job.pid is not None and self._worker_alive(job)
            if alive and job.status == JobStatus.STOPPING and row["stop_overdue"]:
                alive = not self._kill_worker(job)
            if not alive and self._end_without_worker(job):
                ended.append(job.id)
        if ended or not self._swept_leftovers:
            self._swept_leftovers = True
            clean_leftovers(self.store, self.data_dir)
        return ended

    def delete(self, job_id: str) -> None:
        """Remove a finished job, its metrics and its folder (the model it made stays registered)."""
        self.reconcile()  # a worker that did not stop in time is killed now, and its job ends
        job = self.get(job_id)
        if job.status == JobStatus.STOPPING:
            raise JobError(
                f"Job {job.name!r} is stopping: its worker is given {STOP_DEADLINE_S} s from the stop request and is "
                "ended then; delete the job after that."
            )
        if not job.finished:
            raise JobError(f"Job {job.name!r} is still {job.status}: stop it and wait for it to end before deleting.")
        self.store.execute(f"DELETE FROM jobs WHERE id = ? AND status IN {FINISHED_SQL}", (job_id,))
        self._workers.forget(job_id)
        shutil.rmtree(self.job_dir(job_id), ignore_errors=True)

    def _end_without_worker(self, job: Job) -> bool:
        """End a job whose worker is gone, as the worker's outcome file says if it left one; True if it ended."""
        folder = self.job_dir(job.id)
        outcome = read_outcome_file(folder)
        if outcome is not None:
            ended = record_outcome(self.store, self.data_dir, job.id, outcome)
            remove_outcome_file(folder)
            return ended
        if job.stop_requested:
            status, message = JobStatus.STOPPED, None
        else:
            status, message = JobStatus.FAILED, INTERRUPTED
        # Only if nothing changed meanwhile: a worker that finished just now has written its own end.
        return bool(
            self.store.execute(
                f"UPDATE jobs SET status = ?, failure_message = ?, ended_at = {NOW_SQL}, updated_at = {NOW_SQL} "
                f"WHERE id = ? AND status IN {ACTIVE_SQL} AND pid IS ?",
                (status.value, message, job.id, job.pid),
            )
        )

    def _kill_worker(self, job: Job) -> bool:
        """End a worker that did not stop in time (stuck, or suspended with SIGSTOP); True once it is gone."""
        assert job.pid is not None
        killed = kill_process_group(job.pid, recorded_start(self.job_dir(job.id) / PROCESS_FILE, job.pid))
        if killed:
            log.warning(
                "job %s: worker %d had not stopped %d s after the stop request; it was killed",
                job.id,
                job.pid,
                STOP_DEADLINE_S,
            )
            self._workers.reap()
        return killed

    def _resolve_sources(self, dataset_ref: str, settings: DistillParams) -> tuple[DatasetInfo, DistillParams]:
        """The training dataset (found by id or name) and the settings with the held-out dataset's id resolved."""
        from core.datasets.library import DatasetLibrary

        library = DatasetLibrary(self.store, self.data_dir)
        found = library.find(dataset_ref or "")
        if found is None:
            raise JobError(f"The training dataset {dataset_ref!r} is not in the library; import or generate it first.")
        if settings.heldout_dataset_id is not None:
            heldout = library.find(settings.heldout_dataset_id)
            if heldout is None:
                raise JobError(
                    f"The held-out dataset {settings.heldout_dataset_id!r} is not in the library; "
                    "import it or leave it empty to hold out part of the training data."
                )
            if heldout.kind != "labelled":
                raise JobError(f"The held-out dataset {heldout.name!r} has no labels: label it with a teacher first.")
            if heldout.id == found.id:
                raise JobError("The held-out dataset cannot be the training dataset itself: pick another one.")
            settings = settings.model_copy(update={"heldout_dataset_id": heldout.id})
        if settings.teacher not in (None, self.teacher_name) and found.kind != "labelled":
            raise JobError(
                f"Teacher {settings.teacher!r} cannot label on the local backend: its jobs label with "
                f"{self.teacher_name!r}, or use a dataset already labelled by that teacher."
            )
        settings = settings.model_copy(update={"teacher": self.teacher_name})
        if settings.model_name is not None:
            self._check_model_name(settings.model_name)
        return found, settings

    def _check_model_name(self, model_name: str) -> None:
        from core.model_registry import ModelRegistry

        problem = check_custom_model_name(model_name)
        if problem:
            raise JobError(problem)
        if ModelRegistry(self.store, self.data_dir).name_taken(model_name):
            raise JobError(f"A model named {model_name!r} already exists; choose another model name.")

    def _launch(self, job_id: str) -> None:
        folder = self.job_dir(job_id)
        command = [
            sys.executable,
            "-m",
            "core.distill.worker",
            str(self.data_dir),
            job_id,
            "--store",
            str(self.store.path),
        ]
        try:
            child = spawn_detached(command, folder / LOG_FILE)
        except OSError as exc:
            self.store.execute(
                f"UPDATE jobs SET status = ?, failure_message = ?, ended_at = {NOW_SQL}, updated_at = {NOW_SQL} "
                "WHERE id = ?",
                (JobStatus.FAILED.value, f"The worker process could not be started ({exc.strerror or exc}).", job_id),
            )
            raise JobError(f"The job's worker process could not be started: {exc.strerror or exc}.") from exc
        self._workers.add(job_id, child)
        record_process(self.store, folder, job_id, child.pid)

    def _worker_alive(self, job: Job) -> bool:
        return job.pid is not None and process_alive(
            job.pid, recorded_start(self.job_dir(job.id) / PROCESS_FILE, job.pid)
        )


def labelling_teacher(teacher_name: str | None, store: Store, data_dir: Path) -> Router:
    """The teacher a job was submitted with, by its one name: the teacher of the backend that has that name.

    Jobs recorded before teachers had one name carry "reference" (the local teacher) or nothing.
    """
    from core.backends import BACKEND_CLASSES
    from core.settings import load_settings

    # The data directory's own saved choices: a Bedrock teacher labels with the profile and region saved there.
    settings = load_settings(Path(data_dir))
    backends = [kind(settings.model_copy(update={"backend": kind.kind}), store) for kind in BACKEND_CLASSES.values()]
    local_teacher = next(b.teacher_name for b in backends if b.kind == "local")
    wanted = local_teacher if teacher_name in (None, LEGACY_LOCAL_TEACHER) else teacher_name
    for backend in backends:
        if backend.teacher_name == wanted:
            return backend.teacher()
    raise JobError(f"No backend of this studio labels with {teacher_name!r}; start the job again.")


def job_making_model(conn: sqlite3.Connection, model_name: str, *, other_than: str | None = None) -> str | None:
    """The name of a running job that asked for a model called `model_name`, if there is one."""
    row = conn.execute(
        f"SELECT name FROM jobs WHERE status IN {ACTIVE_SQL} AND id IS NOT ? AND json_valid(params_json) "
        "AND json_extract(params_json, '$.model_name') = ? ORDER BY created_at LIMIT 1",
        (other_than, model_name),
    ).fetchone()
    return row["name"] if row else None


def record_process(store: Store, folder: Path, job_id: str, pid: int) -> None:
    """Note which process runs a job, with its start time so that a reused pid is not mistaken for it."""
    write_process_file(folder / PROCESS_FILE, pid)
    store.execute(f"UPDATE jobs SET pid = ?, updated_at = {NOW_SQL} WHERE id = ?", (pid, job_id))


def _job_from_row(row: sqlite3.Row) -> Job:
    try:
        params = json.loads(row["params_json"] or "{}")
    except ValueError:
        params = {}
    return Job(
        id=row["id"],
        name=row["name"],
        backend=row["backend"],
        status=row["status"],
        phase=row["phase"],
        progress=float(row["progress"] or 0.0),
        dataset_id=row["dataset_id"],
        teacher=row["teacher"],
        student=row["student"],
        pid=row["pid"],
        stop_requested=bool(row["stop_requested"]),
        failure_message=row["failure_message"],
        model_id=row["model_id"],
        remote_arn=row["remote_arn"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        updated_at=row["updated_at"],
        params=params if isinstance(params, dict) else {},
        dataset_name=row["dataset_name"],
    )
