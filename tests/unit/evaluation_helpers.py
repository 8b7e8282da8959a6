"""Shared by the evaluation tests: decisions in one line, and a router that replies with scripted texts."""

from __future__ import annotations

import json

from core.routers.base import RouterReply
from core.routers.uniform import UniformRouter
from core.schema import RoutingDecision


def weights(visual, audio, transcription, metadata) -> RoutingDecision:
    return RoutingDecision(visual=visual, audio=audio, transcription=transcription, metadata=metadata)


class Scripted(UniformRouter):
    """Replies with the text given for each query (the default text for any other)."""

    def __init__(self, texts: dict[str, str], default: str = "", router_id: str = "scripted"):
        super().__init__(router_id=router_id)
        self.texts = texts
        self.default = default

    def route_many(self, queries):
        return [RouterReply(text=self.texts.get(q, self.default)) for q in queries]


def reply(d: RoutingDecision) -> str:
    return json.dumps(d.to_json_dict())
