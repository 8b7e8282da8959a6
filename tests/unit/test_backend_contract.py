"""The Backend contract, run against both backends (Bedrock with fake credentials and nothing sent to AWS).

Every case asks the same question of each backend and checks that the answer is either the capability
or CapabilityUnavailable with a sentence, never something else.
"""

from __future__ import annotations

import os
from contextlib import contextmanager

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from core.backends import Backend, BackendUnavailable, CapabilityUnavailable, make_backend
from core.datasets.library import DatasetLibrary
from core.datasets.storage import DatasetStorage
from core.deployments import BillingNotConfirmed, DeploymentError, DeploymentService, deployments_using
from core.distill.artifact import save_student
from core.distill.jobs import JobService
from core.distill.trainer import TrainingConfig, decision_targets, train_student
from core.model_registry import ModelInUseError, ModelRegistry
from core.routers.reference import ReferenceTeacher
from core.routers.student import StudentRouter
from core.routers.uniform import UniformRouter
from core.search.library import SAMPLE_NAME, CatalogLibrary
from core.search.sample import CatalogSpec
from core.settings import Settings
from core.store import Store
from core.synth import DataMix
from core.synth.pipeline import synthesise

BACKENDS = ("local", "bedrock")
QUERIES = [f"{subject} {action}" for subject in ("dog", "car", "crowd", "chef") for action in ("barking", "racing")]


@pytest.fixture
def offline_aws(monkeypatch, tmp_path):
    """Fake keys in a sealed AWS environment: sessions and clients build, nothing can reach AWS unstubbed."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    for name in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        empty = tmp_path / name.lower()
        empty.write_text("")
        monkeypatch.setenv(name, str(empty))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")


@pytest.fixture(params=BACKENDS)
def backend(request, tmp_path, offline_aws) -> Backend:
    settings = Settings(data_dir=tmp_path / "studio", backend=request.param)
    return make_backend(settings, Store(settings.store_path))


@contextmanager
def bedrock_stub(backend: Backend):
    """On Bedrock, the backend's Bedrock client under a Stubber (every answer given by the test); else None."""
    if backend.kind != "bedrock":
        yield None
        return
    from core.aws.session import make_client

    client = make_client(backend.aws_session(), "bedrock")
    backend.aws_clients().put("bedrock", client)
    with Stubber(client) as stub:
        yield stub
        stub.assert_no_pending_responses()


EMPTY_JOB_LIST = ("list_model_customization_jobs", {"modelCustomizationJobSummaries": []})
JOB_LIST_REQUEST = {"sortBy": "CreationTime", "sortOrder": "Descending", "maxResults": 100}


@pytest.fixture(scope="module")
def student_dir(tmp_path_factory):
    decisions = [result.decision for result in ReferenceTeacher().route_batch(QUERIES)]
    config = TrainingConfig(epochs=2, n_features=2**10, validation_ratio=0.0)
    model = train_student(QUERIES, decision_targets(decisions), config)
    return save_student(model, tmp_path_factory.mktemp("contract") / "student")


# ---- router ids ---------------------------------------------------------------------------------------------


def test_teacher_resolves_to_the_backends_teacher_under_its_one_name(backend):
    teacher = backend.router("teacher")
    assert teacher.router_id == "teacher"
    assert backend.teacher_name in {choice.label for choice in backend.router_choices()}


def test_uniform_resolves_on_every_backend(backend):
    assert isinstance(backend.router("uniform"), UniformRouter)


def test_a_student_directory_or_registered_model_resolves_on_every_backend(backend, student_dir):
    by_dir = backend.router(f"student:{student_dir}")
    assert isinstance(by_dir, StudentRouter) and by_dir.route("dog barking").valid
    model = backend.models().register("contract-model", None, None, student_dir, {})
    assert isinstance(backend.router(f"student:{model.id}"), StudentRouter)
    choices = {choice.router_id for choice in backend.router_choices()}
    assert f"student:{model.id}" in choices
    # With no active student, the cascade a picker offers starts from the newest local model.
    cascade = f"cascade:student:{model.id}|teacher@0.3"
    assert cascade in choices and backend.router(cascade).router_id == cascade


def test_the_bare_student_id_says_there_is_no_deployment_yet(backend):
    with pytest.raises(BackendUnavailable, match="No deployment yet"):
        backend.router("student")


def test_a_deployment_id_naming_no_deployment_is_a_sentence(backend):
    with pytest.raises(BackendUnavailable, match="There is no deployment 'prod': create it first"):
        backend.router("deployment:prod")


def test_an_unknown_id_lists_exactly_the_forms_this_backend_resolves(backend):
    with pytest.raises(BackendUnavailable) as raised:
        backend.router("oracle")
    message = str(raised.value)
    assert message.startswith("Unknown router 'oracle': use 'teacher', 'uniform', 'student', ")
    assert "'deployment:<name>'" in message
    assert ("'bedrock:<model id, inference profile or ARN>'" in message) == (backend.kind == "bedrock")


def test_a_bedrock_model_id_is_a_router_on_bedrock_and_a_typed_sentence_elsewhere(backend):
    if backend.kind == "bedrock":
        router = backend.router("bedrock:amazon.nova-micro-v1:0")
        assert router.router_id == "bedrock:amazon.nova-micro-v1:0" and router.billable
    else:
        with pytest.raises(CapabilityUnavailable, match="choose Amazon Bedrock in Settings"):
            backend.router("bedrock:amazon.nova-micro-v1:0")


# ---- jobs, datasets, models, storage ---------------------------------------------------------------------------


def test_jobs_is_a_job_service_whose_teacher_is_the_backends(backend):
    service = backend.jobs()

    assert isinstance(service, JobService)
    assert service.teacher_name == backend.teacher_name and service.teachers()[0] == backend.teacher_name
    assert service.description
    # Every backend can train the local compact student; Bedrock offers its own students first.
    assert "hashed-ngram-softmax" in [student.key for student in service.students()]
    with bedrock_stub(backend) as stub:
        if stub is not None:
            stub.add_response(*EMPTY_JOB_LIST, JOB_LIST_REQUEST)
        assert service.list() == [] and service.notice() is None


def test_a_labelled_dataset_starts_a_local_job_on_every_backend_without_a_charge(backend, monkeypatch):
    made = synthesise(DataMix(total=100, seed=2), ReferenceTeacher(), teacher_id=ReferenceTeacher.name)
    info = backend.datasets().save("contract-labelled", made.records, made.tags, made.manifest_fields)
    service = backend.jobs()
    runner = getattr(service, "runner", service)
    monkeypatch.setattr(runner, "_launch", lambda job_id: None)  # the worker process has its own tests

    assert not service.estimate(info.id, {"student": "hashed-ngram-softmax"}).billable
    job = service.submit("contract-job", info.id, {"student": "hashed-ngram-softmax", "epochs": 2})

    assert (job.status, job.phase, job.teacher) == ("InProgress", "Validation", ReferenceTeacher.name)
    assert [phase for phase, _ in job.phases()] == ["Validation", "DataProcessing", "Training"]
    with bedrock_stub(backend) as stub:
        if stub is not None:
            stub.add_response(*EMPTY_JOB_LIST, JOB_LIST_REQUEST)
        assert [listed.id for listed in service.list()] == [job.id]
    assert service.get(job.id).id == job.id


def test_a_prompt_only_dataset_is_estimated_before_its_teacher_labels_it(backend):
    made = synthesise(DataMix(total=100, seed=2), None)
    info = backend.datasets().save("contract-prompts", made.records, made.tags, made.manifest_fields)

    estimate = backend.jobs().estimate(info.id, {"student": "hashed-ngram-softmax"})

    # The local teacher labels for nothing; the Bedrock teacher's labels bill, so they are quoted first.
    assert estimate.billable == (backend.kind == "bedrock")


def test_every_backend_has_the_dataset_library_and_the_model_registry(backend):
    assert isinstance(backend.datasets(), DatasetLibrary) and backend.datasets().list() == []
    assert isinstance(backend.models(), ModelRegistry)
    with bedrock_stub(backend) as stub:
        if stub is not None:  # Bedrock's registry lists the account's custom models too
            stub.add_response(
                "list_custom_models",
                {"modelSummaries": []},
                {"sortBy": "CreationTime", "sortOrder": "Descending", "maxResults": 100},
            )
        assert backend.models().list() == []
    # No deployments yet: nothing uses any model.
    assert deployments_using(backend.store, "any-model", None) == []


def test_every_backend_has_the_search_catalogs_in_its_data_directory(backend):
    catalogs = backend.search_catalogs()
    assert isinstance(catalogs, CatalogLibrary)
    assert [info.name for info in catalogs.list()] == [SAMPLE_NAME]
    made = catalogs.generate("contract-catalog", CatalogSpec(segments=60, queries=10))
    assert made.folder is not None and made.folder.is_relative_to(backend.settings.data_dir)
    assert [info.name for info in backend.search_catalogs().list()] == [SAMPLE_NAME, "contract-catalog"]


def test_dataset_storage_says_where_jobs_read_datasets_and_uploads_where_that_is_s3(backend):
    made = synthesise(DataMix(total=100, seed=1), None)
    info = backend.datasets().save("contract-set", made.records, made.tags, made.manifest_fields)
    storage = backend.dataset_storage()
    assert isinstance(storage, DatasetStorage) and storage.describe()
    if not storage.needs_upload:
        assert storage.location(info) == str(info.path)
        with pytest.raises(CapabilityUnavailable):
            storage.upload(backend.datasets(), info, "bucket", "prefix")
        return
    assert storage.location(info) is None
    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="contract-bucket")
        uploaded = storage.upload(backend.datasets(), info, "contract-bucket", storage.suggested_destination(info))
    assert uploaded.s3_uri == "s3://contract-bucket/video-search-router/datasets/contract-set/data.jsonl"
    assert storage.location(backend.datasets().get(info.id)) == uploaded.s3_uri


# ---- deployments ---------------------------------------------------------------------------------------------


def test_deployments_is_a_deployment_service_with_nothing_deployed_yet(backend):
    service = backend.deployments()
    assert isinstance(service, DeploymentService) and service.description
    assert service.list(refresh=False) == [] and service.billing_while_idle() == []
    assert service.provisioned_available == (backend.kind == "bedrock")
    assert {"student", "deployment:<name>"} <= set(backend.router_id_forms)


@pytest.mark.parametrize(
    ("name", "problem"), [("live student", "cannot contain a space"), ("a__b", "is not valid"), ("", "is empty")]
)
def test_a_deployment_name_is_checked_against_the_api_pattern_before_anything_else(backend, name, problem):
    with pytest.raises(DeploymentError, match=problem):
        backend.deployments().create(name, "model-that-does-not-matter")
    assert backend.deployments().list(refresh=False) == []


def test_deploying_an_unknown_model_is_a_sentence_and_makes_nothing(backend):
    with pytest.raises(DeploymentError, match="model"):
        backend.deployments().create("router-live", "model-nowhere")
    assert backend.deployments().list(refresh=False) == []


def test_provisioned_throughput_is_offered_only_where_it_exists(backend):
    service = backend.deployments()
    if not service.provisioned_available:
        with pytest.raises(DeploymentError, match="only on Amazon Bedrock"):
            service.create_provisioned("router-pt", "model-x", confirm_hourly_billing=True)
        return
    arn = "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-micro-v1:0:128k/abcdef123456"
    with pytest.raises(BillingNotConfirmed, match="bills by the hour whether it is used or not: .*price unknown"):
        service.create_provisioned("router-pt", arn)
    assert service.list(refresh=False) == []


def test_a_model_a_deployment_uses_cannot_be_deleted_on_any_backend(backend, student_dir):
    model = backend.models().register("served-model", None, None, student_dir, {})
    service = backend.deployments()
    service.records.claim(name="router-live", kind="endpoint", model_id=model.id)

    with pytest.raises(ModelInUseError, match="used by deployment\\(s\\) router-live"):
        backend.models().delete(model.id)
    assert backend.models().get(model.id).path.is_dir()


def test_the_active_student_is_what_the_bare_student_id_resolves_to(backend):
    service = backend.deployments()
    row, _ = service.records.claim(name="router-live", kind="endpoint", model_id="model-x", status="Failed")
    with pytest.raises(BackendUnavailable, match="No deployment is the active student yet"):
        backend.router("student")
    with pytest.raises(DeploymentError, match="only a serving deployment can be the active student"):
        service.set_active_student("router-live")
    service.records.set_active_student(row["id"])
    with pytest.raises(BackendUnavailable, match="Deployment 'router-live' is Failed"):
        backend.router("student")
