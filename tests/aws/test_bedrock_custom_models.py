"""Custom models on Amazon Bedrock in the Bedrock backend's registry: list (paginated), lineage, confirmed delete."""

from __future__ import annotations

import pytest

from core.aws.custom_models import BedrockModelRegistry
from core.model_registry import ModelInUseError, ModelRegistryError
from core.store import Store
from tests.aws.bedrock_fixtures import ACCOUNT, BASE_ARN, JOB_ARN, MODEL_ARN, REGION, ROLE, stubbed_clients
from tests.aws.bedrock_fixtures import model_answer as described
from tests.aws.bedrock_fixtures import model_summary as summary

OTHER_ARN = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:custom-model/amazon.nova-lite-v1:0:300k/fedcba654321"
LIST_REQUEST = {"sortBy": "CreationTime", "sortOrder": "Descending", "maxResults": 100}


@pytest.fixture
def registry(session, tmp_path, student_folder):
    clients, stubs = stubbed_clients(session, "bedrock")
    store = Store(tmp_path / "studio.db")
    registry = BedrockModelRegistry(store, tmp_path, clients, refresh_interval_s=0.0, sleep=lambda _: None)
    local = registry.register("router-local", None, None, student_folder, {})
    studio_made = registry.register(
        "router-distill-1", "job-1", "dataset-1", None, {"training_loss": 0.87}, arn=MODEL_ARN
    )
    yield registry, stubs["bedrock"], local, studio_made
    stubs["bedrock"].assert_no_pending_responses()


@pytest.fixture
def student_folder(tmp_path):
    folder = tmp_path / "models" / "local-student"
    folder.mkdir(parents=True)
    (folder / "model.json").write_text("{}")
    return folder


def test_the_list_holds_local_studio_made_and_outside_models_across_pages(registry):
    registry, stub, local, studio_made = registry
    stub.add_response(
        "list_custom_models",
        {"modelSummaries": [summary(MODEL_ARN, "router-distill-1")], "nextToken": "2"},
        LIST_REQUEST,
    )
    stub.add_response(
        "list_custom_models",
        {"modelSummaries": [summary(OTHER_ARN, "console-student", "Creating")]},
        {**LIST_REQUEST, "nextToken": "2"},
    )

    models = {model.id: model for model in registry.list()}

    assert set(models) == {local.id, studio_made.id, OTHER_ARN}
    assert models[studio_made.id].lineage["status"] == "Active" and models[studio_made.id].job_id == "job-1"
    outside = models[OTHER_ARN]
    assert (outside.name, outside.backend, outside.path, outside.created_at) == (
        "console-student",
        "bedrock",
        None,
        "2026-04-01 09:00:00.000",
    )
    assert outside.lineage["origin"] == "made outside the studio" and outside.lineage["status"] == "Creating"
    assert models[local.id].lineage == {}


def test_a_models_detail_has_its_lineage_from_bedrock(registry):
    registry, stub, _, studio_made = registry
    stub.add_response("get_custom_model", described(), {"modelIdentifier": MODEL_ARN})

    model = registry.get(studio_made.id)

    assert (model.job_id, model.dataset_id) == ("job-1", "dataset-1")
    assert model.lineage == {
        "base_model": BASE_ARN,
        "customization": "DISTILLATION",
        "status": "Active",
        "teacher": "us.amazon.nova-premier-v1:0",
        "max_response_length": 1000,
        "training_data": "s3://router-studio/video-search-router/datasets/router/data.jsonl",
        "output": "s3://router-studio/video-search-router/jobs/router-distill-1/",
        "job_name": "router-distill-1",
        "job_arn": JOB_ARN,
        "training_loss": 0.87,
    }


def test_an_outside_model_is_found_by_its_arn(registry):
    registry, stub, _, _ = registry
    stub.add_response("get_custom_model", described(OTHER_ARN, "console-student"), {"modelIdentifier": OTHER_ARN})

    model = registry.get(OTHER_ARN)

    assert model.id == OTHER_ARN and model.name == "console-student" and model.lineage["job_arn"] == JOB_ARN


def test_delete_needs_confirmation_and_no_deployment_using_it_before_any_call(registry):
    registry, _, _, studio_made = registry

    with pytest.raises(ModelRegistryError, match="cannot be undone"):
        registry.delete(studio_made.id)
    with pytest.raises(ModelInUseError, match="router-live"):
        registry.delete(
            studio_made.id, in_use_by=lambda model: ["router-live"] if model == MODEL_ARN else [], confirm=True
        )
    assert registry.store.query_one("SELECT 1 FROM models WHERE arn = ?", (MODEL_ARN,)) is not None


def test_a_confirmed_delete_removes_the_model_on_bedrock_and_here(registry):
    registry, stub, local, studio_made = registry
    stub.add_response("delete_custom_model", {}, {"modelIdentifier": MODEL_ARN})

    deleted = registry.delete(studio_made.id, in_use_by=lambda model: [], confirm=True)

    assert deleted.id == studio_made.id
    assert registry.store.query_one("SELECT 1 FROM models WHERE id = ?", (studio_made.id,)) is None
    assert registry.store.query_one("SELECT 1 FROM models WHERE id = ?", (local.id,)) is not None


def test_bedrock_refusing_a_model_in_use_is_one_sentence_and_keeps_the_record(registry):
    registry, stub, _, studio_made = registry
    stub.add_client_error(
        "delete_custom_model",
        service_error_code="ConflictException",
        service_message="The model is in use by a provisioned throughput.",
        http_status_code=409,
        expected_params={"modelIdentifier": MODEL_ARN},
    )

    with pytest.raises(ModelInUseError, match="provisioned throughput"):
        registry.delete(studio_made.id, confirm=True)
    assert registry.store.query_one("SELECT 1 FROM models WHERE id = ?", (studio_made.id,)) is not None


def test_an_outside_model_is_deleted_by_its_arn(registry):
    registry, stub, _, _ = registry
    stub.add_response("get_custom_model", described(OTHER_ARN, "console-student"), {"modelIdentifier": OTHER_ARN})
    stub.add_response("delete_custom_model", {}, {"modelIdentifier": OTHER_ARN})

    assert registry.delete(OTHER_ARN, confirm=True).name == "console-student"


def test_a_local_model_is_deleted_without_asking_bedrock(registry):
    registry, _, local, _ = registry

    registry.delete(local.id)

    assert registry.store.query_one("SELECT 1 FROM models WHERE id = ?", (local.id,)) is None


def test_when_bedrock_cannot_be_listed_the_studios_models_show_and_the_notice_says_why(registry):
    registry, stub, local, studio_made = registry
    stub.add_client_error(
        "list_custom_models",
        service_error_code="AccessDeniedException",
        service_message="User is not authorized to perform: bedrock:ListCustomModels",
        http_status_code=403,
        expected_params=LIST_REQUEST,
    )

    models = registry.list()

    assert {model.id for model in models} == {local.id, studio_made.id}
    assert "bedrock:ListCustomModels" in registry.notice()


def test_a_model_deleted_on_bedrock_says_so_in_its_lineage(registry):
    registry, stub, _, studio_made = registry
    stub.add_client_error(
        "get_custom_model", service_error_code="ResourceNotFoundException", http_status_code=404,
        expected_params={"modelIdentifier": MODEL_ARN},
    )  # fmt: skip

    assert registry.get(studio_made.id).lineage["status"] == "deleted on Bedrock"


def test_the_role_is_not_part_of_a_models_lineage():
    # The lineage names data and models, never who may act on them.
    from core.aws.custom_models import lineage_of

    assert ROLE not in str(lineage_of({**described(), "roleArn": ROLE}))
