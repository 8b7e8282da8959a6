"""Every AWS failure becomes one sentence with a kind and advice; secrets never appear, tracebacks go to the log."""

from __future__ import annotations

import logging

import pytest
from botocore import exceptions as boto_errors
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from core.aws.errors import StudioAwsError, explain_aws_error
from core.aws.session import make_client

ENDPOINT = "https://bedrock-runtime.us-east-1.amazonaws.com"
ON_DEMAND_MESSAGE = (
    "Invocation of model ID amazon.nova-premier-v1:0 with on-demand throughput isn’t supported. Retry your "
    "request with the ID or ARN of an inference profile that contains this model."
)


def client_error(code: str, message: str = "", status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Converse"
    )


def assert_one_sentence(text: str) -> None:
    assert text.endswith(".")
    assert "\n" not in text
    assert "Traceback" not in text


CLIENT_ERROR_CASES = [
    (
        "AccessDeniedException",
        "User: arn:aws:iam::123456789012:user/a is not authorized",
        403,
        "access-denied",
        "administrator",
    ),
    ("AccessDenied", "", 403, "access-denied", "administrator"),
    (
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
        403,
        "no-credentials",
        "aws configure",
    ),
    (
        "InvalidClientTokenId",
        "The security token included in the request is invalid.",
        403,
        "no-credentials",
        "Check credentials",
    ),
    ("ExpiredToken", "The security token included in the request is expired", 400, "no-credentials", "aws sso login"),
    (
        "ExpiredTokenException",
        "The security token included in the request is expired",
        403,
        "no-credentials",
        "aws sso login",
    ),
    ("ValidationException", ON_DEMAND_MESSAGE, 400, "needs-inference-profile", "us.amazon.nova-premier-v1:0"),
    (
        "ValidationException",
        "The provided model identifier is invalid.",
        400,
        "validation",
        "The provided model identifier is invalid",
    ),
    ("ThrottlingException", "Too many requests, please wait before trying again.", 429, "throttled", "wait a minute"),
    ("ServiceQuotaExceededException", "You have reached the maximum number of jobs.", 400, "quota", "Service Quotas"),
    ("ModelNotReadyException", "Model is not ready for inference.", 429, "model-not-ready", "wait a minute"),
    ("ModelTimeoutException", "Model has timed out in processing the request.", 408, "timeout", "try again"),
    ("ModelErrorException", "The model returned an error.", 424, "unavailable", "another model"),
    ("ServiceUnavailableException", "", 503, "unavailable", "few minutes"),
    ("InternalServerException", "", 500, "unavailable", "few minutes"),
    ("ResourceNotFoundException", "Could not find job router-x.", 404, "not-found", "region"),
    ("ConflictException", "A job with this name already exists.", 400, "validation", "another name"),
    ("SomethingBrandNew", "", 429, "throttled", "wait a minute"),
    ("SomethingBrandNew", "", 502, "unavailable", "few minutes"),
    ("SomethingBrandNew", "odd", 400, "unknown", "SomethingBrandNew"),
]


@pytest.mark.parametrize(("code", "message", "status", "kind", "advice"), CLIENT_ERROR_CASES)
def test_client_errors_become_a_kind_and_a_sentence_saying_what_to_do(code, message, status, kind, advice):
    explained = explain_aws_error(client_error(code, message, status))

    assert isinstance(explained, StudioAwsError)
    assert explained.kind == kind
    assert explained.code == code
    assert advice in str(explained)
    assert_one_sentence(str(explained))


BOTOCORE_CASES = [
    (boto_errors.NoCredentialsError(), "no-credentials", "aws configure"),
    (
        boto_errors.PartialCredentialsError(provider="env", cred_var="AWS_SECRET_ACCESS_KEY"),
        "no-credentials",
        "AWS_SECRET_ACCESS_KEY",
    ),
    (boto_errors.ProfileNotFound(profile="work"), "no-credentials", "aws configure --profile work"),
    (boto_errors.NoRegionError(), "validation", "region"),
    (boto_errors.UnauthorizedSSOTokenError(), "no-credentials", "aws sso login"),
    (boto_errors.SSOTokenLoadError(error_msg="token expired"), "no-credentials", "aws sso login"),
    (boto_errors.TokenRetrievalError(provider="sso", error_msg="expired"), "no-credentials", "aws sso login"),
    (
        boto_errors.CredentialRetrievalError(provider="custom-process", error_msg="exit 1"),
        "no-credentials",
        "custom-process",
    ),
    (boto_errors.ConnectTimeoutError(endpoint_url=ENDPOINT), "timeout", "network"),
    (boto_errors.ReadTimeoutError(endpoint_url=ENDPOINT), "timeout", "network"),
    (boto_errors.EndpointConnectionError(endpoint_url=ENDPOINT), "network", ENDPOINT),
    (boto_errors.ConnectionClosedError(endpoint_url=ENDPOINT), "network", "network"),
    (
        boto_errors.ParamValidationError(report="Invalid length for parameter modelId"),
        "validation",
        "Invalid length for parameter modelId",
    ),
    (RuntimeError("boom"), "unknown", "RuntimeError"),
]


@pytest.mark.parametrize(("error", "kind", "advice"), BOTOCORE_CASES, ids=lambda v: type(v).__name__)
def test_client_side_failures_become_a_kind_and_a_sentence(error, kind, advice):
    explained = explain_aws_error(error)

    assert explained.kind == kind
    assert advice in str(explained)
    assert_one_sentence(str(explained))


def test_the_profile_name_is_put_into_the_login_advice():
    explained = explain_aws_error(boto_errors.UnauthorizedSSOTokenError(), profile="research")

    assert "aws sso login --profile research" in str(explained)


def test_the_denied_action_is_named():
    message = (
        "User: arn:aws:iam::123456789012:user/alice is not authorized to perform: bedrock:InvokeModel on resource: "
        "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-micro-v1:0"
    )

    assert "bedrock:InvokeModel" in str(explain_aws_error(client_error("AccessDeniedException", message, 403)))


def test_missing_model_access_points_to_the_console():
    message = "You don't have access to the model with the specified model ID."

    explained = explain_aws_error(client_error("AccessDeniedException", message, 403))

    assert explained.kind == "access-denied"
    assert "Model access" in str(explained)


@pytest.mark.parametrize(
    "message",
    [
        "Invocation of model ID with on-demand throughput isn't supported.",
        "Invocation of model ID us.amazon.nova-premier-v1:0 with on-demand throughput isn't supported.",
        "Retry your request with the ID or ARN of an inference profile that contains this model.",
    ],
)
def test_without_a_plain_model_id_the_advice_names_the_example_profile(message):
    explained = explain_aws_error(client_error("ValidationException", message))

    assert explained.kind == "needs-inference-profile"
    assert "such as us.amazon.nova-premier-v1:0." in str(explained)
    assert "us.us." not in str(explained)


def test_the_suggested_profile_is_built_from_the_model_in_the_message():
    message = "Invocation of model ID amazon.nova-pro-v1:0 with on-demand throughput isn’t supported."

    assert "us.amazon.nova-pro-v1:0" in str(explain_aws_error(client_error("ValidationException", message)))


def test_key_material_in_an_aws_message_is_never_repeated():
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    message = f"Bad value AKIAIOSFODNN7EXAMPLE with {secret} in parameter"

    text = str(explain_aws_error(client_error("ValidationException", message)))

    assert "AKIAIOSFODNN7EXAMPLE" not in text
    assert secret not in text
    assert "Bad value" in text


def test_long_aws_messages_are_trimmed():
    text = str(explain_aws_error(client_error("ValidationException", "word " * 500)))

    assert len(text) < 300
    assert_one_sentence(text)


def test_the_traceback_goes_to_the_log_only(caplog):
    caplog.set_level(logging.INFO, logger="core.aws.errors")
    try:
        raise boto_errors.NoCredentialsError()
    except boto_errors.NoCredentialsError as exc:
        explained = explain_aws_error(exc)

    assert "Traceback" not in str(explained)
    assert any(record.exc_info and record.exc_info[0] is boto_errors.NoCredentialsError for record in caplog.records)


def test_an_already_explained_error_is_passed_through():
    original = StudioAwsError("quota", "An AWS quota was reached: request more.")

    assert explain_aws_error(original) is original


def test_transient_kinds_are_marked_retryable():
    assert explain_aws_error(client_error("ThrottlingException", "", 429)).retryable
    assert not explain_aws_error(client_error("AccessDeniedException", "", 403)).retryable


def test_a_stubbed_bedrock_error_is_explained(session):
    client = make_client(session, "bedrock-runtime")
    with Stubber(client) as stub:
        stub.add_client_error(
            "converse",
            service_error_code="ValidationException",
            service_message=ON_DEMAND_MESSAGE,
            http_status_code=400,
        )
        with pytest.raises(ClientError) as raised:
            client.converse(modelId="amazon.nova-premier-v1:0", messages=[{"role": "user", "content": [{"text": "x"}]}])

    explained = explain_aws_error(raised.value)

    assert explained.kind == "needs-inference-profile"
    assert "use its inference profile id" in str(explained)
