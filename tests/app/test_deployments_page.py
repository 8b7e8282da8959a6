"""The Deployments page: a local model deployed from the page turns Active (a real endpoint process), its self-test
shows weights and latency, it is swapped, set active and deleted behind a confirmation; the empty states; Amazon
Bedrock without credentials; and a provisioned throughput on Bedrock (botocore Stubber, exact parameters) created
behind its hourly-billing confirmation, metered, shown on the Overview's banner and torn down.

Waiting for an endpoint is re-running the page against a deadline (a run_every fragment does not tick in AppTest).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from botocore.stub import Stubber
from streamlit.testing.v1 import AppTest

from core.aws.deployments import BedrockDeploymentService
from core.aws.session import make_client, make_session
from core.backends import BackendStatus, BedrockBackend
from core.deploy.service import LocalDeploymentService
from core.deployments import DeploymentStatus, request_token
from core.distill.jobs import JobRunner
from core.model_registry import ModelRegistry
from core.pricing import billing_rate, save_rate
from dashboard import deployment_views as views
from tests.app.helpers import alerts, finished_job, open_page, reasons, run_app, save_dataset, texts

PAGE = "deployments.py"
DEADLINE_S = 60.0
ACCOUNT = "123456789012"
MODEL_ARN = f"arn:aws:bedrock:us-east-1:{ACCOUNT}:custom-model/amazon.nova-micro-v1:0:128k/abcdef123456"
PROVISIONED_ARN = f"arn:aws:bedrock:us-east-1:{ACCOUNT}:provisioned-model/abcdef123456"
FOUNDATION_ARN = "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-micro-v1:0:128k"


@pytest.fixture
def local_models(store, studio_env):
    """Two students distilled by real jobs on one small dataset (the second to swap to); every endpoint the
    test starts is deleted afterwards."""
    runner = JobRunner(store, studio_env)
    dataset = save_dataset(store, studio_env)
    first = finished_job(runner, dataset, "router-distill-first")
    second = finished_job(runner, dataset, "router-distill-second")
    registry = ModelRegistry(store, studio_env)
    yield registry.get(first.model_id), registry.get(second.model_id)
    service = LocalDeploymentService(store, studio_env)
    for deployment in service.list():
        service.delete(deployment.name)


def badges(at: AppTest) -> list[str]:
    return [element.value for element in at.markdown if "-badge[" in element.value]


def rerun_until(at: AppTest, service, name: str, predicate, what: str) -> AppTest:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        at.run()
        if predicate(service.get(name)):
            return at.run()
        time.sleep(0.1)
    raise AssertionError(f"{name} never became {what}: {service.get(name)}\n{service.log_text(name)}")


def rerun_until_shown(at: AppTest, text) -> AppTest:
    """Rerun until the page shows text() as it is when the page has run: a count the server is still adding to
    (it writes what it served a few times a second) is caught up with on a later run."""
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        wanted = text()
        if wanted in texts(at):
            return at
        time.sleep(0.1)
        at.run()
    raise AssertionError(f"the page never showed {text()!r}: {texts(at)}")


def test_no_models_and_no_deployments_say_how_to_get_them(app):
    at = open_page(app, PAGE)

    assert not at.exception, [e.value for e in at.exception]
    shown = alerts(at)
    assert any(body.startswith("No models to deploy yet: distil a student on the Distillation page") for body in shown)
    assert "Open Distillation" in [link.proto.label for link in at.get("page_link")]
    assert "No deployments yet: deploy a model above." in shown


def test_a_local_model_is_deployed_tested_swapped_set_active_and_deleted_from_the_page(app, local_models, store):
    first, second = local_models
    service = LocalDeploymentService(store, store.path.parent)
    at = open_page(app, PAGE)
    assert at.selectbox(key=views.MODEL_KEY).value == second.id, "the newest model first"
    at.selectbox(key=views.MODEL_KEY).select(first.id)

    at.text_input(key=views.NAME_KEY).input("router live").run()  # a space: off, with the rule beside it
    assert at.button(key=views.CREATE_KEY).disabled
    assert any("cannot contain a space" in reason for reason in reasons(at)), "the rule shows beside the button"
    at.text_input(key=views.NAME_KEY).input("router-live")
    at.text_input(key=views.TAGS_KEY).input("team=search")
    at.text_area(key=views.DESCRIPTION_KEY).input("the launch student").run()
    at.button(key=views.CREATE_KEY).click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(body.startswith("Deploying router-live") for body in alerts(at))
    if service.get("router-live").status == DeploymentStatus.CREATING:  # its server is still loading the model
        assert any(body.startswith("Creating: the model is loading") for body in alerts(at))
        assert any("Creating" in badge for badge in badges(at))

    at = rerun_until(at, service, "router-live", lambda d: d.status == DeploymentStatus.ACTIVE, "Active")
    deployment = service.get("router-live")
    assert any("Active" in badge for badge in badges(at))
    assert [badge.split("[", 1)[1].rstrip("]") for badge in badges(at) if "gray-badge" in badge] == [
        "dataset: small-labelled",
        "job: router-distill-first",
        f"model: {first.name}",
        "deployment: router-live",
    ]
    assert at.text_input(key=views.NAME_KEY).value == "", "the name deployed is taken: the box is cleared"
    shown = texts(at)
    assert first.name in shown and "team=search" in shown and "the launch student" in shown
    assert deployment.endpoint in [code.value for code in at.code]
    assert any(code.value.startswith(f"curl -s -X POST {deployment.endpoint}/route") for code in at.code)
    assert any(f"Request('{deployment.endpoint}/route'" in code.value for code in at.code)

    at.button(key=f"{views.TEST_KEY}_{deployment.id}").click().run()
    latency = {metric.label: metric.value for metric in at.metric}["Latency"]
    assert latency.endswith(" ms") and float(latency.split()[0].replace(",", "")) > 0
    assert any(text.startswith("visual ") and "metadata" in text for text in texts(at)), "the weights"
    # The server adds what it served to its row a few times a second; the card shows the count.
    at = rerun_until(at, service, "router-live", lambda d: d.requests_served >= 1, "counted")
    at = rerun_until_shown(at, lambda: f"{service.get('router-live').requests_served:,}")

    at.button(key=f"deploy_activate_{deployment.id}").click().run()
    assert service.get("router-live").active_student
    assert any("active student" in badge for badge in badges(at))

    at.selectbox(key=f"{views.SWAP_KEY}_{deployment.id}_model").select(second.id)
    at.button(key=f"{views.SWAP_KEY}_{deployment.id}").click().run()
    at = rerun_until(at, service, "router-live", lambda d: d.serving_model_id == second.id and d.settled, "swapped")
    assert service.get("router-live").endpoint == deployment.endpoint, "same name, same endpoint"

    delete = f"{views.DELETE_KEY}_{deployment.id}"
    at.button(key=delete).click().run()
    assert any("Delete this deployment?" in body and "active student" in body for body in alerts(at))
    at.button(key=f"{delete}_cancel").click().run()
    assert service.list() != [], "cancel keeps it"
    at.button(key=delete).click().run()
    at.button(key=f"{delete}_confirm").click().run()
    assert not at.exception
    assert service.list() == []
    assert "Deleted router-live." in alerts(at) and "No deployments yet: deploy a model above." in alerts(at)


def test_a_taken_name_is_refused_before_any_call(app, local_models, store, studio_env):
    first, _ = local_models
    service = LocalDeploymentService(store, studio_env)
    service.create("router-taken", first.id)
    at = open_page(app, PAGE)

    at.text_input(key=views.NAME_KEY).input("router-taken").run()

    assert at.button(key=views.CREATE_KEY).disabled
    assert any("'router-taken' already exists" in reason for reason in reasons(at))


def test_bedrock_without_credentials_says_how_to_configure_them_on_every_control(monkeypatch, store, studio_env):
    monkeypatch.setenv("VSRS_BACKEND", "bedrock")
    ModelRegistry(store, studio_env).register("router-student", "job-1", None, None, {}, arn=MODEL_ARN)
    records = BedrockDeploymentService(store, studio_env, lambda: None).records
    row, _ = records.claim(name="router-known", kind="on-demand", model_id=MODEL_ARN)
    records.update(row["id"], endpoint="arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/x1")

    at = open_page(run_app(), PAGE)

    assert not at.exception, [e.value for e in at.exception]
    shown = alerts(at)
    assert any(
        body.startswith("Amazon Bedrock is not ready, so deploying is off. No AWS credentials found") for body in shown
    )
    assert any(body.startswith("Amazon Bedrock is not ready, so changing deployments is off.") for body in shown)
    assert any("could not be refreshed; shown as last recorded: No AWS credentials found" in b for b in shown)
    assert not [button for button in at.button if button.key.startswith(views.TEST_KEY)], "no self-test to fail"
    assert all(button.disabled for button in at.button if button.key.startswith(views.DELETE_KEY))


# ---- provisioned throughput on Amazon Bedrock (Stubber) -------------------------------------------------------


@pytest.fixture
def bedrock_stub(monkeypatch, store, studio_env):
    """The Bedrock backend, ready, with its deployment service on a stubbed client (fake keys, no network).

    The page's list calls (list_custom_model_deployments, list_provisioned_model_throughputs) are
    tests/aws/test_bedrock_deployments.py's subject; here the records are the list, so the stub holds exactly the
    create, get and delete the page's buttons send."""
    monkeypatch.setenv("VSRS_BACKEND", "bedrock")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    session = make_session(None, "us-east-1")
    client = make_client(session, "bedrock")
    service = BedrockDeploymentService(store, studio_env, lambda: session, client=client)
    monkeypatch.setattr(service, "reconcile", lambda: [])
    ready = BackendStatus("bedrock", "Amazon Bedrock", ready=True, details={"region": "us-east-1"})
    monkeypatch.setattr(BedrockBackend, "status", lambda backend: ready)
    monkeypatch.setattr(BedrockBackend, "deployments", lambda backend: service)
    monkeypatch.setattr(BedrockBackend, "models", lambda backend: ModelRegistry(backend.store, studio_env))
    ModelRegistry(store, studio_env).register(
        "router-student", "job-1", None, None, {}, arn=MODEL_ARN, model_id="model-bedrock"
    )
    with Stubber(client) as stub:
        yield stub
        stub.assert_no_pending_responses()


def test_provisioned_throughput_is_confirmed_metered_bannered_and_torn_down(bedrock_stub, store):
    save_rate(store, "provisioned_hour", "nova-micro", 20.0)
    at = open_page(run_app(), PAGE)
    at.radio(key=views.KIND_KEY).set_value(views.PROVISIONED)
    at.text_input(key=views.NAME_KEY).input("router-pt").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(
        "bills by the hour whether it is used or not: 1 model unit, \\$20.00 per hour" in body for body in alerts(at)
    )

    at.button(key=f"{views.PROVISION_KEY}_ask").click().run()  # the stub holds no call yet: nothing is sent
    assert any(body.startswith("It starts billing by the hour as soon as it is created") for body in alerts(at))
    assert store.query("SELECT name FROM deployments") == [], "nothing is made before the confirmation"
    token = request_token("create_provisioned_model_throughput", "router-pt", MODEL_ARN, 1, None, {}, 0)
    bedrock_stub.add_response(
        "create_provisioned_model_throughput",
        {"provisionedModelArn": PROVISIONED_ARN},
        {"clientRequestToken": token, "modelUnits": 1, "provisionedModelName": "router-pt", "modelId": MODEL_ARN},
    )
    bedrock_stub.add_response(
        "get_provisioned_model_throughput",
        {
            "modelUnits": 1,
            "desiredModelUnits": 1,
            "provisionedModelName": "router-pt",
            "provisionedModelArn": PROVISIONED_ARN,
            "modelArn": MODEL_ARN,
            "desiredModelArn": MODEL_ARN,
            "foundationModelArn": FOUNDATION_ARN,
            "status": "InService",
            "creationTime": datetime.now(UTC) - timedelta(hours=3),
            "lastModifiedTime": datetime.now(UTC),
        },
        {"provisionedModelId": PROVISIONED_ARN},
    )
    at.button(key=f"{views.PROVISION_KEY}_confirm").click().run()
    assert not at.exception, [e.value for e in at.exception]

    figures = {metric.label: metric.value for metric in at.metric}
    assert figures["Billed hours so far"].startswith("3.0") and figures["Hourly rate"] == "$20.00/h"
    assert figures["Cost so far"].startswith("$60.")
    assert any(body.startswith("Bills by the hour while it exists: 3.0 h so far") for body in alerts(at))
    teardown = next(b for b in at.button if b.key.startswith(views.DELETE_KEY))
    assert teardown.label == "Tear down (stop billing)"

    overview = at.switch_page("../pages/overview.py").run()
    [banner] = [body for body in alerts(overview) if "bill by the hour" in body or "bills by the hour" in body]
    assert banner.startswith("1 resource on Amazon Bedrock bills by the hour") and "router-pt" in banner
    assert "Tear it down on Deployments" in [link.proto.label for link in overview.get("page_link")]

    at = open_page(overview, PAGE)
    at.button(key=teardown.key).click().run()
    bedrock_stub.add_response("delete_provisioned_model_throughput", {}, {"provisionedModelId": PROVISIONED_ARN})
    at.button(key=f"{teardown.key}_confirm").click().run()
    assert "Deleted router-pt. Its hourly billing has stopped." in alerts(at)
    overview = at.switch_page("../pages/overview.py").run()
    assert not [body for body in alerts(overview) if "by the hour" in body]


def test_provisioned_throughput_without_an_entered_rate_says_price_unknown(bedrock_stub):
    at = open_page(run_app(), PAGE)
    at.radio(key=views.KIND_KEY).set_value(views.PROVISIONED)
    at.text_input(key=views.NAME_KEY).input("router-pt").run()

    assert any(
        "price unknown: enter the provisioned throughput hourly rate for nova-micro in Settings" in body
        for body in alerts(at)
    )


def test_the_hourly_rate_entered_in_settings_prices_the_meter_and_a_negative_one_is_refused(app, store):
    at = open_page(app, "settings.py")
    editor = at.data_editor[1]
    row = list(zip(editor.value["kind"], editor.value["model_key"], strict=True)).index(
        ("provisioned_hour", "nova-micro")
    )

    at.session_state[editor.key] = {"edited_rows": {row: {"usd": -2.0}}, "added_rows": [], "deleted_rows": []}
    at = at.run()
    assert at.button(key="rate_editor_save").disabled
    assert any("a rate must be a non-negative number of US dollars" in reason for reason in reasons(at))
    at.session_state[editor.key] = {"edited_rows": {row: {"usd": 20.5}}, "added_rows": [], "deleted_rows": []}
    at = at.run()
    at.button(key="rate_editor_save").click().run()

    assert not at.exception
    assert "Saved 1 changed rate." in alerts(at)
    assert billing_rate(store, "provisioned_hour", "nova-micro") == 20.5
