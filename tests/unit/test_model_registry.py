"""The custom model registry: register, list, get, and delete that respects deployments and the data dir."""

import shutil

import pytest

from core.model_registry import (
    HELDOUT_AGREEMENT,
    HELDOUT_RUBRIC,
    ModelInUseError,
    ModelNotFoundError,
    ModelRegistry,
    ModelRegistryError,
)
from core.store import Store

METRICS = {HELDOUT_AGREEMENT: 0.9, HELDOUT_RUBRIC: 4.2, "heldout_n": 16}


@pytest.fixture
def data_dir(tmp_path):
    return (tmp_path / "studio").resolve()


@pytest.fixture
def registry(data_dir):
    return ModelRegistry(Store(data_dir / "studio.db"), data_dir)


def model_files(folder, size=1000):
    folder.mkdir(parents=True)
    (folder / "model.json").write_text("{}")
    (folder / "model.npz").write_bytes(b"\0" * size)
    return folder


def test_a_registered_model_is_listed_with_its_source_size_and_heldout_figures(registry):
    folder = model_files(registry.model_dir("model-abc"))

    model = registry.register("router-student_v1", "job-1", "dataset-1", folder, METRICS, model_id="model-abc")

    assert registry.get("model-abc") == model
    assert (model.backend, model.path, model.size_bytes) == ("local", folder, 1002)
    row = registry.list()[0].to_row()
    assert row["name"] == "router-student_v1" and row["created"]
    assert (row["job"], row["dataset"], row["size_bytes"]) == ("job-1", "dataset-1", 1002)
    assert (row["heldout_agreement"], row["heldout_rubric"]) == (0.9, 4.2)


def test_the_list_is_newest_first_and_survives_a_new_registry(registry, data_dir):
    for name in ("older", "newer"):
        registry.register(name, None, None, model_files(data_dir / "models" / name), {})
    reopened = ModelRegistry(Store(data_dir / "studio.db"), data_dir)
    assert [model.name for model in reopened.list()] == ["newer", "older"]


def test_names_follow_bedrock_rules_and_are_unique(registry, data_dir):
    folder = model_files(data_dir / "models" / "one")
    with pytest.raises(ModelRegistryError, match="cannot contain '.'"):
        registry.register("student.v1", None, None, folder, {})
    registry.register("student-v1", None, None, folder, {})
    with pytest.raises(ModelRegistryError, match="already exists"):
        registry.register("student-v1", None, None, folder, {})
    assert registry.name_taken("student-v1") and not registry.name_taken("student-v2")


def test_a_model_needs_its_folder_or_an_arn(registry, data_dir):
    with pytest.raises(ModelRegistryError, match="does not exist"):
        registry.register("missing", None, None, data_dir / "models" / "nothing-here", {})
    with pytest.raises(ModelRegistryError, match="folder with its files or a Bedrock ARN"):
        registry.register("nowhere", None, None, None, {})
    arn = "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-micro-v1:0:128k/abcdefghijkl"
    remote = registry.register("remote-student", "job-2", None, None, {}, arn=arn)
    assert (remote.backend, remote.arn, remote.path, remote.size_bytes) == ("bedrock", arn, None, 0)


def test_delete_is_refused_while_a_deployment_uses_the_model(registry):
    folder = model_files(registry.model_dir("model-live"))
    registry.register("live-student", None, None, folder, METRICS, model_id="model-live")

    with pytest.raises(ModelInUseError, match="used by deployment.*router-live.*delete those deployments"):
        registry.delete("model-live", in_use_by=lambda model_id: ["router-live"] if model_id == "model-live" else [])

    assert registry.get("model-live").name == "live-student"
    assert (folder / "model.npz").is_file()


def test_delete_removes_the_row_and_the_files_inside_the_data_dir(registry, data_dir):
    folder = model_files(registry.model_dir("model-old"))
    registry.register("old-student", None, None, folder, {}, model_id="model-old")

    deleted = registry.delete("model-old", in_use_by=lambda model_id: [])

    assert deleted.name == "old-student"
    assert registry.list() == []
    assert not folder.exists()
    assert list((data_dir / "models").iterdir()) == []
    with pytest.raises(ModelNotFoundError):
        registry.get("model-old")


def test_delete_keeps_files_outside_the_data_dir(registry, tmp_path):
    outside = model_files(tmp_path / "elsewhere" / "my-student")
    registry.register("external-student", None, None, outside, {}, model_id="model-ext")

    registry.delete("model-ext")

    assert registry.list() == []
    assert (outside / "model.npz").is_file()


def test_models_still_load_and_delete_after_the_data_dir_is_moved(registry, data_dir, tmp_path):
    folder = model_files(registry.model_dir("model-moved"))
    registry.register("moved-student", None, None, folder, METRICS, model_id="model-moved")
    moved_dir = tmp_path / "moved" / "studio"
    shutil.copytree(data_dir, moved_dir)
    shutil.rmtree(data_dir)

    moved = ModelRegistry(Store(moved_dir / "studio.db"), moved_dir)
    model = moved.get("model-moved")

    assert model.path == moved_dir / "models" / "model-moved"
    assert (model.path / "model.npz").is_file()
    moved.delete("model-moved")
    assert not model.path.exists() and moved.list() == []


def test_a_model_recorded_with_an_absolute_path_inside_the_data_dir_still_loads_and_deletes(registry, data_dir):
    folder = model_files(registry.model_dir("model-old-row"))
    registry.store.execute(
        "INSERT INTO models (id, name, backend, path, size_bytes, created_at) VALUES (?, ?, 'local', ?, 0, '2025')",
        ("model-old-row", "old-row-student", str(folder)),
    )

    assert registry.get("model-old-row").path == folder
    registry.delete("model-old-row")
    assert not folder.exists()


def test_model_ids_cannot_leave_the_data_dir(registry):
    with pytest.raises(ValueError, match="outside the data directory"):
        registry.model_dir("../../etc")
