"""Shared by the evaluation tests: decisions in one line, a router that replies with scripted texts, and a
stand-in judge that grades by the deterministic rubric."""

from __future__ import annotations

import json
import re

from core.evaluate.rubric import rubric_score
from core.parsing import parse_router_output
from core.pricing import PriceTable
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


class RubricJudge:
    """A stand-in judge that grades each candidate by the deterministic rubric, reading the prompt it is sent."""

    judge_id = "fake:rubric"
    name = "Rubric judge"

    def __init__(self, broken_every: int = 0):
        self.calls = 0
        self.broken_every = broken_every

    def input_text(self, prompt):
        return prompt

    def cost_usd(self, input_tokens, output_tokens):
        return PriceTable().cost_usd("claude-sonnet-4.5", input_tokens, output_tokens)

    def ask(self, prompts):
        replies = []
        for prompt in prompts:
            self.calls += 1
            if self.broken_every and self.calls % self.broken_every == 0:
                replies.append(RouterReply(text="I think A is best.", input_tokens=100, output_tokens=5))
                continue
            reference = RoutingDecision.model_validate(json.loads(re.search(r"Reference reply: (.*)", prompt).group(1)))
            scores = {}
            for label, text in re.findall(r"Candidate ([A-Z]): (.*)", prompt):
                scores[label] = {"score": rubric_score(parse_router_output(text).decision, reference), "reason": "r"}
            replies.append(RouterReply(text=json.dumps(scores), input_tokens=300, output_tokens=60))
        return replies
