"""Where the commands write: refused with a sentence before any work when the output cannot or must not be written,
and a file replaced keeps what the user set on it."""

from __future__ import annotations

import stat

import numpy as np

from core.cli import main
from core.datasets.files import dataset_paths
from core.distill.artifact import save_student
from core.distill.features import FeatureConfig
from core.distill.student_model import StudentManifest, StudentModel
from core.model_registry import ModelRegistry
from core.settings import load_settings
from core.store import Store
from core.synth import pipeline as synth_pipeline


def run_cli(capsys, *argv):
    code = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


def tiny_student() -> StudentModel:
    rng = np.random.default_rng(0)
    config = FeatureConfig(n_features=2**10)
    rows = np.sort(rng.choice(config.n_columns, size=50, replace=False))
    manifest = StudentManifest(dataset_sha256="ab" * 32, teacher_id="teacher", seed=0, training_metrics={})
    return StudentModel(
        rows,
        rng.normal(size=(50, 4)),
        rng.normal(size=4),
        rng.normal(size=(4, 4)),
        rng.normal(size=4),
        config,
        manifest,
    )


def test_bad_input_synth_out_on_a_read_only_file_is_refused_and_the_file_kept(capsys, tmp_path):
    out = tmp_path / "mine.jsonl"
    assert run_cli(capsys, "synth", "--n", 100, "--seed", 1, "--label", "none", "--out", out)[0] == 0
    before = out.read_bytes()
    out.chmod(0o444)

    code, _, err = run_cli(capsys, "synth", "--n", 100, "--seed", 2, "--label", "none", "--out", out)

    assert code == 2 and "mine.jsonl is read-only" in err and "Traceback" not in err
    assert out.read_bytes() == before and stat.S_IMODE(out.stat().st_mode) == 0o444


def test_fault_replacing_a_dataset_keeps_the_mode_of_each_file(capsys, tmp_path):
    out = tmp_path / "shared.jsonl"
    assert run_cli(capsys, "synth", "--n", 100, "--seed", 1, "--label", "none", "--out", out)[0] == 0
    for path in dataset_paths(out):
        path.chmod(0o640)

    assert run_cli(capsys, "synth", "--n", 100, "--seed", 2, "--label", "none", "--out", out)[0] == 0

    assert [stat.S_IMODE(path.stat().st_mode) for path in dataset_paths(out)] == [0o640] * 3


def test_bad_input_distill_out_into_a_registered_models_folder_is_refused(capsys, tmp_path, studio_env):
    store = Store(load_settings().store_path)
    registry = ModelRegistry(store, studio_env)
    folder = registry.model_dir("model-abc123abc123")
    save_student(tiny_student(), folder)
    registry.register("kept-model", None, None, folder, {}, model_id="model-abc123abc123")
    before = {path.name: path.read_bytes() for path in folder.iterdir()}
    train = tmp_path / "train.jsonl"
    assert run_cli(capsys, "synth", "--n", 100, "--seed", 1, "--out", train)[0] == 0

    code, _, err = run_cli(capsys, "distill", "--train", train, "--out", folder)

    assert code == 2 and "registered model 'kept-model'" in err and "Traceback" not in err
    assert {path.name: path.read_bytes() for path in folder.iterdir()} == before


def test_bad_input_synth_out_inside_the_dataset_library_is_refused(capsys, studio_env):
    library_file = studio_env / "datasets" / "router-train" / "data.jsonl"
    library_file.parent.mkdir(parents=True)

    code, _, err = run_cli(capsys, "synth", "--n", 100, "--seed", 1, "--label", "none", "--out", library_file)

    assert code == 2 and "data directory" in err and not library_file.exists()


def test_bad_input_synth_out_paths_are_checked_before_generating_or_labelling(capsys, tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(synth_pipeline, "label_queries", lambda *a, **k: calls.append("label"))
    monkeypatch.setattr(synth_pipeline, "generate", lambda *a, **k: calls.append("generate"))
    (tmp_path / "blocked.manifest.json").mkdir()

    for out, sentence in (
        (tmp_path / "x.tags.jsonl", "must end in .jsonl (and not .tags.jsonl)"),
        (tmp_path / "blocked.jsonl", "blocked.manifest.json is a folder"),
    ):
        code, _, err = run_cli(capsys, "synth", "--n", 100, "--seed", 1, "--out", out)
        assert code == 2 and sentence in err and "Traceback" not in err, err

    assert calls == []


def test_fault_synth_on_a_full_disk_says_which_file_and_that_the_old_set_was_kept(capsys, tmp_path, monkeypatch):
    import errno
    import os

    out = tmp_path / "mix.jsonl"
    assert run_cli(capsys, "synth", "--n", 100, "--seed", 1, "--label", "none", "--out", out)[0] == 0
    before = [path.read_bytes() for path in dataset_paths(out)]

    def full(fd, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", full)
    code, _, err = run_cli(capsys, "synth", "--n", 100, "--seed", 2, "--label", "none", "--out", out)
    monkeypatch.undo()

    assert code == 2 and err.count("\n") == 1
    assert f"could not write {out} (No space left on device)" in err
    assert "the previous mix.jsonl and its companions are unchanged" in err
    assert [path.read_bytes() for path in dataset_paths(out)] == before
