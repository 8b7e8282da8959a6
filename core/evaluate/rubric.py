"""The one scorer: the deterministic rubric and the figures of the `evaluate --json` contract.

The rubric is the weights part of the published 1-5 "OverallQuality" rubric (docs/ARCHITECTURE.md,
contracts); on Bedrock a judge model adds the reasoning part. Everything here is pure and is the only
scorer: the CLI, the pages, the distillation pipeline's held-out figures and the trainer's per-epoch
validation all score the same way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from core.schema import MODALITIES, RouteResult, RoutingDecision

# Bounds are inclusive within this tolerance: 0.05 typed as 0.35 - 0.30 still counts as 0.05.
BOUND_TOLERANCE = 1e-9
SCORE_UNUSABLE = 1
MAX_ERROR_FAIL = 0.30
MAX_ERROR_EXCELLENT = 0.05
MAX_ERROR_GOOD = 0.10
AVG_ERROR_FAIR = 0.15

QUALITY_KEYS = ("validity", "rubric_mean", "mae", "dominant_accuracy")
USAGE_KEYS = ("latency_p50_ms", "latency_p95_ms", "cost_per_1k_usd")
EVALUATE_KEYS = ("n", *QUALITY_KEYS, *USAGE_KEYS)


def weight_errors(candidate: RoutingDecision, reference: RoutingDecision) -> list[float]:
    """Absolute weight difference per modality, in MODALITIES order."""
    return [abs(getattr(candidate, m) - getattr(reference, m)) for m in MODALITIES]


def rubric_score(candidate: RoutingDecision | None, reference: RoutingDecision) -> int:
    """1-5 for how close a candidate's weights are to the reference's, checked in the rubric's order."""
    if candidate is None:
        return SCORE_UNUSABLE
    errors = weight_errors(candidate, reference)
    largest = max(errors)
    average = math.fsum(errors) / len(errors)
    if largest > MAX_ERROR_FAIL + BOUND_TOLERANCE:
        return 1
    if largest <= MAX_ERROR_EXCELLENT + BOUND_TOLERANCE:
        return 5
    if largest <= MAX_ERROR_GOOD + BOUND_TOLERANCE:
        return 4
    if not candidate.dominant_set() & reference.dominant_set():
        return 2
    if average < AVG_ERROR_FAIR - BOUND_TOLERANCE:
        return 3
    return 2


def rubric_scores(candidates: Sequence[RouteResult], references: Sequence[RoutingDecision]) -> list[int]:
    """The rubric score of each pair (an invalid result scores 1), e.g. for a histogram."""
    _check_lengths(candidates, references)
    return [rubric_score(usable_decision(c), r) for c, r in zip(candidates, references, strict=True)]


def score_pairs(candidates: Sequence[RouteResult], references: Sequence[RoutingDecision]) -> dict[str, float | None]:
    """One router's figures of the `evaluate --json` contract (fractions 0-1; None where undefined).

    The quality figures are those of score_decisions; latency percentiles cover every routed row, and
    cost is what the results say they cost.
    """
    _check_lengths(candidates, references)
    n = len(candidates)
    if n == 0:
        return {"n": 0, **dict.fromkeys(EVALUATE_KEYS[1:])}
    quality = score_decisions([usable_decision(c) for c in candidates], references)
    return {"n": n, **quality, **usage_figures(candidates)}


def usage_figures(results: Sequence[RouteResult]) -> dict[str, float | None]:
    """Latency percentiles over every routed row and the cost per 1,000 queries the results say they cost."""
    return latency_and_cost([r.latency_ms for r in results], [r.cost_usd for r in results])


def latency_and_cost(latencies_ms: Sequence[float], costs_usd: Sequence[float]) -> dict[str, float | None]:
    """The usage figures of rows given as their latencies and costs (None for no rows)."""
    if not len(latencies_ms):
        return dict.fromkeys(USAGE_KEYS)
    latencies = np.asarray(latencies_ms, dtype=np.float64)
    return {
        "latency_p50_ms": float(np.percentile(latencies, 50)),
        "latency_p95_ms": float(np.percentile(latencies, 95)),
        "cost_per_1k_usd": math.fsum(costs_usd) / len(costs_usd) * 1000.0,
    }


class ScoredRow(Protocol):
    """One candidate already scored against its reference (RowScore, or an evaluation's record)."""

    @property
    def valid(self) -> bool: ...
    @property
    def rubric(self) -> int | None: ...
    @property
    def mean_error(self) -> float | None: ...
    @property
    def credit(self) -> float: ...


@dataclass(frozen=True, slots=True)
class RowScore:
    valid: bool
    rubric: int | None
    mean_error: float | None
    credit: float


def score_row(candidate: RoutingDecision | None, reference: RoutingDecision) -> RowScore:
    """The rubric score, mean absolute weight error and leading-channel credit of one candidate."""
    if candidate is None:
        return RowScore(False, SCORE_UNUSABLE, None, 0.0)
    errors = weight_errors(candidate, reference)
    return RowScore(
        True, rubric_score(candidate, reference), math.fsum(errors) / len(errors), dominant_credit(candidate, reference)
    )


def score_decisions(
    candidates: Sequence[RoutingDecision | None], references: Sequence[RoutingDecision]
) -> dict[str, float | None]:
    """validity, rubric_mean, mae and dominant_accuracy of candidate decisions (None: no usable reply).

    The one place quality is scored: `evaluate`, held-out figures and the trainer's per-epoch validation
    all come through here (and through summarise_scores for rows already scored). A candidate tied between
    several top modalities gets the share of them that lead the reference too (a tie is a coin toss:
    after rounding to 0.05 ties are common, and breaking them by modality order would be arbitrary,
    while counting any overlap as a hit would give the uniform baseline 100%).
    """
    _check_lengths(candidates, references)
    return summarise_scores([score_row(d, r) for d, r in zip(candidates, references, strict=True)])


def summarise_scores(rows: Sequence[ScoredRow]) -> dict[str, float | None]:
    """The quality figures of scored rows. validity, rubric_mean and dominant_accuracy count every row (a
    missing decision scores 1 and is never right); mae averages the usable rows only. rubric_mean and mae
    are None where no row has them (an expectation set has no reference weights)."""
    n = len(rows)
    if n == 0:
        return dict.fromkeys(QUALITY_KEYS)
    rubrics = [row.rubric for row in rows]
    errors = [row.mean_error for row in rows if row.mean_error is not None]
    return {
        "validity": sum(row.valid for row in rows) / n,
        "rubric_mean": math.fsum(r for r in rubrics if r is not None) / n if None not in rubrics else None,
        "mae": math.fsum(errors) / len(errors) if errors else None,
        "dominant_accuracy": math.fsum(row.credit for row in rows) / n,
    }


def dominant_credit(candidate: RoutingDecision | None, reference: RoutingDecision) -> float:
    """1 when the candidate's single top modality leads the reference, the share of its tied top modalities
    that do when it is tied, 0 when none do or there is no candidate."""
    if candidate is None:
        return 0.0
    top = candidate.dominant_set()
    return len(top & reference.dominant_set()) / len(top)


def expected_channel_credit(candidate: RoutingDecision | None, expected: str) -> float:
    """Credit for a query whose expected channel a person named: the share of the candidate's top set it is
    (1 for a clean win, 0.5 for a two-way tie that includes it, 0.25 for uniform weights)."""
    if candidate is None:
        return 0.0
    top = candidate.dominant_set()
    return 1.0 / len(top) if expected in top else 0.0


def usable_decision(result: RouteResult) -> RoutingDecision | None:
    """The decision a result can be scored on: none when the reply was invalid (it scores 1, never right)."""
    return result.decision if result.valid else None


def _check_lengths(candidates: Sequence[object], references: Sequence[RoutingDecision]) -> None:
    if len(candidates) != len(references):
        raise ValueError(f"{len(candidates)} router results but {len(references)} references")
