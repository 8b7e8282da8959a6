"""Datasets carry their role (train, held-out, whole), so a form never trains on a held-out part by default; a run
without held-out data says so; deleting a dataset a model or job came from is warned of and loses no name."""

from __future__ import annotations

import sqlite3

from test_jobs import data_dir, library, runner, save_dataset, store

from core.cli import main
from core.distill import worker
from core.model_registry import ModelRegistry
from core.store import MIGRATIONS, Store

__all__ = ["data_dir", "library", "runner", "store"]  # fixtures shared with test_jobs


def test_bad_input_a_splits_heldout_part_is_never_the_default_training_set(library):
    whole = save_dataset(library, "mix")
    train, heldout = library.split(whole.id, 0.2, seed=1)
    other = save_dataset(library, "other-heldout", n_settings=3)

    assert [library.get(d.id).role for d in (whole, train, heldout, other)] == ["whole", "train", "heldout", "whole"]
    # The held-out part is the newest of the split's parts: it is still not the default.
    assert library.default_training_set().id == other.id
    library.delete(other.id)
    assert library.list()[0].id == heldout.id
    assert library.default_training_set().id == train.id
    assert [d.id for d in library.training_choices()] == [train.id, whole.id]
    assert library.heldout_choices(train.id)[0].id == heldout.id
    assert library.default_heldout_for(train.id).id == heldout.id
    assert library.default_heldout_for(whole.id) is None


def test_bad_input_a_run_with_no_heldout_share_and_no_heldout_set_says_it_will_have_no_heldout_figures(
    capsys, tmp_path
):
    train = tmp_path / "train.jsonl"
    assert main(["synth", "--n", "300", "--seed", "1", "--out", str(train)]) == 0
    capsys.readouterr()

    code = main(["distill", "--train", str(train), "--out", str(tmp_path / "model"), "--epochs", "2"])
    _, err = capsys.readouterr()

    assert code == 0
    assert "note: with a held-out share of 0 and no held-out set, the model will have no held-out figures" in err


def test_bad_input_deleting_a_dataset_a_model_came_from_warns_and_keeps_its_name(runner, library, store, data_dir):
    dataset = save_dataset(library, "router-train-v1")
    job = runner.submit("from-v1", dataset.id, {"epochs": 3}, background=False)
    assert worker.run_job(store, data_dir, job.id) == "Completed"
    model_id = runner.get(job.id).model_id

    usage = library.usage(dataset.id)
    assert usage.models == ["from-v1"] and usage.jobs == ["from-v1"]
    assert usage.warning == (
        "Model from-v1 and job from-v1 were made from dataset 'router-train-v1': they keep its name, but the job "
        "cannot be run again once it is deleted."
    )
    library.rename(dataset.id, "router-train-final")
    library.delete(dataset.id)

    assert runner.get(job.id).dataset_name == "router-train-final"
    assert runner.get(job.id).to_row()["dataset_name"] == "router-train-final"
    assert ModelRegistry(store, data_dir).get(model_id).dataset_name == "router-train-final"
    assert library.usage(save_dataset(library, "unused").id).warning is None


def test_bad_input_a_dataset_a_running_job_reads_cannot_be_deleted(runner, library):
    training = save_dataset(library, "in-use")
    heldout = save_dataset(library, "in-use-heldout", n_settings=3)
    job = runner.submit("reading", training.id, {"heldout_dataset_id": heldout.id}, background=False)

    for dataset in (training, heldout):
        try:
            library.delete(dataset.id)
        except ValueError as refused:
            assert str(refused) == (
                f"Job {job.name!r} is running on dataset {dataset.name!r}: stop it or let it end before deleting it."
            )
        else:
            raise AssertionError("a dataset in use was deleted")
    assert {d.id for d in library.list()} == {training.id, heldout.id}


def test_migration_3_gives_existing_datasets_their_role_and_lineage_their_names(tmp_path):
    path = tmp_path / "studio.db"
    with sqlite3.connect(path) as conn:  # a store as the migrations before 3 left it
        conn.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, description TEXT, applied_at TEXT)")
        for version, description, sql in MIGRATIONS[:2]:
            conn.executescript(sql)
            conn.execute("INSERT INTO schema_version VALUES (?, ?, 'then')", (version, description))
        conn.execute(
            "INSERT INTO datasets VALUES ('d1', 'mix-heldout', 'datasets/a/data.jsonl', 'labelled', 10, 'x', "
            '\'{"split": {"role": "heldout", "heldout_ratio": 0.2, "seed": 1}}\', NULL, \'then\')'
        )
        conn.execute(
            "INSERT INTO datasets VALUES ('d2', 'plain', 'datasets/b/data.jsonl', 'labelled', 10, 'x', '{}', NULL, 't')"
        )
        conn.execute(
            "INSERT INTO jobs (id, name, backend, status, dataset_id, created_at, updated_at) "
            "VALUES ('j1', 'job', 'local', 'Completed', 'd2', 'then', 'then')"
        )
        conn.execute(
            "INSERT INTO models (id, name, backend, dataset_id, created_at) VALUES ('m1', 'm', 'local', 'd2', 'then')"
        )

    store = Store(path)

    assert {r["id"]: r["role"] for r in store.query("SELECT id, role FROM datasets")} == {
        "d1": "heldout",
        "d2": "whole",
    }
    assert store.query_one("SELECT dataset_name FROM jobs")["dataset_name"] == "plain"
    assert store.query_one("SELECT dataset_name FROM models")["dataset_name"] == "plain"
