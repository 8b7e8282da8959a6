"""Preflight: what Bedrock work needs, checked before any of it runs, each check green, amber or red with what to do.

Credentials (STS), the region (Nova distillation runs in us-east-1; on-demand deployment of custom models
in us-east-1 or us-west-2), access to the teacher and the student and whether the teacher needs an
inference profile (the "on-demand throughput isn't supported" refusal, foreseen), the bucket reachable and
writable (a small test object is written and deleted), and the service role present and trusting
bedrock.amazonaws.com. Only control-plane calls are made: a preflight never bills a model call.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import unquote

from core.aws.errors import StudioAwsError, explain_aws_error
from core.aws.models import DEFAULT_TEACHER, MODELS, students_for
from core.aws.names import check_bucket_name, check_role_arn
from core.aws.session import Clients

Level = Literal["green", "amber", "red"]
LEVELS: tuple[Level, ...] = ("green", "amber", "red")
DISTILLATION_REGIONS = ("us-east-1",)
DEPLOYMENT_REGIONS = ("us-east-1", "us-west-2")
BEDROCK_SERVICE = "bedrock.amazonaws.com"
PROBE_FOLDER = ".studio-preflight"
_GEO_PREFIX = re.compile(r"^(?:us|eu|apac|us-gov|global|jp|au|ca)\.")
TRUST_STATEMENT = '{"Effect": "Allow", "Principal": {"Service": "bedrock.amazonaws.com"}, "Action": "sts:AssumeRole"}'
NOT_CHECKED = "Not checked: the credentials must work first."


@dataclass(frozen=True)
class PreflightCheck:
    key: str
    title: str
    level: Level
    # What was found, in one sentence.
    message: str
    # What to do about it, in one sentence (None when green).
    action: str | None = None

    def to_json_dict(self) -> dict[str, object]:
        return {
            "key": self.key,
            "title": self.title,
            "level": self.level,
            "message": self.message,
            "action": self.action,
        }


@dataclass(frozen=True)
class PreflightReport:
    checks: tuple[PreflightCheck, ...]
    region: str

    @property
    def ok(self) -> bool:
        """Nothing red: the work can start (amber checks say what may still go wrong)."""
        return all(check.level != "red" for check in self.checks)

    @property
    def worst(self) -> Level:
        return max((check.level for check in self.checks), key=LEVELS.index, default="green")

    def check(self, key: str) -> PreflightCheck:
        return next(check for check in self.checks if check.key == key)

    def to_json_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "worst": self.worst,
            "region": self.region,
            "checks": [check.to_json_dict() for check in self.checks],
        }


def run_preflight(
    clients: Clients,
    *,
    teacher: str = DEFAULT_TEACHER,
    student: str | None = None,
    bucket: str | None = None,
    prefix: str = "video-search-router",
    role_arn: str | None = None,
    probe_name: Callable[[], str] = lambda: uuid.uuid4().hex,
) -> PreflightReport:
    """Every check, in the order a user fixes them; AWS-side ones are skipped (amber) while credentials fail."""
    region = clients.region
    teacher_model = MODELS[teacher]
    student_model = MODELS[student or students_for(teacher)[0]]
    checks = [_credentials(clients), _region(region)]
    signed_in = checks[0].level == "green"
    later: list[tuple[str, str, Callable[[], PreflightCheck]]] = [
        (
            "teacher-access",
            f"Access to {teacher_model.name}",
            lambda: _model_access(clients, teacher_model, region, "teacher-access"),
        ),
        ("teacher-profile", f"How {teacher_model.name} is called", lambda: _inference_profile(clients, teacher_model)),
        (
            "student-access",
            f"Access to {student_model.name}",
            lambda: _model_access(clients, student_model, region, "student-access"),
        ),
        ("bucket", "S3 bucket", lambda: _bucket(clients, bucket, prefix, region, probe_name)),
        ("role", "Service role", lambda: _role(clients, role_arn)),
    ]
    for key, title, check in later:
        checks.append(check() if signed_in else PreflightCheck(key, title, "amber", NOT_CHECKED))
    return PreflightReport(tuple(checks), region)


def _credentials(clients: Clients) -> PreflightCheck:
    title = "AWS credentials"
    try:
        identity = clients.get("sts").get_caller_identity()
    except Exception as exc:
        return PreflightCheck("credentials", title, "red", "The AWS credentials do not work.", _sentence(exc))
    return PreflightCheck(
        "credentials", title, "green", f"Signed in as {identity['Arn']} (account {identity['Account']})."
    )


def _region(region: str) -> PreflightCheck:
    title = "Region"
    if region in DISTILLATION_REGIONS:
        return PreflightCheck(
            "region", title, "green", f"{region} runs Nova distillation and on-demand deployment of custom models."
        )
    if region in DEPLOYMENT_REGIONS:
        return PreflightCheck(
            "region",
            title,
            "amber",
            f"{region} deploys custom models on demand, but Nova distillation runs in us-east-1 only.",
            "Choose us-east-1 in Settings to distil; keep this region for deployments and labelling.",
        )
    return PreflightCheck(
        "region",
        title,
        "red",
        f"{region} runs neither Nova distillation (us-east-1) nor on-demand deployment (us-east-1, us-west-2).",
        "Choose us-east-1 in Settings.",
    )


def _model_access(clients: Clients, model, region: str, key: str) -> PreflightCheck:
    title = f"Access to {model.name}"
    model_id = _GEO_PREFIX.sub("", model.invoke_id)
    try:
        found = clients.get("bedrock").get_foundation_model_availability(modelId=model_id)
    except Exception as exc:
        return PreflightCheck(key, title, "amber", f"Model access to {model.name} could not be read.", _sentence(exc))
    enable = (
        f"Enable {model.name} under Model access in the Amazon Bedrock console ({region}), "
        "then run the preflight again."
    )
    if found.get("regionAvailability") != "AVAILABLE":
        return PreflightCheck(
            key, title, "red", f"{model.name} is not offered in {region}.", "Choose us-east-1 in Settings."
        )
    if found.get("authorizationStatus") != "AUTHORIZED" or found.get("entitlementAvailability") != "AVAILABLE":
        return PreflightCheck(key, title, "red", f"This account has no access to {model.name} yet.", enable)
    agreement = found.get("agreementAvailability") or {}
    if agreement.get("status") == "PENDING":
        return PreflightCheck(
            key,
            title,
            "amber",
            f"The agreement for {model.name} is still pending.",
            "Wait a few minutes, then check again.",
        )
    if agreement.get("status") != "AVAILABLE":
        detail = f" ({agreement['errorMessage']})" if agreement.get("errorMessage") else ""
        return PreflightCheck(key, title, "red", f"The agreement for {model.name} is not in place{detail}.", enable)
    return PreflightCheck(key, title, "green", f"This account may call {model.name} in {region}.")


def _inference_profile(clients: Clients, model) -> PreflightCheck:
    """Whether the model can be called by its plain id or needs an inference profile, and whether ours exists."""
    key, title = "teacher-profile", f"How {model.name} is called"
    plain = _GEO_PREFIX.sub("", model.invoke_id)
    profile = f"us.{plain}"
    bedrock = clients.get("bedrock")
    try:
        details = bedrock.get_foundation_model(modelIdentifier=plain)["modelDetails"]
    except Exception as exc:
        return PreflightCheck(key, title, "amber", f"The way {model.name} is called could not be read.", _sentence(exc))
    kinds = details.get("inferenceTypesSupported") or []
    if "ON_DEMAND" in kinds and model.invoke_id == plain:
        return PreflightCheck(key, title, "green", f"{model.name} is called on demand by its id {plain}.")
    if model.invoke_id == plain:
        return PreflightCheck(
            key,
            title,
            "red",
            f"{model.name} cannot be called on demand by its plain id (on-demand throughput is not supported).",
            f"Use the inference profile {profile} instead.",
        )
    try:
        found = bedrock.get_inference_profile(inferenceProfileIdentifier=model.invoke_id)
    except Exception as exc:
        explained = explain_aws_error(exc)
        if explained.kind == "not-found":
            return PreflightCheck(
                key,
                title,
                "red",
                f"The inference profile {model.invoke_id} does not exist in this region.",
                f"Use the inference profile {profile} in a US region, or the profile of your geography.",
            )
        return PreflightCheck(
            key, title, "amber", f"The inference profile {model.invoke_id} could not be read.", str(explained)
        )
    if found.get("status") != "ACTIVE":
        return PreflightCheck(
            key,
            title,
            "red",
            f"The inference profile {model.invoke_id} is not active.",
            "Check it in the Bedrock console.",
        )
    return PreflightCheck(
        key, title, "green", f"{model.name} is called through the inference profile {model.invoke_id}."
    )


def _bucket(
    clients: Clients, bucket: str | None, prefix: str, region: str, probe_name: Callable[[], str]
) -> PreflightCheck:
    key, title = "bucket", "S3 bucket"
    if not bucket:
        return PreflightCheck(
            key, title, "amber", "No bucket is chosen yet.", "Save the bucket Bedrock jobs read and write in Settings."
        )
    problem = check_bucket_name(bucket)
    if problem:
        return PreflightCheck(key, title, "red", "The bucket name is not valid.", problem)
    s3 = clients.get("s3")
    try:
        head = s3.head_bucket(Bucket=bucket)
    except Exception as exc:
        explained = explain_aws_error(exc)
        if explained.kind == "not-found":
            return PreflightCheck(
                key,
                title,
                "red",
                f"The bucket {bucket} does not exist.",
                f"Create it in {region}, or save the name of an existing bucket in Settings.",
            )
        return PreflightCheck(key, title, "red", f"The bucket {bucket} cannot be reached.", str(explained))
    probe = (
        f"{prefix.strip('/')}/{PROBE_FOLDER}/{probe_name()}.txt"
        if prefix.strip("/")
        else f"{PROBE_FOLDER}/{probe_name()}.txt"
    )
    try:
        s3.put_object(
            Bucket=bucket,
            Key=probe,
            Body=b"Video Search Router Studio preflight: safe to delete.\n",
            ServerSideEncryption="AES256",
        )
    except Exception as exc:
        return PreflightCheck(
            key,
            title,
            "red",
            f"The bucket {bucket} is reachable but not writable.",
            f"Allow s3:PutObject on s3://{bucket}/{prefix.strip('/')}/* ({_sentence(exc).rstrip('.')}).",
        )
    try:
        s3.delete_object(Bucket=bucket, Key=probe)
    except Exception:
        return PreflightCheck(
            key,
            title,
            "amber",
            f"The bucket {bucket} is writable, but the test object could not be deleted.",
            f"Delete s3://{bucket}/{probe} yourself, and allow s3:DeleteObject to keep the bucket tidy.",
        )
    home = head.get("BucketRegion")
    if home and home != region:
        return PreflightCheck(
            key,
            title,
            "amber",
            f"The bucket {bucket} is writable but lives in {home}, not {region}.",
            f"Use a bucket in {region}: Bedrock jobs read and write S3 in their own region.",
        )
    return PreflightCheck(key, title, "green", f"The bucket {bucket} is reachable and writable.")


def _role(clients: Clients, role_arn: str | None) -> PreflightCheck:
    key, title = "role", "Service role"
    if not role_arn:
        return PreflightCheck(
            key,
            title,
            "amber",
            "No service role is chosen yet.",
            f"Save an IAM role that trusts {BEDROCK_SERVICE} in Settings (distillation and batch jobs run as it).",
        )
    problem = check_role_arn(role_arn)
    if problem:
        return PreflightCheck(key, title, "red", "The role ARN is not valid.", problem)
    name = role_arn.rsplit("/", 1)[-1]
    try:
        role = clients.get("iam").get_role(RoleName=name)["Role"]
    except Exception as exc:
        explained = explain_aws_error(exc)
        if explained.kind == "not-found":
            return PreflightCheck(
                key,
                title,
                "red",
                f"The role {name} does not exist.",
                f"Create it with a trust policy of {TRUST_STATEMENT}.",
            )
        return PreflightCheck(
            key,
            title,
            "amber",
            f"The role {name} could not be read, so its trust policy is unchecked.",
            f"Make sure it trusts {BEDROCK_SERVICE} ({explained}).",
        )
    if not trusts_bedrock(role.get("AssumeRolePolicyDocument")):
        return PreflightCheck(
            key,
            title,
            "red",
            f"The role {name} exists but does not trust {BEDROCK_SERVICE}.",
            f"Add this statement to its trust policy: {TRUST_STATEMENT}.",
        )
    return PreflightCheck(key, title, "green", f"The role {name} exists and trusts {BEDROCK_SERVICE}.")


def trusts_bedrock(document: object) -> bool:
    """Whether a trust policy (a dict, or its JSON text, URL-encoded or not) lets Bedrock assume the role."""
    if isinstance(document, str):
        try:
            document = json.loads(unquote(document))
        except ValueError:
            return False
    if not isinstance(document, dict):
        return False
    statements = document.get("Statement", [])
    for statement in statements if isinstance(statements, list) else [statements]:
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        actions = _as_list(statement.get("Action"))
        principal = statement.get("Principal")
        services = _as_list(principal.get("Service")) if isinstance(principal, dict) else []
        if BEDROCK_SERVICE in services and any(a in ("sts:AssumeRole", "sts:*", "*") for a in actions):
            return True
    return False


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _sentence(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, StudioAwsError) else str(explain_aws_error(exc))
