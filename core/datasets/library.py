"""Datasets as things the user names, lists, renames, splits, downloads and deletes.

Each dataset lives in its own folder `<data_dir>/datasets/<safe-name>/` as `data.jsonl` with its tags
sidecar and manifest (core.datasets.files), and has one row in the store's `datasets` table. A dataset folder is
first written under a temporary name and then renamed into place, so a crash never leaves half a dataset
where the library looks; the row is written only once the folder is complete.
"""

from __future__ import annotations

import builtins
import io
import json
import os
import re
import shutil
import sqlite3
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, Literal

from core.aws.names import check_s3_uri
from core.datasets.files import (
    DatasetManifest,
    DatasetTags,
    ManifestFields,
    SplitInfo,
    dataset_paths,
    read_dataset,
    split_dataset,
    write_dataset,
)
from core.datasets.validation import MAX_RECORDS, MIN_RECORDS, ValidationReport
from core.files import atomic_write_text, path_inside, safe_name
from core.naming import unique_name
from core.store import Store

DATASETS_DIR = "datasets"
DATA_FILE = "data.jsonl"
MAX_DATASET_NAME = 100
TRAIN_SUFFIX = "-train"
HELDOUT_SUFFIX = "-heldout"
# Fields of a parent's manifest that describe how its records were made, so its split parts keep them.
_INHERITED_FIELDS = ("seed", "mix", "generator_version", "teacher_id", "prompt_version", "notes")
DatasetRole = Literal["train", "heldout", "whole"]
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
_STAGING_PREFIX = ".staging-"
_TRASH_PREFIX = ".deleting-"


class DatasetLibraryError(ValueError):
    """A user mistake (duplicate name, unknown dataset, invalid file), explained in one sentence."""


class DatasetImportError(DatasetLibraryError):
    """An imported file failed validation; `report` holds every line-numbered problem."""

    def __init__(self, message: str, report: ValidationReport):
        super().__init__(message)
        self.report = report


@dataclass(frozen=True)
class DatasetInfo:
    id: str
    name: str
    kind: str
    records: int
    sha256: str
    created_at: str
    path: Path
    s3_uri: str | None = None
    manifest: dict[str, Any] = field(default_factory=dict, compare=False)
    # What it is for: "train" or "heldout" (the parts of a split), or "whole" (anything else).
    role: DatasetRole = "whole"

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def is_gold(self) -> bool:
        """A gold set's export (core.gold): weights people set, to score routers on, not to train them."""
        notes = self.manifest.get("notes") or {}
        return isinstance(notes, dict) and notes.get("gold") is True

    def split_of(self) -> tuple[str, float, int] | None:
        """(parent name, held-out ratio, seed) for a part of a split, else None."""
        split = self.manifest.get("split")
        if not isinstance(split, dict) or not split.get("parent"):
            return None
        return str(split["parent"]), float(split.get("heldout_ratio") or 0), int(split.get("seed") or 0)


@dataclass(frozen=True)
class DatasetUsage:
    """What was made from a dataset, by name: the warning a page shows before deleting it."""

    name: str
    models: list[str]
    jobs: list[str]
    running: list[str]

    @property
    def warning(self) -> str | None:
        """One sentence on what deleting the dataset means for what came from it; None when nothing did."""
        total = len(self.models) + len(self.jobs)
        if not total:
            return None
        listing = " and ".join(part for part in (_listed("Model", self.models), _listed("job", self.jobs)) if part)
        listing = listing[0].upper() + listing[1:]
        verb, keeps = ("was", "it keeps") if total == 1 else ("were", "they keep")
        plural = "s" if len(self.jobs) > 1 else ""
        tail = f", but the job{plural} cannot be run again once it is deleted" if self.jobs else " once it is deleted"
        return f"{listing} {verb} made from dataset {self.name!r}: {keeps} its name{tail}."


class DatasetLibrary:
    def __init__(self, store: Store, data_dir: str | os.PathLike[str]):
        self.store = store
        self.data_dir = Path(data_dir)
        self.root = path_inside(self.data_dir, DATASETS_DIR)

    def save(
        self,
        name: str,
        records: Sequence[Mapping[str, Any]],
        tags: Sequence[DatasetTags | Mapping[str, Any]] | None = None,
        manifest_fields: ManifestFields | Mapping[str, Any] | None = None,
    ) -> DatasetInfo:
        """Write a new dataset and list it; refuses a name already in use."""
        name = self._check_new_name(name)
        if not records:
            raise DatasetLibraryError("There are no records to save: generate or label some first.")
        tag_list = None if tags is None else [_as_tags(tag) for tag in tags]
        fields = _as_fields(manifest_fields).model_copy(update={"name": name})
        folder = self._new_folder(name)
        staging = path_inside(self.root, f"{_STAGING_PREFIX}{uuid.uuid4().hex}")
        try:
            manifest = write_dataset(staging / DATA_FILE, records, tag_list, fields)
            os.replace(staging, folder)
        except ValueError as exc:
            raise DatasetLibraryError(f"The dataset could not be saved: {exc}.") from exc
        except OSError as exc:
            raise DatasetLibraryError(
                f"The dataset could not be written to {self.root} ({exc.strerror or exc}): "
                "free some disk space or check the folder's permissions."
            ) from exc
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        info = DatasetInfo(
            id=uuid.uuid4().hex[:12],
            name=name,
            kind=manifest.kind,
            records=manifest.record_count,
            sha256=manifest.sha256,
            created_at=_now(),
            path=folder / DATA_FILE,
            manifest=json.loads(manifest.model_dump_json()),
            role=fields.split.role if fields.split is not None else "whole",
        )
        try:
            self.store.execute(
                "INSERT INTO datasets (id, name, path, kind, records, sha256, manifest_json, s3_uri, created_at, role) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?, ?)",
                (
                    info.id,
                    info.name,
                    self._stored_path(info.path),
                    info.kind,
                    info.records,
                    info.sha256,
                    json.dumps(info.manifest),
                    info.created_at,
                    info.role,
                ),
            )
        except sqlite3.IntegrityError as exc:
            shutil.rmtree(folder, ignore_errors=True)
            raise DatasetLibraryError(f"A dataset named {name!r} already exists: choose another name.") from exc
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return info

    def import_file(
        self,
        name: str,
        source: str | os.PathLike[str] | bytes | BinaryIO,
        *,
        min_records: int = MIN_RECORDS,
        max_records: int = MAX_RECORDS,
    ) -> DatasetInfo:
        """Validate a user's JSONL (a path, its bytes or an upload) and store it; an invalid file is refused."""
        name = self._check_new_name(name)
        stream = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source
        try:
            loaded = read_dataset(stream, min_records=min_records, max_records=max_records)
        except OSError as exc:
            raise DatasetLibraryError(f"The file could not be read ({exc.strerror or exc}).") from exc
        if not loaded.ok:
            raise DatasetImportError(f"The file was not imported. {loaded.report.verdict}", loaded.report)
        fields = _inherited(loaded.manifest) if loaded.manifest is not None else {}
        fields["notes"] = {**fields.get("notes", {}), "imported_from": _source_name(source)}
        return self.save(name, loaded.records, loaded.tags, fields)

    def list(self) -> list[DatasetInfo]:
        """Every dataset, newest first."""
        rows = self.store.query("SELECT * FROM datasets ORDER BY created_at DESC, rowid DESC")
        return [self._info(row) for row in rows]

    def get(self, dataset_id: str) -> DatasetInfo:
        row = self.store.query_one("SELECT * FROM datasets WHERE id = ?", (dataset_id,))
        if row is None:
            raise DatasetLibraryError(f"There is no dataset with id {dataset_id!r}: it may have been deleted.")
        return self._info(row)

    def find(self, id_or_name: str) -> DatasetInfo | None:
        """The dataset with this id, else with this name (ignoring case and surrounding spaces); None if neither."""
        row = self.store.query_one("SELECT * FROM datasets WHERE id = ?", (id_or_name,))
        return self._info(row) if row is not None else self._find_by_name(id_or_name)

    def training_choices(self) -> builtins.list[DatasetInfo]:
        """The datasets a job may train on, newest first: every one but the held-out parts of splits, gold sets
        last (they are made to score routers on, so a new gold label never becomes the default training set)."""
        return sorted((info for info in self.list() if info.role != "heldout"), key=lambda info: info.is_gold)

    def default_training_set(self) -> DatasetInfo | None:
        """What a form picks to train on: the newest dataset that is not a held-out part (None if there is none)."""
        return next(iter(self.training_choices()), None)

    def heldout_choices(self, training_id: str | None = None) -> builtins.list[DatasetInfo]:
        """Labelled datasets to score a job on, best first: the training set's own held-out part, then held-out
        parts and gold sets, then the rest; never the training set itself."""
        partner = self.default_heldout_for(training_id) if training_id else None
        choices = [info for info in self.list() if info.kind == "labelled" and info.id != training_id]
        return sorted(
            choices,
            key=lambda info: (partner is None or info.id != partner.id, info.role != "heldout" and not info.is_gold),
        )

    def default_heldout_for(self, training_id: str) -> DatasetInfo | None:
        """The held-out part split off with a training part (same parent, ratio and seed), else None."""
        training = self.find(training_id)
        if training is None or training.role != "train" or training.split_of() is None:
            return None
        return next(
            (
                info
                for info in self.list()
                if info.role == "heldout" and info.kind == "labelled" and info.split_of() == training.split_of()
            ),
            None,
        )

    def usage(self, dataset_id: str) -> DatasetUsage:
        """The models and jobs made from a dataset (as training or held-out set), and the jobs running on it now."""
        from core.distill.jobs import ACTIVE_SQL

        info = self.get(dataset_id)
        jobs = self.store.query(
            f"SELECT name, status IN {ACTIVE_SQL} AS running FROM jobs WHERE dataset_id = ? OR (json_valid(params_json)"
            " AND json_extract(params_json, '$.heldout_dataset_id') = ?) ORDER BY created_at",
            (info.id, info.id),
        )
        models = self.store.query("SELECT name FROM models WHERE dataset_id = ? ORDER BY created_at", (info.id,))
        return DatasetUsage(
            name=info.name,
            models=[row["name"] for row in models],
            jobs=[row["name"] for row in jobs],
            running=[row["name"] for row in jobs if row["running"]],
        )

    def _find_by_name(self, name: str) -> DatasetInfo | None:
        row = self.store.query_one("SELECT * FROM datasets WHERE lower(name) = lower(?)", (name.strip(),))
        return self._info(row) if row is not None else None

    def rename(self, dataset_id: str, new_name: str) -> DatasetInfo:
        """Give a dataset a new name; its folder moves in one rename and the store follows."""
        info = self.get(dataset_id)
        new_name = _clean_name(new_name)
        if new_name == info.name:
            return info
        existing = self._find_by_name(new_name)
        if existing is not None and existing.id != info.id:
            raise DatasetLibraryError(f"A dataset named {existing.name!r} already exists: choose another name.")
        old_folder = info.folder
        new_folder = old_folder if safe_name(new_name) == old_folder.name else self._new_folder(new_name)
        manifest = {**info.manifest, "name": new_name}
        moved = renamed_in_manifest = False
        try:
            with self.store.transaction() as conn:
                conn.execute(
                    "UPDATE datasets SET name = ?, path = ?, manifest_json = ? WHERE id = ?",
                    (new_name, self._stored_path(new_folder / DATA_FILE), json.dumps(manifest), info.id),
                )
                # The lineage of what was made from it follows, so a later delete leaves the latest name.
                conn.execute("UPDATE jobs SET dataset_name = ? WHERE dataset_id = ?", (new_name, info.id))
                conn.execute("UPDATE models SET dataset_name = ? WHERE dataset_id = ?", (new_name, info.id))
                if new_folder != old_folder:
                    os.replace(old_folder, new_folder)
                    moved = True
                _rewrite_manifest_name(new_folder / DATA_FILE, new_name)
                renamed_in_manifest = True
        except BaseException as exc:
            # The row was rolled back: put the files back where it says they are.
            if renamed_in_manifest:
                _rewrite_manifest_name(new_folder / DATA_FILE, info.name)
            if moved:
                os.replace(new_folder, old_folder)
            if isinstance(exc, sqlite3.IntegrityError):
                raise DatasetLibraryError(f"A dataset named {new_name!r} already exists: choose another name.") from exc
            raise
        return self.get(dataset_id)

    def delete(self, dataset_id: str) -> None:
        """Remove a dataset's files and its row (the UI confirms first, with `usage().warning`).

        Refused while a job runs on it; what was made from it keeps the dataset's name in its lineage.
        """
        info = self.get(dataset_id)
        running = self.usage(dataset_id).running
        if running:
            raise DatasetLibraryError(
                f"Job {running[0]!r} is running on dataset {info.name!r}: stop it or let it end before deleting it."
            )
        trash = path_inside(self.root, f"{_TRASH_PREFIX}{info.id}")
        folder_exists = info.folder.exists()
        if folder_exists:
            os.replace(info.folder, trash)
        try:
            self.store.execute("DELETE FROM datasets WHERE id = ?", (info.id,))
        except BaseException:
            if folder_exists:
                os.replace(trash, info.folder)
            raise
        shutil.rmtree(trash, ignore_errors=True)

    def download_bytes(self, dataset_id: str) -> bytes:
        """The dataset's JSONL exactly as stored."""
        info = self.get(dataset_id)
        try:
            return info.path.read_bytes()
        except FileNotFoundError as exc:
            raise DatasetLibraryError(
                f"The file of dataset {info.name!r} is missing from {info.folder}: delete the entry and save it again."
            ) from exc

    def set_s3_uri(self, dataset_id: str, uri: str | None) -> DatasetInfo:
        """Remember where the dataset was uploaded (None forgets it)."""
        info = self.get(dataset_id)
        if uri is not None:
            uri = uri.strip()
            problem = check_s3_uri(uri)
            if problem:
                raise DatasetLibraryError(problem)
        self.store.execute("UPDATE datasets SET s3_uri = ? WHERE id = ?", (uri, info.id))
        return self.get(dataset_id)

    def split(self, dataset_id: str, heldout_ratio: float, seed: int) -> tuple[DatasetInfo, DatasetInfo]:
        """Save `<name>-train` and `<name>-heldout` (stratified by focus, deterministic for the seed)."""
        info = self.get(dataset_id)
        names = (info.name + TRAIN_SUFFIX, info.name + HELDOUT_SUFFIX)
        for part_name in names:
            self._check_new_name(part_name)
        if not 0.0 < heldout_ratio < 1.0:
            raise DatasetLibraryError("The held-out share must be between 0 and 1, for example 0.2.")
        try:
            loaded = read_dataset(info.path, min_records=1, max_records=max(MAX_RECORDS, info.records))
        except OSError as exc:
            raise DatasetLibraryError(f"The file of dataset {info.name!r} could not be read: {exc.strerror}.") from exc
        if loaded.report.sha256 != info.sha256:
            raise DatasetLibraryError(
                f"The file of dataset {info.name!r} changed on disk since it was saved: import it again to split it."
            )
        train, train_tags, heldout, heldout_tags = split_dataset(loaded.records, loaded.tags, heldout_ratio, seed)
        if not train or not heldout:
            raise DatasetLibraryError(
                f"{info.records} records are too few to split at {heldout_ratio:.0%}: both parts need a record."
            )
        inherited = _inherited(DatasetManifest.model_validate(info.manifest))
        parts = []
        roles: tuple[tuple[str, Literal["train", "heldout"], list[dict], list[DatasetTags]], ...] = (
            (names[0], "train", train, train_tags),
            (names[1], "heldout", heldout, heldout_tags),
        )
        for part_name, role, records, tags in roles:
            split = SplitInfo(role=role, heldout_ratio=heldout_ratio, seed=seed, parent=info.name)
            try:
                parts.append(self.save(part_name, records, tags, {**inherited, "split": split}))
            except BaseException:
                for saved in parts:
                    self.delete(saved.id)
                raise
        return parts[0], parts[1]

    def clean_leftovers(self, grace_s: float) -> builtins.list[Path]:
        """Remove, once older than `grace_s`, what killed saves and deletes left: staging folders, tombstones and
        dataset folders that never got their row. Returns what was removed (each is logged)."""
        from core.leftovers import older_than, remove_leftover

        if not self.root.is_dir():
            return []
        listed = {Path(row["path"]).parent.name for row in self.store.query("SELECT path FROM datasets")}
        removed = []
        for entry in sorted(self.root.iterdir()):
            if entry.name.startswith(_STAGING_PREFIX):
                why = "the staging folder of a dataset save that never finished"
            elif entry.name.startswith(_TRASH_PREFIX):
                why = "the rest of a deleted dataset"
            elif entry.is_dir() and not entry.name.startswith(".") and entry.name not in listed:
                why = "a dataset written by a save that died before listing it"
            else:
                continue
            if older_than(entry, grace_s) and remove_leftover(entry, why):
                removed.append(entry)
        return removed

    def _check_new_name(self, name: str) -> str:
        name = _clean_name(name)
        existing = self._find_by_name(name)
        if existing is not None:
            raise DatasetLibraryError(f"A dataset named {existing.name!r} already exists: choose another name.")
        return name

    def _new_folder(self, name: str) -> Path:
        """A folder for this name inside the data directory; different names that clean alike get a number."""
        folder = unique_name(safe_name(name, fallback="dataset"), lambda taken: path_inside(self.root, taken).exists())
        self.root.mkdir(parents=True, exist_ok=True)
        return path_inside(self.root, folder)

    def _stored_path(self, path: Path) -> str:
        """Paths are kept relative to the data directory, so the directory can be moved."""
        return path.relative_to(self.data_dir.resolve()).as_posix()

    def _info(self, row) -> DatasetInfo:
        return DatasetInfo(
            id=row["id"],
            name=row["name"],
            kind=row["kind"],
            records=row["records"],
            sha256=row["sha256"],
            created_at=row["created_at"],
            path=path_inside(self.data_dir, *Path(row["path"]).parts),
            s3_uri=row["s3_uri"],
            manifest=json.loads(row["manifest_json"]),
            role=row["role"],
        )


def _listed(noun: str, names: Sequence[str]) -> str:
    if not names:
        return ""
    return f"{noun}{'s' if len(names) > 1 else ''} {', '.join(names)}"


def _clean_name(name: str) -> str:
    name = name.strip() if isinstance(name, str) else ""
    if not name:
        raise DatasetLibraryError("The dataset name is empty: give it a short name such as router-train-v1.")
    if len(name) > MAX_DATASET_NAME:
        raise DatasetLibraryError(f"The dataset name is {len(name)} characters long: keep it to {MAX_DATASET_NAME}.")
    if _CONTROL_CHARS.search(name):
        raise DatasetLibraryError("The dataset name contains control characters: use plain text.")
    return name


def _as_tags(tag: DatasetTags | Mapping[str, Any]) -> DatasetTags:
    return tag if isinstance(tag, DatasetTags) else DatasetTags.model_validate(dict(tag))


def _as_fields(fields: ManifestFields | Mapping[str, Any] | None) -> ManifestFields:
    try:
        return ManifestFields.model_validate(fields or {})
    except ValueError as exc:
        raise DatasetLibraryError(f"The dataset's manifest fields are not valid: {exc}") from exc


def _inherited(manifest: DatasetManifest) -> dict[str, Any]:
    return manifest.model_dump(include=set(_INHERITED_FIELDS))


def _rewrite_manifest_name(data_path: Path, name: str) -> None:
    manifest_path = dataset_paths(data_path).manifest
    manifest = DatasetManifest.model_validate_json(manifest_path.read_bytes()).model_copy(update={"name": name})
    atomic_write_text(manifest_path, manifest.model_dump_json(indent=2) + "\n")


def _source_name(source: object) -> str:
    if isinstance(source, (str, os.PathLike)):
        return Path(source).name
    name = getattr(source, "name", None)
    return Path(name).name if isinstance(name, str) else "upload"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")
