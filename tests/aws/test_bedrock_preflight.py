"""Preflight: each check green, amber or red with what to do; exact requests (Stubber), and the same checks
against moto's S3, IAM and STS."""

from __future__ import annotations

import json
from urllib.parse import quote

import boto3
import pytest
from moto import mock_aws

from core.aws.preflight import BEDROCK_SERVICE, run_preflight, trusts_bedrock
from core.aws.session import Clients, make_session
from tests.aws.bedrock_fixtures import ACCOUNT, BUCKET, CREATED, REGION, ROLE, stubbed_clients

PROBE = "probe1"
PROBE_KEY = f"video-search-router/.studio-preflight/{PROBE}.txt"
PROBE_BODY = b"Video Search Router Studio preflight: safe to delete.\n"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": BEDROCK_SERVICE}, "Action": "sts:AssumeRole"}],
}


def available(model_id: str) -> tuple[str, dict, dict]:
    answer = {
        "modelId": model_id,
        "agreementAvailability": {"status": "AVAILABLE"},
        "authorizationStatus": "AUTHORIZED",
        "entitlementAvailability": "AVAILABLE",
        "regionAvailability": "AVAILABLE",
    }
    return "get_foundation_model_availability", answer, {"modelId": model_id}


def foundation(model_id: str, kinds: list[str]) -> tuple[str, dict, dict]:
    answer = {
        "modelDetails": {
            "modelArn": f"arn:aws:bedrock:{REGION}::foundation-model/{model_id}",
            "modelId": model_id,
            "inferenceTypesSupported": kinds,
        }
    }
    return "get_foundation_model", answer, {"modelIdentifier": model_id}


def profile(profile_id: str) -> tuple[str, dict, dict]:
    answer = {
        "inferenceProfileName": "US Nova Premier",
        "inferenceProfileArn": f"arn:aws:bedrock:{REGION}:{ACCOUNT}:inference-profile/{profile_id}",
        "models": [{"modelArn": f"arn:aws:bedrock:{REGION}::foundation-model/amazon.nova-premier-v1:0"}],
        "inferenceProfileId": profile_id,
        "status": "ACTIVE",
        "type": "SYSTEM_DEFINED",
    }
    return "get_inference_profile", answer, {"inferenceProfileIdentifier": profile_id}


def role_answer(trust: dict | str = TRUST) -> dict:
    document = trust if isinstance(trust, str) else json.dumps(trust)
    return {
        "Role": {
            "Path": "/",
            "RoleName": "BedrockDistillation",
            "RoleId": "AROAEXAMPLEID123456",
            "Arn": ROLE,
            "CreateDate": CREATED,
            "AssumeRolePolicyDocument": document,
        }
    }


@pytest.fixture
def aws(session):
    clients, stubs = stubbed_clients(session, "sts", "bedrock", "s3", "iam")
    yield clients, stubs
    for stub in stubs.values():
        stub.assert_no_pending_responses()


def stub_all_green(stubs, *, trust=TRUST, teacher_access: dict | None = None, bucket_region: str = REGION):
    """Every answer of a ready account, in call order; a keyword changes one of them."""
    stubs["sts"].add_response(
        "get_caller_identity",
        {"UserId": "AIDAEXAMPLE", "Account": ACCOUNT, "Arn": f"arn:aws:iam::{ACCOUNT}:user/alice"},
        {},
    )
    name, answer, params = available("amazon.nova-premier-v1:0")
    stubs["bedrock"].add_response(name, {**answer, **(teacher_access or {})}, params)
    stubs["bedrock"].add_response(*foundation("amazon.nova-premier-v1:0", ["INFERENCE_PROFILE"]))
    stubs["bedrock"].add_response(*profile("us.amazon.nova-premier-v1:0"))
    stubs["bedrock"].add_response(*available("amazon.nova-micro-v1:0"))
    stubs["s3"].add_response("head_bucket", {"BucketRegion": bucket_region}, {"Bucket": BUCKET})
    stubs["s3"].add_response(
        "put_object", {}, {"Bucket": BUCKET, "Key": PROBE_KEY, "Body": PROBE_BODY, "ServerSideEncryption": "AES256"}
    )
    stubs["s3"].add_response("delete_object", {}, {"Bucket": BUCKET, "Key": PROBE_KEY})
    stubs["iam"].add_response("get_role", role_answer(trust), {"RoleName": "BedrockDistillation"})


def preflight(clients, **options):
    return run_preflight(clients, bucket=BUCKET, role_arn=ROLE, probe_name=lambda: PROBE, **options)


def test_a_ready_account_is_all_green(aws):
    clients, stubs = aws
    stub_all_green(stubs)

    report = preflight(clients)

    assert [(c.key, c.level) for c in report.checks] == [
        ("credentials", "green"),
        ("region", "green"),
        ("teacher-access", "green"),
        ("teacher-profile", "green"),
        ("student-access", "green"),
        ("bucket", "green"),
        ("role", "green"),
    ]
    assert report.ok and report.worst == "green"
    assert report.check("teacher-profile").message == (
        "Amazon Nova Premier is called through the inference profile us.amazon.nova-premier-v1:0."
    )
    assert all(check.action is None for check in report.checks)


def test_no_credentials_is_red_with_what_to_do_and_nothing_else_is_asked(session, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    clients = Clients(lambda: make_session(None, REGION), REGION)

    report = preflight(clients)

    credentials = report.check("credentials")
    assert credentials.level == "red" and "aws configure" in credentials.action
    assert all(check.level == "amber" and "credentials must work first" in check.message for check in report.checks[2:])
    assert not report.ok


def test_expired_credentials_say_to_sign_in_again(aws):
    clients, stubs = aws
    stubs["sts"].add_client_error(
        "get_caller_identity", service_error_code="ExpiredToken", http_status_code=403, expected_params={}
    )

    assert "has expired" in preflight(clients).check("credentials").action


@pytest.mark.parametrize(("region", "level"), [("us-east-1", "green"), ("us-west-2", "amber"), ("eu-west-1", "red")])
def test_the_region_is_green_where_distillation_runs(session, region, level, monkeypatch):
    from core.aws.preflight import _region

    check = _region(region)

    assert check.level == level and (check.action is None) == (level == "green")


def test_no_model_access_is_red_and_says_where_to_enable_it(aws):
    clients, stubs = aws
    stub_all_green(stubs, teacher_access={"authorizationStatus": "NOT_AUTHORIZED"})

    check = preflight(clients).check("teacher-access")

    assert check.level == "red" and "under Model access in the Amazon Bedrock console (us-east-1)" in check.action


def test_a_plain_id_that_needs_an_inference_profile_says_to_use_the_us_profile(aws, monkeypatch):
    from core.aws import preflight as module
    from core.aws.models import BedrockModel

    clients, stubs = aws
    plain = BedrockModel("nova-premier", "Amazon Nova Premier", "amazon.nova-premier-v1:0")
    monkeypatch.setitem(module.MODELS, "nova-premier", plain)
    stubs["sts"].add_response("get_caller_identity", {"Account": ACCOUNT, "Arn": f"arn:aws:iam::{ACCOUNT}:user/a"}, {})
    stubs["bedrock"].add_response(*available("amazon.nova-premier-v1:0"))
    stubs["bedrock"].add_response(*foundation("amazon.nova-premier-v1:0", ["INFERENCE_PROFILE"]))
    stubs["bedrock"].add_response(*available("amazon.nova-micro-v1:0"))

    report = run_preflight(clients)

    check = report.check("teacher-profile")
    assert check.level == "red" and check.action == "Use the inference profile us.amazon.nova-premier-v1:0 instead."
    assert (report.check("bucket").level, report.check("role").level) == ("amber", "amber")  # none chosen yet


def test_a_missing_bucket_and_a_read_only_bucket_are_red(aws):
    clients, stubs = aws
    stubs["s3"].add_client_error(
        "head_bucket", service_error_code="404", http_status_code=404, expected_params={"Bucket": BUCKET}
    )
    stubs["s3"].add_response("head_bucket", {"BucketRegion": REGION}, {"Bucket": BUCKET})
    stubs["s3"].add_client_error(
        "put_object",
        service_error_code="AccessDenied",
        service_message="Access Denied",
        http_status_code=403,
        expected_params={"Bucket": BUCKET, "Key": PROBE_KEY, "Body": PROBE_BODY, "ServerSideEncryption": "AES256"},
    )
    from core.aws.preflight import _bucket

    missing = _bucket(clients, BUCKET, "video-search-router", REGION, lambda: PROBE)
    read_only = _bucket(clients, BUCKET, "video-search-router", REGION, lambda: PROBE)

    assert missing.level == "red" and missing.message == f"The bucket {BUCKET} does not exist."
    assert read_only.level == "red" and "s3:PutObject" in read_only.action


def test_a_bucket_in_another_region_is_amber(aws):
    clients, stubs = aws
    stub_all_green(stubs, bucket_region="eu-west-1")

    check = preflight(clients).check("bucket")

    assert check.level == "amber" and "lives in eu-west-1" in check.message


def test_a_role_that_does_not_trust_bedrock_is_red_with_the_statement_to_add(aws):
    clients, stubs = aws
    lambda_only = {
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]
    }
    stub_all_green(stubs, trust=lambda_only)

    check = preflight(clients).check("role")

    assert check.level == "red" and BEDROCK_SERVICE in check.action and "sts:AssumeRole" in check.action


def test_a_missing_role_is_red(aws):
    clients, stubs = aws
    stubs["iam"].add_client_error(
        "get_role",
        service_error_code="NoSuchEntity",
        http_status_code=404,
        expected_params={"RoleName": "BedrockDistillation"},
    )
    from core.aws.preflight import _role

    check = _role(clients, ROLE)

    assert check.level == "red" and check.message == "The role BedrockDistillation does not exist."


@pytest.mark.parametrize(
    ("document", "trusted"),
    [
        (TRUST, True),
        (json.dumps(TRUST), True),
        (quote(json.dumps(TRUST)), True),
        ({"Statement": [{**TRUST["Statement"][0], "Effect": "Deny"}]}, False),
        ({"Statement": {**TRUST["Statement"][0], "Action": ["sts:AssumeRole"]}}, True),
        ("not json", False),
        (None, False),
    ],
)  # fmt: skip
def test_trust_policies_are_read_in_every_form_iam_returns(document, trusted):
    assert trusts_bedrock(document) == trusted


def test_bucket_role_and_identity_checks_against_moto(fake_credentials):
    with mock_aws():
        session = make_session(None, REGION)
        boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
        iam = boto3.client("iam", region_name=REGION)
        iam.create_role(RoleName="BedrockDistillation", AssumeRolePolicyDocument=json.dumps(TRUST))
        iam.create_role(RoleName="LambdaOnly", AssumeRolePolicyDocument=json.dumps({"Statement": []}))
        clients = Clients(lambda: session, REGION)
        from core.aws.preflight import _bucket, _credentials, _role

        assert _credentials(clients).level == "green"
        assert _bucket(clients, BUCKET, "video-search-router", REGION, lambda: PROBE).level == "green"
        assert "Contents" not in boto3.client("s3", region_name=REGION).list_objects_v2(Bucket=BUCKET)  # probe deleted
        assert _bucket(clients, "no-such-bucket-here", "x", REGION, lambda: PROBE).level == "red"
        assert _role(clients, f"arn:aws:iam::{ACCOUNT}:role/BedrockDistillation").level == "green"
        assert _role(clients, f"arn:aws:iam::{ACCOUNT}:role/LambdaOnly").level == "red"
        assert _role(clients, f"arn:aws:iam::{ACCOUNT}:role/Nobody").level == "red"
