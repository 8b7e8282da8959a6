"""Custom models: every student a distillation job produced, with where it lives and how well it did.

Rows live in the store's `models` table; a local model's files live under `<data_dir>/models/<id>/`.
A folder inside the data directory is recorded relative to it, as datasets are, so the directory can be
moved (rows written before that, with absolute paths inside it, are still read). Deleting a model removes
files only inside the data directory, and never while a deployment uses it.
"""

from __future__ import annotations

import builtins
import json
import os
import shutil
import sqlite3
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from core.files import UnsafePathError, path_inside
from core.store import NOW_SQL, Store

MODELS_FOLDER = "models"
# Keys of metrics_json that the model list shows (written by the distillation worker).
HELDOUT_AGREEMENT = "heldout_dominant_agreement"
HELDOUT_RUBRIC = "heldout_rubric_mean"
HELDOUT_MAE = "heldout_mae"
HELDOUT_N = "heldout_n"

InUseBy = Callable[[str], list[str]]


class ModelRegistryError(Exception):
    """A registry request that cannot be done; the message says why and what to do."""


class ModelNotFoundError(ModelRegistryError):
    pass


class ModelInUseError(ModelRegistryError):
    pass


@dataclass(frozen=True)
class CustomModel:
    id: str
    name: str
    backend: str
    job_id: str | None
    dataset_id: str | None
    path: Path | None
    arn: str | None
    size_bytes: int
    created_at: str
    metrics: dict = field(default_factory=dict)
    # Where the model came from beyond its job and dataset (a Bedrock model's base model, teacher, training
    # data, job ARN, status); empty for a local model, whose job and dataset say it all.
    lineage: dict = field(default_factory=dict, compare=False)
    # The training dataset's name when the model was made, kept if the dataset is deleted or renamed later.
    dataset_name: str | None = None

    @property
    def heldout_agreement(self) -> float | None:
        return self.metrics.get(HELDOUT_AGREEMENT)

    @property
    def heldout_rubric(self) -> float | None:
        return self.metrics.get(HELDOUT_RUBRIC)

    def to_row(self) -> dict[str, object]:
        """One flat row for a table: name, created, source job and dataset, size, held-out figures."""
        return {
            "id": self.id,
            "name": self.name,
            "backend": self.backend,
            "created": self.created_at,
            "job": self.job_id,
            "dataset": self.dataset_id,
            "dataset_name": self.dataset_name,
            "size_bytes": self.size_bytes,
            "heldout_agreement": self.heldout_agreement,
            "heldout_rubric": self.heldout_rubric,
        }


def new_model_id() -> str:
    return "model-" + uuid.uuid4().hex[:12]


def directory_size(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += (Path(root) / name).stat().st_size
            except OSError:
                continue
    return total


class ModelRegistry:
    def __init__(self, store: Store, data_dir: Path):
        self.store = store
        self.data_dir = Path(data_dir)

    def notice(self) -> str | None:
        """A sentence the model list should show when part of it could not be read just now (else None)."""
        return None

    def model_dir(self, model_id: str) -> Path:
        """Where a local model's files go; refuses ids that would leave the data directory."""
        return path_inside(self.data_dir, MODELS_FOLDER, model_id)

    def register(
        self,
        name: str,
        job_id: str | None,
        dataset_id: str | None,
        path: Path | None,
        metrics: Mapping[str, object],
        *,
        model_id: str | None = None,
        arn: str | None = None,
        dataset_name: str | None = None,
        conn: sqlite3.Connection | None = None,
    ) -> CustomModel:
        """Record a trained model; a local one has files at `path`, a Bedrock one an `arn`.

        With `conn`, the row is written in the caller's transaction (a job's end and its model are one write).
        """
        name = name.strip()
        _check_model_name(name)
        if path is None and arn is None:
            raise ModelRegistryError("A model needs either a folder with its files or a Bedrock ARN.")
        if path is not None and not Path(path).is_dir():
            raise ModelRegistryError(f"The model folder {path} does not exist.")
        model_id = model_id or new_model_id()
        size = directory_size(Path(path)) if path is not None else 0
        row = (
            model_id,
            name,
            "bedrock" if arn else "local",
            job_id,
            dataset_id,
            dataset_name,
            self._stored_path(Path(path)) if path is not None else None,
            arn,
            size,
            json.dumps(dict(metrics), sort_keys=True),
        )
        insert = (
            "INSERT INTO models (id, name, backend, job_id, dataset_id, dataset_name, path, arn, size_bytes, "
            f"metrics_json, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, {NOW_SQL})"
        )
        try:
            if conn is not None:
                conn.execute(insert, row)
                return self._from_row(conn.execute("SELECT * FROM models WHERE id = ?", (model_id,)).fetchone())
            self.store.execute(insert, row)
        except sqlite3.IntegrityError as exc:
            raise ModelRegistryError(f"A model named {name!r} already exists; choose another name.") from exc
        return self.get(model_id)

    def name_taken(self, name: str) -> bool:
        return self.store.query_one("SELECT 1 FROM models WHERE name = ?", (name.strip(),)) is not None

    def get(self, model_id: str) -> CustomModel:
        row = self.store.query_one("SELECT * FROM models WHERE id = ?", (model_id,))
        if row is None:
            raise ModelNotFoundError(f"There is no model {model_id!r}; it may have been deleted.")
        return self._from_row(row)

    def list(self) -> list[CustomModel]:
        rows = self.store.query("SELECT * FROM models ORDER BY created_at DESC, rowid DESC")
        return [self._from_row(row) for row in rows]

    def delete(self, model_id: str, in_use_by: InUseBy | None = None, *, confirm: bool = False) -> CustomModel:
        """Remove the model's row and, when they are inside the data directory, its files.

        Refused while a deployment serves it: `in_use_by` names the deployments that use a model id (by
        default every live deployment of the store, on any backend, by the model's id or ARN). `confirm` is
        what the user said to a delete that cannot be undone elsewhere (a model on Amazon Bedrock); a local
        model's files are the studio's own, so it needs none.
        """
        model = self.get(model_id)
        users = in_use_by(model_id) if in_use_by is not None else self._deployments_using(model)
        if users:
            raise ModelInUseError(
                f"Model {model.name!r} is used by deployment(s) {', '.join(users)}: "
                "delete those deployments or point them at another model first."
            )
        owned = self._owned_folder(model)
        # Move the files aside first so a failed row delete can put them back untouched.
        tombstone = None
        if owned is not None and owned.is_dir():
            tombstone = owned.with_name(f".deleting-{owned.name}")
            os.replace(owned, tombstone)
        try:
            self.store.execute("DELETE FROM models WHERE id = ?", (model_id,))
        except BaseException:
            if tombstone is not None and owned is not None:
                os.replace(tombstone, owned)
            raise
        if tombstone is not None:
            shutil.rmtree(tombstone, ignore_errors=True)
        return model

    def _deployments_using(self, model: CustomModel) -> builtins.list[str]:
        from core.deployments import deployments_using

        return deployments_using(self.store, model.id, model.arn)

    def _owned_folder(self, model: CustomModel) -> Path | None:
        """The model's folder if it lies inside the data directory (never the data directory itself)."""
        if model.path is None:
            return None
        data_dir = self.data_dir.resolve()
        try:
            relative = model.path.resolve().relative_to(data_dir)
            folder = path_inside(data_dir, *relative.parts)
        except (ValueError, UnsafePathError):
            return None
        return folder if folder != data_dir else None

    def _stored_path(self, path: Path) -> str:
        """Relative to the data directory when inside it; a folder elsewhere keeps its absolute path."""
        resolved = path.resolve()
        try:
            return resolved.relative_to(self.data_dir.resolve()).as_posix()
        except ValueError:
            return str(resolved)

    def _from_row(self, row: sqlite3.Row) -> CustomModel:
        try:
            metrics = json.loads(row["metrics_json"] or "{}")
        except ValueError:
            metrics = {}
        # Joining an absolute path keeps it as it is: older rows and folders outside the data directory.
        path = self.data_dir.resolve() / row["path"] if row["path"] else None
        return CustomModel(
            id=row["id"],
            name=row["name"],
            backend=row["backend"],
            job_id=row["job_id"],
            dataset_id=row["dataset_id"],
            path=path,
            arn=row["arn"],
            size_bytes=int(row["size_bytes"] or 0),
            created_at=row["created_at"],
            metrics=metrics if isinstance(metrics, dict) else {},
            dataset_name=row["dataset_name"],
        )


def _check_model_name(name: str) -> None:
    from core.aws.names import check_custom_model_name

    problem = check_custom_model_name(name)
    if problem:
        raise ModelRegistryError(problem)
