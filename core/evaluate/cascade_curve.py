"""Quality against cost and latency of a student-first cascade over its thresholds (a RouteLLM-style curve).

Computed from one evaluation run that scored both the student and the teacher: at each threshold the
cascade answers a query with the student's record, or, when the student was invalid or less confident
than the threshold, with the teacher's record plus the student's latency and cost (the rule of
core.routers.cascade, `falls_back`, and its sums, so a point of the curve is what
`cascade:<student>|<teacher>@t` scores on the same set; a test holds them together). The recommended
threshold is the cheapest one recovering at least 95% of the teacher's quality (teacher quality recovered
on the rubric; on leading-channel accuracy for an expectation set); ties go to the lower latency, then
the lower threshold.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from pydantic import BaseModel

from core.evaluate.engine import EvaluationRun, quality_figures
from core.evaluate.recovery import quality_recovered
from core.evaluate.rubric import latency_and_cost
from core.evaluate.sets import EvaluationSet
from core.routers.cascade import falls_back
from core.routers.registry import cascade_id

DEFAULT_THRESHOLDS: tuple[float, ...] = tuple(round(step * 0.05, 2) for step in range(21))
DEFAULT_TARGET = 0.95


class CurvePoint(BaseModel):
    threshold: float
    router_id: str
    teacher_share: float
    validity: float | None
    rubric_mean: float | None
    mae: float | None
    dominant_accuracy: float | None
    recovered: float | None
    cost_per_1k_usd: float | None
    latency_mean_ms: float
    latency_p50_ms: float | None
    latency_p95_ms: float | None


class CascadeCurve(BaseModel):
    student: str
    teacher: str
    # The figure "recovered" is measured on: rubric_mean (labelled sets) or dominant_accuracy (expectations).
    measure: str
    target: float
    points: list[CurvePoint]
    recommended: CurvePoint | None

    def recommendation_sentence(self) -> str:
        if self.recommended is None:
            return (
                f"No threshold recovers {self.target:.0%} of the teacher's quality on this set "
                "(or the teacher does no better than uniform weights here)."
            )
        point = self.recommended
        return (
            f"Threshold {point.threshold:g} recovers {point.recovered:.0%} of the teacher's quality at "
            f"${point.cost_per_1k_usd or 0.0:,.4f} per 1,000 queries, sending {point.teacher_share:.0%} of queries "
            f"to the teacher: router id {point.router_id}"
        )


def cascade_curve(
    run: EvaluationRun,
    evaluation_set: EvaluationSet | None,
    student_id: str,
    teacher_id: str,
    *,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    target: float = DEFAULT_TARGET,
) -> CascadeCurve:
    """The curve of a cascade of two routers the run scored; raises KeyError naming a router it did not.

    Without the set (a run read back from the history), the run's own summary says whether it had weights.
    """
    for router_id in (student_id, teacher_id):
        if router_id not in run.routers:
            raise KeyError(f"the run did not score {router_id!r}: evaluate it too to draw the cascade curve")
    student = run.routers[student_id].records
    teacher = run.routers[teacher_id].records
    labelled = evaluation_set.labelled if evaluation_set is not None else run.set.get("kind") != "expectations"
    measure = "rubric_mean" if labelled else "dominant_accuracy"
    baselines = run.details.get("recovery", {})
    uniform = (baselines.get("uniform") or {}).get(measure)
    teacher_level = (baselines.get("teacher") or {}).get(measure)
    points = []
    for threshold in sorted(set(thresholds)):
        # A fallback query is the teacher's answer, scored as the teacher's, after the student ran too.
        back = [falls_back(s.valid, s.confidence, threshold) and bool(s.query.strip()) for s in student]
        answered = [t if b else s for s, t, b in zip(student, teacher, back, strict=True)]
        latencies = [
            s.latency_ms + (t.latency_ms if b else 0.0) for s, t, b in zip(student, teacher, back, strict=True)
        ]
        costs = [s.cost_usd + (t.cost_usd if b else 0.0) for s, t, b in zip(student, teacher, back, strict=True)]
        quality = quality_figures(answered)
        points.append(
            CurvePoint(
                threshold=threshold,
                router_id=cascade_id(student_id, teacher_id, threshold),
                teacher_share=sum(back) / len(back),
                validity=quality["validity"],
                rubric_mean=quality["rubric_mean"],
                mae=quality["mae"],
                dominant_accuracy=quality["dominant_accuracy"],
                recovered=quality_recovered(quality[measure], uniform, teacher_level),
                latency_mean_ms=math.fsum(latencies) / len(latencies),
                **latency_and_cost(latencies, costs),
            )
        )
    return CascadeCurve(
        student=student_id,
        teacher=teacher_id,
        measure=measure,
        target=target,
        points=points,
        recommended=_cheapest_reaching(points, target),
    )


def _cheapest_reaching(points: Sequence[CurvePoint], target: float) -> CurvePoint | None:
    reaching = [p for p in points if p.recovered is not None and p.recovered >= target - 1e-9]
    if not reaching:
        return None
    return min(reaching, key=lambda p: (p.cost_per_1k_usd or 0.0, p.latency_mean_ms, p.threshold))
