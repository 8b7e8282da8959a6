"""The student's on-disk form: model.npz holds numbers only (loaded with allow_pickle=False); model.json says
what they are (format version, feature configuration, array shapes and dtypes, a sha256 of the npz) and how
they were made (the manifest). Only the embeddings of columns training used are stored. Anything wrong with
a model directory surfaces as one StudentArtifactError with a sentence to show.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from core.distill.features import FeatureConfig
from core.distill.student_model import StudentManifest, StudentModel
from core.files import FileTooLargeError, NotRegularFileError, atomic_write_bytes, atomic_write_text, read_regular_file
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
MAX_NPZ_BYTES = 1_000_000_000
# A student's arrays barely compress (about 1.1 to 1); an archive declaring many times its own size in arrays
# is damaged or a decompression bomb, and is refused before anything is allocated for it.
MAX_COMPRESSION_RATIO = 8
DECLARED_SLACK_BYTES = 1_000_000
# An .npy member is its array's bytes and a header of at most a few kilobytes.
NPY_HEADER_MAX_BYTES = 65_536


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
    declared = _declared_bytes(header, fail)
    npz_bytes = _read_file(directory / NPZ_NAME, MAX_NPZ_BYTES, fail)
    if declared > len(npz_bytes) * MAX_COMPRESSION_RATIO + DECLARED_SLACK_BYTES:
        raise fail(
            f"{JSON_NAME} declares {_megabytes(declared)} of arrays in a {_megabytes(len(npz_bytes))} {NPZ_NAME}, "
            "far more than a student's arrays compress to; the folder is damaged or crafted: re-run distillation"
        )
    if hashlib.sha256(npz_bytes).hexdigest() != header.npz_sha256:
        raise fail(f"{NPZ_NAME} does not match {JSON_NAME} (truncated, damaged or replaced); re-run distillation")
    _check_members(npz_bytes, header, fail)
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


def _read_file(path: Path, max_bytes: int, fail) -> bytes:
    """A file of the folder, read only if it is a regular file and no larger than `max_bytes`."""
    try:
        return read_regular_file(path, max_bytes)
    except FileNotFoundError:
        what = "this folder is not a trained student" if path.name == JSON_NAME else "re-run distillation"
        raise fail(f"{path.name} is missing; {what}") from None
    except NotRegularFileError as exc:
        raise fail(f"{path.name} is {exc.strerror}") from None
    except FileTooLargeError:
        what = "description" if path.name == JSON_NAME else "model"
        raise fail(f"{path.name} is too large to be a student {what}") from None
    except OSError as exc:
        raise fail(f"{path.name} cannot be read ({exc.strerror or exc})") from None


def _read_header(directory: Path, fail) -> _ArtifactHeader:
    data = _read_file(directory / JSON_NAME, MAX_JSON_BYTES, fail)
    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
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


def _expected_shapes(stored: int, hidden: int) -> dict[str, list[int]]:
    return {
        "rows": [stored],
        "embeddings": [stored, hidden],
        "hidden_bias": [hidden],
        "output_weights": [hidden, len(MODALITIES)],
        "output_bias": [len(MODALITIES)],
    }


def _declared_bytes(header: _ArtifactHeader, fail) -> int:
    """The bytes model.json's arrays take, once their shapes and dtypes are checked against each other."""
    if set(header.arrays) != set(ARRAY_DTYPES):
        raise fail(f"{JSON_NAME} lists arrays {sorted(header.arrays)}, expected {sorted(ARRAY_DTYPES)}")
    rows, hidden = header.arrays["rows"].shape, header.arrays["hidden_bias"].shape
    if len(rows) != 1 or len(hidden) != 1:
        raise fail("arrays 'rows' and 'hidden_bias' must have one dimension")
    expected = _expected_shapes(rows[0], hidden[0])
    total = 0
    for name, spec in header.arrays.items():
        if spec.shape != expected[name] or any(size < 0 for size in spec.shape):
            raise fail(f"{JSON_NAME} gives array {name!r} shape {spec.shape}, expected {expected[name]}")
        if spec.dtype != ARRAY_DTYPES[name]:
            raise fail(f"{JSON_NAME} gives array {name!r} type {spec.dtype}, expected {ARRAY_DTYPES[name]}")
        total += math.prod(spec.shape) * np.dtype(spec.dtype).itemsize
    if rows[0] > header.features.n_columns:
        raise fail(f"{JSON_NAME} declares {rows[0]:,} stored rows for {header.features.n_columns:,} feature columns")
    return total


def _check_members(npz_bytes: bytes, header: _ArtifactHeader, fail) -> None:
    """Each array's own header in the archive says what model.json says, before any array is read."""
    try:
        with zipfile.ZipFile(io.BytesIO(npz_bytes)) as archive:
            members = {info.filename: info for info in archive.infolist()}
            if set(members) != {f"{name}.npy" for name in ARRAY_DTYPES}:
                found = sorted(name.removesuffix(".npy") for name in members)
                raise fail(f"{NPZ_NAME} holds arrays {found}, expected {sorted(ARRAY_DTYPES)}")
            for name, spec in header.arrays.items():
                info = members[f"{name}.npy"]
                nbytes = math.prod(spec.shape) * np.dtype(spec.dtype).itemsize
                if info.file_size > nbytes + NPY_HEADER_MAX_BYTES:
                    raise fail(f"{NPZ_NAME} holds {info.file_size:,} bytes for array {name!r}, expected {nbytes:,}")
                with archive.open(info) as member:
                    version = np.lib.format.read_magic(member)
                    read_header = (
                        np.lib.format.read_array_header_1_0
                        if version == (1, 0)
                        else np.lib.format.read_array_header_2_0
                    )
                    shape, fortran_order, dtype = read_header(member)
                if dtype.hasobject or fortran_order:
                    raise fail(f"{NPZ_NAME} is not a readable numpy archive")
                if list(shape) != spec.shape:
                    raise fail(f"array {name!r} has shape {list(shape)}, expected {spec.shape}")
                if str(dtype) != spec.dtype:
                    raise fail(f"array {name!r} is {dtype}, expected {spec.dtype}")
    except StudentArtifactError:
        raise
    except Exception:  # a damaged zip or .npy header fails in many library-specific ways: one message for all
        raise fail(f"{NPZ_NAME} is not a readable numpy archive") from None


def _megabytes(n: int) -> str:
    return f"{n / 1e6:,.0f} MB" if n >= 1e6 else f"{n / 1e6:.1f} MB"


def _read_arrays(npz_bytes: bytes, header: _ArtifactHeader, fail) -> dict[str, np.ndarray]:
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
    expected_shapes = _expected_shapes(len(arrays["rows"]), len(arrays["hidden_bias"]))
    for name, array in arrays.items():
        spec = header.arrays[name]
        if list(array.shape) != spec.shape or list(array.shape) != expected_shapes[name]:
            raise fail(f"array {name!r} has shape {list(array.shape)}, expected {expected_shapes[name]}")
        if str(array.dtype) != spec.dtype or spec.dtype != ARRAY_DTYPES[name]:
            raise fail(f"array {name!r} is {array.dtype}, expected {ARRAY_DTYPES[name]}")
        if name != "rows" and not np.all(np.isfinite(array)):
            raise fail(f"array {name!r} holds values that are not finite numbers")
    return arrays
