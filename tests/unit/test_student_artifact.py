"""The student's npz/json artifact: exact round trips, atomic saves, and one clear error for any bad folder."""

import hashlib
import io
import json
import pickle

import numpy as np
import pytest

from core.distill.artifact import FORMAT_VERSION, JSON_NAME, NPZ_NAME, StudentArtifactError, load_student, save_student
from core.distill.features import FeatureConfig
from core.distill.student_model import StudentManifest, StudentModel
from core.routers.student import StudentRouter

CONFIG = FeatureConfig(n_features=2**12)
QUERIES = ["dog barking loudly", "sunset over mountains", "CEO discussing quarterly earnings", "season 2 trailer 4k"]


HIDDEN = 8


def sparse_model(seed=0, touched=300):
    """A model holding embeddings for a few hundred columns, as training leaves it (most hashed columns unused)."""
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(CONFIG.n_columns, size=touched, replace=False))
    manifest = StudentManifest(
        dataset_sha256="cd" * 32,
        teacher_id="teacher",
        seed=seed,
        training_metrics={"epochs_run": 3},
        heldout_metrics={"rubric_mean": 4.2},
    )
    return StudentModel(
        rows,
        rng.normal(0, 1, size=(touched, HIDDEN)),
        rng.normal(size=HIDDEN),
        rng.normal(size=(HIDDEN, 4)),
        rng.normal(size=4),
        CONFIG,
        manifest,
    )


def model_arrays(directory, **replaced):
    """The saved arrays with some replaced, as keyword arguments for npz_bytes."""
    with np.load(directory / NPZ_NAME) as npz:
        arrays = {name: npz[name] for name in npz.files}
    return {**arrays, **replaced}


@pytest.fixture
def saved(tmp_path):
    model = sparse_model()
    directory = save_student(model, tmp_path / "student")
    return model, directory


def rewrite_npz(directory, data: bytes, **header_changes):
    """Replace model.npz and keep model.json consistent with it (so the content checks, not the hash, must catch it)."""
    (directory / NPZ_NAME).write_bytes(data)
    header = json.loads((directory / JSON_NAME).read_text())
    header["npz_sha256"] = hashlib.sha256(data).hexdigest()
    header.update(header_changes)
    (directory / JSON_NAME).write_text(json.dumps(header))


def npz_bytes(**arrays):
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def test_round_trip_gives_identical_predictions_and_manifest(saved):
    model, directory = saved
    loaded = load_student(directory)
    assert np.array_equal(loaded.predict_proba(QUERIES), model.predict_proba(QUERIES))
    for name in ("rows", "embeddings", "hidden_bias", "output_weights", "output_bias"):
        assert np.array_equal(getattr(loaded, name), getattr(model, name)), name
    assert loaded.explain(QUERIES[0]) == model.explain(QUERIES[0])
    assert loaded.features == CONFIG
    assert loaded.manifest == model.manifest
    assert sorted(p.name for p in directory.iterdir()) == [JSON_NAME, NPZ_NAME]
    assert [p.name for p in directory.parent.iterdir()] == ["student"], "no staging folders left behind"


def test_only_used_columns_are_stored_with_half_precision_embeddings(saved):
    _, directory = saved
    header = json.loads((directory / JSON_NAME).read_text())
    assert header["arrays"]["rows"] == {"shape": [300], "dtype": "int32"}
    assert header["arrays"]["embeddings"] == {"shape": [300, HIDDEN], "dtype": "float16"}
    assert header["arrays"]["output_weights"] == {"shape": [HIDDEN, 4], "dtype": "float32"}
    assert header["format_version"] == FORMAT_VERSION
    assert header["labels"] == ["visual", "audio", "transcription", "metadata"]


def test_saving_again_replaces_the_previous_model(saved):
    _, directory = saved
    newer = sparse_model(seed=1)
    save_student(newer, directory)
    assert np.array_equal(load_student(directory).embeddings, newer.embeddings)


def test_save_refuses_a_folder_holding_other_files(tmp_path):
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(StudentArtifactError, match="holds other files"):
        save_student(sparse_model(), tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "keep me"


def test_save_refuses_a_file_in_the_way(tmp_path):
    (tmp_path / "student").write_text("not a folder")
    with pytest.raises(StudentArtifactError, match="a file with that name is in the way"):
        save_student(sparse_model(), tmp_path / "student")


def test_a_failed_write_keeps_the_previous_model_and_says_why(saved, monkeypatch):
    model, directory = saved

    def disk_full(path, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("core.distill.artifact.atomic_write_bytes", disk_full)
    with pytest.raises(StudentArtifactError, match="No space left on device"):
        save_student(sparse_model(seed=1), directory)
    assert np.array_equal(load_student(directory).embeddings, model.embeddings)
    assert [p.name for p in directory.parent.iterdir()] == ["student"]


def test_router_loads_from_a_directory(saved):
    model, directory = saved
    router = StudentRouter.from_directory(directory)
    assert router.router_id == "student" and router.price_key is None
    assert router.route("dog barking loudly").valid


def corrupt_truncated_npz(directory):
    data = (directory / NPZ_NAME).read_bytes()
    (directory / NPZ_NAME).write_bytes(data[: len(data) // 2])


def corrupt_truncated_npz_with_matching_hash(directory):
    rewrite_npz(directory, (directory / NPZ_NAME).read_bytes()[:200])


def corrupt_random_bytes(directory):
    rewrite_npz(directory, np.random.default_rng(0).bytes(4096))


def corrupt_pickle_in_place_of_npz(directory):
    rewrite_npz(directory, pickle.dumps({"weights": [1, 2, 3]}))


def corrupt_object_array(directory):
    buffer = io.BytesIO()
    np.savez(buffer, **model_arrays(directory, rows=np.array([{"a": 1}], dtype=object)))
    rewrite_npz(directory, buffer.getvalue())


def corrupt_wrong_output_shape(directory):
    rewrite_npz(directory, npz_bytes(**model_arrays(directory, output_weights=np.zeros((HIDDEN, 3), np.float32))))


def corrupt_hidden_sizes_disagree(directory):
    rewrite_npz(directory, npz_bytes(**model_arrays(directory, hidden_bias=np.zeros(HIDDEN + 1, np.float32))))


def corrupt_wrong_dtype(directory):
    rows = model_arrays(directory)["rows"]
    rewrite_npz(directory, npz_bytes(**model_arrays(directory, rows=rows.astype(np.int64))))


def corrupt_full_precision_embeddings(directory):
    embeddings = model_arrays(directory)["embeddings"]
    rewrite_npz(directory, npz_bytes(**model_arrays(directory, embeddings=embeddings.astype(np.float32))))


def corrupt_foreign_npz(directory):
    rewrite_npz(directory, npz_bytes(coef=np.zeros((10, 4)), intercept=np.zeros(4)))


def corrupt_not_finite(directory):
    embeddings = model_arrays(directory)["embeddings"].copy()
    embeddings[0, 0] = np.nan
    rewrite_npz(directory, npz_bytes(**model_arrays(directory, embeddings=embeddings)))


def corrupt_rows_out_of_range(directory):
    rows = model_arrays(directory)["rows"] + np.int32(CONFIG.n_columns)
    rewrite_npz(directory, npz_bytes(**model_arrays(directory, rows=rows)))


def corrupt_rows_unsorted(directory):
    rows = model_arrays(directory)["rows"][::-1].copy()
    rewrite_npz(directory, npz_bytes(**model_arrays(directory, rows=rows)))


def corrupt_missing_json(directory):
    (directory / JSON_NAME).unlink()


def corrupt_missing_npz(directory):
    (directory / NPZ_NAME).unlink()


def corrupt_json_not_json(directory):
    (directory / JSON_NAME).write_text("{not json")


def corrupt_foreign_json(directory):
    (directory / JSON_NAME).write_text(json.dumps({"model": "something else"}))


def corrupt_wrong_format_version(directory):
    header = json.loads((directory / JSON_NAME).read_text())
    header["format_version"] = FORMAT_VERSION + 1
    (directory / JSON_NAME).write_text(json.dumps(header))


def corrupt_bad_feature_config(directory):
    header = json.loads((directory / JSON_NAME).read_text())
    header["features"]["n_features"] = 3
    (directory / JSON_NAME).write_text(json.dumps(header))


CORRUPTIONS = {
    "truncated npz": (corrupt_truncated_npz, "does not match"),
    "truncated npz with a matching hash": (corrupt_truncated_npz_with_matching_hash, "not a readable numpy archive"),
    "random bytes": (corrupt_random_bytes, "not a readable numpy archive"),
    "pickle file": (corrupt_pickle_in_place_of_npz, "not a readable numpy archive"),
    "pickled object array": (corrupt_object_array, "not a readable numpy archive"),
    "wrong output shape": (corrupt_wrong_output_shape, "array 'output_weights' has shape [8, 3], expected [8, 4]"),
    "hidden sizes disagree": (corrupt_hidden_sizes_disagree, "has shape"),
    "wrong dtype": (corrupt_wrong_dtype, "is int64, expected int32"),
    "full-precision embeddings": (corrupt_full_precision_embeddings, "is float32, expected float16"),
    "foreign npz": (corrupt_foreign_npz, "holds arrays"),
    "not finite": (corrupt_not_finite, "not finite"),
    "rows out of range": (corrupt_rows_out_of_range, "row indices"),
    "rows unsorted": (corrupt_rows_unsorted, "row indices"),
    "missing json": (corrupt_missing_json, "model.json is missing"),
    "missing npz": (corrupt_missing_npz, "model.npz is missing"),
    "json not json": (corrupt_json_not_json, "not valid JSON"),
    "foreign json": (corrupt_foreign_json, "does not describe a student model"),
    "wrong format version": (corrupt_wrong_format_version, f"format version {FORMAT_VERSION + 1}"),
    "bad feature config": (corrupt_bad_feature_config, "malformed at features.n_features"),
}


@pytest.mark.parametrize(("corrupt", "expected"), CORRUPTIONS.values(), ids=CORRUPTIONS.keys())
def test_a_bad_artifact_raises_one_clear_error(saved, corrupt, expected):
    _, directory = saved
    corrupt(directory)
    with pytest.raises(StudentArtifactError) as error:
        StudentRouter.from_directory(directory)
    message = str(error.value)
    assert message.startswith(f"Cannot load the student model from {directory}: ")
    assert expected in message
    assert "\n" not in message


def test_a_pickle_file_given_as_the_model_path_is_refused(tmp_path):
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(sparse_model()))
    with pytest.raises(StudentArtifactError, match="not a folder"):
        load_student(path)


def test_a_missing_folder_is_refused(tmp_path):
    with pytest.raises(StudentArtifactError, match="not a folder"):
        load_student(tmp_path / "nowhere")
