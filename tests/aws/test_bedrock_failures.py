"""Throttling, access denied, validation, not found and expired or missing credentials each reach the user as one
sentence saying what to do, whichever Bedrock service met them, and lose nothing that was recorded."""

from __future__ import annotations

import pytest

from core.aws.batch import BatchError, BatchInference
from core.aws.custom_models import BedrockModelRegistry
from core.aws.jobs import BedrockJobService
from core.aws.session import Clients, make_session
from core.distill.jobs import JobError
from core.model_registry import ModelRegistryError
from core.pricing import PriceTable
from core.routers.bedrock import BedrockRouter
from core.store import Store
from tests.aws.bedrock_fixtures import BUCKET, MODEL_ARN, REGION, ROLE, stubbed_clients, studio

# (AWS error code, HTTP status, AWS message, words the sentence must hold)
FAILURES = {
    "throttling": ("ThrottlingException", 429, "Rate exceeded", "request a higher quota"),
    "access denied": (
        "AccessDeniedException",
        403,
        "User: arn:aws:iam::123456789012:user/a is not authorized to perform: bedrock:InvokeModel",
        "bedrock:InvokeModel",
    ),
    "validation": ("ValidationException", 400, "1 validation error detected: value too long", "correct it"),
    "not found": ("ResourceNotFoundException", 404, "The resource was not found.", "check the name or ARN"),
    "expired credentials": (
        "ExpiredTokenException",
        403,
        "The security token included in the request is expired",
        "expired",
    ),
}
# Throttling is retried by our backoff before it is reported: queue one error per attempt.
ATTEMPTS = 6


def one_sentence(text: str, words: str) -> None:
    assert words in text, text
    assert "\n" not in text and "Traceback" not in text and text.endswith(".")


def queue(stub, operation: str, failure: str, expected: dict | None = None) -> None:
    code, status, message, _ = FAILURES[failure]
    for _ in range(ATTEMPTS if failure == "throttling" else 1):
        stub.add_client_error(
            operation,
            service_error_code=code,
            service_message=message,
            http_status_code=status,
            expected_params=expected,
        )


@pytest.mark.parametrize("failure", FAILURES)
def test_a_routed_query_shows_the_failure_as_its_rows_error(session, failure):
    clients, stubs = stubbed_clients(session, "bedrock-runtime")
    router = BedrockRouter(
        session, "nova-premier", client=clients.get("bedrock-runtime"), concurrency=1, sleep=lambda _: None
    )
    queue(stubs["bedrock-runtime"], "converse", failure)

    result = router.route("dog barking")

    assert not result.valid and len(result.errors) == 1
    one_sentence(result.errors[0], FAILURES[failure][3])


@pytest.mark.parametrize("failure", FAILURES)
def test_a_distillation_submit_shows_the_failure_and_records_nothing(session, tmp_path, failure):
    store, dataset = studio(tmp_path)
    clients, stubs = stubbed_clients(session, "bedrock")
    service = BedrockJobService(
        store, tmp_path, clients=clients, prices=PriceTable(), teacher_name="Amazon Nova Premier",
        role_arn=ROLE, bucket=BUCKET, sleep=lambda _: None,
    )  # fmt: skip
    queue(stubs["bedrock"], "create_model_customization_job", failure)

    with pytest.raises(JobError) as raised:
        service.submit("router-distill-1", dataset.id, {}, confirm=True)

    one_sentence(str(raised.value), FAILURES[failure][3])
    assert service.runner.list() == []


@pytest.mark.parametrize("failure", FAILURES)
def test_a_batch_start_shows_the_failure_and_records_nothing(session, tmp_path, failure):
    clients, stubs = stubbed_clients(session, "bedrock", "s3")
    service = BatchInference(
        Store(tmp_path / "studio.db"), tmp_path, clients, role_arn=ROLE, bucket=BUCKET, sleep=lambda _: None
    )
    teacher = BedrockRouter(session, "nova-premier", client=object())
    stubs["s3"].add_response("put_object", {})
    queue(stubs["bedrock"], "create_model_invocation_job", failure)

    with pytest.raises(BatchError) as raised:
        service.start("router-labels-1", teacher, [f"query {i}" for i in range(100)], confirm=True)

    one_sentence(str(raised.value), FAILURES[failure][3])
    assert service.list() == []


@pytest.mark.parametrize("failure", [f for f in FAILURES if f != "not found"])
def test_a_model_delete_shows_the_failure_and_keeps_the_model(session, tmp_path, failure):
    clients, stubs = stubbed_clients(session, "bedrock")
    registry = BedrockModelRegistry(Store(tmp_path / "studio.db"), tmp_path, clients, sleep=lambda _: None)
    model = registry.register("router-distill-1", None, None, None, {}, arn=MODEL_ARN)
    queue(stubs["bedrock"], "delete_custom_model", failure)

    with pytest.raises(ModelRegistryError) as raised:
        registry.delete(model.id, confirm=True)

    one_sentence(str(raised.value), FAILURES[failure][3])
    assert registry.name_taken("router-distill-1")


def test_without_any_credentials_every_service_says_how_to_configure_them(session, tmp_path, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    clients = Clients(lambda: make_session(None, REGION), REGION)
    store, dataset = studio(tmp_path)
    advice = "No AWS credentials found: run 'aws configure'"
    jobs = BedrockJobService(store, tmp_path, clients=clients, prices=PriceTable(), teacher_name="Amazon Nova Premier",
                             role_arn=ROLE, bucket=BUCKET)  # fmt: skip
    registry = BedrockModelRegistry(store, tmp_path, clients)
    router = BedrockRouter(make_session(None, REGION), "nova-premier", client=clients.get("bedrock-runtime"))

    with pytest.raises(JobError, match=advice):
        jobs.submit("router-distill-1", dataset.id, {}, confirm=True)
    assert registry.list() == [] and advice in registry.notice()
    assert advice in router.route("dog barking").errors[0]
    assert jobs.list() == [] and advice in (jobs.notice() or "")
