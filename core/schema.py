"""The router contract: the four modalities, a routing decision and the result every router returns."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field


class Modality(StrEnum):
    VISUAL = "visual"
    AUDIO = "audio"
    TRANSCRIPTION = "transcription"
    METADATA = "metadata"


MODALITIES: tuple[str, ...] = tuple(m.value for m in Modality)

# Two weights closer than this count as tied for the lead.
TIE_TOLERANCE = 1e-9

ModelT = TypeVar("ModelT", bound=BaseModel)


def known_valid(model: type[ModelT], fields: dict[str, Any]) -> ModelT:
    """The model from a new dict of every one of its fields, values our own code made of the fields' types and
    within their bounds, without validating them again: what model_construct makes, without its look-up of
    each field's aliases and defaults (which costs more than validating, a tenth of a 10,000 student batch)."""
    made = _new_object(model)
    _set_slot(made, "__dict__", fields)
    names = _FIELD_NAMES.get(model)
    if names is None:
        names = _FIELD_NAMES[model] = set(model.model_fields)
    _set_slot(made, "__pydantic_fields_set__", names)
    _set_slot(made, "__pydantic_extra__", None)
    _set_slot(made, "__pydantic_private__", None)
    return made


# What known_valid calls, bound once: looking them up on a model class (through pydantic's metaclass) cost
# more than the rest of the call.
_new_object = object.__new__
_set_slot = object.__setattr__
# Each model's field names, one set shared by all the instances known_valid makes (a set of a RouteResult's
# thirteen names is too large for Python's small-object allocator, and making one cost a fifteenth of a
# 10,000 student batch). Sharing is safe: pydantic only adds to it a name it already holds (on assignment)
# and copies it before changing a copy (model_copy); nothing here changes model_fields_set in place.
_FIELD_NAMES: dict[type[BaseModel], set[str]] = {}


class RoutingDecision(BaseModel):
    """Weights for the four search channels (each 0-1, summing to 1.0) and the router's reasoning."""

    model_config = ConfigDict(frozen=True)

    visual: float = Field(ge=0.0, le=1.0)
    audio: float = Field(ge=0.0, le=1.0)
    transcription: float = Field(ge=0.0, le=1.0)
    metadata: float = Field(ge=0.0, le=1.0)
    reasoning: str = ""

    def weights(self) -> dict[str, float]:
        return {m: getattr(self, m) for m in MODALITIES}

    def dominant(self) -> str:
        """The highest-weighted modality; ties go to the first in MODALITIES order."""
        weights = self.weights()
        return max(MODALITIES, key=lambda m: weights[m])

    def dominant_set(self) -> frozenset[str]:
        """Every modality tied for the highest weight."""
        weights = self.weights()
        top = max(weights.values())
        return frozenset(m for m, w in weights.items() if top - w <= TIE_TOLERANCE)

    def to_json_dict(self) -> dict[str, float | str]:
        return {**self.weights(), "reasoning": self.reasoning}


TokenSource = Literal["measured", "estimated"]


class RouteResult(BaseModel):
    """What any router returns for one query: the same shape for every provider."""

    query: str
    router_id: str
    decision: RoutingDecision | None
    raw_text: str
    valid: bool
    errors: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    latency_ms: float = 0.0
    # The model's own latency when its service reports one (Bedrock's metrics.latencyMs); latency_ms is wall clock.
    model_latency_ms: float | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    token_source: TokenSource = "estimated"
    cost_usd: float = 0.0

    def to_cli_dict(self) -> dict[str, object]:
        """The `route --json` line of docs/ARCHITECTURE.md (command line) (weights null when invalid)."""
        weights: dict[str, float | None] = dict(self.decision.weights()) if self.decision else dict.fromkeys(MODALITIES)
        return {
            "query": self.query,
            "router": self.router_id,
            "valid": self.valid,
            **weights,
            "reasoning": self.decision.reasoning if self.decision else None,
            "errors": list(self.errors),
            "latency_ms": round(self.latency_ms, 3),
        }
