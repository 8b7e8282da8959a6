"""Names and ARNs are checked before any call, with the API's own patterns (botocore checks none of them)."""

from __future__ import annotations

import botocore.session
import pytest

from core.aws import names

VALID_JOB_NAMES = ["a", "router-distill-2026.04.01", "A+B.c-1", "x" * 63, "9lives", "a--b"]
INVALID_JOB_NAMES = ["", "router_distill", "-leading-dash", ".dot-first", "has space", "x" * 64, "é-accent"]

VALID_CUSTOM_MODEL_NAMES = ["router-student_v1", "Student2", "a", "a_", "x" * 63]
INVALID_CUSTOM_MODEL_NAMES = ["", "router.student", "a__b", "a_-b", "_lead", "x" * 64, "has space"]

VALID_EVALUATION_JOB_NAMES = ["router-eval-1", "a", "a--b", "x" * 63]
INVALID_EVALUATION_JOB_NAMES = ["", "Router-eval", "router_eval", "router.eval", "-eval", "eval-", "x" * 64]

VALID_S3_URIS = [
    "s3://my-bucket",
    "s3://my-bucket/",
    "s3://my.bucket-01/router/train.jsonl",
    "s3://abc/a/b/c/",
    "s3://bucket/Data_(v1)/file*!.jsonl",
]
INVALID_S3_URIS = [
    "",
    "https://my-bucket.s3.amazonaws.com/train.jsonl",
    "my-bucket/train.jsonl",
    "s3://My-Bucket/train.jsonl",
    "s3://ab/train.jsonl",
    "s3://bucket/with space.jsonl",
    "s3://bucket//double-slash.jsonl",
    "s3://-bucket/train.jsonl",
    "s3://bucket/" + "k" * 1100,
]

VALID_ROLE_ARNS = [
    "arn:aws:iam::123456789012:role/BedrockDistillation",
    "arn:aws:iam::123456789012:role/service-role/bedrock-distill",
    "arn:aws-us-gov:iam::123456789012:role/x",
]
INVALID_ROLE_ARNS = [
    "",
    "BedrockDistillation",
    "arn:aws:iam::123456789012:user/alice",
    "arn:aws:iam::12345:role/x",
    "arn:aws:iam::123456789012:role/",
    "arn:aws:sts::123456789012:assumed-role/x/y",
]

VALID_INVOKE_IDS = [
    "amazon.nova-micro-v1:0",
    "us.amazon.nova-premier-v1:0",
    "us.anthropic.claude-haiku-4-5-20251001-v1:0",
    "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/abcdef123456",
    "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abcdef123456",
    "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.amazon.nova-premier-v1:0",
]
INVALID_INVOKE_IDS = ["", "nova premier", "amazon/nova-micro", "model!", "x" * 2049]

VALID_TEACHER_IDS = [
    "us.amazon.nova-premier-v1:0",
    "amazon.nova-pro-v1:0",
    "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.amazon.nova-premier-v1:0",
]
INVALID_TEACHER_IDS = [
    "",
    "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/abcdef123456",
    "Nova Premier",
]

VALID_BASE_MODEL_IDS = ["amazon.nova-micro-v1:0:128k", "amazon.nova-lite-v1:0:300k"]
INVALID_BASE_MODEL_IDS = ["", "amazon.nova micro", "arn:aws:bedrock:us-east-1:123456789012:inference-profile/x.y"]

VALID_CUSTOM_MODEL_ARNS = [
    "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-micro-v1:0:128k/abcdef123456"
]
INVALID_CUSTOM_MODEL_ARNS = [
    "",
    "router-student",
    "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-micro-v1:0:128k/ABC",
    "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/abcdef123456",
]


def _cases(check, valid, invalid):
    return [pytest.param(check, value, True, id=f"{check.__name__}-ok-{value[:24]}") for value in valid] + [
        pytest.param(check, value, False, id=f"{check.__name__}-bad-{value[:24]}") for value in invalid
    ]


def _model_check(use):
    def check(identifier):
        return names.check_model_identifier(identifier, use)

    check.__name__ = f"check_model_identifier_{use}"
    return check


CASES = (
    _cases(names.check_job_name, VALID_JOB_NAMES, INVALID_JOB_NAMES)
    + _cases(names.check_invocation_job_name, VALID_JOB_NAMES, INVALID_JOB_NAMES)
    + _cases(names.check_custom_model_name, VALID_CUSTOM_MODEL_NAMES, INVALID_CUSTOM_MODEL_NAMES)
    + _cases(names.check_deployment_name, VALID_CUSTOM_MODEL_NAMES, INVALID_CUSTOM_MODEL_NAMES)
    + _cases(names.check_provisioned_model_name, VALID_CUSTOM_MODEL_NAMES, INVALID_CUSTOM_MODEL_NAMES)
    + _cases(names.check_evaluation_job_name, VALID_EVALUATION_JOB_NAMES, INVALID_EVALUATION_JOB_NAMES)
    + _cases(names.check_s3_uri, VALID_S3_URIS, INVALID_S3_URIS)
    + _cases(names.check_role_arn, VALID_ROLE_ARNS, INVALID_ROLE_ARNS)
    + _cases(names.check_custom_model_arn, VALID_CUSTOM_MODEL_ARNS, INVALID_CUSTOM_MODEL_ARNS)
    + _cases(names.check_client_request_token, ["a", "a1b2-c3d4", "x" * 256], ["", "-a", "a-", "a_b", "x" * 257])
    + _cases(_model_check("invoke"), VALID_INVOKE_IDS, INVALID_INVOKE_IDS)
    + _cases(_model_check("teacher"), VALID_TEACHER_IDS, INVALID_TEACHER_IDS)
    + _cases(_model_check("base-model"), VALID_BASE_MODEL_IDS, INVALID_BASE_MODEL_IDS)
    + _cases(names.check_bucket_name, ["my-bucket", "a.b-c", "x" * 63], ["", "My-Bucket", "ab", "-ab", "x" * 64])
    + _cases(
        names.check_kms_key_id,
        [
            "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "1234abcd-12ab-34cd-56ef-1234567890ab",
            "alias/router-models",
            "arn:aws:kms:us-east-1:123456789012:alias/router-models",
        ],
        ["", "my key", "arn:aws:kms:us-east-1:123456789012:key/short", "alias/has space"],
    )
    + _cases(names.check_invocation_request_token, ["a", "ab-cd", "a--b"], ["", "-a", "a_b"])
)

VALID_TAG_SETS = [{}, {"team": "search", "cost-center": "ml 42"}, {"k": ""}]
INVALID_TAG_SETS = [
    {"": "x"},
    {"team": "search!"},
    {"k" * 129: "x"},
    {"k": "v" * 257},
    {f"k{i}": "v" for i in range(201)},
    {"k": 3},
]


@pytest.mark.parametrize("tags", VALID_TAG_SETS)
def test_valid_tags_pass(tags):
    assert names.check_tags(tags) is None


@pytest.mark.parametrize("tags", INVALID_TAG_SETS)
def test_invalid_tags_are_one_sentence(tags):
    problem = names.check_tags(tags)
    assert isinstance(problem, str) and problem.endswith(".") and ":" in problem


@pytest.mark.parametrize(
    ("subnets", "groups", "valid"),
    [
        ([], [], True),
        (["subnet-0abc1234"], ["sg-0abc1234"], True),
        (["subnet-0abc1234"], [], False),
        ([], ["sg-0abc1234"], False),
        ([f"subnet-{i}" for i in range(17)], ["sg-1"], False),
        (["subnet-1"], [f"sg-{i}" for i in range(6)], False),
        (["subnet 1"], ["sg-1"], False),
        (["subnet-" + "a" * 40], ["sg-1"], False),
    ],
)
def test_vpc_settings_need_both_lists_within_limits(subnets, groups, valid):
    assert (names.check_vpc(subnets, groups) is None) == valid


@pytest.mark.parametrize(
    ("filters", "valid"),
    [({"mode": "teacher"}, True), ({"app": "video-search-router-studio", "mode": "teacher"}, True), ({}, False),
     ({"mode": "teacher#1"}, False), ({f"k{i}": "v" for i in range(17)}, False)],
)  # fmt: skip
def test_invocation_log_filters_use_the_filter_characters(filters, valid):
    assert (names.check_log_filter(filters) is None) == valid


@pytest.mark.parametrize(("check", "value", "valid"), CASES)
def test_names_are_accepted_or_rejected_with_one_sentence(check, value, valid):
    problem = check(value)

    if valid:
        assert problem is None
    else:
        assert isinstance(problem, str)
        assert problem.endswith(".") and "\n" not in problem
        assert ":" in problem, "the sentence says what is wrong, then what to use"


@pytest.mark.parametrize("check", [names.check_job_name, names.check_s3_uri, names.check_model_identifier])
def test_non_text_values_are_problems_not_crashes(check):
    assert check(None) is not None
    assert check(42) is not None


@pytest.mark.parametrize(
    ("check", "value", "named"),
    [
        (names.check_job_name, "router_distill", "'_'"),
        (names.check_custom_model_name, "router.student", "'.'"),
        (names.check_evaluation_job_name, "Router-eval", "'R'"),
        (names.check_deployment_name, "live student", "a space"),
        (names.check_job_name, "x" * 64, "64 characters"),
        (names.check_s3_uri, "s3://My-Bucket/x", "'My-Bucket'"),
        (names.check_s3_uri, "bucket/key", "s3://"),
        (names.check_role_arn, "arn:aws:iam::123456789012:user/alice", "role/NAME"),
    ],
)
def test_the_problem_names_what_is_wrong(check, value, named):
    assert named in check(value)


def test_the_long_value_is_not_echoed_in_full():
    problem = names.check_model_identifier("amazon." + "x" * 500 + " y")

    assert problem is not None and len(problem) < 400


BOTOCORE_PATTERNS = [
    ("bedrock", "JobName", names.JOB_NAME_PATTERN),
    ("bedrock", "ModelInvocationJobName", names.INVOCATION_JOB_NAME_PATTERN),
    ("bedrock", "CustomModelName", names.CUSTOM_MODEL_NAME_PATTERN),
    ("bedrock", "ModelDeploymentName", names.MODEL_DEPLOYMENT_NAME_PATTERN),
    ("bedrock", "ProvisionedModelName", names.PROVISIONED_MODEL_NAME_PATTERN),
    ("bedrock", "TagKey", names.TAG_KEY_PATTERN),
    ("bedrock", "TagValue", names.TAG_VALUE_PATTERN),
    ("bedrock", "EvaluationJobName", names.EVALUATION_JOB_NAME_PATTERN),
    ("bedrock", "S3Uri", names.S3_URI_PATTERN),
    ("bedrock", "RoleArn", names.ROLE_ARN_PATTERN),
    ("bedrock", "IdempotencyToken", names.IDEMPOTENCY_TOKEN_PATTERN),
    ("bedrock", "CustomModelArn", names.CUSTOM_MODEL_ARN_PATTERN),
    ("bedrock", "BaseModelIdentifier", names.BASE_MODEL_IDENTIFIER_PATTERN),
    ("bedrock", "TeacherModelIdentifier", names.TEACHER_MODEL_IDENTIFIER_PATTERN),
    ("bedrock-runtime", "ConversationalModelId", names.CONVERSATIONAL_MODEL_ID_PATTERN),
    ("bedrock", "ModelInvocationIdempotencyToken", names.INVOCATION_IDEMPOTENCY_TOKEN_PATTERN),
    ("bedrock", "KmsKeyId", names.KMS_KEY_ID_PATTERN),
    ("bedrock", "TagKey", names.TAG_KEY_PATTERN),
    ("bedrock", "TagValue", names.TAG_VALUE_PATTERN),
    ("bedrock", "SubnetId", names.SUBNET_ID_PATTERN),
    ("bedrock", "SecurityGroupId", names.SECURITY_GROUP_ID_PATTERN),
    ("bedrock", "RequestMetadataMapKeyString", names.LOG_FILTER_KEY_PATTERN),
    ("bedrock", "RequestMetadataMapValueString", names.LOG_FILTER_VALUE_PATTERN),
]


@pytest.mark.parametrize(("service", "shape", "pattern"), BOTOCORE_PATTERNS, ids=[s for _, s, _ in BOTOCORE_PATTERNS])
def test_patterns_match_the_installed_botocore_service_model(service, shape, pattern):
    model = botocore.session.get_session().get_service_model(service)

    assert model.shape_for(shape).metadata["pattern"] == pattern


@pytest.mark.parametrize(
    ("tags", "named"),
    [
        ({"": "x"}, "tag key ''"),
        ({"team!": "search"}, "'team!'"),
        ({"team": "search;drop"}, "tag 'team'"),
        ({"k" * 129: "v"}, "1 to 128"),
        ({f"k{i}": "v" for i in range(201)}, "201 tags"),
        (["team=search"], "pairs of a key and a value"),
    ],
)
def test_tags_are_checked_against_the_api_patterns_before_any_call(tags, named):
    problem = names.check_tags(tags)

    assert problem is not None and named in problem and problem.endswith(".")
    assert names.check_tags({"team": "search", "cost-center": "", "owner": "ana@example.com"}) is None
