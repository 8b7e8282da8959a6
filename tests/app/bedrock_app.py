"""The studio app on the Bedrock backend with stubbed AWS clients, in process (AppTest): every call the pages make
goes to a botocore Stubber with exact expected params, never to the network.

The job service and the model registry read Bedrock at most once per refresh interval of their clock; here the
clock only moves when a test says so (`tick`), so each tick is exactly one listing and the stubbed answers can
be queued in order.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import pytest
from botocore.stub import Stubber

from core.aws.custom_models import BedrockModelRegistry
from core.aws.jobs import BedrockJobService
from core.aws.session import Clients, make_session
from core.backends import BackendStatus, BedrockBackend
from tests.aws.bedrock_fixtures import ACCOUNT, BUCKET, REGION, ROLE, stubbed_clients

# Every service a page could reach: one without a queued answer fails the test instead of calling AWS.
SERVICES = ("bedrock", "s3", "sts", "iam", "bedrock-runtime")
LIST_JOBS = {"sortBy": "CreationTime", "sortOrder": "Descending", "maxResults": 100}
LIST_MODELS = {"sortBy": "CreationTime", "sortOrder": "Descending", "maxResults": 100}


@dataclass
class Clock:
    now: float = 1_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class StubbedBedrock:
    clients: Clients
    stubs: dict[str, Stubber]
    clock: Clock = field(default_factory=Clock)

    def tick(self) -> None:
        """Let the refresh interval pass: the next page run reads Bedrock again, once."""
        self.clock.now += 3_600

    def done(self) -> None:
        for stub in self.stubs.values():
            stub.assert_no_pending_responses()


def sign_in(monkeypatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")


def on_bedrock(monkeypatch, *, role: bool = True) -> None:
    """The Bedrock backend with the service role and bucket saved as Settings would (pinned by environment)."""
    monkeypatch.setenv("VSRS_BACKEND", "bedrock")
    monkeypatch.setenv("VSRS_AWS_REGION", REGION)
    monkeypatch.setenv("VSRS_BEDROCK_BUCKET", BUCKET)
    if role:
        monkeypatch.setenv("VSRS_BEDROCK_ROLE_ARN", ROLE)


@pytest.fixture
def stubbed_bedrock(monkeypatch) -> StubbedBedrock:
    """The app on Bedrock, signed in, ready, with stubbed clients and a clock that moves on `tick()`."""
    sign_in(monkeypatch)
    on_bedrock(monkeypatch)
    clients, stubs = stubbed_clients(make_session(None, REGION), *SERVICES)
    stubbed = StubbedBedrock(clients, stubs)
    monkeypatch.setattr(BedrockBackend, "aws_clients", lambda backend: clients)
    monkeypatch.setattr(
        BedrockBackend,
        "status",
        lambda backend: BackendStatus(
            "bedrock", "Amazon Bedrock", ready=True, details={"region": REGION, "account": ACCOUNT}
        ),
    )
    no_wait = {"clock": stubbed.clock, "sleep": lambda _: None}
    monkeypatch.setattr(BedrockJobService, "__init__", functools.partialmethod(BedrockJobService.__init__, **no_wait))
    monkeypatch.setattr(
        BedrockModelRegistry, "__init__", functools.partialmethod(BedrockModelRegistry.__init__, **no_wait)
    )
    return stubbed
