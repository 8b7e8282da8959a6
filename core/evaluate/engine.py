"""Run routers over an evaluation set and keep every record's scores, so any figure can be drilled into.

Per router: the `evaluate --json` contract figures (core.evaluate.rubric, the one scorer) and, added beside
them, the mean latency, tokens per 1,000 queries, the error and leading-channel accuracy per channel, a
confusion matrix of leading channels, the rubric histogram, slices by focus, difficulty and domain (where
the set has tags), teacher quality recovered (core.evaluate.recovery) and, for a cascade, the share of
queries the teacher answered.

**Confusion counts** follow the leading-channel credit: a candidate tied between k channels gives 1/k to
each; a candidate channel that is one of the reference's leaders counts on the diagonal, otherwise its
share is split over the reference's leaders. So the diagonal's share of the total is the leading-channel
accuracy, and an invalid reply counts in the "invalid" column.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from core.evaluate.recovery import quality_recovered
from core.evaluate.rubric import (
    RowScore,
    ScoredRow,
    expected_channel_credit,
    score_row,
    summarise_scores,
    usable_decision,
    usage_figures,
    weight_errors,
)
from core.evaluate.sets import SOURCE_FIELD, EvaluationSet
from core.routers.base import Router
from core.routers.cascade import CascadeRouter, reply_confidences
from core.schema import MODALITIES, RouteResult, RoutingDecision

INVALID = "invalid"
RUBRIC_SCORES = (1, 2, 3, 4, 5)
TEACHER_ID = "teacher"
UNIFORM_ID = "uniform"
# Remote routers are routed in small batches, so progress moves and a failure loses little.
REMOTE_BATCH = 16
LOCAL_BATCH = 1000
# How a router's latency was measured: each call's own, or a batch's time shared among its queries.
PER_CALL = "per call"
BATCH_SHARE = "batch share"

ProgressCallback = Callable[[int, int, str], None]


class RecordScore(BaseModel):
    """One query as one router answered it, and how it scored."""

    index: int
    line: int
    query: str
    valid: bool
    errors: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    weights: dict[str, float] | None = None
    reasoning: str | None = None
    raw_text: str = ""
    reference: dict[str, float] | None = None
    expected: str | None = None
    leaders: list[str] = Field(default_factory=list)
    reference_leaders: list[str] = Field(default_factory=list)
    rubric: int | None = None
    max_error: float | None = None
    mean_error: float | None = None
    channel_errors: dict[str, float] | None = None
    credit: float = 0.0
    latency_ms: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    focus: str = "unknown"
    difficulty: str = "unknown"
    domain: str = "unknown"
    source: str | None = None
    # How sure the router was of its leading channel, 0-1 (core.routers.cascade; for a cascade, its student's).
    confidence: float = 0.0
    # A cascade's records say whether the teacher answered; None for any other router.
    fallback: bool | None = None
    # Filled in by a judge run (core.evaluate.judging): its 1-5 score, or None when not judged or unparseable.
    judge: int | None = None

    def decision(self) -> RoutingDecision | None:
        return RoutingDecision.model_validate(self.weights) if self.weights is not None and self.valid else None

    def in_cell(self, reference_channel: str, candidate_channel: str) -> bool:
        """Whether this record counts in a confusion cell (reference leader x candidate leader or "invalid")."""
        if reference_channel not in self.reference_leaders:
            return False
        if candidate_channel == INVALID:
            return not self.valid
        return self.valid and candidate_channel in self.leaders


class RouterEvaluation(BaseModel):
    router_id: str
    figures: dict[str, Any]
    records: list[RecordScore]


class EvaluationRun(BaseModel):
    """Routers scored on one set: the set's summary, each router's figures and records, and extras
    (the baselines of teacher quality recovered, a judge run, a cascade curve)."""

    id: str = Field(default_factory=lambda: uuid.uuid4().hex[:12])
    created_at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    label: str = ""
    set: dict[str, Any]
    routers: dict[str, RouterEvaluation]
    details: dict[str, Any] = Field(default_factory=dict)
    pinned: bool = False

    def figures(self) -> dict[str, dict[str, Any]]:
        return {router_id: evaluation.figures for router_id, evaluation in self.routers.items()}

    def records(
        self,
        router_id: str,
        *,
        cell: tuple[str, str] | None = None,
        slice_by: tuple[str, str] | None = None,
        rubric: int | None = None,
    ) -> list[RecordScore]:
        """A router's records, narrowed to a confusion cell (reference, candidate), a slice (field, value) or
        a rubric score: the rows behind any figure."""
        rows = self.routers[router_id].records
        if cell is not None:
            rows = [r for r in rows if r.in_cell(*cell)]
        if slice_by is not None:
            field_name, value = slice_by
            rows = [r for r in rows if getattr(r, field_name) == value]
        if rubric is not None:
            rows = [r for r in rows if r.rubric == rubric]
        return rows

    def to_cli_json(self) -> dict[str, Any]:
        """The `evaluate --json` contract shape (`heldout`, `n`, `routers`), plus `set` and `run` added, and for
        an expectation set `expectations` (its source) as `evaluate --expectations` has always given it."""
        shown: dict[str, Any] = {"heldout": self.set["source"]}
        if self.set["kind"] == "expectations":
            shown["expectations"] = self.set["source"]
        return {
            **shown,
            "n": self.set["n"],
            "routers": self.figures(),
            "set": self.set,
            "run": {"id": self.id, "created_at": self.created_at, **self.details},
        }


# ---- running ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RoutedBatch:
    """One router's results over a set, in order: each reply's confidence, and for a cascade which fell back."""

    results: list[RouteResult]
    confidences: list[float]
    fell_back: list[bool] | None = None
    latency_basis: str = PER_CALL


def run_evaluation(
    evaluation_set: EvaluationSet,
    routers: Mapping[str, Router],
    *,
    on_progress: ProgressCallback | None = None,
    label: str = "",
) -> EvaluationRun:
    """Route every query of the set through each router and score it; results keep every record."""
    routed = {
        router_id: route_all(router, evaluation_set.queries, on_progress) for router_id, router in routers.items()
    }
    return score_run(evaluation_set, routed, label=label)


def route_all(router: Router, queries: Sequence[str], on_progress: ProgressCallback | None = None) -> RoutedBatch:
    """Every query's result and confidence, in order, routed in batches (reporting progress after each).

    A remote router's batches are small (its calls run in parallel, each reports its own latency, and a
    failure loses little); an on-box router's are large, so its latency is the time per query of a batch
    (`latency_basis` says which; its single-call latency is a bench figure).
    """
    step = REMOTE_BATCH if router.remote else LOCAL_BATCH
    results: list[RouteResult] = []
    confidences: list[float] = []
    fell_back: list[bool] = []
    cascade = isinstance(router, CascadeRouter)
    for start in range(0, len(queries), step):
        batch = queries[start : start + step]
        if isinstance(router, CascadeRouter):
            trace = router.route_traced(batch)
            results.extend(trace.results)
            confidences.extend(trace.confidences)
            fell_back.extend(trace.fell_back)
        else:
            routed = router.route_batch(batch)
            results.extend(routed)
            confidences.extend(reply_confidences(router, batch, routed))
        if on_progress is not None:
            on_progress(len(results), len(queries), router.router_id)
    return RoutedBatch(results, confidences, fell_back if cascade else None, PER_CALL if router.remote else BATCH_SHARE)


def score_run(evaluation_set: EvaluationSet, routed: Mapping[str, RoutedBatch], *, label: str = "") -> EvaluationRun:
    """Score routed results (router id -> its batch) into a run, with teacher quality recovered filled in."""
    evaluations = {router_id: score_router(evaluation_set, router_id, batch) for router_id, batch in routed.items()}
    run = EvaluationRun(label=label, set=evaluation_set.summary(), routers=evaluations)
    add_recovery(run, evaluation_set)
    return run


def score_router(evaluation_set: EvaluationSet, router_id: str, batch: RoutedBatch) -> RouterEvaluation:
    results = batch.results
    if len(results) != evaluation_set.n or len(batch.confidences) != evaluation_set.n:
        raise ValueError(f"{len(results)} results for {evaluation_set.n} queries")
    records = [_record(evaluation_set, index, batch) for index in range(evaluation_set.n)]
    figures = {**quality_figures(records), **usage_figures(results)}
    figures.update(_extras(evaluation_set, records, batch.fell_back))
    figures["latency_basis"] = batch.latency_basis
    return RouterEvaluation(router_id=router_id, figures=figures, records=records)


def _record(evaluation_set: EvaluationSet, index: int, batch: RoutedBatch) -> RecordScore:
    result = batch.results[index]
    decision = usable_decision(result)
    tag = evaluation_set.tags[index]
    row: dict[str, Any] = {
        "index": index,
        "line": evaluation_set.lines[index],
        "query": evaluation_set.queries[index],
        "valid": decision is not None,
        "errors": list(result.errors),
        "warnings": list(result.warnings),
        "weights": decision.weights() if decision is not None else None,
        "reasoning": decision.reasoning if decision is not None else None,
        "raw_text": result.raw_text,
        "leaders": sorted(decision.dominant_set()) if decision is not None else [],
        "latency_ms": result.latency_ms,
        "input_tokens": result.input_tokens,
        "output_tokens": result.output_tokens,
        "cost_usd": result.cost_usd,
        "focus": tag.focus,
        "difficulty": tag.difficulty,
        "domain": tag.domain,
        "source": evaluation_set.sources[index],
        "confidence": batch.confidences[index],
        "fallback": batch.fell_back[index] if batch.fell_back is not None else None,
        # Every field is given (model_construct looks each missing default up, which costs more than scoring).
        "reference": None,
        "expected": None,
        "reference_leaders": [],
        "rubric": None,
        "max_error": None,
        "mean_error": None,
        "channel_errors": None,
        "credit": 0.0,
        "judge": None,
    }
    if evaluation_set.references is not None:
        reference = evaluation_set.references[index]
        scored = score_row(decision, reference)
        row.update(
            reference=reference.weights(),
            reference_leaders=sorted(reference.dominant_set()),
            rubric=scored.rubric,
            mean_error=scored.mean_error,
            credit=scored.credit,
        )
        if decision is not None:
            errors = weight_errors(decision, reference)
            row.update(max_error=max(errors), channel_errors=dict(zip(MODALITIES, errors, strict=True)))
    else:
        expected = evaluation_set.expected[index]  # type: ignore[index]
        row.update(expected=expected, reference_leaders=[expected], credit=expected_channel_credit(decision, expected))
    # Every value was just computed here from validated types: construct without validating again.
    return RecordScore.model_construct(**row)


def quality_figures(rows: Sequence[ScoredRow]) -> dict[str, Any]:
    """n, validity, rubric_mean, mae and dominant_accuracy of scored rows (a router's records, a slice's)."""
    return {"n": len(rows), **summarise_scores(rows)}


def set_row_scores(evaluation_set: EvaluationSet, decisions: Sequence[RoutingDecision | None]) -> list[RowScore]:
    """Decisions scored against the set: on its reference weights, or on the expected channels."""
    if evaluation_set.references is not None:
        return [score_row(d, r) for d, r in zip(decisions, evaluation_set.references, strict=True)]
    expected = evaluation_set.expected or []
    return [
        RowScore(d is not None, None, None, expected_channel_credit(d, e))
        for d, e in zip(decisions, expected, strict=True)
    ]


def _extras(
    evaluation_set: EvaluationSet, records: Sequence[RecordScore], fell_back: Sequence[bool] | None
) -> dict[str, Any]:
    n = len(records)
    labelled = evaluation_set.labelled
    valid = [r for r in records if r.valid]
    per_channel = _accuracy_per_channel(records)
    extras: dict[str, Any] = {
        "latency_mean_ms": math.fsum(r.latency_ms for r in records) / n,
        "input_tokens_per_1k": sum(r.input_tokens for r in records) / n * 1000.0,
        "output_tokens_per_1k": sum(r.output_tokens for r in records) / n * 1000.0,
        "mae_per_channel": {
            m: (math.fsum(r.channel_errors[m] for r in valid if r.channel_errors) / len(valid) if valid else None)
            for m in MODALITIES
        }
        if labelled
        else None,
        "dominant_accuracy_per_channel": {m: share["accuracy"] for m, share in per_channel.items()},
        "confusion": confusion_matrix(records),
        "rubric_histogram": {str(s): sum(r.rubric == s for r in records) for s in RUBRIC_SCORES} if labelled else None,
        "slices": {
            field_name: {
                value: quality_figures([records[i] for i in rows])
                for value, rows in sorted(_groups(records, field_name).items())
            }
            for field_name in evaluation_set.tag_fields
        },
        "teacher_share": sum(fell_back) / n if fell_back is not None else None,
        "quality_recovered": None,
        "accuracy_recovered": None,
    }
    if not labelled:
        # The figures `evaluate --expectations` has always given, from the same records: accuracy is the
        # leading-channel accuracy, per expected channel and per source (the rows that name one).
        extras.update(
            accuracy=math.fsum(r.credit for r in records) / n,
            invalid=n - len(valid),
            per_channel=per_channel,
            per_source={
                value: {"n": slice_["n"], "accuracy": slice_["dominant_accuracy"]}
                for value, slice_ in extras["slices"].get(SOURCE_FIELD, {}).items()
            },
        )
    return extras


def _groups(records: Sequence[RecordScore], field_name: str) -> dict[str, list[int]]:
    """Record indices by their value of a field (records without one, such as no source, are left out)."""
    groups: dict[str, list[int]] = {}
    for record in records:
        value = getattr(record, field_name)
        if value is not None:
            groups.setdefault(value, []).append(record.index)
    return groups


def _accuracy_per_channel(records: Sequence[RecordScore]) -> dict[str, dict[str, Any]]:
    """Per channel, the records it leads in the reference (a tie shares a record) and their leading-channel
    accuracy (None where it leads none)."""
    credit = dict.fromkeys(MODALITIES, 0.0)
    weight = dict.fromkeys(MODALITIES, 0.0)
    for record in records:
        share = 1.0 / len(record.reference_leaders)
        for channel in record.reference_leaders:
            weight[channel] += share
            credit[channel] += share * record.credit
    return {m: {"n": _count(weight[m]), "accuracy": credit[m] / weight[m] if weight[m] else None} for m in MODALITIES}


def _count(weight: float) -> int | float:
    """A count that is whole unless ties shared records out (then to six places)."""
    return int(weight) if float(weight).is_integer() else round(weight, 6)


def confusion_matrix(records: Sequence[RecordScore]) -> dict[str, dict[str, float]]:
    """Reference leading channel -> candidate leading channel (or "invalid") -> count (see the module notes)."""
    matrix = {m: dict.fromkeys((*MODALITIES, INVALID), 0.0) for m in MODALITIES}
    for record in records:
        rows = record.reference_leaders
        if not record.valid:
            for row in rows:
                matrix[row][INVALID] += 1.0 / len(rows)
            continue
        share = 1.0 / len(record.leaders)
        for column in record.leaders:
            if column in rows:
                matrix[column][column] += share
            else:
                for row in rows:
                    matrix[row][column] += share / len(rows)
    return matrix


# ---- teacher quality recovered ------------------------------------------------------------------------------


def add_recovery(run: EvaluationRun, evaluation_set: EvaluationSet) -> None:
    """Fill each router's quality_recovered (rubric) and accuracy_recovered, and say what they rest on.

    Uniform's figures are measured when it was run, else computed (it needs no routing). The teacher's are
    measured when it was run; on a held-out set its labels are its own answers, so without a run it scores
    5 and 100% by construction; on a gold or expectation set without a teacher run there is nothing to
    recover towards, and the figures stay None.
    """
    uniform, uniform_basis = _uniform_baseline(run, evaluation_set)
    teacher, teacher_basis = _teacher_baseline(run, evaluation_set)
    for evaluation in run.routers.values():
        figures = evaluation.figures
        for figure, key in (("rubric_mean", "quality_recovered"), ("dominant_accuracy", "accuracy_recovered")):
            figures[key] = quality_recovered(figures.get(figure), uniform.get(figure), teacher.get(figure))
    run.details["recovery"] = {
        "uniform": {**uniform, "basis": uniform_basis},
        "teacher": {**teacher, "basis": teacher_basis},
    }


def _uniform_baseline(run: EvaluationRun, evaluation_set: EvaluationSet) -> tuple[dict[str, float | None], str]:
    if UNIFORM_ID in run.routers:
        return _baseline_figures(run.routers[UNIFORM_ID].figures), "measured"
    from core.routers.uniform import UNIFORM_DECISION

    rows = set_row_scores(evaluation_set, [UNIFORM_DECISION] * evaluation_set.n)
    return _baseline_figures(quality_figures(rows)), "computed"


def _teacher_baseline(run: EvaluationRun, evaluation_set: EvaluationSet) -> tuple[dict[str, float | None], str | None]:
    if TEACHER_ID in run.routers:
        return _baseline_figures(run.routers[TEACHER_ID].figures), "measured"
    if evaluation_set.reference_is_teacher:
        return {"rubric_mean": float(RUBRIC_SCORES[-1]), "dominant_accuracy": 1.0}, "labels"
    return {"rubric_mean": None, "dominant_accuracy": None}, None


def _baseline_figures(figures: Mapping[str, Any]) -> dict[str, float | None]:
    return {"rubric_mean": figures.get("rubric_mean"), "dominant_accuracy": figures.get("dominant_accuracy")}


__all__ = [
    "INVALID",
    "EvaluationRun",
    "RecordScore",
    "RouterEvaluation",
    "confusion_matrix",
    "RoutedBatch",
    "quality_figures",
    "set_row_scores",
    "route_all",
    "run_evaluation",
    "score_router",
    "score_run",
]
