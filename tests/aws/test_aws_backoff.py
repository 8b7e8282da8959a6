"""call_with_backoff: what passes with time is retried with full jitter, everything else fails at once."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError

from core.aws.backoff import call_with_backoff


def client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": f"{code} happened"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "Converse",
    )


class FailsThenAnswers:
    """A call that raises the given errors in turn, then returns "answer"."""

    def __init__(self, *errors: BaseException):
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "answer"


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("ThrottlingException", 429),
        ("ModelNotReadyException", 429),
        ("ModelTimeoutException", 408),
        ("ModelErrorException", 424),
        ("ServiceUnavailableException", 503),
        ("SomeFutureThrottle", 429),
        ("SomeFutureOutage", 503),
        ("ThrottlingException", 400),
    ],
)
def test_transient_failures_are_retried_until_the_call_succeeds(code, status):
    sleeps: list[float] = []
    call = FailsThenAnswers(client_error(code, status), client_error(code, status))

    assert call_with_backoff(call, sleep=sleeps.append, rng=lambda: 1.0) == "answer"
    assert call.calls == 3
    assert sleeps == [0.5, 1.0]


def test_delays_grow_exponentially_up_to_the_cap():
    sleeps: list[float] = []
    call = FailsThenAnswers(*[client_error("ThrottlingException", 429)] * 7)

    call_with_backoff(call, max_attempts=8, base_delay=0.5, max_delay=5.0, sleep=sleeps.append, rng=lambda: 1.0)

    assert sleeps == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0]


def test_full_jitter_draws_each_delay_below_the_exponential_bound():
    sleeps: list[float] = []
    draws = iter([0.5, 0.25, 0.0])
    call = FailsThenAnswers(*[client_error("ThrottlingException", 429)] * 3)

    call_with_backoff(call, base_delay=1.0, sleep=sleeps.append, rng=lambda: next(draws))

    assert sleeps == [0.5, 0.5, 0.0]


def test_gives_up_after_max_attempts_with_the_last_error():
    sleeps: list[float] = []
    last = client_error("ModelTimeoutException", 408)
    call = FailsThenAnswers(client_error("ThrottlingException", 429), client_error("ThrottlingException", 429), last)

    with pytest.raises(ClientError) as raised:
        call_with_backoff(call, max_attempts=3, sleep=sleeps.append, rng=lambda: 1.0)

    assert raised.value is last
    assert call.calls == 3
    assert len(sleeps) == 2


@pytest.mark.parametrize(
    "error",
    [
        client_error("ValidationException", 400),
        client_error("AccessDeniedException", 403),
        client_error("ResourceNotFoundException", 404),
        ReadTimeoutError(endpoint_url="https://bedrock-runtime.us-east-1.amazonaws.com"),
        ValueError("a bug, not a transient failure"),
    ],
)
def test_other_errors_propagate_at_once_without_sleeping(error):
    sleeps: list[float] = []
    call = FailsThenAnswers(error)

    with pytest.raises(type(error)):
        call_with_backoff(call, sleep=sleeps.append)

    assert call.calls == 1
    assert sleeps == []


def test_at_least_one_attempt_is_required():
    with pytest.raises(ValueError):
        call_with_backoff(lambda: "answer", max_attempts=0)
