"""Shared pieces of the Bedrock service tests: a studio with a dataset in S3, stubbed clients, Bedrock answers."""

from __future__ import annotations

from datetime import UTC, datetime

from botocore.stub import Stubber

from core.aws.session import Clients, make_client
from core.datasets.library import DatasetLibrary
from core.store import Store
from core.synth import DataMix
from core.synth.pipeline import synthesise

REGION = "us-east-1"
ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/BedrockDistillation"
BUCKET = "router-studio"
DATASET_URI = f"s3://{BUCKET}/video-search-router/datasets/router-prompts/data.jsonl"
JOB_ID = "abcdef123456"
JOB_ARN = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:model-customization-job/amazon.nova-micro-v1:0:128k/{JOB_ID}"
MODEL_ARN = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:custom-model/amazon.nova-micro-v1:0:128k/0123456789ab"
BASE_ARN = f"arn:aws:bedrock:{REGION}::foundation-model/amazon.nova-micro-v1:0:128k"
CREATED = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
ENDED = datetime(2026, 4, 1, 13, 30, tzinfo=UTC)


def studio(data_dir, *, records: int = 120, labelled: bool = False, uploaded: bool = True):
    """A store and a dataset (prompt-only unless labelled), uploaded to S3 unless told otherwise."""
    store = Store(data_dir / "studio.db")
    library = DatasetLibrary(store, data_dir)
    teacher = None
    if labelled:
        from core.routers.reference import ReferenceTeacher

        teacher = ReferenceTeacher()
    made = synthesise(
        DataMix(total=records, seed=3), teacher, teacher_id="Local reference teacher" if labelled else None
    )
    info = library.save("router-prompts", made.records, made.tags, made.manifest_fields)
    if uploaded:
        info = library.set_s3_uri(info.id, DATASET_URI)
    return store, info


def stubbed_clients(session, *services: str) -> tuple[Clients, dict[str, Stubber]]:
    """Clients whose named services are real botocore clients under a Stubber (activated)."""
    clients = Clients(lambda: session, REGION)
    stubs = {}
    for service in services:
        client = make_client(session, service)
        stub = Stubber(client)
        stub.activate()
        clients.put(service, client)
        stubs[service] = stub
    return clients, stubs


def phases(validation: str, processing: str = "NotStarted", training: str = "NotStarted") -> dict:
    return {
        "validationDetails": {"status": validation, "creationTime": CREATED, "lastModifiedTime": CREATED},
        "dataProcessingDetails": {"status": processing, "creationTime": CREATED, "lastModifiedTime": CREATED},
        "trainingDetails": {"status": training, "creationTime": CREATED, "lastModifiedTime": CREATED},
    }


def job_answer(status: str, details: dict, *, output_uri: str, name: str = "router-distill-1", **extra) -> dict:
    """A get_model_customization_job answer (the fields the service model requires, and those given)."""
    answer = {
        "jobArn": JOB_ARN,
        "jobName": name,
        "outputModelName": "router-distill-1",
        "roleArn": ROLE,
        "status": status,
        "statusDetails": details,
        "creationTime": CREATED,
        "baseModelArn": BASE_ARN,
        "trainingDataConfig": {"s3Uri": DATASET_URI},
        "validationDataConfig": {"validators": []},
        "outputDataConfig": {"s3Uri": output_uri},
        "customizationType": "DISTILLATION",
    }
    answer.update(extra)
    return answer


def job_summary(arn: str, name: str, status: str, details: dict, customization: str = "DISTILLATION", **extra) -> dict:
    summary = {
        "jobArn": arn,
        "baseModelArn": BASE_ARN,
        "jobName": name,
        "status": status,
        "statusDetails": details,
        "creationTime": CREATED,
        "customizationType": customization,
    }
    summary.update(extra)
    return summary


def model_summary(arn: str, name: str, status: str = "Active") -> dict:
    """A list_custom_models summary."""
    return {
        "modelArn": arn,
        "modelName": name,
        "creationTime": CREATED,
        "baseModelArn": BASE_ARN,
        "baseModelName": "amazon.nova-micro-v1:0:128k" if "micro" in arn else "amazon.nova-lite-v1:0:300k",
        "customizationType": "DISTILLATION",
        "ownerAccountId": ACCOUNT,
        "modelStatus": status,
    }


def model_answer(arn: str = MODEL_ARN, name: str = "router-distill-1") -> dict:
    """A get_custom_model answer of a distilled model, with its lineage."""
    return {
        "modelArn": arn,
        "modelName": name,
        "jobName": "router-distill-1",
        "jobArn": JOB_ARN,
        "baseModelArn": BASE_ARN,
        "customizationType": "DISTILLATION",
        "trainingDataConfig": {"s3Uri": "s3://router-studio/video-search-router/datasets/router/data.jsonl"},
        "outputDataConfig": {"s3Uri": "s3://router-studio/video-search-router/jobs/router-distill-1/"},
        "trainingMetrics": {"trainingLoss": 0.87},
        "creationTime": CREATED,
        "customizationConfig": {
            "distillationConfig": {
                "teacherModelConfig": {
                    "teacherModelIdentifier": "us.amazon.nova-premier-v1:0",
                    "maxResponseLengthForInference": 1000,
                }
            }
        },
        "modelStatus": "Active",
    }
