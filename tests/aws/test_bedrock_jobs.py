"""Distillation jobs on Amazon Bedrock through the job service: exact requests (Stubber), estimate and confirmation,
one submit per request, the three sub-phases and the metrics CSV, the custom model with its lineage."""

from __future__ import annotations

import io

import pytest

from core.aws.jobs import BedrockJobService, JobConfirmationRequired, pairs_sentence, parse_metrics_csv, request_token
from core.distill.jobs import JobError, JobStatus
from core.model_registry import ModelRegistry
from core.pricing import PriceTable, save_rate
from tests.aws.bedrock_fixtures import (
    BUCKET,
    DATASET_URI,
    ENDED,
    JOB_ARN,
    JOB_ID,
    MODEL_ARN,
    REGION,
    ROLE,
    job_answer,
    job_summary,
    phases,
    stubbed_clients,
    studio,
)

OUTPUT_URI = f"s3://{BUCKET}/video-search-router/jobs/router-distill-1/"
EXPECTED_REQUEST = {
    "jobName": "router-distill-1",
    "customModelName": "router-distill-1",
    "roleArn": ROLE,
    "baseModelIdentifier": "amazon.nova-micro-v1:0:128k",
    "customizationType": "DISTILLATION",
    "trainingDataConfig": {"s3Uri": DATASET_URI},
    "outputDataConfig": {"s3Uri": OUTPUT_URI},
    "customizationConfig": {
        "distillationConfig": {
            "teacherModelConfig": {
                "teacherModelIdentifier": "us.amazon.nova-premier-v1:0",
                "maxResponseLengthForInference": 1000,
            }
        }
    },
}
METRICS_KEY = (
    f"video-search-router/jobs/router-distill-1/model-customization-job-{JOB_ID}/training_artifacts/"
    "step_wise_training_metrics.csv"
)
METRICS_CSV = "step_number,epoch_number,training_loss,perplexity\n0,0,2.31,10.1\n10,0,1.42,4.1\n20,1,0.87,2.4\n"


@pytest.fixture
def bedrock(session, tmp_path):
    store, dataset = studio(tmp_path)
    clients, stubs = stubbed_clients(session, "bedrock", "s3")
    service = BedrockJobService(
        store,
        tmp_path,
        clients=clients,
        prices=PriceTable(),
        teacher_name="Amazon Nova Premier",
        role_arn=ROLE,
        bucket=BUCKET,
        refresh_interval_s=0.0,
        sleep=lambda _: None,
    )
    yield service, stubs, dataset
    for stub in stubs.values():
        stub.assert_no_pending_responses()


def submitted(service, stubs, dataset):
    stubs["bedrock"].add_response(
        "create_model_customization_job",
        {"jobArn": JOB_ARN},
        {**EXPECTED_REQUEST, "clientRequestToken": request_token(EXPECTED_REQUEST)},
    )
    return service.submit("router-distill-1", dataset.id, {"student": "bedrock:nova-micro"}, confirm=True)


def test_the_description_names_the_pairs_and_the_local_student():
    assert pairs_sentence() == (
        "Amazon Nova Premier distils into Amazon Nova Micro, Amazon Nova Lite, Amazon Nova Pro; "
        "Amazon Nova Pro distils into Amazon Nova Micro, Amazon Nova Lite"
    )


def test_students_and_teachers_come_from_the_supported_pairs_only(bedrock):
    service, _, _ = bedrock

    assert service.description.startswith(
        "On Amazon Bedrock, Amazon Nova Premier distils into Amazon Nova Micro, Amazon Nova Lite, Amazon Nova Pro; "
    )
    assert service.teachers() == ["Amazon Nova Premier", "Amazon Nova Pro"]
    assert [s.key for s in service.students()] == [
        "bedrock:nova-micro",
        "bedrock:nova-lite",
        "bedrock:nova-pro",
        "hashed-ngram-softmax",
    ]
    # Nova Pro teaches Micro and Lite; the local student learns from the backend's one teacher.
    assert [s.key for s in service.students("Amazon Nova Pro")] == ["bedrock:nova-micro", "bedrock:nova-lite"]


def test_a_billable_job_is_estimated_and_refused_without_confirmation(bedrock):
    service, _, dataset = bedrock
    save_rate(service.store, "storage_per_month", "nova-micro", 1.95)

    estimate = service.estimate(dataset.id, {"student": "bedrock:nova-micro"})
    with pytest.raises(JobConfirmationRequired) as refused:
        service.submit("router-distill-1", dataset.id, {"student": "bedrock:nova-micro"})

    teacher, training, storage = estimate.items
    assert teacher.label == "Teacher answers (Amazon Nova Premier)" and teacher.usd and teacher.usd > 0
    assert "120 calls" in teacher.detail
    assert (training.usd, storage.usd, storage.recurring) == (None, 1.95, "per month")  # no training price entered
    assert estimate.unknown == ["Training Amazon Nova Micro"]
    assert any("maxResponseLengthForInference" in note for note in estimate.notes)
    assert "bills your AWS account" in str(refused.value) and "price unknown" in str(refused.value)
    assert refused.value.estimate == estimate
    assert service.runner.list() == []  # nothing was recorded or sent


def test_submit_sends_the_exact_request_and_a_double_submit_sends_it_once(bedrock):
    service, stubs, dataset = bedrock
    first = submitted(service, stubs, dataset)
    again = service.submit("router-distill-1", dataset.id, {"student": "bedrock:nova-micro"}, confirm=True)

    assert first.id == again.id and first.remote_arn == JOB_ARN
    assert (first.backend, first.status, first.phase, first.teacher, first.student) == (
        "bedrock",
        "InProgress",
        "Validation",
        "Amazon Nova Premier",
        "bedrock:nova-micro",
    )
    assert first.params["role_arn"] == ROLE and first.params["output_s3_uri"] == OUTPUT_URI
    assert [job.id for job in service.runner.list()] == [first.id]


def test_every_optional_field_reaches_the_request_checked(bedrock):
    service, stubs, dataset = bedrock
    params = {
        "student": "bedrock:nova-lite",
        "teacher": "Amazon Nova Pro",
        "output_s3_uri": "s3://router-studio/out/",
        "max_response_length": 400,
        "subnet_ids": ["subnet-0abc1234"],
        "security_group_ids": ["sg-0abc1234"],
        "kms_key_id": "alias/router-models",
        "job_tags": {"team": "search"},
        "model_tags": {"stage": "dev"},
        "model_name": "router-lite_v1",
    }
    expected = {
        **EXPECTED_REQUEST,
        "customModelName": "router-lite_v1",
        "baseModelIdentifier": "amazon.nova-lite-v1:0:300k",
        "outputDataConfig": {"s3Uri": "s3://router-studio/out/"},
        "customizationConfig": {
            "distillationConfig": {
                "teacherModelConfig": {
                    "teacherModelIdentifier": "amazon.nova-pro-v1:0",
                    "maxResponseLengthForInference": 400,
                }
            }
        },
        "vpcConfig": {"subnetIds": ["subnet-0abc1234"], "securityGroupIds": ["sg-0abc1234"]},
        "customModelKmsKeyId": "alias/router-models",
        "jobTags": [{"key": "team", "value": "search"}],
        "customModelTags": [{"key": "stage", "value": "dev"}],
    }
    stubs["bedrock"].add_response(
        "create_model_customization_job",
        {"jobArn": JOB_ARN},
        {**expected, "clientRequestToken": request_token(expected)},
    )

    job = service.submit("router-distill-1", dataset.id, params, confirm=True)

    assert job.teacher == "Amazon Nova Pro" and job.params["model_name"] == "router-lite_v1"


def test_training_from_invocation_logs_sends_the_metadata_filter(bedrock):
    service, stubs, _ = bedrock
    params = {
        "student": "bedrock:nova-micro",
        "training_data": "invocation-logs",
        "invocation_logs_s3_uri": "s3://router-studio/invocation-logs/",
        "log_filter": {"app": "video-search-router-studio", "mode": "teacher"},
    }
    expected = {
        **EXPECTED_REQUEST,
        "trainingDataConfig": {
            "invocationLogsConfig": {
                "usePromptResponse": False,
                "invocationLogSource": {"s3Uri": "s3://router-studio/invocation-logs/"},
                "requestMetadataFilters": {
                    "andAll": [{"equals": {"app": "video-search-router-studio"}}, {"equals": {"mode": "teacher"}}]
                },
            }
        },
    }
    stubs["bedrock"].add_response(
        "create_model_customization_job",
        {"jobArn": JOB_ARN},
        {**expected, "clientRequestToken": request_token(expected)},
    )

    estimate = service.estimate("", params)
    job = service.submit("router-distill-1", "", params, confirm=True)

    assert job.dataset_id is None and estimate.items[0].usd is None  # the logs' size sets the teacher's cost


@pytest.mark.parametrize(
    ("name", "params", "words"),
    [
        ("router_distill", {}, "cannot contain '_'"),
        ("router-distill-1", {"role_arn": "arn:aws:iam::123456789012:user/alice"}, "role/NAME"),
        ("router-distill-1", {"output_s3_uri": "s3://Router/out"}, "bucket name"),
        ("router-distill-1", {"kms_key_id": "my key"}, "KMS key"),
        ("router-distill-1", {"subnet_ids": ["subnet-1"]}, "both subnets and security groups"),
        ("router-distill-1", {"job_tags": {"team": "search!"}}, "tag"),
        ("router-distill-1", {"model_name": "router.student"}, "cannot contain '.'"),
        ("router-distill-1", {"teacher": "Claude Haiku 4.5"}, "cannot teach"),
        ("router-distill-1", {"teacher": "Amazon Nova Pro", "student": "bedrock:nova-pro"}, "cannot distil into"),
        ("router-distill-1", {"max_response_length": 0}, "max_response_length"),
        ("router-distill-1", {"epochs": 3}, "Bedrock chooses"),
        ("router-distill-1", {"training_data": "invocation-logs", "log_filter": {"m": "t"}}, "invocation logs"),
    ],
)
def test_names_arns_and_pairs_are_checked_before_any_call(bedrock, name, params, words):
    service, _, dataset = bedrock

    with pytest.raises(JobError, match=words):
        service.submit(name, dataset.id, {"student": "bedrock:nova-micro", **params}, confirm=True)


def test_a_dataset_must_be_in_s3_and_within_the_record_limits(session, tmp_path):
    store, not_uploaded = studio(tmp_path, uploaded=False)
    clients, _ = stubbed_clients(session, "bedrock")
    service = BedrockJobService(
        store,
        tmp_path,
        clients=clients,
        prices=PriceTable(),
        teacher_name="Amazon Nova Premier",
        role_arn=ROLE,
        bucket=BUCKET,
    )

    with pytest.raises(JobError, match="not in S3 yet"):
        service.submit("router-distill-1", not_uploaded.id, {}, confirm=True)


def test_a_stubbed_job_walks_its_three_phases_with_the_metrics_csv_to_completed(bedrock):
    service, stubs, dataset = bedrock
    job = submitted(service, stubs, dataset)
    answers = [
        ("InProgress", phases("InProgress")),
        ("InProgress", phases("Completed", "InProgress")),
        ("InProgress", phases("Completed", "Completed", "InProgress")),
    ]
    seen = []
    for status, details in answers:
        stubs["bedrock"].add_response(
            "get_model_customization_job",
            job_answer(status, details, output_uri=OUTPUT_URI),
            {"jobIdentifier": JOB_ARN},
        )
        now = service.get(job.id)
        seen.append((now.status, now.phase, dict(now.phases()), now.progress))

    assert [phase for _, phase, _, _ in seen] == ["Validation", "DataProcessing", "Training"]
    assert seen[1][2] == {"Validation": "Completed", "DataProcessing": "InProgress", "Training": "NotStarted"}
    assert [progress for *_, progress in seen] == sorted(progress for *_, progress in seen)

    # Training has started: the metrics CSV is read from the output prefix, as loss rows like a local job's.
    stubs["bedrock"].add_response(
        "get_model_customization_job",
        job_answer("InProgress", phases("Completed", "Completed", "InProgress"), output_uri=OUTPUT_URI),
        {"jobIdentifier": JOB_ARN},
    )
    stubs["s3"].add_response(
        "list_objects_v2",
        {"Contents": [{"Key": METRICS_KEY}, {"Key": "video-search-router/jobs/router-distill-1/other.json"}],
         "IsTruncated": False, "KeyCount": 2},
        {"Bucket": BUCKET, "Prefix": "video-search-router/jobs/router-distill-1/"},
    )  # fmt: skip
    stubs["s3"].add_response(
        "get_object", {"Body": io.BytesIO(METRICS_CSV.encode())}, {"Bucket": BUCKET, "Key": METRICS_KEY}
    )
    rows = service.metrics(job.id)
    assert [(r["step"], r["epoch"], r["name"], r["value"]) for r in rows if r["name"] == "train_loss"] == [
        (0, 0, "train_loss", 2.31),
        (10, 0, "train_loss", 1.42),
        (20, 1, "train_loss", 0.87),
    ]

    stubs["bedrock"].add_response(
        "get_model_customization_job",
        job_answer(
            "Completed",
            phases("Completed", "Completed", "Completed"),
            output_uri=OUTPUT_URI,
            outputModelArn=MODEL_ARN,
            endTime=ENDED,
            trainingMetrics={"trainingLoss": 0.87},
        ),
        {"jobIdentifier": JOB_ARN},
    )
    done = service.get(job.id)

    assert (done.status, done.progress, done.ended_at) == ("Completed", 1.0, "2026-04-01 13:30:00.000")
    assert all(state == "Completed" for _, state in done.phases())
    model = ModelRegistry(service.store, service.data_dir).get(done.model_id)
    assert (model.name, model.arn, model.job_id, model.dataset_id, model.backend) == (
        "router-distill-1",
        MODEL_ARN,
        job.id,
        dataset.id,
        "bedrock",
    )
    assert model.metrics == {"training_loss": 0.87}
    # A finished job's metrics are kept: no second download.
    assert len(service.metrics(job.id)) == 6


def test_list_pages_through_bedrock_refreshes_studio_jobs_and_shows_jobs_started_elsewhere(bedrock):
    service, stubs, dataset = bedrock
    job = submitted(service, stubs, dataset)
    other = JOB_ARN.replace(JOB_ID, "fedcba654321")
    tuning = JOB_ARN.replace(JOB_ID, "aaaaaaaaaaaa")
    stubs["bedrock"].add_response(
        "list_model_customization_jobs",
        {
            "modelCustomizationJobSummaries": [
                job_summary(JOB_ARN, "router-distill-1", "InProgress", phases("Completed", "Completed", "InProgress")),
                job_summary(tuning, "a-fine-tune", "Completed", phases("Completed"), customization="FINE_TUNING"),
            ],
            "nextToken": "page-2",
        },
        {"sortBy": "CreationTime", "sortOrder": "Descending", "maxResults": 100},
    )
    stubs["bedrock"].add_response(
        "list_model_customization_jobs",
        {"modelCustomizationJobSummaries": [job_summary(other, "console-distill", "Stopped", phases("Stopped"))]},
        {"sortBy": "CreationTime", "sortOrder": "Descending", "maxResults": 100, "nextToken": "page-2"},
    )

    listed = service.list()

    assert {(j.name, j.status, j.phase) for j in listed} == {
        ("router-distill-1", "InProgress", "Training"),
        ("console-distill", "Stopped", "Validation"),
    }
    assert [j.created_at for j in listed] == sorted((j.created_at for j in listed), reverse=True)
    outside = next(j for j in listed if j.name == "console-distill")
    assert outside.id == other and outside.params["origin"] == "started outside the studio"
    assert service.notice() is None and job.id in {j.id for j in listed}


def test_a_failed_job_shows_bedrocks_failure_message(bedrock):
    service, stubs, dataset = bedrock
    job = submitted(service, stubs, dataset)
    stubs["bedrock"].add_response(
        "get_model_customization_job",
        job_answer(
            "Failed",
            phases("Failed"),
            output_uri=OUTPUT_URI,
            failureMessage="Validation failed: line 7 has an extra key 'id'.",
            endTime=ENDED,
        ),
        {"jobIdentifier": JOB_ARN},
    )

    failed = service.get(job.id)

    assert failed.status == "Failed" and failed.failure_message == "Validation failed: line 7 has an extra key 'id'."
    assert failed.phases()[0] == ("Validation", "Failed")


def test_stop_sends_the_job_arn_and_the_job_is_stopping(bedrock):
    service, stubs, dataset = bedrock
    job = submitted(service, stubs, dataset)
    stubs["bedrock"].add_response("stop_model_customization_job", {}, {"jobIdentifier": JOB_ARN})

    stopping = service.stop(job.id)

    assert stopping.status == JobStatus.STOPPING and stopping.stop_requested


def test_a_finished_job_cannot_be_stopped_and_a_stopped_one_can_be_deleted(bedrock):
    service, stubs, dataset = bedrock
    job = submitted(service, stubs, dataset)
    stubs["bedrock"].add_response(
        "get_model_customization_job",
        job_answer("Stopped", phases("Completed", "Stopped"), output_uri=OUTPUT_URI, endTime=ENDED),
        {"jobIdentifier": JOB_ARN},
    )
    assert service.get(job.id).status == "Stopped"

    with pytest.raises(JobError, match="already ended"):
        service.stop(job.id)
    service.delete(job.id)
    assert service.runner.list() == []


@pytest.mark.parametrize(
    ("code", "status", "message", "words"),
    [
        ("AccessDeniedException", 403, "User is not authorized to perform: iam:PassRole on resource", "iam:PassRole"),
        ("ValidationException", 400, "The training data has fewer than 100 records.", "fewer than 100 records"),
        ("ServiceQuotaExceededException", 400, "Too many jobs in progress.", "quota"),
        ("ResourceNotFoundException", 404, "Model not found.", "could not find"),
        ("ExpiredTokenException", 403, "The security token included in the request is expired", "expired"),
    ],
)
def test_a_refused_submit_is_one_sentence_and_leaves_no_record(bedrock, code, status, message, words):
    service, stubs, dataset = bedrock
    stubs["bedrock"].add_client_error(
        "create_model_customization_job",
        service_error_code=code,
        service_message=message,
        http_status_code=status,
        expected_params={**EXPECTED_REQUEST, "clientRequestToken": request_token(EXPECTED_REQUEST)},
    )

    with pytest.raises(JobError) as refused:
        service.submit("router-distill-1", dataset.id, {}, confirm=True)

    assert words in str(refused.value) and "\n" not in str(refused.value)
    assert service.runner.list() == []


def test_throttling_on_submit_is_retried_with_the_same_token(bedrock):
    service, stubs, dataset = bedrock
    expected = {**EXPECTED_REQUEST, "clientRequestToken": request_token(EXPECTED_REQUEST)}
    stubs["bedrock"].add_client_error(
        "create_model_customization_job", service_error_code="ThrottlingException", http_status_code=429,
        expected_params=expected,
    )  # fmt: skip
    stubs["bedrock"].add_response("create_model_customization_job", {"jobArn": JOB_ARN}, expected)

    assert service.submit("router-distill-1", dataset.id, {}, confirm=True).remote_arn == JOB_ARN


def test_without_credentials_the_list_shows_stored_jobs_and_says_what_to_do(bedrock, monkeypatch, tmp_path):
    service, stubs, dataset = bedrock
    job = submitted(service, stubs, dataset)
    from core.aws.session import Clients, make_session

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    service.clients = Clients(lambda: make_session(None, REGION), REGION)

    listed = service.list()

    assert [j.id for j in listed] == [job.id] and listed[0].status == "InProgress"
    assert "No AWS credentials found: run 'aws configure'" in (service.notice() or "")


def test_a_submit_lost_before_bedrock_answered_is_found_by_its_name(bedrock):
    service, stubs, dataset = bedrock
    plan = service.plan("router-distill-1", dataset.id, {})
    job_id, _ = service._record(plan, service._estimate_plan(plan))
    service.store.execute("UPDATE jobs SET created_at = '2026-01-01 00:00:00.000' WHERE id = ?", (job_id,))
    stubs["bedrock"].add_response(
        "get_model_customization_job",
        job_answer("InProgress", phases("InProgress"), output_uri=OUTPUT_URI),
        {"jobIdentifier": "router-distill-1"},
    )

    found = service.get(job_id)

    assert found.remote_arn == JOB_ARN and found.status == "InProgress"


def test_a_submit_that_never_reached_bedrock_ends_failed_with_what_to_do(bedrock):
    service, stubs, dataset = bedrock
    plan = service.plan("router-distill-1", dataset.id, {})
    job_id, _ = service._record(plan, service._estimate_plan(plan))
    service.store.execute("UPDATE jobs SET created_at = '2026-01-01 00:00:00.000' WHERE id = ?", (job_id,))
    stubs["bedrock"].add_client_error(
        "get_model_customization_job", service_error_code="ResourceNotFoundException", http_status_code=404,
        expected_params={"jobIdentifier": "router-distill-1"},
    )  # fmt: skip

    lost = service.get(job_id)

    assert lost.status == "Failed" and "never reached Amazon Bedrock" in lost.failure_message


def test_metrics_rows_skip_malformed_lines():
    rows = parse_metrics_csv("step_number,epoch_number,training_loss,perplexity\n1,0,0.5,\nx,y,z,w\n2,0,0.4,1.5\n")

    assert [(r["step"], r["name"], r["value"]) for r in rows] == [
        (1, "train_loss", 0.5),
        (2, "train_loss", 0.4),
        (2, "perplexity", 1.5),
    ]


def test_region_of_the_job_is_recorded(bedrock):
    service, stubs, dataset = bedrock
    job = submitted(service, stubs, dataset)

    row = service.store.query_one("SELECT region, request_json FROM bedrock_jobs WHERE job_id = ?", (job.id,))

    assert row["region"] == REGION and "clientRequestToken" not in row["request_json"]


def test_the_local_student_learns_from_the_bedrock_teachers_labels_after_a_confirmed_estimate(bedrock, monkeypatch):
    service, _, dataset = bedrock
    launched: list[str] = []
    monkeypatch.setattr(service.runner, "_launch", launched.append)  # the worker process is the runner's own test
    params = {"student": "hashed-ngram-softmax", "epochs": 3, "heldout_ratio": 0.1, "seed": 1}

    estimate = service.estimate(dataset.id, params)
    with pytest.raises(JobConfirmationRequired, match="Labelling the prompts with Amazon Nova Premier"):
        service.submit("router-local-1", dataset.id, params)
    job = service.submit("router-local-1", dataset.id, params, confirm=True)

    labelling, training = estimate.items
    assert labelling.label == "Labelling with Amazon Nova Premier" and labelling.usd > 0
    assert "120 calls" in labelling.detail and training.usd == 0.0
    assert (job.backend, job.teacher, job.student, launched) == (
        "local",
        "Amazon Nova Premier",
        "hashed-ngram-softmax",
        [job.id],
    )
    assert job.params["epochs"] == 3


def test_a_labelled_dataset_trains_the_local_student_without_any_charge(session, tmp_path, monkeypatch):
    store, labelled = studio(tmp_path, labelled=True)
    clients, _ = stubbed_clients(session, "bedrock")
    service = BedrockJobService(
        store, tmp_path, clients=clients, prices=PriceTable(), teacher_name="Amazon Nova Premier"
    )
    monkeypatch.setattr(service.runner, "_launch", lambda job_id: None)

    assert not service.estimate(labelled.id, {"student": "hashed-ngram-softmax"}).billable
    job = service.submit("router-local-2", labelled.id, {"student": "hashed-ngram-softmax"})

    assert job.teacher == "Local reference teacher"  # the labels' own teacher


def test_the_local_students_settings_are_refused_for_a_bedrock_student_and_back(bedrock):
    service, _, dataset = bedrock

    with pytest.raises(JobError, match="'role_arn' is for Bedrock students"):
        service.submit("router-local-3", dataset.id, {"student": "hashed-ngram-softmax", "role_arn": ROLE})


def test_a_worker_labels_with_amazon_nova_premier_in_the_saved_profile_and_region(
    fake_credentials, tmp_path, sealed_aws_environment
):
    from core.distill.jobs import labelling_teacher
    from core.settings import Settings, save_settings
    from core.store import Store

    (sealed_aws_environment / "aws-credentials").write_text(
        "[studio]\naws_access_key_id = testing\naws_secret_access_key = testing\n"
    )
    data_dir = tmp_path / "job-data"
    save_settings(Settings(data_dir=data_dir), aws_profile="studio", aws_region="us-west-2", bedrock_concurrency=8)

    teacher = labelling_teacher("Amazon Nova Premier", Store(data_dir / "studio.db"), data_dir)

    assert (teacher.model_id, teacher.mode, teacher.router_id) == ("us.amazon.nova-premier-v1:0", "teacher", "teacher")
    assert teacher._client.meta.region_name == "us-west-2" and teacher._profile == "studio"
    assert teacher.concurrency == 8


def test_the_estimate_needs_no_role_output_or_upload_yet(session, tmp_path):
    store, not_uploaded = studio(tmp_path, uploaded=False)
    clients, _ = stubbed_clients(session, "bedrock")
    service = BedrockJobService(
        store, tmp_path, clients=clients, prices=PriceTable(), teacher_name="Amazon Nova Premier"
    )

    estimate = service.estimate(not_uploaded.id, {"student": "bedrock:nova-lite", "max_response_length": 200})

    assert estimate.items[0].usd > 0 and estimate.items[1].label == "Training Amazon Nova Lite"
    with pytest.raises(JobError, match="IAM service role"):
        service.submit("router-distill-1", not_uploaded.id, {"student": "bedrock:nova-lite"}, confirm=True)


def test_a_polled_list_reads_bedrock_at_most_once_per_refresh_interval(session, tmp_path):
    store, dataset = studio(tmp_path)
    clients, stubs = stubbed_clients(session, "bedrock")
    now = [100.0]
    service = BedrockJobService(
        store, tmp_path, clients=clients, prices=PriceTable(), teacher_name="Amazon Nova Premier",
        refresh_interval_s=10.0, clock=lambda: now[0],
    )  # fmt: skip
    listing = ("list_model_customization_jobs", {"modelCustomizationJobSummaries": []})
    stubs["bedrock"].add_response(*listing)

    for _ in range(5):  # a page polling every second
        service.list()
        now[0] += 1.0
    now[0] += 10.0
    stubs["bedrock"].add_response(*listing)
    service.list()

    stubs["bedrock"].assert_no_pending_responses()  # two listings in 16 seconds, not six
