"""Who the studio is acting as on AWS: the account and ARN from STS, nothing secret."""

from __future__ import annotations

from dataclasses import dataclass

from core.aws.errors import NO_CREDENTIALS_MESSAGE, PROFILE_PLACEHOLDER, StudioAwsError, explain_aws_error
from core.aws.session import make_client


@dataclass(frozen=True)
class CallerIdentity:
    account: str
    arn: str


def check_credentials(session, *, sts_client=None) -> CallerIdentity:
    """Ask STS who these credentials belong to; raises StudioAwsError saying what to do when they do not work.

    `sts_client` lets tests pass a stubbed client; the studio leaves it to the factory.
    """
    profile = session.profile_name if session.profile_name != "default" else None
    try:
        credentials = session.get_credentials()
    except Exception as exc:
        raise explain_aws_error(exc, profile=profile) from exc
    # Without any credentials there is nothing to ask STS; say so without a network call.
    if credentials is None:
        raise StudioAwsError("no-credentials", NO_CREDENTIALS_MESSAGE.format(profile=profile or PROFILE_PLACEHOLDER))
    client = sts_client if sts_client is not None else make_client(session, "sts")
    try:
        reply = client.get_caller_identity()
    except Exception as exc:
        raise explain_aws_error(exc, profile=profile) from exc
    return CallerIdentity(account=str(reply["Account"]), arn=str(reply["Arn"]))
