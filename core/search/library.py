"""Named search catalogs: the built-in sample, sample catalogs made from another seed or size, and imports.

The built-in catalog `sample` is never stored: it is made from its seed (CatalogSpec defaults) whenever it
is opened, the same every time. Every other catalog lives in its own folder
`<data_dir>/search-catalogs/<safe-name>/` as `segments.jsonl`, `judgements.jsonl` (possibly empty) and
`manifest.json`, and has one row in the store's `search_catalogs` table (migration 7). A folder is
written under a temporary name and renamed into place, and its row is written only once it is complete.
Opening a stored catalog checks its files again, so a hand-edited file gets line-numbered problems too.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from hashlib import sha256
from pathlib import Path
from typing import Any

from core.files import atomic_write_text, path_inside
from core.search.catalog import Catalog
from core.search.importing import CatalogImport, ImportReport, Source, check_catalog, check_judgements
from core.search.judgements import JudgedQuery, judgements_to_jsonl
from core.search.sample import GENERATOR_VERSION, CatalogSpec, CatalogTooSmall, generate_catalog
from core.store import Store

CATALOGS_DIR = "search-catalogs"
SEGMENTS_FILE = "segments.jsonl"
JUDGEMENTS_FILE = "judgements.jsonl"
MANIFEST_FILE = "manifest.json"
SAMPLE_NAME = "sample"
MAX_CATALOG_NAME = 63
_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")


class CatalogLibraryError(ValueError):
    """A user mistake (unknown or duplicate name, a file that does not check out), in one sentence."""


class CatalogImportError(CatalogLibraryError):
    """An imported file has problems; `report` holds every line-numbered one."""

    def __init__(self, message: str, report: ImportReport):
        super().__init__(message)
        self.report = report


@dataclass(frozen=True)
class CatalogInfo:
    name: str
    source: str  # "sample" (made from a seed) or "imported"
    segments: int
    videos: int
    queries: int
    spec: CatalogSpec | None  # how a sample catalog was made
    created_at: str | None  # None for the built-in sample
    folder: Path | None  # None for the built-in sample

    def describe(self) -> str:
        made = f"sample, seed {self.spec.seed}" if self.spec else "imported"
        counts = f"{self.segments:,} segments of {self.videos:,} videos, {self.queries:,} judged queries"
        return f"{self.name}: {counts} ({made})"


@dataclass(frozen=True)
class OpenedCatalog:
    info: CatalogInfo
    catalog: Catalog
    judgements: Sequence[JudgedQuery]


class CatalogLibrary:
    def __init__(self, store: Store, data_dir: str | os.PathLike[str]):
        self.store = store
        self.data_dir = Path(data_dir)
        self.root = path_inside(self.data_dir, CATALOGS_DIR)

    def list(self) -> list[CatalogInfo]:
        """The built-in sample first, then the stored catalogs by name."""
        rows = self.store.query("SELECT * FROM search_catalogs ORDER BY name")
        return [sample_info(), *(self._info(row) for row in rows)]

    def get(self, name: str) -> CatalogInfo:
        if name == SAMPLE_NAME:
            return sample_info()
        row = self.store.query_one("SELECT * FROM search_catalogs WHERE name = ?", (name,))
        if row is None:
            known = ", ".join(info.name for info in self.list())
            raise CatalogLibraryError(f"No search catalog named {name!r}: the catalogs are {known}.")
        return self._info(row)

    def open(self, name: str = SAMPLE_NAME) -> OpenedCatalog:
        info = self.get(name)
        if info.folder is None:
            made = generate_catalog(info.spec)
            return OpenedCatalog(info, made.catalog, made.judgements)
        loaded = check_catalog(info.folder / SEGMENTS_FILE)
        if loaded.catalog is None:
            raise _import_error(f"The stored catalog {name!r}", loaded.report)
        judged = check_judgements(info.folder / JUDGEMENTS_FILE, loaded.catalog) if info.queries else None
        if judged is not None and not judged.report.ok:
            raise _import_error(f"The stored judgements of {name!r}", judged.report)
        return OpenedCatalog(info, loaded.catalog, judged.queries if judged else [])

    def generate(self, name: str, spec: CatalogSpec) -> CatalogInfo:
        """Make a sample catalog from a seed and size, and keep it under this name."""
        name = self._check_new_name(name)
        try:
            made = generate_catalog(spec)
        except CatalogTooSmall as exc:
            raise CatalogLibraryError(str(exc)) from exc
        return self._save(name, "sample", made.catalog, made.judgements, spec)

    def import_files(self, name: str, catalog_source: Source, judgements_source: Source | None = None) -> CatalogInfo:
        """Check a team's catalog (and judgements) line by line and keep them; nothing is kept if either fails."""
        name = self._check_new_name(name)
        loaded: CatalogImport = check_catalog(catalog_source)
        if loaded.catalog is None:
            raise _import_error("The catalog file", loaded.report)
        queries: Sequence[JudgedQuery] = ()
        if judgements_source is not None:
            judged = check_judgements(judgements_source, loaded.catalog)
            if not judged.report.ok:
                raise _import_error("The judgements file", judged.report)
            queries = judged.queries
        return self._save(name, "imported", loaded.catalog, queries, None)

    def delete(self, name: str) -> None:
        info = self.get(name)
        if info.folder is None:
            raise CatalogLibraryError("The built-in sample catalog cannot be deleted (it is made from its seed).")
        trash = path_inside(self.root, f".deleting-{uuid.uuid4().hex}")
        exists = info.folder.exists()
        if exists:
            os.replace(info.folder, trash)
        try:
            self.store.execute("DELETE FROM search_catalogs WHERE name = ?", (name,))
        except BaseException:
            if exists:
                os.replace(trash, info.folder)
            raise
        shutil.rmtree(trash, ignore_errors=True)

    # ---- internals ----------------------------------------------------------------------------------------

    def _check_new_name(self, name: str) -> str:
        name = name.strip() if isinstance(name, str) else ""
        if not _NAME.fullmatch(name) or len(name) > MAX_CATALOG_NAME:
            raise CatalogLibraryError(
                f"The catalog name {name!r} is not usable: use 1-{MAX_CATALOG_NAME} letters, digits, '.', '_' or '-', "
                "starting and ending with a letter or digit."
            )
        if name == SAMPLE_NAME or self.store.query_one("SELECT 1 FROM search_catalogs WHERE name = ?", (name,)):
            raise CatalogLibraryError(f"A search catalog named {name!r} already exists: choose another name.")
        return name

    def _save(
        self, name: str, source: str, catalog: Catalog, queries: Sequence[JudgedQuery], spec: CatalogSpec | None
    ) -> CatalogInfo:
        folder = path_inside(self.root, name)
        staging = path_inside(self.root, f".staging-{uuid.uuid4().hex}")
        created_at = datetime.now(UTC).isoformat(timespec="seconds")
        segments_text = catalog.to_jsonl()
        manifest: dict[str, Any] = {
            "name": name,
            "source": source,
            "spec": spec.model_dump() if spec else None,
            "generator_version": GENERATOR_VERSION if spec else None,
            "segments": len(catalog),
            "videos": catalog.video_count,
            "queries": len(queries),
            "created_at": created_at,
        }
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            atomic_write_text(staging / SEGMENTS_FILE, segments_text)
            atomic_write_text(staging / JUDGEMENTS_FILE, judgements_to_jsonl(queries))
            atomic_write_text(staging / MANIFEST_FILE, json.dumps(manifest, indent=2) + "\n")
            if folder.exists():
                shutil.rmtree(folder)  # left by a catalog whose row is gone: nothing lists it
            os.replace(staging, folder)
        except OSError as exc:
            raise CatalogLibraryError(
                f"The catalog could not be written to {self.root} ({exc.strerror or exc}): "
                "free some disk space or check the folder's permissions."
            ) from exc
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        self.store.execute(
            "INSERT INTO search_catalogs (name, source, folder, segments, videos, queries, spec_json, sha256, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                name,
                source,
                folder.relative_to(self.data_dir.resolve()).as_posix(),
                len(catalog),
                catalog.video_count,
                len(queries),
                spec.model_dump_json() if spec else None,
                sha256(segments_text.encode("utf-8")).hexdigest(),
                created_at,
            ),
        )
        return self.get(name)

    def _info(self, row) -> CatalogInfo:
        spec = CatalogSpec.model_validate_json(row["spec_json"]) if row["spec_json"] else None
        return CatalogInfo(
            name=row["name"],
            source=row["source"],
            segments=row["segments"],
            videos=row["videos"],
            queries=row["queries"],
            spec=spec,
            created_at=row["created_at"],
            folder=path_inside(self.data_dir, *Path(row["folder"]).parts),
        )


def sample_info() -> CatalogInfo:
    """The built-in catalog: the default spec, made on demand (its counts are the spec's)."""
    spec = CatalogSpec()
    made = generate_catalog(spec)
    return CatalogInfo(
        name=SAMPLE_NAME,
        source="sample",
        segments=len(made.catalog),
        videos=made.catalog.video_count,
        queries=len(made.judgements),
        spec=spec,
        created_at=None,
        folder=None,
    )


def _import_error(what: str, report: ImportReport) -> CatalogImportError:
    first = report.lines()[:1]
    detail = f" The first: {first[0]}." if first else ""
    return CatalogImportError(f"{what} cannot be used. {report.verdict}{detail}", report)
