"""Sessions come from the standard chain, clients from one factory, and credential checks say what to do."""

from __future__ import annotations

import dataclasses

import pytest
from botocore.stub import Stubber
from moto import mock_aws

from core.aws.credentials import CallerIdentity, check_credentials
from core.aws.errors import StudioAwsError
from core.aws.session import USER_AGENT_EXTRA, make_client, make_session

REGION = "us-east-1"
ACCOUNT = "123456789012"
ALICE_ARN = f"arn:aws:iam::{ACCOUNT}:user/alice"


def test_clients_come_with_adaptive_retries_timeouts_and_our_user_agent(session):
    client = make_client(session, "bedrock-runtime")
    config = client.meta.config

    assert config.retries["mode"] == "adaptive"
    assert config.retries["total_max_attempts"] == 3
    assert config.connect_timeout > 0 and config.read_timeout > 0
    assert config.user_agent_extra == USER_AGENT_EXTRA
    assert client.meta.region_name == REGION


def test_a_named_profile_is_read_from_the_shared_files(sealed_aws_environment):
    (sealed_aws_environment / "aws-credentials").write_text(
        "[research]\naws_access_key_id = AKIARESEARCH0000TEST\naws_secret_access_key = not-a-real-secret\n"
    )

    session = make_session("research", "us-west-2")

    assert session.profile_name == "research"
    assert session.region_name == "us-west-2"
    assert session.get_credentials().access_key == "AKIARESEARCH0000TEST"


@pytest.mark.parametrize("how", ["argument", "AWS_PROFILE"])
def test_a_profile_that_does_not_exist_is_a_clear_error(how, monkeypatch):
    if how == "AWS_PROFILE":
        monkeypatch.setenv("AWS_PROFILE", "no-such-profile")

    with pytest.raises(StudioAwsError) as raised:
        make_session("no-such-profile" if how == "argument" else None, REGION)

    assert raised.value.kind == "no-credentials"
    assert "'no-such-profile' does not exist" in str(raised.value)
    assert "aws configure --profile no-such-profile" in str(raised.value)


def test_a_malformed_region_is_a_clear_error(fake_credentials):
    session = make_session(None, "not a region")

    with pytest.raises(StudioAwsError) as raised:
        make_client(session, "bedrock-runtime")

    assert raised.value.kind == "validation"
    assert "region" in str(raised.value)


def test_caller_identity_keeps_only_account_and_arn(session):
    sts = make_client(session, "sts")
    with Stubber(sts) as stub:
        stub.add_response(
            "get_caller_identity",
            {"UserId": "AIDAEXAMPLEUSERID", "Account": ACCOUNT, "Arn": ALICE_ARN},
            expected_params={},
        )
        identity = check_credentials(session, sts_client=sts)

    assert identity == CallerIdentity(account=ACCOUNT, arn=ALICE_ARN)
    assert [field.name for field in dataclasses.fields(CallerIdentity)] == ["account", "arn"]


def test_caller_identity_from_moto(session):
    with mock_aws():
        identity = check_credentials(session)

    assert identity.account == ACCOUNT
    assert identity.arn.startswith(f"arn:aws:sts::{ACCOUNT}:")


def test_missing_credentials_tell_the_user_what_to_do():
    session = make_session(None, REGION)

    with pytest.raises(StudioAwsError) as raised:
        check_credentials(session)

    assert raised.value.kind == "no-credentials"
    message = str(raised.value)
    assert "aws configure" in message and "aws sso login" in message and "Check credentials" in message


@pytest.mark.parametrize(
    ("code", "status", "kind", "advice"),
    [
        ("ExpiredToken", 400, "no-credentials", "aws sso login"),
        ("InvalidClientTokenId", 403, "no-credentials", "aws configure"),
        ("AccessDenied", 403, "access-denied", "administrator"),
    ],
)
def test_credentials_rejected_by_sts_are_explained(session, code, status, kind, advice):
    sts = make_client(session, "sts")
    with Stubber(sts) as stub:
        stub.add_client_error("get_caller_identity", service_error_code=code, http_status_code=status)
        with pytest.raises(StudioAwsError) as raised:
            check_credentials(session, sts_client=sts)

    assert raised.value.kind == kind
    assert advice in str(raised.value)


def test_the_profile_in_use_is_named_in_the_advice(sealed_aws_environment):
    (sealed_aws_environment / "aws-credentials").write_text(
        "[research]\naws_access_key_id = AKIARESEARCH0000TEST\naws_secret_access_key = not-a-real-secret\n"
    )
    session = make_session("research", REGION)
    sts = make_client(session, "sts")
    with Stubber(sts) as stub:
        stub.add_client_error("get_caller_identity", service_error_code="ExpiredToken", http_status_code=400)
        with pytest.raises(StudioAwsError) as raised:
            check_credentials(session, sts_client=sts)

    assert "aws sso login --profile research" in str(raised.value)
