"""The LLM judge on Amazon Bedrock: judge prompts sent through Converse to a judge model (Claude Sonnet 4.5 by
default, the judge of the published evaluation). core.evaluate.judging builds the prompts, parses the
replies strictly and calibrates the judge; this module only makes the calls, priced by the token table."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from core.aws.backoff import call_with_backoff
from core.aws.errors import StudioAwsError, explain_aws_error
from core.aws.names import check_model_identifier
from core.aws.session import make_client
from core.evaluate.judging import JUDGE_SYSTEM_TEXT
from core.pricing import PriceTable
from core.routers.base import RouterReply
from core.routers.bedrock import APP_TAG, reply_from_converse, resolve_model

DEFAULT_JUDGE_MODEL = "claude-sonnet-4.5"
# Room for a score and a sentence per candidate, for up to a handful of routers.
JUDGE_MAX_TOKENS = 1024
# The judge should grade the same replies the same way; re-judging in a new order measures what is left.
JUDGE_TEMPERATURE = 0.0
DEFAULT_CONCURRENCY = 4


class BedrockJudge:
    """A judge model on Bedrock; `ask` sends each prompt as one Converse call (in parallel, with backoff)."""

    def __init__(
        self,
        session,
        model: str = DEFAULT_JUDGE_MODEL,
        prices: PriceTable | None = None,
        client=None,
        concurrency: int = DEFAULT_CONCURRENCY,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.model_id, self.price_key = resolve_model(model.strip())
        problem = check_model_identifier(self.model_id, "invoke")
        if problem:
            raise StudioAwsError("validation", problem)
        from core.aws.models import MODELS

        self.name = MODELS[self.price_key].name if self.price_key else self.model_id
        self.judge_id = f"bedrock:{self.model_id}"
        self.prices = prices or PriceTable()
        self.concurrency = max(1, concurrency)
        self._sleep = sleep
        profile = getattr(session, "profile_name", None)
        self._profile = profile if profile != "default" else None
        self._client = client if client is not None else make_client(session, "bedrock-runtime")

    def converse_request(self, prompt: str) -> dict[str, Any]:
        """The exact Converse arguments of one judge call."""
        return {
            "modelId": self.model_id,
            "system": [{"text": JUDGE_SYSTEM_TEXT}],
            "messages": [{"role": "user", "content": [{"text": prompt}]}],
            "inferenceConfig": {"maxTokens": JUDGE_MAX_TOKENS, "temperature": JUDGE_TEMPERATURE},
            "requestMetadata": {"app": APP_TAG, "purpose": "judge"},
        }

    def input_text(self, prompt: str) -> str:
        return f"{JUDGE_SYSTEM_TEXT}\n{prompt}"

    def cost_usd(self, input_tokens: int, output_tokens: int) -> float:
        return self.prices.cost_usd(self.price_key, input_tokens, output_tokens)

    def ask(self, prompts: Sequence[str]) -> list[RouterReply]:
        if self.concurrency == 1 or len(prompts) <= 1:
            return [self._ask_one(prompt) for prompt in prompts]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(prompts))) as pool:
            return list(pool.map(self._ask_one, prompts))

    def _ask_one(self, prompt: str) -> RouterReply:
        request = self.converse_request(prompt)
        try:
            response = call_with_backoff(lambda: self._client.converse(**request), sleep=self._sleep)
        except Exception as exc:  # one failed call is one unparseable judgement; the run goes on
            return RouterReply(text="", error=str(explain_aws_error(exc, profile=self._profile)))
        return reply_from_converse(response)
