"""How a job ends: its final status, its failure sentence, its last metrics and the model it made, recorded in
one transaction; and kept in a file beside the job until that transaction is done.

A worker writes its outcome to `<job folder>/outcome.json` first, then records it in the store (retrying while
another process holds the store's lock), then removes the file. If the store stays out of reach, or the worker
dies in between, the file is still there and `JobRunner.reconcile` records it instead of "interrupted": the real
end, the real reason and the model are never lost, and a model is registered only together with its job's end.
"""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
from dataclasses import asdict, dataclass, field
from pathlib import Path

from core.files import atomic_write_text, path_inside
from core.store import BUSY_TIMEOUT_S, NOW_SQL, Store

log = logging.getLogger(__name__)

OUTCOME_FILE = "outcome.json"
# Statuses that may still change; an outcome is recorded only over one of these (never over another end).
_ACTIVE_SQL = "('InProgress', 'Stopping')"
_COMPLETED, _FAILED = "Completed", "Failed"


@dataclass(frozen=True)
class ModelRecord:
    """The model a completed job made, as it will be registered."""

    id: str
    name: str
    # Whether the user asked for this name (else a taken name is replaced by a free variant at registration).
    name_requested: bool
    folder: str  # relative to the data directory
    dataset_id: str | None
    dataset_name: str | None
    metrics: dict[str, float | int | None] = field(default_factory=dict)


@dataclass(frozen=True)
class JobOutcome:
    status: str
    failure_message: str | None = None
    progress: float = 0.0
    model: ModelRecord | None = None
    # (step, epoch, name, value) rows not yet written.
    metrics: list[tuple[int, int | None, str, float]] = field(default_factory=list)


def outcome_path(job_folder: Path) -> Path:
    return Path(job_folder) / OUTCOME_FILE


def write_outcome_file(job_folder: Path, outcome: JobOutcome) -> bool:
    """Keep the outcome beside the job; False (and a log line) if even that cannot be written."""
    try:
        atomic_write_text(outcome_path(job_folder), json.dumps(asdict(outcome)))
    except OSError as exc:
        log.error("could not keep the job's outcome in %s (%s)", outcome_path(job_folder), exc.strerror or exc)
        return False
    return True


def read_outcome_file(job_folder: Path) -> JobOutcome | None:
    """The outcome a worker kept beside its job, or None (no file, or one that is not an outcome)."""
    path = outcome_path(job_folder)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        model = raw.get("model")
        return JobOutcome(
            status=str(raw["status"]),
            failure_message=raw.get("failure_message"),
            progress=float(raw.get("progress") or 0.0),
            model=ModelRecord(**model) if isinstance(model, dict) else None,
            metrics=[(int(s), e if e is None else int(e), str(n), float(v)) for s, e, n, v in raw.get("metrics", [])],
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.error("ignoring the job outcome file %s: %s", path, exc)
        return None


def remove_outcome_file(job_folder: Path) -> None:
    outcome_path(job_folder).unlink(missing_ok=True)


def record_outcome(
    store: Store, data_dir: Path, job_id: str, outcome: JobOutcome, *, busy_timeout_s: float = BUSY_TIMEOUT_S
) -> bool:
    """Write the job's end, its last metrics and its model in one transaction; False if the job had already ended.

    A model name taken meanwhile fails the job with a sentence (a requested name) or gets a free variant (a
    default one); a model folder that will not be registered is removed, so no folder is left without its row.
    """
    from core.model_registry import ModelRegistry

    registry = ModelRegistry(store, data_dir)
    model = outcome.model
    status, failure = outcome.status, outcome.failure_message
    with store.transaction(busy_timeout_s) as conn:
        if model is not None:
            folder = path_inside(data_dir, *Path(model.folder).parts)
            name = _free_name(conn, model)
            if not folder.is_dir():
                status, failure, model = _FAILED, "The model's files vanished before it could be registered.", None
            elif name is None:
                status, failure = _FAILED, f"A model named {model.name!r} already exists; choose another name."
        registered = model if status == _COMPLETED else None
        changed = conn.execute(
            f"UPDATE jobs SET status = ?, failure_message = ?, model_id = ?, progress = ?, ended_at = {NOW_SQL}, "
            f"updated_at = {NOW_SQL} WHERE id = ? AND status IN {_ACTIVE_SQL}",
            (status, failure, registered.id if registered else None, outcome.progress, job_id),
        ).rowcount
        if changed and outcome.metrics:
            conn.executemany(
                "INSERT INTO job_metrics (job_id, step, epoch, name, value, recorded_at) "
                f"VALUES (?, ?, ?, ?, ?, {NOW_SQL})",
                [(job_id, *metric) for metric in outcome.metrics],
            )
        if changed and registered is not None:
            registry.register(
                name or registered.name,
                job_id,
                registered.dataset_id,
                folder,
                registered.metrics,
                model_id=registered.id,
                dataset_name=registered.dataset_name,
                conn=conn,
            )
    if outcome.model is not None and (not changed or status != _COMPLETED):
        _remove_unregistered(store, data_dir, outcome.model)
    if changed:
        log.info("job %s ended %s%s", job_id, status, f": {failure}" if failure else "")
    return bool(changed)


def _free_name(conn: sqlite3.Connection, model: ModelRecord) -> str | None:
    """The name to register: the one chosen if free; for a default name the next free variant; else None."""

    def taken(name: str) -> bool:
        return conn.execute("SELECT 1 FROM models WHERE name = ?", (name,)).fetchone() is not None

    if not taken(model.name):
        return model.name
    if model.name_requested:
        return None
    number = 2
    while taken(f"{model.name[:56]}-{number}"):
        number += 1
    return f"{model.name[:56]}-{number}"


def _remove_unregistered(store: Store, data_dir: Path, model: ModelRecord) -> None:
    if store.query_one("SELECT 1 FROM models WHERE id = ?", (model.id,)) is not None:
        return  # registered after all (by the worker, before a reconcile read the same file)
    folder = path_inside(data_dir, *Path(model.folder).parts)
    shutil.rmtree(folder, ignore_errors=True)
