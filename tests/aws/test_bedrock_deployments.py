"""Bedrock deployments through botocore's Stubber with exact expected parameters: on-demand custom model
deployments (create, get, list, update, delete), provisioned throughput behind its billing confirmation and
its cost meter, a double submit that makes one deployment, the teardown, and sentences without credentials."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from botocore.stub import Stubber

from core.aws.deployments import GONE, BedrockDeploymentService, base_model_key
from core.aws.session import make_client, make_session
from core.deployments import BillingNotConfirmed, DeploymentError, DeploymentStatus, request_token
from core.model_registry import ModelInUseError, ModelRegistry
from core.pricing import PriceTable, save_rate
from core.prompts import STUDENT_SYSTEM_TEXT
from core.routers.bedrock import APP_TAG, MAX_OUTPUT_TOKENS
from core.store import Store

ACCOUNT = "123456789012"
MODEL_ARN = f"arn:aws:bedrock:us-east-1:{ACCOUNT}:custom-model/amazon.nova-micro-v1:0:128k/abcdef123456"
OTHER_MODEL_ARN = f"arn:aws:bedrock:us-east-1:{ACCOUNT}:custom-model/amazon.nova-micro-v1:0:128k/bcdefa234567"
DEPLOYMENT_ARN = f"arn:aws:bedrock:us-east-1:{ACCOUNT}:custom-model-deployment/abcdef123456"
PROVISIONED_ARN = f"arn:aws:bedrock:us-east-1:{ACCOUNT}:provisioned-model/abcdef123456"
FOUNDATION_ARN = "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-micro-v1:0:128k"
CREATED = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)
NAME = "router-live"


@pytest.fixture
def bedrock(session):
    client = make_client(session, "bedrock")
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


@pytest.fixture
def runtime(session):
    client = make_client(session, "bedrock-runtime")
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "studio.db")
    registry = ModelRegistry(store, tmp_path)
    registry.register("router-student", "job-1", None, None, {}, arn=MODEL_ARN, model_id="model-bedrock")
    registry.register("router-student-v2", "job-2", None, None, {}, arn=OTHER_MODEL_ARN, model_id="model-bedrock-2")
    return store


@pytest.fixture
def service(store, tmp_path, session, bedrock, runtime):
    return BedrockDeploymentService(
        store, tmp_path, lambda: session, PriceTable(), client=bedrock[0], runtime_client=runtime[0]
    )


def create_token(name=NAME, arn=MODEL_ARN, description="", tags=None, generation=0) -> str:
    """The clientRequestToken is derived from the request: the operation, name, model, description, tags and how
    many deployments of that name were deleted before."""
    return request_token("create_custom_model_deployment", name, arn, description, tags or {}, generation)


def deployment_answer(status="Creating", model_arn=MODEL_ARN, **extra):
    return {
        "customModelDeploymentArn": DEPLOYMENT_ARN,
        "modelDeploymentName": NAME,
        "modelArn": model_arn,
        "createdAt": CREATED,
        "status": status,
        **extra,
    }


def provisioned_answer(status="InService", created=CREATED, **extra):
    return {
        "modelUnits": 1,
        "desiredModelUnits": 1,
        "provisionedModelName": "router-pt",
        "provisionedModelArn": PROVISIONED_ARN,
        "modelArn": MODEL_ARN,
        "desiredModelArn": MODEL_ARN,
        "foundationModelArn": FOUNDATION_ARN,
        "status": status,
        "creationTime": created,
        "lastModifiedTime": created,
        **extra,
    }


def stub_create(stub, **request):
    params = {"modelDeploymentName": NAME, "modelArn": MODEL_ARN, "clientRequestToken": create_token(), **request}
    stub.add_response("create_custom_model_deployment", {"customModelDeploymentArn": DEPLOYMENT_ARN}, params)


def stub_get(stub, **answer):
    stub.add_response(
        "get_custom_model_deployment", deployment_answer(**answer), {"customModelDeploymentIdentifier": DEPLOYMENT_ARN}
    )


def never_sleep(seconds: float) -> None:
    pass


# ---- on-demand deployments ---------------------------------------------------------------------------------


def test_create_sends_exactly_the_request_and_polling_goes_from_creating_to_active(service, bedrock):
    _, stub = bedrock
    token = create_token(description="launch student", tags={"team": "search"})
    stub.add_response(
        "create_custom_model_deployment",
        {"customModelDeploymentArn": DEPLOYMENT_ARN},
        {
            "modelDeploymentName": NAME,
            "modelArn": MODEL_ARN,
            "clientRequestToken": token,
            "description": "launch student",
            "tags": [{"key": "team", "value": "search"}],
        },
    )
    stub_get(stub)
    stub_get(stub)
    stub_get(stub, status="Active")

    created = service.create(NAME, "model-bedrock", description="launch student", tags={"team": "search"})
    assert created.status == DeploymentStatus.CREATING and created.endpoint == DEPLOYMENT_ARN
    assert created.kind == "on-demand" and created.billing is None, "on demand bills per token, not while idle"
    settled = service.wait_until_settled(NAME, sleep=never_sleep)

    assert settled.status == DeploymentStatus.ACTIVE and settled.serving_model_id == "model-bedrock"
    assert (
        settled.lineage.describe() == "dataset unknown -> job job-1 -> model router-student -> deployment router-live"
    )


def test_a_double_submit_creates_one_deployment(service, bedrock, store):
    _, stub = bedrock
    stub_create(stub)
    stub_get(stub)

    first = service.create(NAME, "model-bedrock")
    second = service.create(NAME, "model-bedrock")  # the second click: answered from the claim, no second call

    assert first.id == second.id and first.endpoint == second.endpoint == DEPLOYMENT_ARN
    rows = store.query("SELECT * FROM deployments WHERE name = ?", (NAME,))
    assert len(rows) == 1 and rows[0]["request_token"] == create_token()


def test_the_same_token_is_sent_again_after_a_failed_attempt_and_a_new_one_after_a_delete(service, bedrock):
    _, stub = bedrock
    stub.add_client_error(
        "create_custom_model_deployment",
        service_error_code="ThrottlingException",
        service_message="Rate exceeded",
        http_status_code=429,
        expected_params={"modelDeploymentName": NAME, "modelArn": MODEL_ARN, "clientRequestToken": create_token()},
    )
    with pytest.raises(DeploymentError, match="throttling") as raised:
        service.create(NAME, "model-bedrock")
    assert "\n" not in str(raised.value) and service.list(refresh=False) == []

    stub_create(stub)  # the retry carries the same token: had the first call landed, Bedrock would not make two
    stub_get(stub, status="Active")
    service.create(NAME, "model-bedrock")
    stub.add_response("delete_custom_model_deployment", {}, {"customModelDeploymentIdentifier": DEPLOYMENT_ARN})
    service.delete(NAME)
    stub_create(stub, clientRequestToken=create_token(generation=1))
    stub_get(stub)
    assert service.create(NAME, "model-bedrock").status == DeploymentStatus.CREATING


def test_a_deployment_that_fails_shows_bedrocks_reason(service, bedrock):
    _, stub = bedrock
    stub_create(stub)
    stub_get(stub, status="Failed", failureMessage="Model was customised before 2025-07-16.")

    failed = service.create(NAME, "model-bedrock")

    assert failed.status == DeploymentStatus.FAILED
    assert failed.failure_message == "Model was customised before 2025-07-16."
    with pytest.raises(DeploymentError, match="is Failed \\(Model was customised"):
        service.router(NAME)


def test_list_updates_the_records_and_adopts_deployments_made_elsewhere(service, bedrock):
    _, stub = bedrock
    stub_create(stub)
    stub_get(stub)
    service.create(NAME, "model-bedrock")
    other = f"arn:aws:bedrock:us-east-1:{ACCOUNT}:custom-model-deployment/bbbbbb222222"
    stub.add_response(
        "list_custom_model_deployments",
        {
            "modelDeploymentSummaries": [
                {
                    "customModelDeploymentArn": DEPLOYMENT_ARN,
                    "customModelDeploymentName": NAME,
                    "modelArn": MODEL_ARN,
                    "createdAt": CREATED,
                    "status": "Active",
                },
                {
                    "customModelDeploymentArn": other,
                    "customModelDeploymentName": "console-made",
                    "modelArn": OTHER_MODEL_ARN,
                    "createdAt": CREATED,
                    "status": "Active",
                },
            ]
        },
        {},
    )
    stub.add_response("list_provisioned_model_throughputs", {"provisionedModelSummaries": []}, {})

    listed = {d.name: d for d in service.list()}

    assert listed[NAME].status == DeploymentStatus.ACTIVE
    assert listed["console-made"].endpoint == other and listed["console-made"].model_id == "model-bedrock-2"
    assert listed["console-made"].description == "found on Amazon Bedrock (made outside the studio)"


def test_update_swaps_the_model_behind_the_same_arn(service, bedrock):
    _, stub = bedrock
    stub_create(stub)
    stub_get(stub, status="Active")
    service.create(NAME, "model-bedrock")
    stub.add_response(
        "update_custom_model_deployment",
        {"customModelDeploymentArn": DEPLOYMENT_ARN},
        {"customModelDeploymentIdentifier": DEPLOYMENT_ARN, "modelArn": OTHER_MODEL_ARN},
    )
    stub_get(stub, status="Active", updateDetails={"modelArn": OTHER_MODEL_ARN, "updateStatus": "Updating"})
    stub_get(
        stub,
        status="Active",
        model_arn=OTHER_MODEL_ARN,
        updateDetails={"modelArn": OTHER_MODEL_ARN, "updateStatus": "UpdateCompleted"},
    )

    swapping = service.update(NAME, "router-student-v2")
    assert swapping.swapping and swapping.serving_model_id == "model-bedrock" and swapping.model_id == "model-bedrock-2"
    done = service.get(NAME)

    assert not done.swapping and done.serving_model_id == "model-bedrock-2" and done.endpoint == DEPLOYMENT_ARN


def test_a_failed_swap_says_so_and_keeps_the_old_model(service, bedrock):
    _, stub = bedrock
    stub_create(stub)
    stub_get(stub, status="Active")
    service.create(NAME, "model-bedrock")
    stub.add_response(
        "update_custom_model_deployment",
        {"customModelDeploymentArn": DEPLOYMENT_ARN},
        {"customModelDeploymentIdentifier": DEPLOYMENT_ARN, "modelArn": OTHER_MODEL_ARN},
    )
    stub_get(stub, status="Active", updateDetails={"modelArn": OTHER_MODEL_ARN, "updateStatus": "UpdateFailed"})

    kept = service.update(NAME, "model-bedrock-2")

    assert kept.model_id == kept.serving_model_id == "model-bedrock" and not kept.swapping
    assert kept.failure_message == "The swap to model model-bedrock-2 failed; it still serves model-bedrock."


def test_delete_removes_the_deployment_and_one_already_gone_is_simply_forgotten(service, bedrock, store):
    _, stub = bedrock
    stub_create(stub)
    stub_get(stub, status="Active")
    service.create(NAME, "model-bedrock")
    with pytest.raises(ModelInUseError, match="router-live"):
        ModelRegistry(store, store.path.parent).delete("model-bedrock")
    stub.add_client_error(
        "delete_custom_model_deployment",
        service_error_code="ResourceNotFoundException",
        service_message="Deployment not found",
        http_status_code=404,
        expected_params={"customModelDeploymentIdentifier": DEPLOYMENT_ARN},
    )

    service.delete(NAME)

    assert service.list(refresh=False) == []
    ModelRegistry(store, store.path.parent).delete("model-bedrock")  # no deployment uses it any more


def test_a_deployment_deleted_outside_the_studio_turns_failed_with_what_to_do(service, bedrock):
    _, stub = bedrock
    stub_create(stub)
    stub_get(stub, status="Active")
    service.create(NAME, "model-bedrock")
    stub.add_client_error(
        "get_custom_model_deployment",
        service_error_code="ResourceNotFoundException",
        service_message="not found",
        http_status_code=404,
        expected_params={"customModelDeploymentIdentifier": DEPLOYMENT_ARN},
    )

    gone = service.get(NAME)

    assert gone.status == DeploymentStatus.FAILED and gone.failure_message == GONE


def test_the_deployed_student_is_invoked_through_converse_with_the_deployment_arn(service, bedrock, runtime, store):
    _, stub = bedrock
    stub_create(stub)
    stub_get(stub, status="Active")
    service.create(NAME, "model-bedrock")
    runtime_stub = runtime[1]
    reply = {"visual": 0.3, "audio": 0.6, "transcription": 0.0, "metadata": 0.1, "reasoning": "A loud sound."}
    runtime_stub.add_response(
        "converse",
        {
            "output": {"message": {"role": "assistant", "content": [{"text": json.dumps(reply)}]}},
            "stopReason": "end_turn",
            "usage": {"inputTokens": 40, "outputTokens": 30, "totalTokens": 70},
            "metrics": {"latencyMs": 210},
        },
        {
            "modelId": DEPLOYMENT_ARN,
            "system": [{"text": STUDENT_SYSTEM_TEXT}],
            "messages": [{"role": "user", "content": [{"text": "dog barking loudly"}]}],
            "inferenceConfig": {"maxTokens": MAX_OUTPUT_TOKENS, "temperature": 0.0},
            "requestMetadata": {"app": APP_TAG, "router": "deployment:router-live", "mode": "student"},
        },
    )

    result = service.router(NAME).route("dog barking loudly")

    assert result.valid and result.decision.audio == 0.6 and result.model_latency_ms == 210 and result.latency_ms > 0
    assert result.token_source == "measured" and result.cost_usd == pytest.approx((40 * 0.035 + 30 * 0.14) / 1e6)
    assert service.list(refresh=False)[0].requests_served == 1


def test_snippets_call_converse_with_the_deployment_arn(service, bedrock):
    _, stub = bedrock
    stub_create(stub)
    stub_get(stub, status="Active")

    snippets = service.snippets(service.create(NAME, "model-bedrock"))

    assert '--aws-sigv4 "aws:amz:us-east-1:bedrock"' in snippets.curl
    assert "custom-model-deployment%2Fabcdef123456/converse" in snippets.curl
    assert f"modelId={DEPLOYMENT_ARN!r}" in snippets.python and "bedrock-runtime" in snippets.python
    assert "AKIA" not in snippets.curl + snippets.python, "no key is ever written into a snippet"


@pytest.mark.parametrize(
    ("name", "model", "problem"),
    [
        ("router live", "model-bedrock", "cannot contain a space"),
        ("a__b", "model-bedrock", "is not valid"),
        (NAME, "not-an-arn", "custom model ARN 'not-an-arn' is not valid"),
        (NAME, DEPLOYMENT_ARN, "custom model ARN"),
    ],
)
def test_names_and_arns_are_checked_before_any_call(service, name, model, problem):
    with pytest.raises(DeploymentError, match=problem):
        service.create(name, model)
    assert service.list(refresh=False) == []


def test_on_demand_deployment_is_refused_in_a_region_that_lacks_it(store, tmp_path, fake_credentials, bedrock):
    elsewhere = make_session(None, "eu-west-1")
    service = BedrockDeploymentService(store, tmp_path, lambda: elsewhere, client=bedrock[0])

    with pytest.raises(DeploymentError, match="only in us-east-1 and us-west-2, not eu-west-1: choose one"):
        service.create(NAME, "model-bedrock")


# ---- provisioned throughput ----------------------------------------------------------------------------------


def test_provisioned_throughput_needs_the_confirmation_and_quotes_the_hourly_price(service, store):
    with pytest.raises(BillingNotConfirmed) as unknown:
        service.create_provisioned("router-pt", "model-bedrock")
    assert "price unknown: enter the provisioned throughput hourly rate for nova-micro in Settings" in str(
        unknown.value
    )
    assert "It keeps billing until you delete it." in str(unknown.value)

    save_rate(store, "provisioned_hour", "nova-micro", 20.5)
    with pytest.raises(BillingNotConfirmed) as priced:
        service.create_provisioned("router-pt", "model-bedrock", model_units=2, commitment="OneMonth")
    assert "2 model units, $41.00 per hour (about $984.00 a day)" in str(priced.value)
    assert "commits you to OneMonth: the whole term is billed" in str(priced.value)
    assert priced.value.estimate.hourly_usd == 41.0
    assert service.list(refresh=False) == [], "nothing is made without the confirmation"


def test_provisioned_throughput_is_metered_while_it_exists_and_the_teardown_stops_it(service, bedrock, store):
    _, stub = bedrock
    save_rate(store, "provisioned_hour", "nova-micro", 20.0)
    token = request_token("create_provisioned_model_throughput", "router-pt", MODEL_ARN, 1, None, {}, 0)
    stub.add_response(
        "create_provisioned_model_throughput",
        {"provisionedModelArn": PROVISIONED_ARN},
        {"clientRequestToken": token, "modelUnits": 1, "provisionedModelName": "router-pt", "modelId": MODEL_ARN},
    )
    stub.add_response(
        "get_provisioned_model_throughput", provisioned_answer("Creating"), {"provisionedModelId": PROVISIONED_ARN}
    )
    three_hours_ago = datetime.now(UTC) - timedelta(hours=3)
    stub.add_response(
        "get_provisioned_model_throughput",
        provisioned_answer("InService", created=three_hours_ago),
        {"provisionedModelId": PROVISIONED_ARN},
    )

    created = service.create_provisioned("router-pt", "model-bedrock", confirm_hourly_billing=True)
    again = service.create_provisioned("router-pt", "model-bedrock", confirm_hourly_billing=True)  # double submit
    assert created.id == again.id and created.status == DeploymentStatus.CREATING
    serving = service.get("router-pt")

    assert serving.status == DeploymentStatus.IN_SERVICE and serving.ready and serving.kind == "provisioned"
    meter = serving.billing
    assert meter is not None and meter.hours() == pytest.approx(3.0, abs=0.01)
    assert meter.cost_so_far_usd() == pytest.approx(60.0, abs=0.2)
    assert meter.describe().startswith("Bills by the hour while it exists: 3.0 h so far x $20.00/h = $60.")
    assert meter.describe().endswith("delete it to stop the billing.")
    assert [d.name for d in service.billing_while_idle()] == ["router-pt"]

    stub.add_response("delete_provisioned_model_throughput", {}, {"provisionedModelId": PROVISIONED_ARN})
    service.delete("router-pt")

    assert service.billing_while_idle() == [] and service.list(refresh=False) == []


def test_a_provisioned_throughput_without_an_entered_rate_says_price_unknown(service, bedrock):
    _, stub = bedrock
    token = request_token("create_provisioned_model_throughput", "router-pt", MODEL_ARN, 1, "SixMonths", {}, 0)
    stub.add_response(
        "create_provisioned_model_throughput",
        {"provisionedModelArn": PROVISIONED_ARN},
        {
            "clientRequestToken": token,
            "modelUnits": 1,
            "provisionedModelName": "router-pt",
            "modelId": MODEL_ARN,
            "commitmentDuration": "SixMonths",
        },
    )
    stub.add_response(
        "get_provisioned_model_throughput",
        provisioned_answer("InService", commitmentDuration="SixMonths"),
        {"provisionedModelId": PROVISIONED_ARN},
    )

    made = service.create_provisioned("router-pt", "model-bedrock", commitment="SixMonths", confirm_hourly_billing=True)

    assert made.billing.cost_so_far_usd() is None and made.billing.commitment == "SixMonths"
    assert "price unknown (enter the provisioned throughput hourly rate for nova-micro in Settings)" in (
        made.billing.describe()
    )


@pytest.mark.parametrize(
    ("options", "problem"), [({"model_units": 0}, "at least 1"), ({"commitment": "OneYear"}, "OneMonth or SixMonths")]
)
def test_provisioned_options_are_checked_before_any_call(service, options, problem):
    with pytest.raises(DeploymentError, match=problem):
        service.create_provisioned("router-pt", "model-bedrock", confirm_hourly_billing=True, **options)


# ---- without credentials -------------------------------------------------------------------------------------


def test_without_credentials_every_call_says_how_to_configure_them(store, tmp_path):
    session = make_session(None, "us-east-1")  # the sealed environment: no keys, no profile, no metadata
    service = BedrockDeploymentService(store, tmp_path, lambda: session)
    row, _ = service.records.claim(name="router-known", kind="on-demand", model_id="model-bedrock")
    service.records.update(row["id"], endpoint=DEPLOYMENT_ARN, status="Active")
    pt, _ = service.records.claim(name="router-pt", kind="provisioned", model_id="model-bedrock", model_units=1)
    service.records.update(pt["id"], endpoint=PROVISIONED_ARN, status="InService")
    calls = {
        "create": lambda: service.create(NAME, "model-bedrock"),
        "get": lambda: service.get("router-known"),
        "get provisioned": lambda: service.get("router-pt"),
        "list": lambda: service.list(),
        "update": lambda: service.update("router-known", "model-bedrock-2"),
        "delete": lambda: service.delete("router-known"),
        "delete provisioned": lambda: service.delete("router-pt"),
        "create provisioned": lambda: service.create_provisioned(
            "router-pt2", "model-bedrock", confirm_hourly_billing=True
        ),
    }
    for what, call in calls.items():
        with pytest.raises(DeploymentError) as raised:
            call()
        message = str(raised.value)
        assert message.startswith("No AWS credentials found: run 'aws configure'"), what
        assert "\n" not in message and "Traceback" not in message
    assert {d.name for d in service.list(refresh=False)} == {"router-known", "router-pt"}, "nothing was forgotten"


def test_the_base_model_of_a_custom_model_prices_it():
    assert base_model_key(MODEL_ARN) == "nova-micro"
    assert base_model_key("arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-lite-v1:0:300k/x") == (
        "nova-lite"
    )
    assert base_model_key("router-student") is None
