"""Results and decisions our own code builds without validation are those validation would build."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from pydantic import ValidationError

from core.routers.base import Router, RouterReply
from core.routers.reference import ReferenceTeacher
from core.routers.uniform import UniformRouter
from core.schema import RouteResult, RoutingDecision, known_valid

DECISION = {"visual": 0.35, "audio": 0.05, "transcription": 0.6, "metadata": 0.0, "reasoning": "said 'hi'"}


def _same_fields_and_types(made: RouteResult | RoutingDecision, validated: RouteResult | RoutingDecision) -> None:
    assert made == validated
    assert made.model_dump() == validated.model_dump()
    assert made.model_dump_json() == validated.model_dump_json()
    assert made.model_fields_set == validated.model_fields_set
    assert repr(made) == repr(validated)
    assert pickle.loads(pickle.dumps(made)) == validated
    for name in type(validated).model_fields:
        assert type(getattr(made, name)) is type(getattr(validated, name)), name


def test_a_known_valid_decision_is_the_validated_one_and_stays_frozen():
    made = known_valid(RoutingDecision, dict(DECISION))
    _same_fields_and_types(made, RoutingDecision(**DECISION))
    assert hash(made) == hash(RoutingDecision(**DECISION))
    assert made.model_copy(update={"audio": 0.1}).audio == 0.1
    with pytest.raises(ValidationError):
        made.visual = 0.5  # type: ignore[misc]


class _Measuring(Router):
    """A router whose replies bring numbers of their own, as a model's service would (here ints)."""

    def route_many(self, queries):
        return [
            RouterReply(text="", decision=RoutingDecision(**DECISION), latency_ms=3, model_latency_ms=2)
            for _ in queries
        ]


@pytest.mark.parametrize("router", [UniformRouter(), ReferenceTeacher(), _Measuring()], ids=type)
def test_every_result_is_what_validating_its_values_gives(router):
    queries = ["a dog barking", np.str_("rain on a roof"), "  ", 'she says "hi" in 2019']
    for result in router.route_batch(queries):
        validated = RouteResult(**{name: getattr(result, name) for name in result.model_fields_set})
        _same_fields_and_types(result, validated)
        assert result.errors is not validated.errors


def test_changing_one_result_leaves_the_others_of_its_batch_as_they_were():
    first, second = UniformRouter().route_batch(["a dog barking", "rain on a roof"])
    first.latency_ms = 7.5
    first.errors.append("checked by hand")
    copied = second.model_copy(update={"router_id": "renamed"})
    assert second.latency_ms != 7.5 and second.errors == []
    assert copied.router_id == "renamed" and second.router_id == "uniform"
    assert first.model_fields_set == second.model_fields_set == copied.model_fields_set == set(RouteResult.model_fields)
