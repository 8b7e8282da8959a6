"""The shared Router base: routers only produce replies; timing, parsing, rounding, tokens and cost live here once."""

from __future__ import annotations

import gc
import json
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from core.parsing import parse_router_output, rounded_decision
from core.pricing import TYPICAL_REPLY_TOKENS, PriceTable, estimate_tokens
from core.schema import RouteResult, RoutingDecision, known_valid

EMPTY_QUERY_ERROR = "empty query: type what you are looking for"
# Stands in for queries not generated yet when quoting a cost.
TYPICAL_QUERY = "a typical video search query"


@dataclass
class RouterReply:
    """One raw answer from a router, before the shared post-processing.

    Local routers that build the decision themselves pass it in `decision` (no parsing needed);
    model-backed routers pass only `text`. Tokens and latency are measured when given, else estimated.
    """

    text: str
    decision: RoutingDecision | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    latency_ms: float | None = None
    error: str | None = None
    model_latency_ms: float | None = None
    # True when `decision` already holds weights rounded as rounded_decision rounds them (a router that
    # rounds a whole batch at once), so they are not rounded again one by one.
    rounded: bool = False

    @property
    def brings_numbers(self) -> bool:
        """Whether the router gave tokens or latency of its own (a model's service reports them): numbers
        from outside, which the result validates."""
        return not (
            self.input_tokens is None
            and self.output_tokens is None
            and self.latency_ms is None
            and self.model_latency_ms is None
        )


# What json.dumps escapes in a string (json.encoder's own pattern): a reasoning without any is quoted as it is.
_JSON_ESCAPED = re.compile(r'[\x00-\x1f\\"\b\f\n\r\t]')


def _decision_json(decision: RoutingDecision) -> str:
    """json.dumps(decision.to_json_dict(), ensure_ascii=False), written out: floats print as json prints
    them (their repr), and a reasoning needs the encoder only when it holds a character json escapes.
    A tenth of a 10,000 batch went to this."""
    reasoning = decision.reasoning
    quoted = f'"{reasoning}"' if _JSON_ESCAPED.search(reasoning) is None else json.dumps(reasoning, ensure_ascii=False)
    return (
        f'{{"visual": {_weight_text(decision.visual)}, "audio": {_weight_text(decision.audio)}, '
        f'"transcription": {_weight_text(decision.transcription)}, "metadata": {_weight_text(decision.metadata)}, '
        f'"reasoning": {quoted}}}'
    )


# Each weight's repr, remembered: rounded weights take a few values (steps of 0.05), and repr was a third of
# the cost of the text above. Zero is not remembered, as 0.0 and -0.0 are one key with two reprs.
_WEIGHT_TEXTS: dict[float, str] = {}
_WEIGHT_TEXT_LIMIT = 4096


def _weight_text(value: float) -> str:
    if type(value) is not float:  # 1 and 1.0 are one key with two reprs too
        return repr(value)
    found = _WEIGHT_TEXTS.get(value)
    if found is None:
        found = repr(value)
        if value and len(_WEIGHT_TEXTS) < _WEIGHT_TEXT_LIMIT:
            _WEIGHT_TEXTS[value] = found
    return found


class Router(ABC):
    router_id: str = "router"
    # Catalog key of the model whose token price this router pays; None for on-box routers.
    price_key: str | None = None
    # True when every reply is a network call (batches are then slow, and small batches lose less).
    remote: bool = False

    def __init__(self, prices: PriceTable | None = None, router_id: str | None = None):
        self.prices = prices or PriceTable()
        if router_id is not None:
            self.router_id = router_id

    @property
    def billable(self) -> bool:
        return self.price_key is not None

    def input_text(self, query: str) -> str:
        """The text a model would read for this query (for token estimates)."""
        return query

    @abstractmethod
    def route_many(self, queries: Sequence[str]) -> list[RouterReply]:
        """One reply per query, in order. Queries arrive trimmed and non-empty."""

    def route(self, query: str) -> RouteResult:
        return self.route_batch([query])[0]

    def route_batch(self, queries: Sequence[str]) -> list[RouteResult]:
        if self.remote:
            return self._route_batch(queries)
        # A large on-box batch allocates many small objects that all survive; without this pause Python's
        # collector rescans everything already alive, which cost a third of the time of a 10,000 batch.
        collecting = gc.isenabled()
        gc.disable()
        try:
            return self._route_batch(queries)
        finally:
            if collecting:
                gc.enable()

    def _route_batch(self, queries: Sequence[str]) -> list[RouteResult]:
        cleaned = [q.strip() if isinstance(q, str) else "" for q in queries]
        todo = [i for i, q in enumerate(cleaned) if q]
        replies: list[RouterReply] = []
        elapsed_ms = 0.0
        if todo:
            started = time.perf_counter()
            replies = self.route_many([cleaned[i] for i in todo])
            elapsed_ms = (time.perf_counter() - started) * 1000.0
        results: list[RouteResult | None] = [None] * len(cleaned)
        share_ms = elapsed_ms / len(todo) if todo else 0.0
        for index, reply in zip(todo, replies, strict=True):
            results[index] = self._finish(queries[index], cleaned[index], reply, share_ms)
        for index, query in enumerate(queries):
            if results[index] is None:
                results[index] = RouteResult(
                    query=query if isinstance(query, str) else "",
                    router_id=self.router_id,
                    decision=None,
                    raw_text="",
                    valid=False,
                    errors=[EMPTY_QUERY_ERROR],
                )
        return results  # type: ignore[return-value]

    def estimate_cost_usd(self, query: str, output_tokens: int = TYPICAL_REPLY_TOKENS) -> float:
        """What routing this query would cost before it is sent (for the confirm step)."""
        return self.prices.cost_usd(self.price_key, estimate_tokens(self.input_text(query)), output_tokens)

    def estimate_batch_cost_usd(self, n_queries: int) -> float:
        """What labelling n queries not yet written would cost, quoted the same way by the CLI and the pages."""
        return self.estimate_cost_usd(TYPICAL_QUERY) * n_queries

    def _finish(self, original: str, query: str, reply: RouterReply, share_ms: float) -> RouteResult:
        errors: list[str] = []
        warnings: list[str] = []
        decision = reply.decision
        raw_text = reply.text
        if reply.error:
            errors.append(reply.error)
        elif decision is None:
            outcome = parse_router_output(reply.text)
            decision, errors, warnings = outcome.decision, outcome.errors, outcome.warnings
        if decision is not None:
            if not reply.rounded:
                decision = rounded_decision(decision)
            if not raw_text:
                raw_text = _decision_json(decision)
        measured = reply.input_tokens is not None and reply.output_tokens is not None
        input_tokens = (
            reply.input_tokens
            if reply.input_tokens is not None and measured
            else estimate_tokens(self.input_text(query))
        )
        output_tokens = (
            reply.output_tokens if reply.output_tokens is not None and measured else estimate_tokens(raw_text)
        )
        fields = {
            "query": str(original),  # as validation stores it: a str subclass (numpy's) as str
            "router_id": self.router_id,
            "decision": decision,
            "raw_text": raw_text,
            "valid": decision is not None and not reply.error,
            "errors": errors,
            "warnings": warnings,
            "latency_ms": reply.latency_ms if reply.latency_ms is not None else share_ms,
            "model_latency_ms": reply.model_latency_ms,
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "token_source": "measured" if measured else "estimated",
            "cost_usd": self.prices.cost_usd(self.price_key, input_tokens, output_tokens),
        }
        # Without numbers from outside (a local router's reply) every value was made here, of its field's type.
        return RouteResult.model_validate(fields) if reply.brings_numbers else known_valid(RouteResult, fields)
