"""A boto3 session from the standard credential chain, and the one factory every AWS client comes from."""

from __future__ import annotations

import threading
from collections.abc import Callable

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError

from core.aws.errors import explain_aws_error

USER_AGENT_EXTRA = "video-search-router-studio"
# botocore's own retries per call after the first attempt (its "max_attempts" counts retries, so a
# call is tried 3 times); adaptive mode also rate-limits on the client side. call_with_backoff adds
# the 408/424 retries that botocore leaves out, so this stays small.
CLIENT_MAX_RETRIES = 2
CONNECT_TIMEOUT_S = 5
# A router reply is short, but a cold model or a busy teacher can take tens of seconds.
READ_TIMEOUT_S = 60


def make_session(profile: str | None, region: str) -> boto3.session.Session:
    """A session for a named profile (or the default chain when None); never takes keys as arguments.

    Raises StudioAwsError when the profile does not exist or the configuration cannot be read.
    """
    try:
        return boto3.session.Session(profile_name=profile or None, region_name=region)
    except BotoCoreError as exc:
        raise explain_aws_error(exc, profile=profile) from exc


def client_config(max_retries: int = CLIENT_MAX_RETRIES) -> Config:
    return Config(
        retries={"mode": "adaptive", "max_attempts": max_retries},
        connect_timeout=CONNECT_TIMEOUT_S,
        read_timeout=READ_TIMEOUT_S,
        user_agent_extra=USER_AGENT_EXTRA,
    )


def make_client(session: boto3.session.Session, service_name: str, *, max_retries: int = CLIENT_MAX_RETRIES):
    """The one client factory: adaptive retries, timeouts and our user agent on every AWS client."""
    try:
        return session.client(service_name, config=client_config(max_retries))
    except BotoCoreError as exc:
        raise explain_aws_error(exc, profile=session.profile_name) from exc


class Clients:
    """AWS clients made once per service and region from one session, on first use (thread-safe).

    The services of a backend share one of these, so a page that polls every second does not build a new
    client (and read the credential chain again) each time. `put` hands in a stubbed client in tests.
    """

    def __init__(self, session_factory: Callable[[], boto3.session.Session], region: str):
        self._session_factory = session_factory
        self.region = region
        self._session: boto3.session.Session | None = None
        self._clients: dict[tuple[str, str], object] = {}
        self._lock = threading.Lock()

    def session(self) -> boto3.session.Session:
        with self._lock:
            if self._session is None:
                self._session = self._session_factory()
            return self._session

    def get(self, service_name: str, region: str | None = None):
        """The client for a service in a region (the chosen region by default); StudioAwsError says why not."""
        key = (service_name, region or self.region)
        with self._lock:
            found = self._clients.get(key)
        if found is not None:
            return found
        session = self.session()
        try:
            made = session.client(service_name, region_name=key[1], config=client_config())
        except BotoCoreError as exc:
            raise explain_aws_error(exc, profile=session.profile_name) from exc
        with self._lock:
            return self._clients.setdefault(key, made)

    def put(self, service_name: str, client, region: str | None = None) -> None:
        with self._lock:
            self._clients[(service_name, region or self.region)] = client
