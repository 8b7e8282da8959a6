"""The student's on-disk form: model.npz holds numbers only (loaded with allow_pickle=False); model.json says
what they are (format version, feature configuration, array shapes and dtypes, a sha256 of the npz) and how
they were made (the manifest). Only the embeddings of columns training used are stored. Anything wrong with
a model directory surfaces as one StudentArtifactError with a sentence to show.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from core.distill.features import FeatureConfig
from core.distill.student_model import StudentManifest, StudentModel
from core.files import atomic_write_bytes, atomic_write_text
from core.schema import MODALITIES

FORMAT_NAME: Literal["video-search-router-studio/student"] = "video-search-router-studio/student"
FORMAT_VERSION = 2
JSON_NAME = "model.json"
NPZ_NAME = "model.npz"
ARTIFACT_FILES = frozenset({JSON_NAME, NPZ_NAME})
ARRAY_DTYPES = {
    "rows": "int32",
    "embeddings": "float16",
    "hidden_bias": "float32",
    "output_weights": "float32",
    "output_bias": "float32",
}
# A model.json this large is not ours; refuse before parsing it.
MAX_JSON_BYTES = 1_000_000


class StudentArtifactError(Exception):
    """A student model directory cannot be used; the message is one sentence for the user."""


class _ArraySpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    shape: list[int]
    dtype: str


class _ArtifactHeader(BaseModel):
    """The schema of model.json."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["video-search-router-studio/student"]
    format_version: int
    labels: list[str]
    features: FeatureConfig
    arrays: dict[str, _ArraySpec]
    npz_sha256: str
    manifest: StudentManifest


def save_student(model: StudentModel, directory: Path | str) -> Path:
    """Write model.npz and model.json into a staging folder, then swap it in whole.

    An existing folder is replaced only if it holds nothing but a previous student artifact, so a
    mistyped output path never deletes someone's files.
    """
    directory = Path(directory)
    # Resolved, so that "." or a trailing ".." still names a real parent to stage beside.
    target = directory.resolve()
    _check_replaceable(target)
    arrays: dict[str, np.ndarray] = {
        "rows": model.rows.astype(np.int32),
        "embeddings": model.embeddings.astype(np.float16),
        "hidden_bias": model.hidden_bias.astype(np.float32),
        "output_weights": model.output_weights.astype(np.float32),
        "output_bias": model.output_bias.astype(np.float32),
    }
    buffer = io.BytesIO()
    np.savez_compressed(buffer, allow_pickle=False, **arrays)
    npz_bytes = buffer.getvalue()
    header = _ArtifactHeader(
        format=FORMAT_NAME,
        format_version=FORMAT_VERSION,
        labels=list(MODALITIES),
        features=model.features,
        arrays={name: _ArraySpec(shape=list(a.shape), dtype=str(a.dtype)) for name, a in arrays.items()},
        npz_sha256=hashlib.sha256(npz_bytes).hexdigest(),
        manifest=model.manifest,
    )
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    except OSError as exc:
        raise StudentArtifactError(f"Cannot save the student to {directory}: {exc.strerror or exc}.") from exc
    try:
        atomic_write_bytes(staging / NPZ_NAME, npz_bytes)
        atomic_write_text(staging / JSON_NAME, json.dumps(header.model_dump(mode="json"), indent=2) + "\n")
        _swap_in(staging, target)
    except OSError as exc:
        # A full disk or a permission problem: nothing half-written is left, the old model stays.
        shutil.rmtree(staging, ignore_errors=True)
        raise StudentArtifactError(f"Cannot save the student to {directory}: {exc.strerror or exc}.") from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return directory


def _check_replaceable(directory: Path) -> None:
    if directory.exists() and not directory.is_dir():
        raise StudentArtifactError(f"Cannot save the student to {directory}: a file with that name is in the way.")
    if directory.is_dir() and not {entry.name for entry in directory.iterdir()} <= ARTIFACT_FILES:
        raise StudentArtifactError(
            f"Cannot save the student to {directory}: the folder holds other files; choose an empty or new folder."
        )


def _swap_in(staging: Path, directory: Path) -> None:
    retired: Path | None = None
    if directory.exists():
        retired = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", suffix=".old", dir=directory.parent))
        os.replace(directory, retired / directory.name)
    try:
        os.replace(staging, directory)
    except BaseException:
        if retired is not None:
            os.replace(retired / directory.name, directory)
        raise
    finally:
        if retired is not None:
            shutil.rmtree(retired, ignore_errors=True)


def load_student(directory: Path | str) -> StudentModel:
    """Read and check a model directory; every problem becomes one StudentArtifactError."""
    directory = Path(directory)

    def fail(problem: str) -> StudentArtifactError:
        return StudentArtifactError(f"Cannot load the student model from {directory}: {problem}.")

    if not directory.is_dir():
        raise fail("it is not a folder (a student model is a folder holding model.json and model.npz)")
    header = _read_header(directory, fail)
    npz_path = directory / NPZ_NAME
    try:
        npz_bytes = npz_path.read_bytes()
    except FileNotFoundError:
        raise fail(f"{NPZ_NAME} is missing; re-run distillation") from None
    except OSError as exc:
        raise fail(f"{NPZ_NAME} cannot be read ({exc.strerror or exc})") from None
    if hashlib.sha256(npz_bytes).hexdigest() != header.npz_sha256:
        raise fail(f"{NPZ_NAME} does not match {JSON_NAME} (truncated, damaged or replaced); re-run distillation")
    arrays = _read_arrays(npz_bytes, header, fail)
    n_columns = header.features.n_columns
    rows = arrays["rows"]
    if rows.size and (rows[0] < 0 or rows[-1] >= n_columns or np.any(np.diff(rows) <= 0)):
        raise fail(f"the stored row indices are not sorted, unique and below {n_columns}")
    return StudentModel(
        rows,
        arrays["embeddings"],
        arrays["hidden_bias"],
        arrays["output_weights"],
        arrays["output_bias"],
        header.features,
        header.manifest,
    )


def _read_header(directory: Path, fail) -> _ArtifactHeader:
    path = directory / JSON_NAME
    try:
        if path.stat().st_size > MAX_JSON_BYTES:
            raise fail(f"{JSON_NAME} is too large to be a student description")
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise fail(f"{JSON_NAME} is missing; this folder is not a trained student") from None
    except (OSError, UnicodeDecodeError, ValueError):
        raise fail(f"{JSON_NAME} is not valid JSON") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT_NAME:
        raise fail(f"{JSON_NAME} does not describe a student model (expected format {FORMAT_NAME!r})")
    if raw.get("format_version") != FORMAT_VERSION:
        raise fail(
            f"it was written in format version {raw.get('format_version')!r} and this studio reads version "
            f"{FORMAT_VERSION}; re-run distillation"
        )
    try:
        header = _ArtifactHeader.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "top level"
        raise fail(f"{JSON_NAME} is malformed at {where}: {first['msg']}") from None
    if tuple(header.labels) != MODALITIES:
        raise fail(f"its labels {header.labels} are not {list(MODALITIES)}")
    return header


def _read_arrays(npz_bytes: bytes, header: _ArtifactHeader, fail) -> dict[str, np.ndarray]:
    if set(header.arrays) != set(ARRAY_DTYPES):
        raise fail(f"{JSON_NAME} lists arrays {sorted(header.arrays)}, expected {sorted(ARRAY_DTYPES)}")
    try:
        with np.load(io.BytesIO(npz_bytes), allow_pickle=False) as npz:
            if set(npz.files) != set(ARRAY_DTYPES):
                raise fail(f"{NPZ_NAME} holds arrays {sorted(npz.files)}, expected {sorted(ARRAY_DTYPES)}")
            arrays = {name: npz[name] for name in ARRAY_DTYPES}
    except StudentArtifactError:
        raise
    except Exception:  # a damaged zip or array fails in many library-specific ways: one message for all
        raise fail(f"{NPZ_NAME} is not a readable numpy archive") from None
    if arrays["rows"].ndim != 1 or arrays["hidden_bias"].ndim != 1:
        raise fail("arrays 'rows' and 'hidden_bias' must have one dimension")
    stored, hidden = len(arrays["rows"]), len(arrays["hidden_bias"])
    expected_shapes = {
        "rows": [stored],
        "embeddings": [stored, hidden],
        "hidden_bias": [hidden],
        "output_weights": [hidden, len(MODALITIES)],
        "output_bias": [len(MODALITIES)],
    }
    for name, array in arrays.items():
        spec = header.arrays[name]
        if list(array.shape) != spec.shape or list(array.shape) != expected_shapes[name]:
            raise fail(f"array {name!r} has shape {list(array.shape)}, expected {expected_shapes[name]}")
        if str(array.dtype) != spec.dtype or spec.dtype != ARRAY_DTYPES[name]:
            raise fail(f"array {name!r} is {array.dtype}, expected {ARRAY_DTYPES[name]}")
        if name != "rows" and not np.all(np.isfinite(array)):
            raise fail(f"array {name!r} holds values that are not finite numbers")
    return arrays
