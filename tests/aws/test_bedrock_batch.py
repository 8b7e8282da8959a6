"""Batch inference: Converse-format records to S3, the exact invocation-job request, its statuses, and the results
joined on recordId with failures listed, priced at the batch rate."""

from __future__ import annotations

import io
import json

import pytest

from core.aws.batch import STATUSES, BatchError, BatchInference, batch_records, invocation_token, record_id
from core.estimates import ConfirmationRequired, router_labelling_estimate
from core.prompts import DEFAULT_TEACHER_PROMPT
from core.routers.bedrock import MAX_OUTPUT_TOKENS, BedrockRouter
from core.store import Store
from tests.aws.bedrock_fixtures import ACCOUNT, BUCKET, CREATED, ENDED, REGION, ROLE, stubbed_clients

BATCH_ARN = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:model-invocation-job/abcdef123456"
QUERIES = [f"dog barking number {i}" for i in range(120)]
GOOD = {"visual": 0.3, "audio": 0.6, "transcription": 0.0, "metadata": 0.1, "reasoning": "A bark is heard."}


@pytest.fixture
def batch(session, tmp_path):
    clients, stubs = stubbed_clients(session, "bedrock", "s3")
    service = BatchInference(
        Store(tmp_path / "studio.db"), tmp_path, clients, role_arn=ROLE, bucket=BUCKET, sleep=lambda _: None
    )
    teacher = BedrockRouter(session, "nova-premier", router_id="teacher", mode="teacher", client=object())
    yield service, stubs, teacher
    for stub in stubs.values():
        stub.assert_no_pending_responses()


def expected_start(service, teacher, name: str = "router-labels-1"):
    run_id = service_run_id(name)
    base = f"video-search-router/batch/{run_id}"
    body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in batch_records(teacher, QUERIES)).encode()
    request = {
        "jobName": name,
        "roleArn": ROLE,
        "modelId": "us.amazon.nova-premier-v1:0",
        "inputDataConfig": {
            "s3InputDataConfig": {"s3InputFormat": "JSONL", "s3Uri": f"s3://{BUCKET}/{base}/input.jsonl"}
        },
        "outputDataConfig": {"s3OutputDataConfig": {"s3Uri": f"s3://{BUCKET}/{base}/output/"}},
        "modelInvocationType": "Converse",
    }
    put = {
        "Bucket": BUCKET,
        "Key": f"{base}/input.jsonl",
        "Body": body,
        "ContentType": "application/jsonl",
        "ServerSideEncryption": "AES256",
    }
    return put, {**request, "clientRequestToken": invocation_token(request, body)}, base


def service_run_id(name: str) -> str:
    import hashlib

    return "batch-" + hashlib.sha256(name.encode()).hexdigest()[:12]


def started(service, stubs, teacher):
    put, create, _ = expected_start(service, teacher)
    stubs["s3"].add_response("put_object", {}, put)
    stubs["bedrock"].add_response("create_model_invocation_job", {"jobArn": BATCH_ARN}, create)
    return service.start("router-labels-1", teacher, QUERIES, source={"dataset": "router-prompts"}, confirm=True)


def test_records_are_converse_bodies_with_record_ids(batch):
    _, _, teacher = batch

    first = batch_records(teacher, ["red car driving"])[0]

    assert first == {
        "recordId": "r0000000000",
        "modelInput": {
            "inferenceConfig": {"maxTokens": MAX_OUTPUT_TOKENS, "temperature": 0.0},
            "messages": [{"role": "user", "content": [{"text": DEFAULT_TEACHER_PROMPT.render("red car driving")}]}],
        },
    }
    assert len(record_id(7)) == 11 and record_id(7).isalnum()


def test_the_estimate_is_half_the_on_demand_price_and_a_batch_is_confirmed_first(batch):
    service, _, teacher = batch

    estimate = service.estimate(teacher, QUERIES)
    with pytest.raises(ConfirmationRequired, match="bills your AWS account"):
        service.start("router-labels-1", teacher, QUERIES)

    on_demand = router_labelling_estimate(teacher, QUERIES)
    assert estimate.known_usd == pytest.approx(on_demand.known_usd / 2)
    assert "batch price" in estimate.items[0].detail
    assert service.list() == []


def test_start_uploads_the_records_and_creates_the_job_once(batch):
    service, stubs, teacher = batch

    run = started(service, stubs, teacher)
    again = service.start("router-labels-1", teacher, QUERIES, source={"dataset": "router-prompts"}, confirm=True)

    assert run.id == again.id and run.job_arn == BATCH_ARN
    assert (run.status, run.records, run.source["dataset"], run.source["prompt_version"]) == (
        "Submitted",
        120,
        "router-prompts",
        "teacher-v1",
    )
    assert service.queries(run.id) == QUERIES


@pytest.mark.parametrize(
    ("name", "queries", "options", "words"),
    [
        ("router_labels", QUERIES, {}, "cannot contain '_'"),
        ("router-labels-1", QUERIES[:99], {}, "at least 100 records"),
        ("router-labels-1", QUERIES, {"role_arn": "arn:aws:iam::123456789012:user/x"}, "role/NAME"),
        ("router-labels-1", QUERIES, {"bucket": "Not A Bucket"}, "bucket name"),
        ("router-labels-1", QUERIES, {"timeout_hours": 2}, "24 to 168 hours"),
        ("router-labels-1", [*QUERIES, "  "], {}, "needs a query"),
    ],
)
def test_bad_requests_are_refused_before_any_call(batch, name, queries, options, words):
    service, _, teacher = batch

    with pytest.raises(BatchError, match=words):
        service.start(name, teacher, queries, confirm=True, **options)


def test_a_batch_walks_bedrocks_statuses_to_completed(batch):
    service, stubs, teacher = batch
    run = started(service, stubs, teacher)
    walk = ["Validating", "Scheduled", "InProgress", "Completed"]
    seen = []
    for status in walk:
        answer = {
            "jobArn": BATCH_ARN,
            "jobName": "router-labels-1",
            "modelId": "us.amazon.nova-premier-v1:0",
            "roleArn": ROLE,
            "status": status,
            "submitTime": CREATED,
            "inputDataConfig": {"s3InputDataConfig": {"s3Uri": run.input_s3_uri}},
            "outputDataConfig": {"s3OutputDataConfig": {"s3Uri": run.output_s3_uri}},
            "totalRecordCount": 120,
            "processedRecordCount": 120 if status == "Completed" else 40,
        }
        if status == "Completed":
            answer["endTime"] = ENDED
        stubs["bedrock"].add_response("get_model_invocation_job", answer, {"jobIdentifier": BATCH_ARN})
        seen.append(service.get(run.id))

    assert [r.status for r in seen] == walk and all(status in STATUSES for status in walk)
    assert seen[-1].counts["processedRecordCount"] == 120 and seen[-1].ended_at == "2026-04-01 13:30:00.000"
    assert seen[2].active and not seen[-1].active
    assert service.get(run.id).status == "Completed"  # a finished run is not asked again


def test_results_are_joined_on_record_id_with_failures_listed(batch):
    service, stubs, teacher = batch
    run = started(service, stubs, teacher)
    service.store.execute("UPDATE batch_runs SET status = 'PartiallyCompleted' WHERE id = ?", (run.id,))
    prefix = run.output_s3_uri.removeprefix(f"s3://{BUCKET}/")

    def line(index: int, text: str | None = None, error: dict | None = None) -> str:
        item = {"recordId": record_id(index), "modelInput": {}}
        if error:
            item["error"] = error
        else:
            item["modelOutput"] = {
                "output": {"message": {"role": "assistant", "content": [{"text": text or json.dumps(GOOD)}]}},
                "stopReason": "end_turn",
                "usage": {"inputTokens": 400, "outputTokens": 40, "totalTokens": 440},
                "metrics": {"latencyMs": 900},
            }
        return json.dumps(item)

    # Out of order; record 5 refused, record 6 prose, record 119 missing altogether.
    lines = [line(i) for i in reversed(range(119)) if i not in (5, 6)]
    lines += [line(5, error={"errorCode": 400, "errorMessage": "Malformed input request"}), line(6, "Mostly audio.")]
    out_key = f"{prefix}abcdef123456/input.jsonl.out"
    manifest_key = f"{prefix}abcdef123456/manifest.json.out"
    stubs["s3"].add_response(
        "list_objects_v2",
        {"Contents": [{"Key": out_key}, {"Key": manifest_key}], "IsTruncated": False},
        {"Bucket": BUCKET, "Prefix": prefix},
    )
    stubs["s3"].add_response(
        "get_object", {"Body": io.BytesIO("\n".join(lines).encode())}, {"Bucket": BUCKET, "Key": out_key}
    )
    manifest = {"totalRecordCount": 120, "processedRecordCount": 119, "successRecordCount": 118, "errorRecordCount": 1}
    stubs["s3"].add_response(
        "get_object", {"Body": io.BytesIO(json.dumps(manifest).encode())}, {"Bucket": BUCKET, "Key": manifest_key}
    )

    labels = service.results(run.id, teacher)

    assert labels.total == 120 and labels.labelled == 117 and labels.failed == 3
    failed = {failure.index: failure for failure in labels.failures}
    assert set(failed) == {5, 6, 119}
    assert "Malformed input request" in failed[5].errors[0] and '"errorCode": 400' in failed[5].raw_text
    assert failed[6].raw_text == "Mostly audio." and failed[6].errors == ("no JSON object found in the reply",)
    assert "no result" in failed[119].errors[0]
    assert labels.decisions[0].audio == 0.6 and labels.prompt_version == "teacher-v1"
    on_demand = (400 * 2.50 + 40 * 12.50) / 1e6
    assert labels.cost_usd == pytest.approx(118 * on_demand / 2)  # measured tokens at the batch price
    assert service.get(run.id).counts["successRecordCount"] == 118


def test_results_of_a_running_batch_wait_for_it(batch):
    service, stubs, teacher = batch
    run = started(service, stubs, teacher)
    service.store.execute("UPDATE batch_runs SET status = 'Failed' WHERE id = ?", (run.id,))

    with pytest.raises(BatchError, match="Failed: its results can be read once it has finished"):
        service.results(run.id, teacher)


def test_stop_sends_the_job_arn(batch):
    service, stubs, teacher = batch
    run = started(service, stubs, teacher)
    answer = {
        "jobArn": BATCH_ARN,
        "modelId": "us.amazon.nova-premier-v1:0",
        "roleArn": ROLE,
        "status": "InProgress",
        "submitTime": CREATED,
        "inputDataConfig": {"s3InputDataConfig": {"s3Uri": run.input_s3_uri}},
        "outputDataConfig": {"s3OutputDataConfig": {"s3Uri": run.output_s3_uri}},
    }
    stubs["bedrock"].add_response("get_model_invocation_job", answer, {"jobIdentifier": BATCH_ARN})
    stubs["bedrock"].add_response("stop_model_invocation_job", {}, {"jobIdentifier": BATCH_ARN})

    assert service.stop(run.id).status == "Stopping"


def test_a_refused_batch_is_one_sentence_and_leaves_no_record(batch):
    service, stubs, teacher = batch
    put, create, _ = expected_start(service, teacher)
    stubs["s3"].add_response("put_object", {}, put)
    stubs["bedrock"].add_client_error(
        "create_model_invocation_job",
        service_error_code="ValidationException",
        service_message="The provided model identifier is invalid for batch inference.",
        http_status_code=400,
        expected_params=create,
    )

    with pytest.raises(BatchError, match="invalid for batch inference"):
        service.start("router-labels-1", teacher, QUERIES, confirm=True)
    assert service.list() == []


def test_an_upload_refused_by_s3_is_one_sentence(batch):
    service, stubs, teacher = batch
    put, _, _ = expected_start(service, teacher)
    stubs["s3"].add_client_error(
        "put_object", service_error_code="AccessDenied", service_message="Access Denied", http_status_code=403,
        expected_params=put,
    )  # fmt: skip

    with pytest.raises(BatchError, match="Access denied"):
        service.start("router-labels-1", teacher, QUERIES, confirm=True)
