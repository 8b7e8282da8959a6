"""A crafted student folder is refused in one sentence, in bounded memory and time: an npz declaring far more
array bytes than it holds (a decompression bomb), and model.json or model.npz that is a device or a FIFO."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
import zipfile
import zlib

import numpy as np
import pytest

from core.distill.artifact import JSON_NAME, NPZ_NAME, StudentArtifactError, load_student, save_student
from core.distill.features import FeatureConfig
from core.distill.student_model import StudentManifest, StudentModel

HIDDEN = 192
BOMB_ROWS = 1_000_000  # 1,000,000 x 192 float16 embeddings: 384 MB of zeros, a few hundred KB compressed
CHILD_TIMEOUT_S = 60
# Loading the bomb whole takes at least its 384 MB; a refusal stays near the interpreter's own size.
REFUSAL_PEAK_RSS_BYTES = 250 * 1024**2


def small_model() -> StudentModel:
    rng = np.random.default_rng(0)
    config = FeatureConfig(n_features=2**12)
    rows = np.sort(rng.choice(config.n_columns, size=60, replace=False))
    manifest = StudentManifest(dataset_sha256="ab" * 32, teacher_id="teacher", seed=0, training_metrics={})
    return StudentModel(
        rows,
        rng.normal(size=(60, 8)),
        rng.normal(size=8),
        rng.normal(size=(8, 4)),
        rng.normal(size=4),
        config,
        manifest,
    )


def write_npy_member(archive: zipfile.ZipFile, name: str, shape: tuple[int, ...], dtype: str, fill=None) -> None:
    """One array member written in chunks (zeros unless `fill` gives the bytes), never held whole in memory."""
    with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
        np.lib.format.write_array_header_1_0(
            member, {"descr": np.dtype(dtype).str, "fortran_order": False, "shape": shape}
        )
        if fill is not None:
            member.write(fill)
            return
        left = int(np.prod(shape)) * np.dtype(dtype).itemsize
        chunk = b"\0" * (1 << 22)
        while left:
            member.write(chunk[: min(left, len(chunk))])
            left -= min(left, len(chunk))


def make_bomb(directory) -> None:
    """A folder whose model.json and model.npz agree with each other (and with their hash) on 384 MB of arrays."""
    save_student(small_model(), directory)
    header = json.loads((directory / JSON_NAME).read_text())
    header["features"]["n_features"] = 2**20
    rows = np.arange(BOMB_ROWS, dtype=np.int32)
    shapes = {
        "rows": ((BOMB_ROWS,), "int32", rows.tobytes()),
        "embeddings": ((BOMB_ROWS, HIDDEN), "float16", None),
        "hidden_bias": ((HIDDEN,), "float32", None),
        "output_weights": ((HIDDEN, 4), "float32", None),
        "output_bias": ((4,), "float32", None),
    }
    npz = directory / NPZ_NAME
    with zipfile.ZipFile(npz, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=zlib.Z_BEST_SPEED) as archive:
        for name, (shape, dtype, fill) in shapes.items():
            write_npy_member(archive, name, shape, dtype, fill)
    header["arrays"] = {name: {"shape": list(shape), "dtype": dtype} for name, (shape, dtype, _) in shapes.items()}
    header["npz_sha256"] = hashlib.sha256(npz.read_bytes()).hexdigest()
    (directory / JSON_NAME).write_text(json.dumps(header))


def load_in_a_child(directory) -> tuple[subprocess.CompletedProcess, int]:
    """load_student in a child process; its outcome and its peak resident memory in bytes.

    The peak is the child's own VmHWM (getrusage's maximum would include the forking test process's size).
    """
    code = textwrap.dedent(
        f"""
        import re
        from pathlib import Path
        from core.distill.artifact import StudentArtifactError, load_student
        try:
            load_student({str(directory)!r})
            outcome = "loaded"
        except StudentArtifactError as exc:
            outcome = "refused: " + str(exc)
        print(outcome)
        print(int(re.search(r"VmHWM:\\s+(\\d+) kB", Path("/proc/self/status").read_text()).group(1)) * 1024)
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=CHILD_TIMEOUT_S)
    lines = done.stdout.splitlines()
    return done, int(lines[-1]) if lines and lines[-1].isdigit() else -1


def test_bad_input_an_npz_declaring_far_more_than_it_holds_is_refused_before_allocating(tmp_path):
    directory = tmp_path / "bomb"
    make_bomb(directory)
    assert (directory / NPZ_NAME).stat().st_size < 5_000_000

    done, peak_rss = load_in_a_child(directory)

    assert done.returncode == 0, done.stderr
    assert "refused: " in done.stdout and "declares 388 MB of arrays in a" in done.stdout
    assert 0 < peak_rss < REFUSAL_PEAK_RSS_BYTES, f"peak memory {peak_rss / 1e6:.0f} MB"


@pytest.mark.parametrize("name", [JSON_NAME, NPZ_NAME])
def test_bad_input_a_model_file_that_is_a_device_is_refused_at_once(tmp_path, name):
    directory = save_student(small_model(), tmp_path / "student")
    (directory / name).unlink()
    (directory / name).symlink_to("/dev/zero")

    done, _ = load_in_a_child(directory)

    assert done.returncode == 0, done.stderr
    assert f"refused: Cannot load the student model from {directory}: {name} is not a regular file (a device)" in (
        done.stdout
    )


@pytest.mark.parametrize("name", [JSON_NAME, NPZ_NAME])
def test_bad_input_a_model_file_that_is_a_fifo_is_refused_without_waiting(tmp_path, name):
    directory = save_student(small_model(), tmp_path / "student")
    (directory / name).unlink()
    os.mkfifo(directory / name)

    done, _ = load_in_a_child(directory)

    assert done.returncode == 0, done.stderr
    assert f"{name} is not a regular file (a pipe)" in done.stdout


def test_bad_input_a_model_json_over_the_size_limit_is_refused_unread(tmp_path):
    directory = save_student(small_model(), tmp_path / "student")
    with open(directory / JSON_NAME, "r+b") as handle:
        handle.truncate(50_000_000)
    with pytest.raises(StudentArtifactError, match="model.json is too large to be a student description"):
        load_student(directory)
