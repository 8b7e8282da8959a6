"""The Bedrock judge and Model Evaluation jobs, offline: Converse and evaluation-job calls pinned with Stubber's
exact expected params, malformed judge replies counted, S3 (the job's dataset and results) with moto."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from botocore.stub import Stubber
from moto import mock_aws

from core.aws.errors import StudioAwsError
from core.aws.evaluation_jobs import (
    METRIC_NAME,
    RATING_SCALE,
    EvaluationJobConfirmationRequired,
    apply_evaluation_results,
    evaluation_job_status,
    metric_instructions,
    plan_evaluation_job,
    read_evaluation_results,
    submit_evaluation_job,
)
from core.aws.judge import JUDGE_MAX_TOKENS, BedrockJudge
from core.aws.models import MODELS
from core.aws.session import make_client
from core.evaluate.engine import run_evaluation
from core.evaluate.judging import JUDGE_SYSTEM_TEXT, plan_judging, run_judging
from core.evaluate.sets import EvaluationSet
from core.pricing import PriceTable
from core.routers.bedrock import APP_TAG
from core.routers.reference import ReferenceTeacher
from core.routers.uniform import UniformRouter

SONNET = MODELS["claude-sonnet-4.5"].invoke_id
ROLE = "arn:aws:iam::123456789012:role/BedrockEvaluation"
BUCKET = "router-studio-evals"
JOB_ARN = "arn:aws:bedrock:us-east-1:123456789012:evaluation-job/abcdefghij12"
QUERIES = ["dog barking loudly", "red car driving at night", "interview with the mayor about housing"]


def converse_response(text: str, input_tokens: int = 900, output_tokens: int = 70) -> dict:
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": "end_turn",
        "usage": {
            "inputTokens": input_tokens,
            "outputTokens": output_tokens,
            "totalTokens": input_tokens + output_tokens,
        },
        "metrics": {"latencyMs": 1400},
    }


def judge_request(prompt: str) -> dict:
    return {
        "modelId": SONNET,
        "system": [{"text": JUDGE_SYSTEM_TEXT}],
        "messages": [{"role": "user", "content": [{"text": prompt}]}],
        "inferenceConfig": {"maxTokens": JUDGE_MAX_TOKENS, "temperature": 0.0},
        "requestMetadata": {"app": APP_TAG, "purpose": "judge"},
    }


@pytest.fixture
def evaluation():
    references = [r.decision for r in ReferenceTeacher().route_batch(QUERIES)]
    evaluation_set = EvaluationSet(kind="heldout", name="h", source="h", queries=QUERIES, references=references)
    return run_evaluation(evaluation_set, {"teacher": ReferenceTeacher(), "uniform": UniformRouter()})


def test_each_judge_call_is_one_converse_request_and_malformed_replies_are_counted(session, evaluation):
    client = make_client(session, "bedrock-runtime")
    judge = BedrockJudge(session, client=client, concurrency=1)
    plan = plan_judging(evaluation, rejudge_share=0.0, seed=4)
    replies = [
        json.dumps({"A": {"score": 5, "reason": "exact"}, "B": {"score": 2, "reason": "flat weights"}}),
        "Sure! Here are the scores: A=5, B=2",  # prose: unparseable
        json.dumps({"A": {"score": 5, "reason": "exact"}}),  # a candidate missing: unparseable
    ]
    with Stubber(client) as stub:
        for call, text in zip(plan.calls, replies, strict=True):
            stub.add_response("converse", converse_response(text), judge_request(call.prompt))
        report = run_judging(evaluation, judge, plan, confirmed=True)
        stub.assert_no_pending_responses()

    assert report["judge"] == f"bedrock:{SONNET}" and report["judge_name"] == "Claude Sonnet 4.5"
    assert report["queries"] == 3 and report["unparseable"] == 2
    assert [u["index"] for u in report["unparseable_replies"]] == [plan.calls[1].index, plan.calls[2].index]
    scored = plan.calls[0]
    labels = dict(zip(scored.order, ("A", "B"), strict=True))
    expected = {"A": 5, "B": 2}
    for router_id in ("teacher", "uniform"):
        record = evaluation.records(router_id)[scored.index]
        assert record.judge == expected[labels[router_id]]
        assert evaluation.figures()[router_id]["judge_mean"] == expected[labels[router_id]]
        assert evaluation.figures()[router_id]["judge_unparseable"] == 2
    assert report["cost_usd"] == pytest.approx(3 * (900 * 3.0 + 70 * 15.0) / 1e6)


def test_a_failed_judge_call_is_an_unparseable_judgement_with_its_sentence(session, evaluation):
    client = make_client(session, "bedrock-runtime")
    judge = BedrockJudge(session, client=client, concurrency=1, sleep=lambda _: None)
    plan = plan_judging(evaluation, max_queries=1, rejudge_share=0.0)
    with Stubber(client) as stub:
        stub.add_client_error(
            "converse",
            service_error_code="AccessDeniedException",
            service_message="User is not authorized to perform: bedrock:InvokeModel",
            http_status_code=403,
            expected_params=judge_request(plan.calls[0].prompt),
        )
        report = run_judging(evaluation, judge, plan, confirmed=True)
    assert report["unparseable"] == 1
    assert "bedrock:InvokeModel" in report["unparseable_replies"][0]["error"]
    assert evaluation.figures()["teacher"]["judge_mean"] is None


def test_a_judge_model_id_is_checked_before_any_client_is_made(session):
    with pytest.raises(StudioAwsError, match="not valid"):
        BedrockJudge(session, model="not a model", client=object())


# ---- Model Evaluation jobs --------------------------------------------------------------------------------------


def test_an_evaluation_job_is_built_from_the_replies_and_submitted_with_exact_params(session, evaluation):
    plan = plan_evaluation_job(
        evaluation, "uniform", job_name="router-eval-1", role_arn=ROLE, bucket=BUCKET, prefix="studio/evals"
    )
    assert plan.dataset_uri == f"s3://{BUCKET}/studio/evals/router-eval-1/dataset.jsonl"
    assert plan.output_uri == f"s3://{BUCKET}/studio/evals/router-eval-1/output/"
    first = plan.records[0]
    assert set(first) == {"prompt", "referenceResponse", "category", "modelResponses"}
    assert first["modelResponses"] == [
        {"response": evaluation.records("uniform")[0].raw_text, "modelIdentifier": "uniform"}
    ]
    assert metric_instructions().endswith("Router reply: {{prediction}}") and len(metric_instructions()) <= 5000

    judge = {"bedrockEvaluatorModels": [{"modelIdentifier": SONNET}]}
    expected = {
        "jobName": "router-eval-1",
        "jobDescription": "OverallQuality of uniform",
        "roleArn": ROLE,
        "applicationType": "ModelEvaluation",
        "evaluationConfig": {
            "automated": {
                "datasetMetricConfigs": [
                    {
                        "taskType": "General",
                        "dataset": {"name": "router-replies", "datasetLocation": {"s3Uri": plan.dataset_uri}},
                        "metricNames": [METRIC_NAME],
                    }
                ],
                "evaluatorModelConfig": judge,
                "customMetricConfig": {
                    "customMetrics": [
                        {
                            "customMetricDefinition": {
                                "name": METRIC_NAME,
                                "instructions": metric_instructions(),
                                "ratingScale": [{"definition": d, "value": {"floatValue": v}} for d, v in RATING_SCALE],
                            }
                        }
                    ],
                    "evaluatorModelConfig": judge,
                },
            }
        },
        "inferenceConfig": {"models": [{"precomputedInferenceSource": {"inferenceSourceIdentifier": "uniform"}}]},
        "outputDataConfig": {"s3Uri": plan.output_uri},
        "jobTags": [{"key": "app", "value": APP_TAG}],
        "clientRequestToken": plan.create_request()["clientRequestToken"],
    }
    bedrock = make_client(session, "bedrock")
    with mock_aws():
        s3 = session.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        with pytest.raises(EvaluationJobConfirmationRequired, match="about \\$"):
            submit_evaluation_job(plan, s3, bedrock, prices=PriceTable(), confirmed=False)
        assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET)
        with Stubber(bedrock) as stub:
            stub.add_response("create_evaluation_job", {"jobArn": JOB_ARN}, expected)
            assert submit_evaluation_job(plan, s3, bedrock, prices=PriceTable(), confirmed=True) == JOB_ARN
        uploaded = s3.get_object(Bucket=BUCKET, Key="studio/evals/router-eval-1/dataset.jsonl")
        lines = [json.loads(line) for line in uploaded["Body"].read().decode().splitlines()]
        assert lines == plan.records and uploaded["ServerSideEncryption"] == "AES256"
    # The same request twice carries the same token: a retried submission never makes a second job.
    assert plan.create_request()["clientRequestToken"] == expected["clientRequestToken"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"job_name": "Router_Eval"}, "evaluation job name"),
        ({"role_arn": "not-an-arn"}, "IAM role ARN"),
        ({"bucket": "Bad Bucket"}, "bucket name"),
        (
            {"judge_model": "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/abcdef123456"},
            "foundation model",
        ),
    ],
)
def test_a_bad_name_is_refused_before_any_call(evaluation, changes, message):
    options = {"job_name": "router-eval-1", "role_arn": ROLE, "bucket": BUCKET, "prefix": "evals", **changes}
    with pytest.raises(StudioAwsError, match=message):
        plan_evaluation_job(evaluation, "uniform", **options)


def test_an_expectation_set_cannot_become_an_evaluation_job():
    evaluation_set = EvaluationSet(kind="expectations", name="e", source="e", queries=["q"], expected=["audio"])
    evaluation = run_evaluation(evaluation_set, {"uniform": UniformRouter()})
    with pytest.raises(StudioAwsError, match="reference weights"):
        plan_evaluation_job(evaluation, "uniform", job_name="e-1", role_arn=ROLE, bucket=BUCKET)


def test_a_finished_jobs_ratings_are_read_back_and_joined_to_the_records(session, evaluation):
    plan = plan_evaluation_job(
        evaluation, "uniform", job_name="router-eval-2", role_arn=ROLE, bucket=BUCKET, prefix="evals"
    )
    submitted = plan.create_request()
    output = plan.output_uri
    bedrock = make_client(session, "bedrock")
    with Stubber(bedrock) as stub:
        stub.add_response(
            "get_evaluation_job",
            {
                "jobName": "router-eval-2",
                "status": "Completed",
                "jobArn": JOB_ARN,
                "roleArn": ROLE,
                "jobType": "Automated",
                "evaluationConfig": submitted["evaluationConfig"],
                "inferenceConfig": submitted["inferenceConfig"],
                "outputDataConfig": {"s3Uri": output},
                "creationTime": datetime(2026, 11, 30, tzinfo=UTC),
            },
            {"jobIdentifier": JOB_ARN},
        )
        status = evaluation_job_status(bedrock, JOB_ARN)
    assert status.finished and status.output_uri == output

    lines = [
        {
            "automatedEvaluationResult": {
                "scores": [{"metricName": METRIC_NAME, "result": score, "evaluatorDetails": [{"explanation": "x"}]}]
            },
            "inputRecord": {"prompt": query, "referenceResponse": "{}", "modelResponses": []},
        }
        for query, score in zip(QUERIES, (2.0, 1.0, None), strict=True)
    ]
    with mock_aws():
        s3 = session.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        key = (
            "evals/router-eval-2/output/router-eval-2/x1y2/models/uniform/taskTypes/General/datasets/d/f9_output.jsonl"
        )
        s3.put_object(Bucket=BUCKET, Key=key, Body="\n".join(json.dumps(line) for line in lines).encode())
        s3.put_object(
            Bucket=BUCKET, Key="evals/router-eval-2/output/router-eval-2/x1y2/custom_metrics/m.json", Body=b"{}"
        )
        results = read_evaluation_results(s3, status)

    assert results.files == [key] and results.unscored == 1
    assert results.scores == {QUERIES[0]: 2.0, QUERIES[1]: 1.0, QUERIES[2]: None}
    report = apply_evaluation_results(evaluation, "uniform", JOB_ARN, results)
    assert report["rated"] == 2 and report["unrated"] == 1
    assert evaluation.figures()["uniform"]["evaluation_job_mean"] == 1.5
    assert evaluation.details["evaluation_jobs"]["uniform"]["job_arn"] == JOB_ARN


def test_results_are_read_only_from_a_completed_job(session):
    from core.aws.evaluation_jobs import EvaluationJobStatus

    running = EvaluationJobStatus(JOB_ARN, "router-eval-3", "InProgress", [], f"s3://{BUCKET}/out/")
    with pytest.raises(StudioAwsError, match="is InProgress, not Completed"):
        read_evaluation_results(object(), running)


def test_the_bedrock_backend_offers_the_judge_and_the_local_one_says_why_not(fake_credentials, tmp_path):
    from core.backends import BedrockBackend, CapabilityUnavailable, LocalBackend
    from core.evaluate.history import EvaluationHistory
    from core.settings import Settings
    from core.store import Store

    settings = Settings(data_dir=tmp_path / "studio", backend="bedrock", aws_region="us-east-1")
    store = Store(settings.store_path)
    judge = BedrockBackend(settings, store).judge()
    assert isinstance(judge, BedrockJudge) and judge.model_id == SONNET and judge.name == "Claude Sonnet 4.5"
    assert BedrockBackend(settings, store).judge("nova-premier").model_id == MODELS["nova-premier"].invoke_id
    local = LocalBackend(settings.model_copy(update={"backend": "local"}), store)
    with pytest.raises(CapabilityUnavailable, match="runs on Amazon Bedrock"):
        local.judge()
    assert isinstance(local.evaluations(), EvaluationHistory)
