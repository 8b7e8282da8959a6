"""The Models page: the list of distilled students, a model's manifest, trying it on a query, deleting it."""

from __future__ import annotations

import json

import pytest

from core.distill.artifact import JSON_NAME
from core.distill.jobs import JobRunner
from core.model_registry import ModelRegistry
from core.routers.student import StudentRouter
from dashboard.components import plain_markdown
from dashboard.model_views import PICK_KEY, TRY_QUERY_KEY, TRY_ROUTE_KEY
from dashboard.widgets.formatting import weights_text
from tests.app.helpers import alerts, finished_job, open_page, save_dataset, texts


@pytest.fixture
def registry(store, studio_env) -> ModelRegistry:
    return ModelRegistry(store, studio_env)


@pytest.fixture
def two_models(store, studio_env, registry):
    """Two students distilled by real jobs on one small dataset; (older, newer) registered models."""
    runner = JobRunner(store, studio_env)
    dataset = save_dataset(store, studio_env)
    older = finished_job(runner, dataset, "router-distill-first")
    newer = finished_job(runner, dataset, "router-distill-second")
    return registry.get(older.model_id), registry.get(newer.model_id)


def test_no_models_says_to_run_a_distillation(app):
    at = open_page(app, "models.py")

    assert not at.exception
    assert any("No models yet: run a distillation" in body for body in alerts(at))
    assert [link.proto.label for link in at.get("page_link")] == ["Open Distillation"]


def test_lists_models_with_their_source_and_held_out_figures(app, two_models):
    older, newer = two_models

    at = open_page(app, "models.py")

    assert not at.exception, [e.value for e in at.exception]
    table = at.dataframe[0].value
    assert list(table["name"]) == [newer.name, older.name]
    assert list(table["job"]) == ["router-distill-second", "router-distill-first"]
    assert set(table["dataset"]) == {"small-labelled"}
    assert list(table["agreement"]) == [f"{newer.heldout_agreement:.0%}", f"{older.heldout_agreement:.0%}"]
    assert at.selectbox(key=PICK_KEY).value == newer.id


def test_model_in_query_params_is_selected_and_shows_its_manifest(app, two_models, store, studio_env):
    older, _ = two_models
    manifest = json.loads((older.path / JSON_NAME).read_text())["manifest"]

    at = open_page(app, "models.py")
    at.query_params["model"] = older.id
    at.run()

    assert at.selectbox(key=PICK_KEY).value == older.id
    shown = texts(at)
    assert manifest["dataset_sha256"] in shown
    assert manifest["teacher_id"] == "Local reference teacher" and "Local reference teacher" in shown
    assert manifest["prompt_version"] in shown
    hyperparameters = at.json[0].value
    assert json.loads(hyperparameters)["epochs"] == 3


def test_choosing_another_model_updates_the_address(app, two_models):
    older, _ = two_models
    at = open_page(app, "models.py")

    at.selectbox(key=PICK_KEY).select(older.id).run()

    assert at.query_params["model"] == older.id
    assert "router-distill-first" in texts(at)


def test_try_a_query_through_the_selected_model(app, two_models):
    _, newer = two_models
    at = open_page(app, "models.py")

    at.text_input(key=TRY_QUERY_KEY).input("crowd cheering in a stadium")
    at.button(key=TRY_ROUTE_KEY).click().run()

    assert not at.exception, [e.value for e in at.exception]
    expected = StudentRouter.from_directory(newer.path).route("crowd cheering in a stadium").decision
    shown = texts(at)
    assert weights_text(expected.weights()) in shown
    assert expected.reasoning in shown
    assert at.get("vega_lite_chart")


def test_delete_asks_for_confirmation_then_removes_the_model_and_its_files(app, two_models, registry):
    older, newer = two_models
    at = open_page(app, "models.py")

    at.button(key="models_delete").click().run()
    assert any("cannot be undone" in body for body in alerts(at))
    assert len(registry.list()) == 2

    at.button(key="models_delete_cancel").click().run()
    assert len(registry.list()) == 2

    at.button(key="models_delete").click().run()
    at.button(key="models_delete_confirm").click().run()

    assert not at.exception
    assert [model.id for model in registry.list()] == [older.id]
    assert not newer.path.exists()
    assert plain_markdown(f"Deleted model {newer.name}.") in [success.value for success in at.success]
    assert at.selectbox(key=PICK_KEY).value == older.id


def test_a_broken_model_folder_is_explained_and_can_still_be_deleted(app, two_models, registry):
    _, newer = two_models
    (newer.path / JSON_NAME).write_text("{not json", encoding="utf-8")

    at = open_page(app, "models.py")

    assert not at.exception, [e.value for e in at.exception]
    assert "This model's files cannot be used, so it cannot route queries." in [e.value for e in at.error]
    at.button(key=TRY_ROUTE_KEY).click().run()
    assert not at.exception
    at.button(key="models_delete").click().run()
    at.button(key="models_delete_confirm").click().run()
    assert newer.id not in [model.id for model in registry.list()]
