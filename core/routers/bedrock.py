"""A router backed by a model on Amazon Bedrock (Converse): a teacher or baseline with the router prompt, or a
student (distilled or base) with the one-line training system text.

Which of the two a model gets follows from its id (`mode_for_model`): the students of the distillation
pairs (Nova Micro, Lite, Pro) and every custom model, deployment or provisioned-throughput ARN are
students, exactly as the distilled student saw its input in training; anything else reads the prompt.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

from core.aws.errors import StudioAwsError, explain_aws_error
from core.aws.models import DISTILLATION_PAIRS, MODELS
from core.aws.names import check_model_identifier
from core.aws.runtime import ConverseReply, converse, read_converse
from core.aws.session import make_client
from core.pricing import PriceTable
from core.prompts import DEFAULT_TEACHER_PROMPT, STUDENT_SYSTEM_TEXT, RouterPrompt
from core.routers.base import Router, RouterReply
from core.settings import DEFAULT_BEDROCK_CONCURRENCY

RouterMode = Literal["teacher", "student"]
ROUTER_MODES: tuple[str, ...] = ("teacher", "student")
APP_TAG = "video-search-router-studio"
# The reply is four weights and a one-sentence reasoning, about 60 tokens; the rest leaves room for a model
# that wraps it in prose or code fences, without paying for an essay from one that rambles.
MAX_OUTPUT_TOKENS = 300
# Router weights must be reproducible: the same query gets the same answer.
TEMPERATURE = 0.0
# requestMetadata values are kept to the characters an invocation-log filter accepts (the bedrock model's
# RequestMetadataMapValueString, narrower than Converse's own), so every tag can select training data later.
_METADATA_DISALLOWED = re.compile(r"[^a-zA-Z0-9\s._:/=+$@-]")
METADATA_VALUE_LIMIT = 256
_GEO_PREFIX = re.compile(r"^(?:us|eu|apac|us-gov|global|jp|au|ca)\.")
# ARNs of models that were trained on the student text: custom models, their deployments and throughput.
_STUDENT_ARN = re.compile(
    r"^arn:aws[^:]*:bedrock:[^:]*:[0-9]{12}:(custom-model|custom-model-deployment|provisioned-model|imported-model)/"
)
STUDENT_MODEL_KEYS: frozenset[str] = frozenset(key for students in DISTILLATION_PAIRS.values() for key in students)


def resolve_model(model: str) -> tuple[str, str | None]:
    """A model key of core.aws.models or a raw model id or ARN -> (the id to invoke, the key that prices it or None).

    A cross-region inference profile (us.amazon.nova-micro-v1:0) is priced like the model it routes to.
    """
    if model in MODELS:
        return MODELS[model].invoke_id, model
    plain = _GEO_PREFIX.sub("", model)
    for entry in MODELS.values():
        if model in (entry.invoke_id, entry.customization_id) or plain in (
            _GEO_PREFIX.sub("", entry.invoke_id),
            entry.customization_id,
        ):
            return model, entry.key
    return model, None


def mode_for_model(model: str) -> RouterMode:
    """Student for the distillation students and any custom model, deployment or throughput ARN; else teacher."""
    if _STUDENT_ARN.match(model):
        return "student"
    _, price_key = resolve_model(model)
    return "student" if price_key in STUDENT_MODEL_KEYS else "teacher"


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
        mode: RouterMode | None = None,
        client=None,
        concurrency: int = DEFAULT_BEDROCK_CONCURRENCY,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.model_id, self.price_key = resolve_model(model.strip())
        problem = check_model_identifier(self.model_id, "invoke")
        if problem:
            raise StudioAwsError("validation", problem)
        mode = mode if mode is not None else mode_for_model(self.model_id)
        if mode not in ROUTER_MODES:
            raise ValueError(f"mode must be one of {', '.join(ROUTER_MODES)}, not {mode!r}")
        super().__init__(prices, router_id if router_id is not None else f"bedrock:{self.model_id}")
        self.mode: RouterMode = mode
        self.prompt = prompt or DEFAULT_TEACHER_PROMPT
        self.concurrency = max(1, concurrency)
        self._sleep = sleep
        # Only used to name the profile in "run aws sso login --profile ..." advice.
        profile = getattr(session, "profile_name", None)
        self._profile = profile if profile != "default" else None
        self._client = client if client is not None else make_client(session, "bedrock-runtime")

    @property
    def billable(self) -> bool:
        """Every Converse call bills, also a custom model's whose price the studio does not know."""
        return True

    @property
    def price_known(self) -> bool:
        return self.price_key is not None and self.prices.get(self.price_key) is not None

    def input_text(self, query: str) -> str:
        if self.mode == "student":
            return f"{STUDENT_SYSTEM_TEXT}\n{query}"
        return self.prompt.render(query)

    def request_metadata(self) -> dict[str, str]:
        """The tags every call carries, so its invocation log can be selected as training data later."""
        metadata = {"app": APP_TAG, "router": metadata_value(self.router_id), "mode": self.mode}
        if self.mode == "teacher":
            metadata["prompt"] = metadata_value(self.prompt.version)
        return metadata

    def model_input(self, query: str) -> dict[str, Any]:
        """The Converse body for one query without model id and tags: a batch record's `modelInput` as well."""
        body: dict[str, Any] = {"inferenceConfig": {"maxTokens": MAX_OUTPUT_TOKENS, "temperature": TEMPERATURE}}
        if self.mode == "student":
            body["system"] = [{"text": STUDENT_SYSTEM_TEXT}]
            user_text = query
        else:
            user_text = self.prompt.render(query)
        body["messages"] = [{"role": "user", "content": [{"text": user_text}]}]
        return body

    def converse_request(self, query: str) -> dict[str, Any]:
        """The exact Converse arguments for one query (also what invocation logs will show)."""
        return {"modelId": self.model_id, **self.model_input(query), "requestMetadata": self.request_metadata()}

    def route_many(self, queries: Sequence[str]) -> list[RouterReply]:
        if self.concurrency == 1 or len(queries) <= 1:
            return [self._route_one(query) for query in queries]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(queries))) as pool:
            return list(pool.map(self._route_one, queries))

    def _route_one(self, query: str) -> RouterReply:
        try:
            reply = converse(self._client, self.converse_request(query), sleep=self._sleep)
        except Exception as exc:  # one failed query becomes its row's error; the batch goes on
            return RouterReply(text="", error=str(explain_aws_error(exc, profile=self._profile)))
        return router_reply(reply)


def router_reply(reply: ConverseReply) -> RouterReply:
    """A Converse reply as the router base reads it: wall clock as latency, the model's own beside it."""
    routed = RouterReply(
        text=reply.text or "",
        input_tokens=reply.input_tokens,
        output_tokens=reply.output_tokens,
        latency_ms=reply.wall_ms if reply.wall_ms is not None else reply.model_latency_ms,
        model_latency_ms=reply.model_latency_ms,
    )
    if reply.text is None:
        routed.error = reply.no_text_sentence
    return routed


def reply_from_converse(response: dict[str, Any]) -> RouterReply:
    """Read a Converse response (content is a list of blocks; the first one with text is the answer)."""
    return router_reply(read_converse(response))
