"""Scoring routers against reference decisions: the deterministic rubric and the `evaluate` metrics.

The rubric is the weights part of the published 1-5 "OverallQuality" rubric (DESIGN.md section 2); on
Bedrock a judge model adds the reasoning part. Everything here is pure, so the CLI, the pages and
the trainer's held-out report all score the same way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from core.schema import MODALITIES, RouteResult, RoutingDecision

# Bounds are inclusive within this tolerance: 0.05 typed as 0.35 - 0.30 still counts as 0.05.
BOUND_TOLERANCE = 1e-9
SCORE_UNUSABLE = 1
MAX_ERROR_FAIL = 0.30
MAX_ERROR_EXCELLENT = 0.05
MAX_ERROR_GOOD = 0.10
AVG_ERROR_FAIR = 0.15

EVALUATE_KEYS = (
    "n",
    "validity",
    "rubric_mean",
    "mae",
    "dominant_accuracy",
    "latency_p50_ms",
    "latency_p95_ms",
    "cost_per_1k_usd",
)


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
    return [rubric_score(_usable(c), r) for c, r in zip(candidates, references, strict=True)]


def score_pairs(candidates: Sequence[RouteResult], references: Sequence[RoutingDecision]) -> dict[str, float | None]:
    """One router's figures of the `evaluate --json` contract (fractions 0-1; None where undefined).

    validity, rubric_mean and dominant_accuracy count every row (an invalid reply scores 1 and is
    never right); mae averages the valid rows only; latency percentiles cover every routed row.
    A candidate tied between several top modalities gets the share of them that lead the reference too
    (a tie is a coin toss: after rounding to 0.05 ties are common, and breaking them by modality order
    would be arbitrary, while counting any overlap as a hit would give the uniform baseline 100%).
    """
    _check_lengths(candidates, references)
    n = len(candidates)
    if n == 0:
        return {"n": 0, **dict.fromkeys(EVALUATE_KEYS[1:])}
    usable = [_usable(c) for c in candidates]
    errors = [weight_errors(d, r) for d, r in zip(usable, references, strict=True) if d is not None]
    dominant_hits = math.fsum(
        len(d.dominant_set() & r.dominant_set()) / len(d.dominant_set())
        for d, r in zip(usable, references, strict=True)
        if d is not None
    )
    latencies = np.array([c.latency_ms for c in candidates], dtype=np.float64)
    return {
        "n": n,
        "validity": sum(d is not None for d in usable) / n,
        "rubric_mean": math.fsum(rubric_score(d, r) for d, r in zip(usable, references, strict=True)) / n,
        "mae": float(np.mean(errors)) if errors else None,
        "dominant_accuracy": dominant_hits / n,
        "latency_p50_ms": float(np.percentile(latencies, 50)),
        "latency_p95_ms": float(np.percentile(latencies, 95)),
        "cost_per_1k_usd": math.fsum(c.cost_usd for c in candidates) / n * 1000.0,
    }


def _usable(result: RouteResult) -> RoutingDecision | None:
    return result.decision if result.valid else None


def _check_lengths(candidates: Sequence[RouteResult], references: Sequence[RoutingDecision]) -> None:
    if len(candidates) != len(references):
        raise ValueError(f"{len(candidates)} router results but {len(references)} references")
