"""The pages on the Amazon Bedrock backend, in process, with stubbed clients (exact params, never the network):
a distillation job launched from the form, estimated and confirmed, walking its three phases to Completed with its
training curve; a double click that submits once; each AWS failure as one sentence with the form kept; what the
form says will label an unlabelled dataset is what the job records."""

from __future__ import annotations

import ast
import io

import pytest

from core.aws.jobs import request_token
from core.deployments import DeploymentKind, DeploymentRecords
from core.distill.jobs import JobRunner
from core.model_registry import ModelRegistry
from core.pricing import save_rate
from core.settings import load_settings
from dashboard import distillation_views as views
from dashboard import job_settings_views as cloud
from dashboard import model_views
from dashboard.widgets import checks
from tests.app.bedrock_app import LIST_JOBS, LIST_MODELS, StubbedBedrock, on_bedrock
from tests.app.helpers import APP, alerts, chart_rows, open_page, run_app, texts
from tests.aws.bedrock_fixtures import (
    BASE_ARN,
    BUCKET,
    DATASET_URI,
    ENDED,
    JOB_ARN,
    JOB_ID,
    MODEL_ARN,
    ROLE,
    job_answer,
    job_summary,
    model_answer,
    model_summary,
    phases,
    studio,
)

NAME = "router-distill-1"
OUTPUT_URI = f"s3://{BUCKET}/video-search-router/jobs/{NAME}/"


def expected_request(teacher: str = "us.amazon.nova-premier-v1:0") -> dict:
    request = {
        "jobName": NAME,
        "customModelName": NAME,
        "roleArn": ROLE,
        "baseModelIdentifier": "amazon.nova-micro-v1:0:128k",
        "customizationType": "DISTILLATION",
        "trainingDataConfig": {"s3Uri": DATASET_URI},
        "outputDataConfig": {"s3Uri": OUTPUT_URI},
        "customizationConfig": {
            "distillationConfig": {
                "teacherModelConfig": {"teacherModelIdentifier": teacher, "maxResponseLengthForInference": 1000}
            }
        },
    }
    return {**request, "clientRequestToken": request_token(request)}


METRICS_KEY = f"video-search-router/jobs/{NAME}/model-customization-job-{JOB_ID}/training_artifacts/" + (
    "step_wise_training_metrics.csv"
)
METRICS_CSV = "step_number,epoch_number,training_loss,perplexity\n0,0,2.31,10.1\n10,0,1.42,4.1\n20,1,0.87,2.4\n"


def listing(stubbed: StubbedBedrock, *summaries: dict) -> None:
    stubbed.stubs["bedrock"].add_response(
        "list_model_customization_jobs", {"modelCustomizationJobSummaries": list(summaries)}, LIST_JOBS
    )


def distillation_page(stubbed: StubbedBedrock):
    """The Distillation page on Bedrock with a prompt-only dataset uploaded to S3 and the job name typed."""
    listing(stubbed)  # the form's first look at the job list
    at = open_page(run_app(), "distillation.py")
    at.text_input(key=views.NAME_KEY).input(NAME).run()
    return at


def accepted(stubbed: StubbedBedrock, teacher: str = "us.amazon.nova-premier-v1:0") -> None:
    """Bedrock accepts the create request (exact params), and the page's first look at the new job follows."""
    stubbed.stubs["bedrock"].add_response(
        "create_model_customization_job", {"jobArn": JOB_ARN}, expected_request(teacher)
    )
    stubbed.stubs["bedrock"].add_response(
        "get_model_customization_job",
        job_answer("InProgress", phases("InProgress"), output_uri=OUTPUT_URI),
        {"jobIdentifier": JOB_ARN},
    )


def start(at):
    return at.button(key=views.START_KEY).click().run()


def confirm_start(at):
    return at.button(key=f"{views.START_KEY}_confirm").click().run()


def read_failures(at) -> list[str]:
    """What the pages say when Bedrock could not be read (a call the test did not expect ends up here too)."""
    return [body for body in alerts(at) if "could not be read just now" in body or "could not be listed" in body]


def badges(at) -> list[str]:
    return [element.value for element in at.markdown if "-badge[" in element.value]


def phase_words(at) -> list[str]:
    return [
        words
        for value in badges(at)
        for words in (
            "Validation: InProgress",
            "Validation: Completed",
            "DataProcessing: InProgress",
            "DataProcessing: Completed",
            "Training: InProgress",
            "Training: Completed",
            "Training: NotStarted",
        )
        if words in value
    ]


@pytest.fixture
def prompts(studio_env):
    """A prompt-only dataset of 120 records, uploaded to S3 (the store is the app's)."""
    store, dataset = studio(studio_env)
    return store, dataset


def test_a_job_is_estimated_confirmed_and_walks_its_three_phases_to_completed_with_its_curve(stubbed_bedrock, prompts):
    stubbed = stubbed_bedrock
    store, dataset = prompts
    at = distillation_page(stubbed)
    assert not at.exception, [e.value for e in at.exception]
    # The form's fields are the Bedrock job's: role and output from Settings, the dataset's S3 URI, the limit.
    assert at.text_input(key=cloud.ROLE_KEY).value == ROLE
    assert at.text_input(key=cloud.OUTPUT_KEY).value == OUTPUT_URI
    assert at.text_input(key=cloud.MAX_RESPONSE_KEY).value == "1000"
    assert DATASET_URI in texts(at)
    assert not [box for box in at.text_input if box.key == views.EPOCHS_KEY]  # Bedrock chooses its own epochs
    # The estimate is on the page before anything is sent: teacher tokens priced, training and storage unknown.
    shown = texts(at)
    assert any(line.startswith("Teacher answers (Amazon Nova Premier): $") for line in shown)
    assert any(line.startswith("Training Amazon Nova Micro: price unknown") for line in shown)
    assert any(line.startswith("custom model storage: price unknown per month") for line in shown)

    at = start(at)  # asks first: nothing is sent yet
    assert any("It bills your AWS account" in body for body in alerts(at))
    accepted(stubbed)
    at = confirm_start(at)
    assert not at.exception, [e.value for e in at.exception]
    [job] = JobRunner(store, store.path.parent).list()
    assert (job.remote_arn, job.status, job.teacher) == (JOB_ARN, "InProgress", "Amazon Nova Premier")
    assert "Amazon Nova Micro on Amazon Bedrock" in texts(at)  # the job's student, as the form named it

    walk = [phases("InProgress"), phases("Completed", "InProgress"), phases("Completed", "Completed", "InProgress")]
    seen = []
    for details in walk:
        stubbed.tick()
        listing(stubbed, job_summary(JOB_ARN, NAME, "InProgress", details))
        if details["trainingDetails"]["status"] == "InProgress":  # training has begun: the metrics CSV is read
            stubbed.stubs["s3"].add_response(
                "list_objects_v2",
                {"Contents": [{"Key": METRICS_KEY}], "IsTruncated": False, "KeyCount": 1},
                {"Bucket": BUCKET, "Prefix": f"video-search-router/jobs/{NAME}/"},
            )
            stubbed.stubs["s3"].add_response(
                "get_object", {"Body": io.BytesIO(METRICS_CSV.encode())}, {"Bucket": BUCKET, "Key": METRICS_KEY}
            )
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        assert not read_failures(at)
        seen.append(phase_words(at))

    assert seen == [
        ["Validation: InProgress", "Training: NotStarted"],
        ["Validation: Completed", "DataProcessing: InProgress", "Training: NotStarted"],
        ["Validation: Completed", "DataProcessing: Completed", "Training: InProgress"],
    ]
    loss, perplexity = (chart_rows(chart) for chart in at.get("vega_lite_chart"))
    assert [(row["epoch"], row["value"]) for row in loss] == [(0, 2.31), (10, 1.42), (20, 0.87)]
    assert [row["value"] for row in perplexity] == [10.1, 4.1, 2.4]

    stubbed.tick()
    listing(
        stubbed,
        job_summary(
            JOB_ARN,
            NAME,
            "Completed",
            phases("Completed", "Completed", "Completed"),
            customModelArn=MODEL_ARN,
            customModelName=NAME,
            endTime=ENDED,
        ),
    )
    stubbed.stubs["bedrock"].add_response("get_custom_model", model_answer(), {"modelIdentifier": MODEL_ARN})
    at.run()

    assert not at.exception, [e.value for e in at.exception]
    assert not read_failures(at)
    assert phase_words(at) == ["Validation: Completed", "DataProcessing: Completed", "Training: Completed"]
    assert any("Completed: the student is registered as a custom model" in body for body in alerts(at))
    assert len(at.get("vega_lite_chart")) == 2  # the curve stays, read from the store
    stubbed.done()


def test_a_double_click_on_start_submits_the_job_once(stubbed_bedrock, prompts):
    stubbed = stubbed_bedrock
    store, _ = prompts
    at = distillation_page(stubbed)
    at = start(start(at))  # two clicks: one question
    assert len([b for b in at.button if b.key == f"{views.START_KEY}_confirm"]) == 1
    accepted(stubbed)

    at = confirm_start(at)

    assert not at.exception, [e.value for e in at.exception]
    assert not [b for b in at.button if b.key == f"{views.START_KEY}_confirm"]
    assert at.button(key=views.START_KEY).disabled  # the name is taken now: a late click is discarded
    assert len(JobRunner(store, store.path.parent).list()) == 1
    stubbed.done()  # exactly one create call was made


@pytest.mark.parametrize(
    ("code", "status", "message", "sentence", "attempts"),
    [
        ("ThrottlingException", 429, "Rate exceeded", "Amazon Bedrock is throttling these requests", 6),
        ("AccessDeniedException", 403, "not authorized to perform: iam:PassRole", "You may not hand this IAM role", 1),
        ("ValidationException", 400, "fewer than 100 records", "AWS rejected the request (fewer than 100", 1),
        ("ResourceNotFoundException", 404, "Model not found", "AWS could not find that resource", 1),
        ("ExpiredTokenException", 403, "The security token is expired", "Your AWS session has expired", 1),
    ],
)
def test_each_aws_failure_is_one_sentence_and_the_form_keeps_its_values(
    stubbed_bedrock, prompts, code, status, message, sentence, attempts
):
    stubbed = stubbed_bedrock
    store, _ = prompts
    at = distillation_page(stubbed)
    at.text_area(key=cloud.JOB_TAGS_KEY).input("team=search").run()
    at = start(at)
    request = {**expected_request(), "jobTags": [{"key": "team", "value": "search"}]}
    del request["clientRequestToken"]
    request["clientRequestToken"] = request_token(request)
    for _ in range(attempts):  # throttling is retried with backoff, then explained
        stubbed.stubs["bedrock"].add_client_error(
            "create_model_customization_job",
            service_error_code=code,
            service_message=message,
            http_status_code=status,
            expected_params=request,
        )

    at = confirm_start(at)

    assert not at.exception, [e.value for e in at.exception]
    errors = [element.value for element in at.error]
    assert len([body for body in errors if body.startswith(sentence)]) == 1, errors
    assert (at.text_input(key=views.NAME_KEY).value, at.text_input(key=cloud.ROLE_KEY).value) == (NAME, ROLE)
    assert at.text_area(key=cloud.JOB_TAGS_KEY).value == "team=search"
    assert not at.button(key=views.START_KEY).disabled  # nothing was started: the same job can be sent again
    assert JobRunner(store, store.path.parent).list() == []
    stubbed.done()


def test_without_credentials_a_billable_start_is_off_with_how_to_sign_in_and_the_form_kept(monkeypatch, prompts):
    on_bedrock(monkeypatch)  # and no credentials anywhere
    at = open_page(run_app(), "distillation.py")
    at.text_input(key=views.NAME_KEY).input(NAME).run()

    assert not at.exception, [e.value for e in at.exception]
    assert at.button(key=views.START_KEY).disabled
    [said] = [m.value for m in at.markdown if m.value.startswith(checks.REASONS_PREFIX)]
    assert "Amazon Bedrock is not ready: No AWS credentials found: run 'aws configure'" in said
    assert (at.text_input(key=views.NAME_KEY).value, at.text_input(key=cloud.ROLE_KEY).value) == (NAME, ROLE)


def test_names_and_arns_are_checked_before_any_call(stubbed_bedrock, prompts):
    stubbed = stubbed_bedrock
    at = distillation_page(stubbed)
    at.text_input(key=cloud.ROLE_KEY).input("arn:aws:iam::12:role/x").run()

    assert at.button(key=views.START_KEY).disabled
    assert any("role" in reason.lower() for reason in (m.value for m in at.markdown if "red[" in m.value))
    at.text_input(key=cloud.ROLE_KEY).input(ROLE).run()
    at.text_input(key=cloud.OUTPUT_KEY).input("s3://Not_A_Bucket/out/").run()
    assert at.button(key=views.START_KEY).disabled
    stubbed.done()  # nothing was sent


def test_on_an_unlabelled_dataset_the_teacher_the_form_names_is_the_one_the_job_records(stubbed_bedrock, prompts):
    """docs/ARCHITECTURE.md, one name per teacher: on Bedrock, what the form says will label a prompt-only dataset
    is what the job records as its teacher."""
    stubbed = stubbed_bedrock
    store, _ = prompts
    at = distillation_page(stubbed)
    at.selectbox(key=views.TEACHER_KEY).select("Amazon Nova Pro").run()
    [said] = [value for value in texts(at) if "labels the prompts" in value]
    assert said == "Amazon Nova Pro (labels the prompts during DataProcessing)"

    accepted(stubbed, teacher="amazon.nova-pro-v1:0")
    at = confirm_start(start(at))

    assert not at.exception, [e.value for e in at.exception]
    [job] = JobRunner(store, store.path.parent).list()
    assert f"{job.teacher} (labels the prompts during DataProcessing)" == said
    stubbed.done()


# ---- Models: Bedrock custom models with their lineage, delete behind a confirmation --------------------------


def models_page(stubbed: StubbedBedrock, store):
    """The Models page on Bedrock: a model this studio distilled there, listed and described by Bedrock."""
    ModelRegistry(store, store.path.parent).register(NAME, None, None, None, {"training_loss": 0.87}, arn=MODEL_ARN)
    stubbed.stubs["bedrock"].add_response(
        "list_custom_models", {"modelSummaries": [model_summary(MODEL_ARN, NAME)]}, LIST_MODELS
    )
    listing(stubbed)  # the job names of the lineage
    described(stubbed)
    return open_page(run_app(), "models.py")


def described(stubbed: StubbedBedrock) -> None:
    stubbed.stubs["bedrock"].add_response("get_custom_model", model_answer(), {"modelIdentifier": MODEL_ARN})


def delete_confirmed(stubbed: StubbedBedrock, at):
    described(stubbed)
    at = at.button(key=model_views.DELETE_KEY).click().run()
    described(stubbed)
    return at.button(key=f"{model_views.DELETE_KEY}_confirm").click().run()


def test_a_bedrock_model_shows_its_lineage_and_is_not_deleted_while_a_deployment_uses_it(stubbed_bedrock, prompts):
    stubbed = stubbed_bedrock
    store, _ = prompts
    at = models_page(stubbed, store)

    assert not at.exception, [e.value for e in at.exception]
    shown = texts(at)
    for value in ("us.amazon.nova-premier-v1:0", BASE_ARN, MODEL_ARN, "Active", "1000"):
        assert value in shown, value
    assert "s3://router-studio/video-search-router/datasets/router/data.jsonl" in shown
    assert not [element for element in at.error if "files cannot be used" in element.value]

    records = DeploymentRecords(store, "bedrock")
    row, _ = records.claim(name="router-live", kind=DeploymentKind.ON_DEMAND.value, model_id=MODEL_ARN, status="Active")
    at = delete_confirmed(stubbed, at)

    assert not at.exception, [e.value for e in at.exception]
    [refusal] = [element.value for element in at.error if "router-live" in element.value]
    assert refusal.startswith(f"Model {NAME!r} is used by deployment(s) router-live")
    assert [model.arn for model in ModelRegistry(store, store.path.parent).list()] == [MODEL_ARN]

    store.execute("UPDATE deployments SET deleted_at = datetime('now') WHERE id = ?", (row["id"],))
    described(stubbed)
    at = at.button(key=model_views.DELETE_KEY).click().run()
    # Confirming deletes it on Bedrock (exact params); the list is read again, without it.
    stubbed.stubs["bedrock"].add_response("delete_custom_model", {}, {"modelIdentifier": MODEL_ARN})
    stubbed.stubs["bedrock"].add_response("list_custom_models", {"modelSummaries": []}, LIST_MODELS)
    at = at.button(key=f"{model_views.DELETE_KEY}_confirm").click().run()

    assert not at.exception, [e.value for e in at.exception]
    assert any(f"Deleted model {NAME}." in body for body in alerts(at))
    assert ModelRegistry(store, store.path.parent).list() == []
    stubbed.done()


# ---- Settings: the Bedrock work settings, the prices AWS does not publish, preflight ------------------------------


def test_settings_preflight_shows_each_check_with_what_to_do(stubbed_bedrock):
    stubbed = stubbed_bedrock
    stubbed.stubs["sts"].add_client_error(
        "get_caller_identity", service_error_code="ExpiredTokenException", http_status_code=403, expected_params={}
    )
    at = open_page(run_app(), "settings.py")
    at = at.button(key="settings_preflight").click().run()

    assert not at.exception, [e.value for e in at.exception]
    assert any("Something blocks the work" in body for body in alerts(at))
    assert any("AWS credentials: blocked" in value for value in badges(at))
    assert any("Region: ready" in value for value in badges(at))
    assert "The AWS credentials do not work." in texts(at)
    assert any(m.value.startswith("What to do: Your AWS session has expired") for m in at.caption)
    # Checks that need working credentials wait for them, in amber.
    assert len([value for value in badges(at) if ": check" in value]) == 5
    stubbed.done()


def test_training_and_storage_prices_from_settings_price_the_job(stubbed_bedrock, prompts):
    stubbed = stubbed_bedrock
    store, _ = prompts
    save_rate(store, "training_per_million_tokens", "nova-micro", 8.0)
    save_rate(store, "storage_per_month", "nova-micro", 1.95)
    at = distillation_page(stubbed)

    shown = texts(at)
    assert any(line.startswith("Training Amazon Nova Micro: $") for line in shown)
    assert "custom model storage: $1.95 per month" in shown
    stubbed.done()


def test_settings_saves_the_bucket_role_and_pool_size_checked_as_typed():
    at = open_page(run_app(), "settings.py")
    at.text_input(key="settings_bedrock_role_arn").input("arn:aws:iam::12:role/x").run()
    assert at.button(key="settings_save").disabled  # not a role ARN: said beside Save, nothing saved

    at.text_input(key="settings_bedrock_bucket").input(BUCKET)
    at.text_input(key="settings_bedrock_role_arn").input(ROLE)
    at.text_input(key="settings_bedrock_concurrency").input("8").run()
    at = at.button(key="settings_save").click().run()

    assert not at.exception, [e.value for e in at.exception]
    saved = load_settings()
    assert (saved.bedrock_bucket, saved.bedrock_role_arn, saved.bedrock_concurrency) == (BUCKET, ROLE, 8)


# ---- Bedrock without credentials: every page of the navigation explains, none crashes ------------------------


def navigation_scripts() -> list[str]:
    """The page scripts of PAGES in dashboard/app.py, read from its source (importing it would run the app)."""
    tree = ast.parse(APP.read_text(encoding="utf-8"))
    [pages] = [
        node.value
        for node in tree.body
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "PAGES" for t in node.targets)
    ]
    return [script for _, script, *_ in ast.literal_eval(pages)]


def test_without_credentials_every_page_says_how_to_configure_them_and_nothing_crashes(monkeypatch, prompts):
    on_bedrock(monkeypatch)  # no credentials anywhere
    scripts = navigation_scripts()
    assert {"overview.py", "data_mix.py", "distillation.py", "models.py", "settings.py"} <= set(scripts)
    at = run_app()
    for script in scripts:
        at = open_page(at, script)

        assert not at.exception, (script, [e.value for e in at.exception])
        assert at.title, f"{script} shows no title"
        [banner] = [w.value for w in at.main.warning if w.value.startswith("Amazon Bedrock is not ready:")]
        assert "No AWS credentials found: run 'aws configure'" in banner, script
        links = [link.proto.label for link in at.main.get("page_link")]
        assert ("Configure it in Settings" in links) == (script != "settings.py"), script


def submitted_job(stubbed: StubbedBedrock):
    at = distillation_page(stubbed)
    accepted(stubbed)
    return confirm_start(start(at))


def test_a_running_job_is_stopped_on_bedrock_after_a_confirmation(stubbed_bedrock, prompts):
    stubbed = stubbed_bedrock
    at = submitted_job(stubbed)
    at = at.button(key=views.STOP_KEY).click().run()
    stubbed.stubs["bedrock"].add_response("stop_model_customization_job", {}, {"jobIdentifier": JOB_ARN})

    at = at.button(key=f"{views.STOP_KEY}_confirm").click().run()

    assert not at.exception, [e.value for e in at.exception]
    assert any(body.startswith("Stopping") for body in alerts(at))
    assert not [b for b in at.button if b.key == views.STOP_KEY]
    stubbed.done()


def test_a_failed_job_shows_bedrocks_failure_message(stubbed_bedrock, prompts):
    stubbed = stubbed_bedrock
    at = submitted_job(stubbed)
    stubbed.tick()
    listing(stubbed, job_summary(JOB_ARN, NAME, "Failed", phases("Completed", "Failed"), endTime=ENDED))
    stubbed.stubs["bedrock"].add_response(  # a summary carries no message: the job is read once for it
        "get_model_customization_job",
        job_answer(
            "Failed",
            phases("Completed", "Failed"),
            output_uri=OUTPUT_URI,
            failureMessage="The teacher could not be called: check model access",
        ),
        {"jobIdentifier": JOB_ARN},
    )
    at.run()

    assert not at.exception, [e.value for e in at.exception]
    assert any("Validation: Completed" in value for value in badges(at))
    assert any("DataProcessing: Failed" in value for value in badges(at))
    assert any("The job failed." in body for body in alerts(at))
    assert "The teacher could not be called: check model access." in texts(at)
    stubbed.done()
