"""A student-first cascade: the student answers, and only the queries it is unsure of go to the teacher.

Router id `cascade:<student id>|<teacher id>@<threshold>` (core.routers.registry). A query falls back to the
teacher when the student's reply is invalid or its confidence is under the threshold (strictly).

**Confidence** is how far the student's leading channel is ahead of the runner-up, from 0 (a tie) to 1 (all
weight on one channel). A router that can measure it before rounding offers `confidences(queries)` (the
local student: the margin of its probabilities); any other router's confidence is the margin of the
weights it replied with (in 0.05 steps). A fallback query costs what both routers cost, and takes both
latencies: the student ran first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from core.routers.base import Router, RouterReply
from core.schema import RouteResult, RoutingDecision

# The threshold a picker offers before anyone has measured a better one (the evaluation's cascade curve does).
DEFAULT_THRESHOLD = 0.3


@runtime_checkable
class ConfidenceSource(Protocol):
    def confidences(self, queries: Sequence[str]) -> list[float]:
        """How sure the router is of each query's leading channel, 0-1, in order."""
        ...


def decision_margin(decision: RoutingDecision | None) -> float:
    """The leading weight's lead over the runner-up (0 when tied or when there is no decision)."""
    if decision is None:
        return 0.0
    top, second = sorted(decision.weights().values(), reverse=True)[:2]
    return max(0.0, top - second)


def reply_confidences(router: Router, queries: Sequence[str], results: Sequence[RouteResult]) -> list[float]:
    """Each result's confidence (0 for an invalid reply): measured by the router when it can, else its margin."""
    measured = router.confidences(list(queries)) if isinstance(router, ConfidenceSource) else None
    return [
        (measured[i] if measured is not None else decision_margin(result.decision)) if result.valid else 0.0
        for i, result in enumerate(results)
    ]


def falls_back(valid: bool, confidence: float, threshold: float) -> bool:
    """The cascade's one rule: an invalid reply, or a confidence under the threshold, goes to the teacher."""
    return not valid or confidence < threshold


@dataclass(frozen=True)
class CascadeTrace:
    """What a cascade did: its results, the student's confidence per query, and which went to the teacher."""

    results: list[RouteResult]
    confidences: list[float]
    fell_back: list[bool]

    @property
    def teacher_share(self) -> float:
        return sum(self.fell_back) / len(self.fell_back) if self.fell_back else 0.0


class CascadeRouter(Router):
    """Routes every query with the student, then the unsure ones with the teacher; each result keeps the
    answering router's decision and text, and the sum of both routers' latency, tokens and cost."""

    def __init__(self, student: Router, teacher: Router, threshold: float, router_id: str):
        if not 0.0 <= threshold <= 1.0:
            raise ValueError("a cascade threshold is a confidence between 0 and 1")
        super().__init__(student.prices, router_id)
        self.student = student
        self.teacher = teacher
        self.threshold = threshold
        self.remote = student.remote or teacher.remote

    @property
    def billable(self) -> bool:
        return self.student.billable or self.teacher.billable

    def estimate_cost_usd(self, query: str, output_tokens: int = 60) -> float:
        # Quoted as if the query fell back: the most it can cost, since the share is known only afterwards.
        return self.student.estimate_cost_usd(query, output_tokens) + self.teacher.estimate_cost_usd(
            query, output_tokens
        )

    def route_batch(self, queries: Sequence[str]) -> list[RouteResult]:
        return self.route_traced(queries).results

    def route_traced(self, queries: Sequence[str]) -> CascadeTrace:
        first = self.student.route_batch(queries)
        confidences = reply_confidences(self.student, queries, first)
        fell_back = [
            falls_back(r.valid, c, self.threshold) and bool(r.query.strip())
            for r, c in zip(first, confidences, strict=True)
        ]
        unsure = [i for i, back in enumerate(fell_back) if back]
        second = iter(self.teacher.route_batch([queries[i] for i in unsure]) if unsure else [])
        results = [
            answered_by_teacher(result, next(second), confidence, self.threshold, self.router_id)
            if back
            else answered_by_student(result, self.router_id)
            for result, confidence, back in zip(first, confidences, fell_back, strict=True)
        ]
        return CascadeTrace(results, confidences, fell_back)

    def route_many(self, queries: Sequence[str]) -> list[RouterReply]:
        # route_batch combines two finished results (each priced by its own router); raw replies follow from it.
        return [
            RouterReply(
                text=r.raw_text,
                decision=r.decision if r.valid else None,
                input_tokens=r.input_tokens,
                output_tokens=r.output_tokens,
                latency_ms=r.latency_ms,
                error="; ".join(r.errors) if not r.valid else None,
            )
            for r in self.route_batch(queries)
        ]


def answered_by_student(student: RouteResult, router_id: str) -> RouteResult:
    return student.model_copy(update={"router_id": router_id})


def answered_by_teacher(
    student: RouteResult, teacher: RouteResult, confidence: float, threshold: float, router_id: str
) -> RouteResult:
    """The teacher's answer to a query the student was unsure of: both routers' latency, tokens and cost."""
    if student.valid:
        note = f"the teacher answered: the student's confidence {confidence:.2f} is under {threshold:.2f}"
    else:
        note = "the teacher answered: the student's reply was invalid"
    return teacher.model_copy(
        update={
            "router_id": router_id,
            "warnings": [*teacher.warnings, note],
            "latency_ms": student.latency_ms + teacher.latency_ms,
            "input_tokens": student.input_tokens + teacher.input_tokens,
            "output_tokens": student.output_tokens + teacher.output_tokens,
            "token_source": "measured" if student.token_source == teacher.token_source == "measured" else "estimated",
            "cost_usd": student.cost_usd + teacher.cost_usd,
        }
    )
