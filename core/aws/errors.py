"""Every AWS failure becomes one sentence telling the user what to do; tracebacks go to the log only."""

from __future__ import annotations

import logging
import re
from typing import Literal

from botocore import exceptions as boto_errors

logger = logging.getLogger(__name__)

AwsErrorKind = Literal[
    "no-credentials",
    "access-denied",
    "needs-inference-profile",
    "quota",
    "throttled",
    "validation",
    "not-found",
    "model-not-ready",
    "timeout",
    "unavailable",
    "network",
    "unknown",
]
RETRYABLE_KINDS: frozenset[str] = frozenset({"throttled", "model-not-ready", "timeout", "unavailable", "network"})

# Longest piece of an AWS message quoted back to the user; the full text is in the log.
AWS_MESSAGE_LIMIT = 160
PROFILE_PLACEHOLDER = "NAME"
EXAMPLE_INFERENCE_PROFILE = "us.amazon.nova-premier-v1:0"

NO_CREDENTIALS_MESSAGE = (
    "No AWS credentials found: run 'aws configure' or 'aws sso login --profile {profile}', or set AWS_PROFILE, "
    "then press Check credentials."
)

_INVALID_CREDENTIAL_CODES = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "IncompleteSignature",
        "MissingAuthenticationToken",
        "AuthFailure",
        "InvalidAccessKeyId",
    }
)
_EXPIRED_CREDENTIAL_CODES = frozenset({"ExpiredToken", "ExpiredTokenException", "TokenRefreshRequired"})
_CLOCK_SKEW_CODES = frozenset({"RequestExpired", "RequestTimeTooSkewed", "RequestInTheFuture"})
_ACCESS_DENIED_CODES = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "Forbidden", "AuthorizationError"}
)
_VALIDATION_CODES = frozenset({"ValidationException", "ValidationError", "InvalidParameterValue", "BadRequest"})
_CONFLICT_CODES = frozenset({"ConflictException", "ResourceInUseException"})
_QUOTA_CODES = frozenset({"ServiceQuotaExceededException", "LimitExceededException"})
_THROTTLING_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
    }
)
_TIMEOUT_CODES = frozenset({"ModelTimeoutException", "RequestTimeout", "RequestTimeoutException"})
_MODEL_FAILED_CODES = frozenset({"ModelErrorException", "ModelStreamErrorException"})
_UNAVAILABLE_CODES = frozenset(
    {"ServiceUnavailableException", "ServiceUnavailable", "InternalServerException", "InternalFailure", "InternalError"}
)
_NOT_FOUND_CODES = frozenset({"ResourceNotFoundException", "NoSuchBucket", "NoSuchKey", "NotFound", "NoSuchEntity"})

_SSO_ERRORS: tuple[type[BaseException], ...] = tuple(
    error
    for error in (
        getattr(boto_errors, name, None)
        for name in ("SSOError", "TokenRetrievalError", "PendingAuthorizationExpiredError", "LoginError")
    )
    if error is not None
)

_KEY_ID = re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b")
# Secret keys and session tokens are long base64 runs; ARNs and ids are broken up by ':', '.', '-'.
_SECRET_LIKE = re.compile(r"[A-Za-z0-9/+=]{40,}")
_DENIED_ACTION = re.compile(r"perform:\s*([A-Za-z0-9-]+:[A-Za-z0-9*]+)")
_MODEL_ID_IN_MESSAGE = re.compile(r"model ID\s+([a-z0-9-]+\.[A-Za-z0-9.:-]+?)(?=\s|$|,)")
_GEO_PREFIX = re.compile(r"^(?:us|eu|apac|us-gov|global|jp|au|ca)\.")


class StudioAwsError(Exception):
    """An AWS failure explained: `kind` is a short machine word, str() is one sentence saying what to do."""

    def __init__(self, kind: AwsErrorKind, message: str, *, code: str | None = None):
        super().__init__(message)
        self.kind: AwsErrorKind = kind
        # The AWS error code (e.g. "ThrottlingException"); None for failures raised on this side.
        self.code = code

    @property
    def message(self) -> str:
        return str(self.args[0])

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE_KINDS


def explain_aws_error(exc: BaseException, *, profile: str | None = None) -> StudioAwsError:
    """Turn any exception from boto3/botocore into a StudioAwsError; the traceback is logged, never shown."""
    if isinstance(exc, StudioAwsError):
        return exc
    explained = _explain(exc, profile or PROFILE_PLACEHOLDER)
    logger.log(
        logging.WARNING if explained.kind == "unknown" else logging.INFO,
        "AWS call failed (%s, %s)",
        explained.kind,
        type(exc).__name__,
        exc_info=exc,
    )
    return explained


def trimmed_aws_message(message: str, limit: int = AWS_MESSAGE_LIMIT) -> str:
    """An AWS message fit to quote inside a sentence: one line, no key material, short, no final full stop."""
    text = " ".join(str(message).split())
    text = _KEY_ID.sub("[key id]", text)
    text = _SECRET_LIKE.sub("[redacted]", text)
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text.rstrip(".")


def _explain(exc: BaseException, profile: str) -> StudioAwsError:
    if isinstance(exc, boto_errors.ClientError):
        return _explain_client_error(exc, profile)
    if isinstance(exc, boto_errors.BotoCoreError):
        return _explain_botocore_error(exc, profile)
    return StudioAwsError(
        "unknown", f"Unexpected error while calling AWS ({type(exc).__name__}): see the log for details and try again."
    )


def _explain_botocore_error(exc: boto_errors.BotoCoreError, profile: str) -> StudioAwsError:
    details = getattr(exc, "kwargs", {}) or {}
    if isinstance(exc, boto_errors.ProfileNotFound):
        name = details.get("profile", profile)
        return StudioAwsError(
            "no-credentials",
            f"AWS profile '{name}' does not exist: choose an existing profile in Settings, "
            f"or create it with 'aws configure --profile {name}'.",
        )
    if isinstance(exc, boto_errors.NoCredentialsError):
        return StudioAwsError("no-credentials", NO_CREDENTIALS_MESSAGE.format(profile=profile))
    if isinstance(exc, boto_errors.PartialCredentialsError):
        return StudioAwsError(
            "no-credentials",
            f"AWS credentials from {details.get('provider', 'your configuration')} are incomplete "
            f"(missing {details.get('cred_var', 'a value')}): fix them or run 'aws configure', "
            "then press Check credentials.",
        )
    if isinstance(exc, _SSO_ERRORS):
        return StudioAwsError(
            "no-credentials",
            f"Your AWS sign-in session has expired or is missing: run 'aws sso login --profile {profile}', "
            "then press Check credentials.",
        )
    if isinstance(exc, boto_errors.CredentialRetrievalError):
        return StudioAwsError(
            "no-credentials",
            f"AWS credentials could not be loaded from {details.get('provider', 'your profile')}: check that "
            "profile's role, source profile or credential_process, then press Check credentials.",
        )
    if isinstance(exc, (boto_errors.NoRegionError, boto_errors.InvalidRegionError)):
        return StudioAwsError("validation", "No valid AWS region is set: choose one in Settings, such as us-east-1.")
    if isinstance(exc, (boto_errors.ConnectTimeoutError, boto_errors.ReadTimeoutError)):
        return StudioAwsError(
            "timeout", "AWS did not answer in time: check your network, proxy or VPN, then try again."
        )
    if isinstance(exc, boto_errors.EndpointConnectionError):
        return StudioAwsError(
            "network",
            f"Could not reach AWS at {details.get('endpoint_url', 'its endpoint')}: check your network, proxy or VPN, "
            "and that the chosen region offers this service.",
        )
    if isinstance(exc, (boto_errors.ConnectionError, boto_errors.HTTPClientError)):
        return StudioAwsError(
            "network", "The connection to AWS failed: check your network, proxy or VPN, then try again."
        )
    if isinstance(exc, boto_errors.ParamValidationError):
        return StudioAwsError(
            "validation",
            f"The request was invalid before it was sent ({trimmed_aws_message(details.get('report', ''))}): "
            "correct that value and try again.",
        )
    return StudioAwsError(
        "unknown", f"AWS client error ({trimmed_aws_message(str(exc))}): see the log for details and try again."
    )


def _explain_client_error(exc: boto_errors.ClientError, profile: str) -> StudioAwsError:
    error = exc.response.get("Error", {}) or {}
    code = str(error.get("Code", "") or "")
    aws_message = str(error.get("Message", "") or "")
    status = (exc.response.get("ResponseMetadata", {}) or {}).get("HTTPStatusCode")
    quoted = trimmed_aws_message(aws_message)
    quoted_part = f" ({quoted})" if quoted else ""

    def made(kind: AwsErrorKind, sentence: str) -> StudioAwsError:
        return StudioAwsError(kind, sentence, code=code or None)

    if code in _INVALID_CREDENTIAL_CODES:
        return made(
            "no-credentials",
            f"AWS does not recognise these credentials: run 'aws configure' or 'aws sso login --profile {profile}' "
            "to refresh them, then press Check credentials.",
        )
    if code in _EXPIRED_CREDENTIAL_CODES:
        return made(
            "no-credentials",
            f"Your AWS session has expired: run 'aws sso login --profile {profile}' or renew your temporary "
            "credentials, then press Check credentials.",
        )
    if code in _CLOCK_SKEW_CODES:
        return made(
            "validation",
            "AWS rejected the request's timestamp: set this computer's clock to the correct time, then try again.",
        )
    if code in _ACCESS_DENIED_CODES or (not code and status == 403):
        return made("access-denied", _access_denied_sentence(aws_message, profile))
    if code in _VALIDATION_CODES:
        if re.search(r"on-demand throughput|inference profile", aws_message, re.IGNORECASE):
            return made("needs-inference-profile", _inference_profile_sentence(aws_message))
        return made("validation", f"AWS rejected the request{quoted_part}: correct it and try again.")
    if code in _CONFLICT_CODES:
        return made(
            "validation",
            f"That resource already exists or is busy{quoted_part}: choose another name, "
            "or wait for the running operation to finish.",
        )
    if code == "TooManyTagsException":
        return made("validation", f"Too many tags{quoted_part}: remove some tags and try again.")
    if code in _QUOTA_CODES:
        return made(
            "quota",
            f"An AWS quota was reached{quoted_part}: stop or delete resources you no longer use, "
            "or request a higher quota in the Service Quotas console.",
        )
    if code in _THROTTLING_CODES:
        return made("throttled", _throttled_sentence(quoted_part))
    if code == "ModelNotReadyException":
        return made(
            "model-not-ready",
            "The model is not ready yet (it may still be loading or deploying): wait a minute, then try again.",
        )
    if code in _TIMEOUT_CODES:
        return made("timeout", _timeout_sentence())
    if code in _MODEL_FAILED_CODES:
        return made(
            "unavailable", "The model failed while answering: try again, and if it keeps failing pick another model."
        )
    if code in _UNAVAILABLE_CODES:
        return made("unavailable", _unavailable_sentence())
    if code in _NOT_FOUND_CODES:
        return made("not-found", _not_found_sentence(quoted_part))
    return _explain_by_status(code, status, quoted_part, profile, aws_message)


def _explain_by_status(
    code: str, status: int | None, quoted_part: str, profile: str, aws_message: str
) -> StudioAwsError:
    """Codes this module does not know, classified by their HTTP status."""
    known = code or None
    if status == 403:
        return StudioAwsError("access-denied", _access_denied_sentence(aws_message, profile), code=known)
    if status == 404:
        return StudioAwsError("not-found", _not_found_sentence(quoted_part), code=known)
    if status == 408:
        return StudioAwsError("timeout", _timeout_sentence(), code=known)
    if status == 429:
        return StudioAwsError("throttled", _throttled_sentence(quoted_part), code=known)
    if isinstance(status, int) and 500 <= status <= 599:
        return StudioAwsError("unavailable", _unavailable_sentence(), code=known)
    return StudioAwsError(
        "unknown",
        f"AWS returned {code or 'an error'}{quoted_part}: see the log for details, then try again.",
        code=known,
    )


def _access_denied_sentence(aws_message: str, profile: str) -> str:
    if "access to the model" in aws_message:
        return (
            "Your AWS account has no access to this model yet: enable it under Model access in the Amazon Bedrock "
            "console for this region, then try again."
        )
    if "iam:PassRole" in aws_message:
        return (
            "You may not hand this IAM role to Bedrock: ask your AWS administrator for iam:PassRole on it, "
            "then try again."
        )
    action = _DENIED_ACTION.search(aws_message)
    target = f" for {action.group(1)}" if action else ""
    who = "your AWS identity" if profile == PROFILE_PLACEHOLDER else f"the identity of profile {profile}"
    return (
        f"Access denied{target}: ask your AWS administrator to grant it to {who} (for a Bedrock model, also "
        "enable model access in the Bedrock console), then try again."
    )


def _inference_profile_sentence(aws_message: str) -> str:
    found = _MODEL_ID_IN_MESSAGE.search(aws_message)
    model_id = found.group(1).rstrip(".") if found else ""
    if model_id and not _GEO_PREFIX.match(model_id):
        return (
            f"Model {model_id} cannot be called on demand by its plain id: use its inference profile id instead, "
            f"such as us.{model_id} (eu. or apac. in those regions)."
        )
    return (
        "This model cannot be called on demand by its plain id: use its inference profile id instead, "
        f"such as {EXAMPLE_INFERENCE_PROFILE}."
    )


def _throttled_sentence(quoted_part: str) -> str:
    return (
        f"Amazon Bedrock is throttling these requests{quoted_part}: wait a minute and try again with fewer at once, "
        "or request a higher quota in the Service Quotas console."
    )


def _timeout_sentence() -> str:
    return "The model took too long to answer: try again, or shorten the prompt."


def _unavailable_sentence() -> str:
    return "Amazon Bedrock is temporarily unavailable: try again in a few minutes."


def _not_found_sentence(quoted_part: str) -> str:
    return (
        f"AWS could not find that resource{quoted_part}: check the name or ARN, and that the region in Settings "
        "is the one it lives in."
    )
