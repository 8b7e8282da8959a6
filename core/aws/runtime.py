"""One Converse call as the studio makes it: our backoff around botocore's retries, the reply read as a content list.

Used by the Bedrock routers, the teacher that writes queries and the batch results reader (a batch record's
`modelOutput` is a Converse response), so a reply is read one way everywhere.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from core.aws.backoff import call_with_backoff


@dataclass(frozen=True)
class ConverseReply:
    """What a Converse response says: the answer text (None when there is none), usage and the model's latency."""

    text: str | None
    input_tokens: int | None
    output_tokens: int | None
    # metrics.latencyMs: the time Bedrock spent on the request, without the network.
    model_latency_ms: float | None
    stop_reason: str
    # Wall clock of the call that answered (retries and backoff sleeps left out); None for a batch record.
    wall_ms: float | None = None

    @property
    def no_text_sentence(self) -> str:
        return f"The model returned no text (stop reason: {self.stop_reason}): try again or pick another model."


def read_converse(response: Mapping[str, Any], wall_ms: float | None = None) -> ConverseReply:
    """Read a Converse response: `output.message.content` is a list of blocks; the first one with text is the answer."""
    content = ((response.get("output") or {}).get("message") or {}).get("content") or []
    text = next((block["text"] for block in content if isinstance(block, dict) and "text" in block), None)
    usage = response.get("usage") or {}
    latency = (response.get("metrics") or {}).get("latencyMs")
    return ConverseReply(
        text=text if isinstance(text, str) else None,
        input_tokens=usage.get("inputTokens"),
        output_tokens=usage.get("outputTokens"),
        model_latency_ms=float(latency) if latency is not None else None,
        stop_reason=str(response.get("stopReason", "unknown")),
        wall_ms=wall_ms,
    )


def converse(client, request: Mapping[str, Any], *, sleep: Callable[[float], None] = time.sleep) -> ConverseReply:
    """Call Converse with our backoff on 408/424/429/503; raises the botocore error when it does not pass."""
    last_wall_ms = 0.0

    def attempt() -> dict:
        nonlocal last_wall_ms
        started = time.perf_counter()
        try:
            return client.converse(**request)
        finally:
            last_wall_ms = (time.perf_counter() - started) * 1000.0

    response = call_with_backoff(attempt, sleep=sleep)
    return read_converse(response, wall_ms=last_wall_ms)
