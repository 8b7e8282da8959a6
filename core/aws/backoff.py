"""Retry the Bedrock failures that pass with time (408/424/429/503), with full-jitter exponential backoff.

botocore's retry modes leave 408 (model timeout) and 424 (model error) alone, and a long labelling or
evaluation loop must ride out throttling instead of failing half-way.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from botocore.exceptions import ClientError

T = TypeVar("T")

RETRYABLE_STATUSES: frozenset[int] = frozenset({408, 424, 429, 503})
RETRYABLE_CODES: frozenset[str] = frozenset(
    {
        "ThrottlingException",
        "ModelNotReadyException",
        "ModelTimeoutException",
        "ModelErrorException",
        "ServiceUnavailableException",
    }
)


def is_retryable(exc: BaseException) -> bool:
    if not isinstance(exc, ClientError):
        return False
    code = exc.response.get("Error", {}).get("Code")
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code in RETRYABLE_CODES or status in RETRYABLE_STATUSES


def backoff_delay(attempt: int, base_delay: float, max_delay: float, rng: Callable[[], float]) -> float:
    """Full jitter: a uniform draw below the capped exponential for this attempt (0 = first retry)."""
    return rng() * min(max_delay, base_delay * (2**attempt))


def call_with_backoff(
    fn: Callable[[], T],
    *,
    max_attempts: int = 6,
    base_delay: float = 0.5,
    max_delay: float = 20.0,
    sleep: Callable[[float], None] = time.sleep,
    rng: Callable[[], float] = random.random,
) -> T:
    """Call `fn` until it succeeds, a non-retryable error occurs, or `max_attempts` calls have failed."""
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    failures = 0
    while True:
        try:
            return fn()
        except ClientError as exc:
            failures += 1
            if failures >= max_attempts or not is_retryable(exc):
                raise
            sleep(backoff_delay(failures - 1, base_delay, max_delay, rng))
