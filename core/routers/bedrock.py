"""A router backed by a model on Amazon Bedrock (Converse): the teacher with its prompt, or a distilled student."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

from core.aws.backoff import call_with_backoff
from core.aws.errors import StudioAwsError, explain_aws_error
from core.aws.models import MODELS
from core.aws.names import check_model_identifier
from core.aws.session import make_client
from core.pricing import PriceTable
from core.prompts import DEFAULT_TEACHER_PROMPT, STUDENT_SYSTEM_TEXT, RouterPrompt
from core.routers.base import Router, RouterReply

RouterMode = Literal["teacher", "student"]
ROUTER_MODES: tuple[str, ...] = ("teacher", "student")
APP_TAG = "video-search-router-studio"
MAX_OUTPUT_TOKENS = 512
# Router weights must be reproducible: the same query gets the same answer.
TEMPERATURE = 0.0
# Parallel Converse calls per batch; the adaptive client limiter slows them down when Bedrock throttles.
DEFAULT_CONCURRENCY = 4
# requestMetadata values allow only these characters and at most 256 of them (bedrock-runtime model).
_METADATA_DISALLOWED = re.compile(r"[^a-zA-Z0-9\s:_@$#=/+,\-.]")
METADATA_VALUE_LIMIT = 256


def resolve_model(model: str) -> tuple[str, str | None]:
    """A model key of core.aws.models or a raw model id or ARN -> (the id to invoke, the key that prices it or None)."""
    if model in MODELS:
        return MODELS[model].invoke_id, model
    for entry in MODELS.values():
        if model in (entry.invoke_id, entry.customization_id):
            return model, entry.key
    return model, None


def metadata_value(value: str) -> str:
    return _METADATA_DISALLOWED.sub("-", value)[:METADATA_VALUE_LIMIT]


class BedrockRouter(Router):
    """Routes with Converse. Teacher mode sends the rendered router prompt; student mode sends the one-line
    system text and the bare query, exactly as the distilled student saw them in training."""

    remote = True

    def __init__(
        self,
        session,
        model: str,
        prices: PriceTable | None = None,
        router_id: str | None = None,
        prompt: RouterPrompt | None = None,
        mode: RouterMode = "teacher",
        client=None,
        concurrency: int = DEFAULT_CONCURRENCY,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if mode not in ROUTER_MODES:
            raise ValueError(f"mode must be one of {', '.join(ROUTER_MODES)}, not {mode!r}")
        self.model_id, self.price_key = resolve_model(model.strip())
        problem = check_model_identifier(self.model_id, "invoke")
        if problem:
            raise StudioAwsError("validation", problem)
        super().__init__(prices, router_id if router_id is not None else f"bedrock:{self.model_id}")
        self.mode: RouterMode = mode
        self.prompt = prompt or DEFAULT_TEACHER_PROMPT
        self.concurrency = max(1, concurrency)
        self._sleep = sleep
        # Only used to name the profile in "run aws sso login --profile ..." advice.
        profile = getattr(session, "profile_name", None)
        self._profile = profile if profile != "default" else None
        self._client = client if client is not None else make_client(session, "bedrock-runtime")

    def input_text(self, query: str) -> str:
        if self.mode == "student":
            return f"{STUDENT_SYSTEM_TEXT}\n{query}"
        return self.prompt.render(query)

    def converse_request(self, query: str) -> dict[str, Any]:
        """The exact Converse arguments for one query (also what invocation logs will show)."""
        metadata = {"app": APP_TAG, "router": metadata_value(self.router_id), "mode": self.mode}
        request: dict[str, Any] = {
            "modelId": self.model_id,
            "inferenceConfig": {"maxTokens": MAX_OUTPUT_TOKENS, "temperature": TEMPERATURE},
        }
        if self.mode == "student":
            request["system"] = [{"text": STUDENT_SYSTEM_TEXT}]
            user_text = query
        else:
            metadata["prompt"] = metadata_value(self.prompt.version)
            user_text = self.prompt.render(query)
        request["messages"] = [{"role": "user", "content": [{"text": user_text}]}]
        request["requestMetadata"] = metadata
        return request

    def route_many(self, queries: Sequence[str]) -> list[RouterReply]:
        if self.concurrency == 1 or len(queries) <= 1:
            return [self._route_one(query) for query in queries]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(queries))) as pool:
            return list(pool.map(self._route_one, queries))

    def _route_one(self, query: str) -> RouterReply:
        request = self.converse_request(query)
        try:
            response = call_with_backoff(lambda: self._client.converse(**request), sleep=self._sleep)
        except Exception as exc:  # one failed query becomes its row's error; the batch goes on
            return RouterReply(text="", error=str(explain_aws_error(exc, profile=self._profile)))
        return reply_from_converse(response)


def reply_from_converse(response: dict[str, Any]) -> RouterReply:
    """Read a Converse response: content is a list of blocks (the first one with text is the answer)."""
    content = ((response.get("output") or {}).get("message") or {}).get("content") or []
    text = next((block["text"] for block in content if isinstance(block, dict) and "text" in block), None)
    usage = response.get("usage") or {}
    latency = (response.get("metrics") or {}).get("latencyMs")
    reply = RouterReply(
        text=text or "",
        input_tokens=usage.get("inputTokens"),
        output_tokens=usage.get("outputTokens"),
        latency_ms=float(latency) if latency is not None else None,
    )
    if text is None:
        stop = response.get("stopReason", "unknown")
        reply.error = f"The model returned no text (stop reason: {stop}): try again or pick another model."
    return reply
