"""The no-routing baseline: every channel weighted equally."""

from __future__ import annotations

from collections.abc import Sequence

from core.routers.base import Router, RouterReply
from core.schema import RoutingDecision

UNIFORM_DECISION = RoutingDecision(
    visual=0.25,
    audio=0.25,
    transcription=0.25,
    metadata=0.25,
    reasoning="No routing: every channel weighted equally (the baseline).",
)


class UniformRouter(Router):
    router_id = "uniform"

    def route_many(self, queries: Sequence[str]) -> list[RouterReply]:
        return [RouterReply(text="", decision=UNIFORM_DECISION) for _ in queries]
