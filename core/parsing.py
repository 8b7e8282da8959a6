"""Turn whatever a router model wrote into a RoutingDecision, or into a list of reasons why not.

`parse_router_output` never raises: small models wrap JSON in prose or code fences, nest it one level
deep, quote numbers or give percentages, and every one of those must become either a decision or a
clear reason shown to the user.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from core.schema import MODALITIES, RoutingDecision

if TYPE_CHECKING:
    import numpy as np

# Weights are reported in steps of this size (largest-remainder rounding keeps the sum at 1.0).
WEIGHT_STEP = 0.05
STEPS_PER_UNIT = 20
SUM_TOLERANCE = 0.01
PERCENT_TOLERANCE = 1.0
# A reply longer than this is scanned only up to here; nobody's router JSON is that long.
MAX_SCAN_CHARS = 100_000
MAX_OBJECT_STARTS = 200


@dataclass
class ParseOutcome:
    decision: RoutingDecision | None
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return self.decision is not None


class _Rejected(Exception):
    """A candidate object looked like router output but cannot be used; the message says why."""


def parse_router_output(reply: Any) -> ParseOutcome:
    """Parse a router reply (text, or an already-decoded JSON value) into a decision; never raises."""
    try:
        return _parse(reply)
    except Exception as exc:  # the contract is "never raises": anything unforeseen becomes a reason
        return ParseOutcome(None, [f"could not read the reply: {type(exc).__name__}"])


def _parse(reply: Any) -> ParseOutcome:
    if isinstance(reply, str):
        candidates = list(_json_objects_in(reply))
        if not candidates:
            return ParseOutcome(None, ["no JSON object found in the reply"])
    elif isinstance(reply, (dict, list)):
        candidates = [reply]
    else:
        return ParseOutcome(None, [f"expected text or a JSON object, got {type(reply).__name__}"])

    first_rejection: ParseOutcome | None = None
    for candidate in candidates:
        target, notes = _locate_router_object(candidate)
        if target is None:
            continue
        try:
            decision, warnings = _decision_from(target)
        except _Rejected as rejected:
            first_rejection = first_rejection or ParseOutcome(None, [str(rejected)])
            continue
        return ParseOutcome(decision, [], notes + warnings)
    if first_rejection is not None:
        return first_rejection
    return ParseOutcome(None, ["no JSON object with router weights (visual, audio, transcription, metadata)"])


def _json_objects_in(text: str):
    """Yield every JSON object that starts at a '{' in the text, outermost first."""
    text = text[:MAX_SCAN_CHARS]
    decoder = json.JSONDecoder()
    position = text.find("{")
    starts = 0
    while position != -1 and starts < MAX_OBJECT_STARTS:
        starts += 1
        try:
            value, end = decoder.raw_decode(text, position)
        except (ValueError, RecursionError):
            position = text.find("{", position + 1)
            continue
        yield value
        position = text.find("{", end)


def _has_modality_key(value: Any) -> bool:
    return isinstance(value, dict) and any(_normalise_key(k) in MODALITIES for k in value)


def _locate_router_object(value: Any) -> tuple[dict | None, list[str]]:
    """The object holding the weights: the value itself or one level down (`{"video": {...}}`,
    `{"results": [{...}]}`, a top-level list)."""
    if _has_modality_key(value):
        return value, []
    children: list[tuple[str, Any]] = []
    if isinstance(value, dict):
        for key, child in value.items():
            children.append((str(key), child))
            if isinstance(child, list) and child:
                children.append((f"{key}[0]", child[0]))
    elif isinstance(value, list) and value:
        children.append(("[0]", value[0]))
    for path, child in children:
        if _has_modality_key(child):
            return child, [f"weights were nested under '{path}'"]
    return None, []


def _normalise_key(key: Any) -> str:
    return str(key).strip().lower()


def _number(modality: str, raw: Any) -> float:
    if isinstance(raw, bool) or raw is None:
        raise _Rejected(f"weight for {modality} is not a number: {raw!r}")
    if isinstance(raw, (int, float)):
        value = float(raw)
    elif isinstance(raw, str):
        cleaned = raw.strip().rstrip("%").strip()
        try:
            value = float(cleaned)
        except ValueError:
            raise _Rejected(f"weight for {modality} is not a number: {raw[:40]!r}") from None
        if raw.strip().endswith("%"):
            value /= 100.0
    else:
        raise _Rejected(f"weight for {modality} is not a number: {type(raw).__name__}")
    if not math.isfinite(value):
        raise _Rejected(f"weight for {modality} is not finite: {raw!r}")
    if value < 0:
        raise _Rejected(f"weight for {modality} is negative: {value:g}")
    return value


def _decision_from(obj: dict) -> tuple[RoutingDecision, list[str]]:
    by_key = {_normalise_key(k): v for k, v in obj.items()}
    missing = [m for m in MODALITIES if m not in by_key]
    if missing:
        raise _Rejected("missing modality: " + ", ".join(missing))
    weights = {m: _number(m, by_key[m]) for m in MODALITIES}
    total = math.fsum(weights.values())
    if total <= 0:
        raise _Rejected("all weights are zero")

    warnings: list[str] = []
    if abs(total - 100.0) <= PERCENT_TOLERANCE and max(weights.values()) > 1.0:
        warnings.append(f"weights read as percentages (sum {total:g})")
        weights = {m: w / 100.0 for m, w in weights.items()}
        total = math.fsum(weights.values())
    if abs(total - 1.0) > SUM_TOLERANCE:
        warnings.append(f"weights summed to {total:.4g}; renormalised to 1.0")
    weights = {m: w / total for m, w in weights.items()}

    reasoning = by_key.get("reasoning", "")
    if reasoning is None or reasoning == "":
        warnings.append("no reasoning given")
        reasoning = ""
    elif not isinstance(reasoning, str):
        reasoning = json.dumps(reasoning, ensure_ascii=False)
    return RoutingDecision(**weights, reasoning=reasoning), warnings


def round_weights(weights: dict[str, float]) -> dict[str, float]:
    """Round to multiples of 0.05 by the largest-remainder method so the steps add up to exactly 20.

    The input must be non-negative and sum to about 1. Ties in the remainder go to the larger weight,
    then to the modality order, so the result is deterministic.
    """
    scaled = {m: max(0.0, weights[m]) * STEPS_PER_UNIT for m in MODALITIES}
    total = math.fsum(scaled.values())
    if total > 0:
        scaled = {m: v * STEPS_PER_UNIT / total for m, v in scaled.items()}
    units = {m: int(math.floor(v)) for m, v in scaled.items()}
    left = STEPS_PER_UNIT - sum(units.values())
    order = sorted(MODALITIES, key=lambda m: (-(scaled[m] - units[m]), -scaled[m], MODALITIES.index(m)))
    for m in order[: max(0, left)]:
        units[m] += 1
    return {m: units[m] / STEPS_PER_UNIT for m in MODALITIES}


def round_weight_rows(rows: np.ndarray) -> np.ndarray:
    """round_weights for many rows at once (columns in MODALITIES order): the same largest-remainder rule and
    the same tie order (larger remainder, then larger weight, then modality order)."""
    import numpy as np  # here, so that parsing a reply never waits for numpy

    scaled = np.maximum(np.asarray(rows, dtype=np.float64), 0.0) * STEPS_PER_UNIT
    total = scaled.sum(axis=1, keepdims=True)
    scaled = np.divide(scaled * STEPS_PER_UNIT, total, out=scaled.copy(), where=total > 0)
    units = np.floor(scaled)
    left = STEPS_PER_UNIT - units.sum(axis=1)
    position = np.broadcast_to(np.arange(scaled.shape[1]), scaled.shape)
    order = np.lexsort((position, -scaled, -(scaled - units)), axis=1)
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(scaled.shape[1])[None, :].repeat(len(scaled), axis=0), axis=1)
    units += rank < left[:, None]
    return units / STEPS_PER_UNIT


def rounded_decision(decision: RoutingDecision) -> RoutingDecision:
    return RoutingDecision(**round_weights(decision.weights()), reasoning=decision.reasoning)
