"""Amazon Bedrock Model Evaluation jobs judging a router's replies with the OverallQuality rubric.

The replies are brought as precomputed responses ("bring your own inference"): the run's records become
the job's dataset (`prompt`, `referenceResponse`, `category`, and `modelResponses` with the one reply),
so any router can be judged, a deployed student included (a deployment ARN is not accepted as an
evaluated model). The job's judge reads the rubric as a custom metric with a 1-5 rating scale. Names and
URIs are checked before any call; the job is estimated and runs only when confirmed; the results are read
back from the job's output prefix and joined to the records by prompt.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from core.aws.errors import StudioAwsError, explain_aws_error
from core.aws.judge import DEFAULT_JUDGE_MODEL
from core.aws.names import check_evaluation_job_name, check_model_identifier, check_role_arn
from core.aws.s3 import parse_s3_uri, s3_uri
from core.evaluate.engine import EvaluationRun
from core.evaluate.judging import rubric_text
from core.pricing import PriceTable, estimate_tokens
from core.routers.bedrock import APP_TAG, resolve_model

METRIC_NAME = "OverallQuality"
# A job judges at most this many prompts.
MAX_PROMPTS = 1000
# The task type AWS's guide gives for model-as-a-judge jobs with custom metrics.
TASK_TYPE = "General"
DATASET_FILE = "dataset.jsonl"
OUTPUT_SUFFIX = "_output.jsonl"
RATING_SCALE: tuple[tuple[str, float], ...] = (
    ("Within 0.05, specific", 5.0),
    ("Within 0.10, clear", 4.0),
    ("Leader right, generic", 3.0),
    ("Leader wrong", 2.0),
    ("Unusable", 1.0),
)
# What the judge writes per prompt (a rating and its explanation), for the estimate.
JUDGE_OUTPUT_TOKENS = 80
_SOURCE_DISALLOWED = re.compile(r"[^a-zA-Z0-9._-]")
JOB_FINAL_STATUSES = frozenset({"Completed", "Failed", "Stopped"})


def metric_instructions() -> str:
    """The custom metric's prompt: the rubric, then the input variables (which AWS requires to come last)."""
    return (
        "You grade the reply of a video-search intent router. It reads a search query and replies with JSON weights "
        "for four search channels, each between 0 and 1 and summing to 1: visual (what is seen), audio (sounds and "
        "music, not speech), transcription (spoken words) and metadata (names, titles, genres, dates, captions), "
        "with a short reasoning. Grade the reply against the reference weights with the OverallQuality rubric:\n"
        f"{rubric_text()}\n"
        "Weigh the weights first, then the reasoning.\n\n"
        "Query: {{prompt}}\nReference reply: {{ground_truth}}\nRouter reply: {{prediction}}"
    )


def inference_source_id(router_id: str) -> str:
    """A router id as an inference source identifier (letters, digits, '.', '_', '-'; starting with one of
    the first two)."""
    cleaned = _SOURCE_DISALLOWED.sub("-", router_id)[:256]
    return cleaned if cleaned[:1].isalnum() else ("r" + cleaned)[:256]


def dataset_records(run: EvaluationRun, router_id: str) -> list[dict[str, Any]]:
    """The job's dataset: one record per query with the router's reply as the precomputed response."""
    records = run.routers[router_id].records
    if not records or records[0].reference is None:
        raise StudioAwsError("validation", "A Bedrock evaluation job needs reference weights: use a labelled set.")
    if len(records) > MAX_PROMPTS:
        raise StudioAwsError(
            "validation",
            f"A Bedrock evaluation job judges at most {MAX_PROMPTS:,} prompts and this set has {len(records):,}: "
            "evaluate a smaller set (a held-out split of 1,000 or fewer).",
        )
    source = inference_source_id(router_id)
    return [
        {
            "prompt": record.query,
            "referenceResponse": json.dumps(record.reference, separators=(",", ":")),
            "category": record.focus,
            "modelResponses": [{"response": record.raw_text or "(empty reply)", "modelIdentifier": source}],
        }
        for record in records
    ]


def dataset_jsonl(records: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")


@dataclass(frozen=True)
class EvaluationJobPlan:
    job_name: str
    role_arn: str
    judge_model_id: str
    judge_price_key: str | None
    router_id: str
    source_id: str
    dataset_uri: str
    output_uri: str
    records: list[dict[str, Any]]

    def estimate_usd(self, prices: PriceTable) -> float:
        instructions = estimate_tokens(metric_instructions())
        tokens_in = sum(
            instructions
            + estimate_tokens(r["prompt"])
            + estimate_tokens(r["referenceResponse"])
            + estimate_tokens(r["modelResponses"][0]["response"])
            for r in self.records
        )
        return prices.cost_usd(self.judge_price_key, tokens_in, JUDGE_OUTPUT_TOKENS * len(self.records))

    def create_request(self) -> dict[str, Any]:
        """The exact create_evaluation_job arguments (a token from the request makes a retry idempotent)."""
        judge = {"bedrockEvaluatorModels": [{"modelIdentifier": self.judge_model_id}]}
        request: dict[str, Any] = {
            "jobName": self.job_name,
            "jobDescription": f"OverallQuality of {self.router_id}"[:200],
            "roleArn": self.role_arn,
            "applicationType": "ModelEvaluation",
            "evaluationConfig": {
                "automated": {
                    "datasetMetricConfigs": [
                        {
                            "taskType": TASK_TYPE,
                            "dataset": {"name": "router-replies", "datasetLocation": {"s3Uri": self.dataset_uri}},
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
                                    "ratingScale": [
                                        {"definition": label, "value": {"floatValue": value}}
                                        for label, value in RATING_SCALE
                                    ],
                                }
                            }
                        ],
                        "evaluatorModelConfig": judge,
                    },
                }
            },
            "inferenceConfig": {
                "models": [{"precomputedInferenceSource": {"inferenceSourceIdentifier": self.source_id}}]
            },
            "outputDataConfig": {"s3Uri": self.output_uri},
            "jobTags": [{"key": "app", "value": APP_TAG}],
        }
        fingerprint = json.dumps([request, hashlib.sha256(dataset_jsonl(self.records)).hexdigest()], sort_keys=True)
        request["clientRequestToken"] = hashlib.sha256(fingerprint.encode()).hexdigest()[:64]
        return request


class EvaluationJobConfirmationRequired(Exception):
    def __init__(self, estimate_usd: float, prompts: int):
        super().__init__(
            f"A Bedrock evaluation job judging {prompts:,} replies bills the judge model (about ${estimate_usd:,.4f}): "
            "confirm to submit it."
        )
        self.estimate_usd = estimate_usd


def plan_evaluation_job(
    run: EvaluationRun,
    router_id: str,
    *,
    job_name: str,
    role_arn: str,
    bucket: str,
    prefix: str = "",
    judge_model: str = DEFAULT_JUDGE_MODEL,
) -> EvaluationJobPlan:
    """Everything a job needs, every name checked before any call (StudioAwsError says what to fix)."""
    for problem in (check_evaluation_job_name(job_name), check_role_arn(role_arn)):
        if problem:
            raise StudioAwsError("validation", problem)
    judge_id, price_key = resolve_model(judge_model.strip())
    problem = check_model_identifier(judge_id, "invoke")
    if problem:
        raise StudioAwsError("validation", problem)
    if ":custom-model-deployment/" in judge_id or ":provisioned-model/" in judge_id:
        raise StudioAwsError(
            "validation", "The judge of an evaluation job must be a foundation model or an inference profile."
        )
    bucket, key = parse_s3_uri(f"s3://{bucket.strip()}/{prefix.strip().strip('/')}")
    base = f"{key}/{job_name}" if key else job_name
    return EvaluationJobPlan(
        job_name=job_name,
        role_arn=role_arn,
        judge_model_id=judge_id,
        judge_price_key=price_key,
        router_id=router_id,
        source_id=inference_source_id(router_id),
        dataset_uri=s3_uri(bucket, f"{base}/{DATASET_FILE}"),
        output_uri=s3_uri(bucket, f"{base}/output/"),
        records=dataset_records(run, router_id),
    )


def submit_evaluation_job(
    plan: EvaluationJobPlan, s3_client, bedrock_client, *, prices: PriceTable, confirmed: bool
) -> str:
    """Upload the dataset and create the job; returns its ARN. Refused with the estimate until confirmed."""
    if not confirmed:
        raise EvaluationJobConfirmationRequired(plan.estimate_usd(prices), len(plan.records))
    bucket, key = parse_s3_uri(plan.dataset_uri)
    try:
        s3_client.put_object(
            Bucket=bucket,
            Key=key,
            Body=dataset_jsonl(plan.records),
            ContentType="application/jsonl",
            ServerSideEncryption="AES256",
        )
        return bedrock_client.create_evaluation_job(**plan.create_request())["jobArn"]
    except (ClientError, BotoCoreError) as exc:
        raise explain_aws_error(exc) from exc


@dataclass(frozen=True)
class EvaluationJobStatus:
    job_arn: str
    job_name: str
    status: str
    failure_messages: list[str]
    output_uri: str

    @property
    def finished(self) -> bool:
        return self.status in JOB_FINAL_STATUSES


def evaluation_job_status(bedrock_client, job_arn: str) -> EvaluationJobStatus:
    try:
        job = bedrock_client.get_evaluation_job(jobIdentifier=job_arn)
    except (ClientError, BotoCoreError) as exc:
        raise explain_aws_error(exc) from exc
    return EvaluationJobStatus(
        job_arn=job["jobArn"],
        job_name=job["jobName"],
        status=job["status"],
        failure_messages=list(job.get("failureMessages") or []),
        output_uri=job["outputDataConfig"]["s3Uri"],
    )


@dataclass(frozen=True)
class EvaluationJobResults:
    scores: dict[str, float | None]  # prompt -> the judge's rating, None when it gave none
    files: list[str]

    @property
    def unscored(self) -> int:
        return sum(score is None for score in self.scores.values())


def read_evaluation_results(s3_client, status: EvaluationJobStatus) -> EvaluationJobResults:
    """The judge's rating per prompt, from every `*_output.jsonl` under the job's output prefix."""
    if status.status != "Completed":
        raise StudioAwsError("validation", f"The evaluation job {status.job_name} is {status.status}, not Completed.")
    bucket, key = parse_s3_uri(status.output_uri)
    prefix = f"{key}/{status.job_name}/" if key else f"{status.job_name}/"
    scores: dict[str, float | None] = {}
    files: list[str] = []
    try:
        for page in s3_client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                if not item["Key"].endswith(OUTPUT_SUFFIX):
                    continue
                files.append(item["Key"])
                body = s3_client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read().decode("utf-8")
                for line in body.splitlines():
                    if line.strip():
                        prompt, score = _result_line(line)
                        scores[prompt] = score
    except (ClientError, BotoCoreError) as exc:
        raise explain_aws_error(exc) from exc
    if not files:
        raise StudioAwsError("not-found", f"The evaluation job {status.job_name} wrote no results under {prefix}.")
    return EvaluationJobResults(scores, files)


def _result_line(line: str) -> tuple[str, float | None]:
    try:
        row = json.loads(line)
        prompt = row["inputRecord"]["prompt"]
        scores = row.get("automatedEvaluationResult", {}).get("scores", [])
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise StudioAwsError("unknown", "An evaluation job result line is not in the expected shape.") from exc
    value = next((s.get("result") for s in scores if isinstance(s, dict) and s.get("metricName") == METRIC_NAME), None)
    return prompt, float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def apply_evaluation_results(run: EvaluationRun, router_id: str, job_arn: str, results: EvaluationJobResults) -> dict:
    """Put the job's ratings beside the run's figures (`evaluation_job_mean`) and keep its report."""
    records = run.routers[router_id].records
    ratings = [results.scores.get(r.query) for r in records]
    given = [r for r in ratings if r is not None]
    figures = run.routers[router_id].figures
    figures["evaluation_job_mean"] = sum(given) / len(given) if given else None
    report = {"job_arn": job_arn, "rated": len(given), "unrated": len(ratings) - len(given), "files": results.files}
    run.details.setdefault("evaluation_jobs", {})[router_id] = report
    return report
