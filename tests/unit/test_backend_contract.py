"""The Backend contract, run against both backends (Bedrock with fake credentials and nothing sent to AWS).

Every case asks the same question of each backend and checks that the answer is either the capability
or CapabilityUnavailable with a sentence, never something else.
"""

from __future__ import annotations

import os

import boto3
import pytest
from moto import mock_aws

from core.backends import Backend, BackendUnavailable, CapabilityUnavailable, make_backend
from core.datasets.library import DatasetLibrary
from core.datasets.storage import DatasetStorage
from core.distill.artifact import save_student
from core.distill.jobs import JobService
from core.distill.trainer import TrainingConfig, decision_targets, train_student
from core.model_registry import ModelRegistry
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
    assert f"student:{model.id}" in {choice.router_id for choice in backend.router_choices()}


def test_the_bare_student_id_says_there_is_no_deployment_yet(backend):
    with pytest.raises(BackendUnavailable, match="No deployment yet"):
        backend.router("student")


def test_a_deployment_id_without_deployments_is_a_typed_sentence(backend):
    with pytest.raises(CapabilityUnavailable, match="Deployments are not available") as raised:
        backend.router("deployment:prod")
    assert raised.value.capability == "deployments"


def test_an_unknown_id_lists_exactly_the_forms_this_backend_resolves(backend):
    with pytest.raises(BackendUnavailable) as raised:
        backend.router("oracle")
    message = str(raised.value)
    assert message.startswith("Unknown router 'oracle': use 'teacher', 'uniform'")
    assert ("'bedrock:<model id, inference profile or ARN>'" in message) == (backend.kind == "bedrock")


def test_a_bedrock_model_id_is_a_router_on_bedrock_and_a_typed_sentence_elsewhere(backend):
    if backend.kind == "bedrock":
        router = backend.router("bedrock:amazon.nova-micro-v1:0")
        assert router.router_id == "bedrock:amazon.nova-micro-v1:0" and router.billable
    else:
        with pytest.raises(CapabilityUnavailable, match="choose Amazon Bedrock in Settings"):
            backend.router("bedrock:amazon.nova-micro-v1:0")


# ---- jobs, datasets, models, storage ---------------------------------------------------------------------------


def test_jobs_is_a_job_service_or_a_typed_sentence(backend):
    if backend.kind == "local":
        service = backend.jobs()
        assert isinstance(service, JobService)
        assert service.teacher_name == backend.teacher_name
        assert [student.key for student in service.students()] == ["hashed-ngram-softmax"]
        assert service.list() == []
    else:
        with pytest.raises(CapabilityUnavailable, match="not available on Amazon Bedrock yet") as raised:
            backend.jobs()
        assert raised.value.capability == "jobs"


def test_every_backend_has_the_dataset_library_and_the_model_registry(backend):
    assert isinstance(backend.datasets(), DatasetLibrary) and backend.datasets().list() == []
    assert isinstance(backend.models(), ModelRegistry) and backend.models().list() == []


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
