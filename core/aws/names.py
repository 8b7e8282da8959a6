"""Name and ARN checks done before any AWS call: botocore validates types, not patterns or maximum lengths.

Each check returns None when the value is fine, or one sentence saying what is wrong and what to use.
The patterns are copied verbatim from the botocore 1.44 service models (bedrock 2023-04-20,
bedrock-runtime 2023-09-30); a test compares them with the installed models.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

# bedrock shapes
JOB_NAME_PATTERN = r"[a-zA-Z0-9](-*[a-zA-Z0-9\+\-\.])*"
CUSTOM_MODEL_NAME_PATTERN = r"([0-9a-zA-Z][_-]?){1,63}"
MODEL_DEPLOYMENT_NAME_PATTERN = r"([0-9a-zA-Z][_-]?){1,63}"
PROVISIONED_MODEL_NAME_PATTERN = r"([0-9a-zA-Z][_-]?)+"
TAG_KEY_PATTERN = r"[a-zA-Z0-9\s._:/=+@-]*"
TAG_VALUE_PATTERN = r"[a-zA-Z0-9\s._:/=+@-]*"
EVALUATION_JOB_NAME_PATTERN = r"[a-z0-9](-*[a-z0-9]){0,62}"
INVOCATION_JOB_NAME_PATTERN = r"[a-zA-Z0-9]{1,63}(-*[a-zA-Z0-9\+\-\.]){0,63}"
S3_URI_PATTERN = r"s3://[a-z0-9][-.a-z0-9]{1,61}[a-z0-9](?:/[-!_*'().a-z0-9A-Z]+(?:/[-!_*'().a-z0-9A-Z]+)*)?/?"
ROLE_ARN_PATTERN = r"arn:aws(-[^:]+)?:iam::([0-9]{12})?:role/.+"
IDEMPOTENCY_TOKEN_PATTERN = r"[a-zA-Z0-9]([-a-zA-Z0-9]{0,254}[a-zA-Z0-9])?"
INVOCATION_IDEMPOTENCY_TOKEN_PATTERN = r"[a-zA-Z0-9]{1,256}(-*[a-zA-Z0-9]){0,256}"
KMS_KEY_ID_PATTERN = (
    r"(arn:aws(-[^:]+)?:kms:[a-zA-Z0-9-]*:[0-9]{12}:((key/[a-zA-Z0-9-]{36})|(alias/[a-zA-Z0-9-_/]+)))|([a-zA-Z0-9-]{36})|"
    r"(alias/[a-zA-Z0-9-_/]+)"
)
TAG_KEY_PATTERN = r"[a-zA-Z0-9\s._:/=+@-]*"
TAG_VALUE_PATTERN = r"[a-zA-Z0-9\s._:/=+@-]*"
SUBNET_ID_PATTERN = r"[-0-9a-zA-Z]+"
SECURITY_GROUP_ID_PATTERN = r"[-0-9a-zA-Z]+"
# Keys and values of an invocation-log filter (a customization job's requestMetadataFilters).
LOG_FILTER_KEY_PATTERN = r"[a-zA-Z0-9\s._:/=+$@-]{1,256}"
LOG_FILTER_VALUE_PATTERN = r"[a-zA-Z0-9\s._:/=+$@-]{0,256}"
CUSTOM_MODEL_ARN_PATTERN = (
    r"arn:aws(|-us-gov|-cn|-iso|-iso-b):bedrock:[a-z0-9-]{1,20}:[0-9]{12}:custom-model/(imported|[a-z0-9-]{1,63}"
    r"[.]{1}[a-z0-9-]{1,63}([a-z0-9-]{1,63}[.]){0,2}[a-z0-9-]{1,63}([:][a-z0-9-]{1,63}){0,2})/[a-z0-9]{12}"
)
BASE_MODEL_IDENTIFIER_PATTERN = (
    r"(arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:(([0-9]{12}:custom-model/([a-z0-9-]{1,63}[.]{1}[a-z0-9-]{1,63}"
    r"([.]?[a-z0-9-]{1,63})([:][a-z0-9-]{1,63}){0,2})/[a-z0-9]{12})|(:foundation-model/[a-z0-9-]{1,63}[.]{1}"
    r"[a-z0-9-]{1,63}([:][a-z0-9-]{1,63}){0,2})))|([a-z0-9-]{1,63}[.]{1}[a-z0-9-]{1,63}([.]?[a-z0-9-]{1,63})"
    r"([:][a-z0-9-]{1,63}){0,2})|(([0-9a-zA-Z][_-]?)+)"
)
TEACHER_MODEL_IDENTIFIER_PATTERN = (
    r"(arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:((:foundation-model/([a-z0-9-]{1,63}[.]{1}[a-z0-9-]{1,63}"
    r"([.]?[a-z0-9-]{1,63})([:][a-z0-9-]{1,63}){0,2})|(([0-9a-zA-Z][_-]?)+)$)|([0-9]{12}:inference-profile/"
    r"[a-zA-Z0-9-:.]+$)))|([a-z0-9-]{1,63}[.]{1}[a-z0-9-]{1,63}([.]?[a-z0-9-]{1,63})([:][a-z0-9-]{1,63}){0,2})"
)
# bedrock-runtime shape (Converse modelId)
CONVERSATIONAL_MODEL_ID_PATTERN = (
    r"(arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:(([0-9]{12}:custom-model/[a-z0-9-]{1,63}[.]{1}[a-z0-9-]{1,63}/"
    r"[a-z0-9]{12})|(:foundation-model/[a-z0-9-]{1,63}[.]{1}[a-z0-9-]{1,63}([.:]?[a-z0-9-]{1,63}))|([0-9]{12}:"
    r"imported-model/[a-z0-9]{12})|([0-9]{12}:provisioned-model/[a-z0-9]{12})|([0-9]{12}:custom-model-deployment/"
    r"[a-z0-9]{12})|([0-9]{12}:(inference-profile|application-inference-profile)/[a-zA-Z0-9-:.]+)))|([a-z0-9-]"
    r"{1,63}[.]{1}[a-z0-9-]{1,63}([.:]?[a-z0-9-]{1,63}))|(([0-9a-zA-Z][_-]?)+)|([a-zA-Z0-9-:.]+)|(^(arn:aws(-[^:]+)"
    r"?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:prompt/[0-9a-zA-Z]{10}(?::[0-9]{1,5})?))$|(^arn:aws:sagemaker:[a-z0-9-]+:"
    r"[0-9]{12}:endpoint/[a-zA-Z0-9-]+$)|(^arn:aws(-[^:]+)?:bedrock:([0-9a-z-]{1,20}):([0-9]{12}):(default-)?"
    r"prompt-router/[a-zA-Z0-9-:.]+$)"
)

ModelUse = Literal["invoke", "base-model", "teacher"]


@dataclass(frozen=True)
class NameRule:
    label: str
    pattern: str
    max_length: int
    # Every character the pattern can accept; the first one outside it is named in the message.
    charset: str
    advice: str
    example: str

    def check(self, value: object) -> str | None:
        if not isinstance(value, str) or not value:
            return f"The {self.label} is empty: use {self.advice}, for example {self.example}."
        if len(value) > self.max_length:
            return f"The {self.label} is {len(value)} characters long: keep it to {self.max_length} or fewer."
        bad = next((char for char in value if not re.fullmatch(self.charset, char)), None)
        if bad is not None:
            return f"The {self.label} cannot contain {_shown(bad)}: use {self.advice}, for example {self.example}."
        if re.fullmatch(self.pattern, value) is None:
            return f"The {self.label} {_quoted(value)} is not valid: use {self.advice}, for example {self.example}."
        return None


_JOB_ADVICE = "1 to 63 letters, digits, '-', '+' or '.' (no '_'), starting with a letter or digit"
_SEPARATED_ADVICE = (
    "1 to 63 letters and digits, each optionally followed by one '_' or '-' (no dots, no two separators in a row)"
)

JOB_NAME = NameRule("job name", JOB_NAME_PATTERN, 63, r"[a-zA-Z0-9+.\-]", _JOB_ADVICE, "router-distill-2026-04-01")
INVOCATION_JOB_NAME = NameRule(
    "batch job name", INVOCATION_JOB_NAME_PATTERN, 63, r"[a-zA-Z0-9+.\-]", _JOB_ADVICE, "router-labels-v1"
)
CUSTOM_MODEL_NAME = NameRule(
    "custom model name", CUSTOM_MODEL_NAME_PATTERN, 63, r"[a-zA-Z0-9_\-]", _SEPARATED_ADVICE, "router-student_v1"
)
DEPLOYMENT_NAME = NameRule(
    "deployment name", MODEL_DEPLOYMENT_NAME_PATTERN, 63, r"[a-zA-Z0-9_\-]", _SEPARATED_ADVICE, "router-student-live"
)
PROVISIONED_MODEL_NAME = NameRule(
    "provisioned throughput name",
    PROVISIONED_MODEL_NAME_PATTERN,
    63,
    r"[a-zA-Z0-9_\-]",
    _SEPARATED_ADVICE,
    "router-student-pt",
)
EVALUATION_JOB_NAME = NameRule(
    "evaluation job name",
    EVALUATION_JOB_NAME_PATTERN,
    63,
    r"[a-z0-9\-]",
    "1 to 63 lower-case letters, digits and '-', starting and ending with a letter or digit",
    "router-eval-1",
)
CLIENT_REQUEST_TOKEN = NameRule(
    "client request token",
    IDEMPOTENCY_TOKEN_PATTERN,
    256,
    r"[a-zA-Z0-9\-]",
    "1 to 256 letters, digits and '-', starting and ending with a letter or digit",
    "a1b2c3-d4e5",
)

MAX_TAGS = 200
TAG_KEY_MAX_LENGTH = 128
TAG_VALUE_MAX_LENGTH = 256
MAX_SUBNETS = 16
MAX_SECURITY_GROUPS = 5
VPC_ID_MAX_LENGTH = 32
MAX_LOG_FILTERS = 16
LOG_FILTER_VALUE_MAX_LENGTH = 256
BUCKET_NAME_PATTERN = r"[a-z0-9][-.a-z0-9]{1,61}[a-z0-9]"
S3_URI_MAX_LENGTH = 1024
S3_URI_EXAMPLE = "s3://my-bucket/router/train.jsonl"
ARN_MAX_LENGTH = 2048
MODEL_IDENTIFIER_PATTERNS: dict[str, str] = {
    "invoke": CONVERSATIONAL_MODEL_ID_PATTERN,
    "base-model": BASE_MODEL_IDENTIFIER_PATTERN,
    "teacher": TEACHER_MODEL_IDENTIFIER_PATTERN,
}
_MODEL_ADVICE: dict[str, str] = {
    "invoke": (
        "a model id such as amazon.nova-micro-v1:0, an inference profile id such as us.amazon.nova-premier-v1:0, "
        "or a model, deployment or provisioned-throughput ARN"
    ),
    "base-model": "a student model id such as amazon.nova-micro-v1:0:128k, or a custom model ARN",
    "teacher": "a teacher model id or inference profile id such as us.amazon.nova-premier-v1:0, or its ARN",
}


def check_job_name(name: object) -> str | None:
    """A model customization (distillation) job name."""
    return JOB_NAME.check(name)


def check_invocation_job_name(name: object) -> str | None:
    """A batch inference (model invocation) job name."""
    return INVOCATION_JOB_NAME.check(name)


def check_custom_model_name(name: object) -> str | None:
    return CUSTOM_MODEL_NAME.check(name)


def check_deployment_name(name: object) -> str | None:
    """An on-demand custom model deployment name."""
    return DEPLOYMENT_NAME.check(name)


def check_provisioned_model_name(name: object) -> str | None:
    """A provisioned throughput name."""
    return PROVISIONED_MODEL_NAME.check(name)


def check_tags(tags: object, label: str = "tags") -> str | None:
    """Resource tags (key -> value), as create calls take them: at most 200, keys 1-128 and values 0-256 characters
    of letters, digits, spaces and . _ : / = + @ -. `label` names them in the sentence ("job tags")."""
    if not isinstance(tags, dict):
        return f"The {label} must be pairs of a key and a value, such as team=search."
    if len(tags) > MAX_TAGS:
        return f"There are {len(tags)} {label}: keep it to {MAX_TAGS} or fewer."
    allowed = "letters, digits, spaces and . _ : / = + @ -"
    for key, value in tags.items():
        if not isinstance(key, str) or not key or len(key) > TAG_KEY_MAX_LENGTH:
            return f"The tag key {_quoted(str(key))} must be 1 to {TAG_KEY_MAX_LENGTH} characters of {allowed}."
        if re.fullmatch(TAG_KEY_PATTERN, key) is None:
            return f"The tag key {_quoted(key)} is not valid: use {allowed}."
        if not isinstance(value, str) or len(value) > TAG_VALUE_MAX_LENGTH:
            return f"The value of tag {_quoted(key)} must be at most {TAG_VALUE_MAX_LENGTH} characters of {allowed}."
        if re.fullmatch(TAG_VALUE_PATTERN, value) is None:
            return f"The value of tag {_quoted(key)} is not valid: use {allowed}."
    return None


def check_evaluation_job_name(name: object) -> str | None:
    return EVALUATION_JOB_NAME.check(name)


def check_client_request_token(token: object) -> str | None:
    return CLIENT_REQUEST_TOKEN.check(token)


def check_s3_uri(uri: object) -> str | None:
    if not isinstance(uri, str) or not uri:
        return f"The S3 URI is empty: give one such as {S3_URI_EXAMPLE}."
    if len(uri) > S3_URI_MAX_LENGTH:
        return f"The S3 URI is {len(uri)} characters long: keep it to {S3_URI_MAX_LENGTH} or fewer."
    if not uri.startswith("s3://"):
        return f"The S3 URI {_quoted(uri)} must start with s3://, for example {S3_URI_EXAMPLE}."
    bucket, _, key = uri[len("s3://") :].partition("/")
    problem = check_bucket_name(bucket)
    if problem:
        return problem
    if re.fullmatch(S3_URI_PATTERN, uri) is None:
        return (
            f"The S3 key {_quoted(key)} is not valid: use letters, digits and - ! _ * ' ( ) . between single '/', "
            "with no spaces."
        )
    return None


def check_bucket_name(bucket: object) -> str | None:
    """An S3 bucket name as Bedrock's S3 URIs accept it (lower case, 3 to 63 characters)."""
    if not isinstance(bucket, str) or re.fullmatch(BUCKET_NAME_PATTERN, bucket) is None:
        shown = _quoted(bucket) if isinstance(bucket, str) else repr(bucket)
        return (
            f"The bucket name {shown} is not valid: use 3 to 63 lower-case letters, digits, '-' or '.', "
            "starting and ending with a letter or digit."
        )
    return None


def check_kms_key_id(key_id: object) -> str | None:
    """A KMS key for a custom model or batch output: a key id, key ARN, alias name or alias ARN."""
    example = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab or alias/my-key"
    if not isinstance(key_id, str) or not key_id:
        return f"The KMS key is empty: give a key ARN, key id or alias, such as {example}."
    if len(key_id) > ARN_MAX_LENGTH or re.fullmatch(KMS_KEY_ID_PATTERN, key_id) is None:
        return f"The KMS key {_quoted(key_id)} is not valid: use a key ARN, key id or alias, such as {example}."
    return None


def check_vpc(subnet_ids: object, security_group_ids: object) -> str | None:
    """A VPC configuration: both lists or neither, 1-16 subnets and 1-5 security groups."""
    subnets = list(subnet_ids or []) if isinstance(subnet_ids, (list, tuple)) else subnet_ids
    groups = list(security_group_ids or []) if isinstance(security_group_ids, (list, tuple)) else security_group_ids
    if not isinstance(subnets, list) or not isinstance(groups, list):
        return (
            "The VPC settings must be lists: give subnet ids and security group ids, such as subnet-0abc and sg-0abc."
        )
    if not subnets and not groups:
        return None
    if not subnets or not groups:
        return "A VPC needs both subnets and security groups: give at least one of each, or neither."
    if len(subnets) > MAX_SUBNETS:
        return f"There are {len(subnets)} subnets: keep to {MAX_SUBNETS} or fewer."
    if len(groups) > MAX_SECURITY_GROUPS:
        return f"There are {len(groups)} security groups: keep to {MAX_SECURITY_GROUPS} or fewer."
    for value, pattern, what, example in (
        *((subnet, SUBNET_ID_PATTERN, "subnet id", "subnet-0abc1234") for subnet in subnets),
        *((group, SECURITY_GROUP_ID_PATTERN, "security group id", "sg-0abc1234") for group in groups),
    ):
        if not isinstance(value, str) or len(value) > VPC_ID_MAX_LENGTH or re.fullmatch(pattern, value) is None:
            return f"The {what} {_quoted(str(value))} is not valid: use one such as {example}."
    return None


def check_log_filter(filters: object) -> str | None:
    """An invocation-log filter as {metadata key: value}: 1 to 16 pairs, each in the allowed characters."""
    allowed = "letters, digits, spaces and . _ : / = + $ @ -"
    if not isinstance(filters, dict) or not filters:
        return "The invocation-log filter is empty: give at least one request-metadata key=value, such as mode=teacher."
    if len(filters) > MAX_LOG_FILTERS:
        return f"There are {len(filters)} invocation-log filters: keep to {MAX_LOG_FILTERS} or fewer."
    for key, value in filters.items():
        if not isinstance(key, str) or re.fullmatch(LOG_FILTER_KEY_PATTERN, key) is None:
            return f"The request-metadata key {_quoted(str(key))} is not valid: use 1 to 256 {allowed}."
        if not isinstance(value, str) or re.fullmatch(LOG_FILTER_VALUE_PATTERN, value) is None:
            return f"The value of request-metadata key {_quoted(key)} is not valid: use up to 256 {allowed}."
    return None


def check_invocation_request_token(token: object) -> str | None:
    """A batch inference job's client request token (its own pattern, stricter about '-' than other tokens)."""
    if not isinstance(token, str) or re.fullmatch(INVOCATION_IDEMPOTENCY_TOKEN_PATTERN, token) is None:
        return "The client request token is not valid: use letters and digits, with single '-' between them."
    return None


def check_role_arn(arn: object) -> str | None:
    if not isinstance(arn, str) or not arn:
        return "The IAM role ARN is empty: give one such as arn:aws:iam::123456789012:role/BedrockDistillation."
    if len(arn) > ARN_MAX_LENGTH:
        return f"The IAM role ARN is {len(arn)} characters long: keep it to {ARN_MAX_LENGTH} or fewer."
    if re.fullmatch(ROLE_ARN_PATTERN, arn) is None:
        return f"The IAM role ARN {_quoted(arn)} is not valid: it must look like arn:aws:iam::123456789012:role/NAME."
    return None


def check_custom_model_arn(arn: object) -> str | None:
    """The ARN of a custom (distilled) model, as a deployment needs it."""
    if not isinstance(arn, str) or not arn:
        return "The custom model ARN is empty: use the output model ARN of a completed distillation job."
    if len(arn) > ARN_MAX_LENGTH or re.fullmatch(CUSTOM_MODEL_ARN_PATTERN, arn) is None:
        return (
            f"The custom model ARN {_quoted(arn)} is not valid: use the output model ARN of a completed "
            "distillation job, such as arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-micro-v1:0:128k/"
            "abcdefghijkl."
        )
    return None


def check_model_identifier(identifier: object, use: ModelUse = "invoke") -> str | None:
    """A model id or ARN, checked against the pattern of the API it is meant for.

    `invoke`: Converse modelId (foundation models, inference profiles, deployments); `base-model`: the
    student of a distillation job; `teacher`: the teacher of a distillation job.
    """
    advice = _MODEL_ADVICE[use]
    if not isinstance(identifier, str) or not identifier:
        return f"The model id is empty: use {advice}."
    if len(identifier) > ARN_MAX_LENGTH:
        return f"The model id is {len(identifier)} characters long: keep it to {ARN_MAX_LENGTH} or fewer."
    if re.fullmatch(MODEL_IDENTIFIER_PATTERNS[use], identifier) is None:
        return f"The model id {_quoted(identifier)} is not valid here: use {advice}."
    return None


def _shown(char: str) -> str:
    return "a space" if char == " " else repr(char)


def _quoted(value: str, limit: int = 80) -> str:
    return repr(value if len(value) <= limit else value[: limit - 1] + "…")
