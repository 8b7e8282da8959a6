"""The student-first cascade: its router id, what it routes where, what it costs, and the threshold curve."""

from __future__ import annotations

import dataclasses

import pytest

from core.backends import BackendUnavailable, LocalBackend
from core.distill.artifact import save_student
from core.distill.trainer import TrainingConfig, decision_targets, train_student
from core.evaluate.cascade_curve import cascade_curve
from core.evaluate.engine import run_evaluation
from core.evaluate.sets import EvaluationSet
from core.routers.base import RouterReply
from core.routers.cascade import CascadeRouter, decision_margin, falls_back
from core.routers.reference import ReferenceTeacher
from core.routers.registry import cascade_id, parse_cascade_id
from core.routers.student import StudentRouter
from core.routers.uniform import UniformRouter
from core.schema import RoutingDecision
from core.settings import load_settings
from core.store import Store
from core.synth import DataMix, generate

STUDENT_TOKENS = (30, 50)
TEACHER_TOKENS = (400, 40)


class BillableTeacher(ReferenceTeacher):
    """The reference teacher's answers, billed as Nova Premier at a fixed size per query (so cost is exact)."""

    price_key = "nova-premier"

    def route_many(self, queries):
        return [
            dataclasses.replace(r, input_tokens=TEACHER_TOKENS[0], output_tokens=TEACHER_TOKENS[1])
            for r in super().route_many(queries)
        ]


class BillableStudent(StudentRouter):
    """A distilled student billed as Nova Micro at a fixed size per query."""

    price_key = "nova-micro"

    def route_many(self, queries):
        return [
            dataclasses.replace(r, input_tokens=STUDENT_TOKENS[0], output_tokens=STUDENT_TOKENS[1])
            for r in super().route_many(queries)
        ]


@pytest.fixture(scope="module")
def weak_model():
    """A student trained briefly on few queries: it agrees with the teacher often, not always."""
    queries = [q.query for q in generate(DataMix(total=400, seed=7))]
    targets = decision_targets([r.decision for r in ReferenceTeacher().route_batch(queries)])
    return train_student(queries, targets, TrainingConfig(epochs=8, members=1, min_ngram_count=2))


@pytest.fixture(scope="module")
def heldout():
    generated = generate(DataMix(total=300, seed=8))
    queries = [q.query for q in generated]
    references = [r.decision for r in ReferenceTeacher().route_batch(queries)]
    return EvaluationSet(kind="heldout", name="heldout", source="heldout", queries=queries, references=references)


# ---- the id -------------------------------------------------------------------------------------------------

ID_TABLE = {
    "plain": ("student:abc|teacher@0.3", ("student:abc", "teacher", 0.3)),
    "ids with ':' and ','": (
        "bedrock:arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/x1|bedrock:us.amazon.nova-premier-v1:0@1",
        (
            "bedrock:arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/x1",
            "bedrock:us.amazon.nova-premier-v1:0",
            1.0,
        ),
    ),
    "an '@' inside the teacher id": ("student:a|student:/models/v@2@0.5", ("student:a", "student:/models/v@2", 0.5)),
    "a '|' inside a router id is refused": ("student:a|student:/models/v|x@0", ("", "", None)),
    "spaces around parts": (" deployment:prod | teacher @ 0.25 ", ("deployment:prod", "teacher", 0.25)),
}


@pytest.mark.parametrize(("argument", "expected"), ID_TABLE.values(), ids=ID_TABLE.keys())
def test_a_cascade_id_names_the_student_the_teacher_and_the_threshold(argument, expected):
    student, teacher, threshold = expected
    if threshold is None:
        with pytest.raises(ValueError, match="one '\\|'"):
            parse_cascade_id(argument)
        return
    parsed = parse_cascade_id(argument)
    assert (parsed.student, parsed.teacher, parsed.threshold) == (student, teacher, threshold)


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        ("student:a|teacher", "ends with @<threshold>"),
        ("student:a|teacher@high", "not a number from 0 to 1"),
        ("student:a|teacher@1.5", "not a number from 0 to 1"),
        ("student:a|teacher@nan", "not a number from 0 to 1"),
        ("student:a@0.3", "one '\\|'"),
        ("|teacher@0.3", "one '\\|'"),
        ("cascade:a|b@0.1|teacher@0.2", "one '\\|'"),
    ],
)
def test_a_malformed_cascade_id_gets_one_sentence(argument, message):
    with pytest.raises(ValueError, match=message):
        parse_cascade_id(argument)


def test_the_id_written_for_a_cascade_reads_back():
    written = cascade_id("student:m1", "teacher", 0.30000000000000004)
    assert written == "cascade:student:m1|teacher@0.3"
    assert parse_cascade_id(written.removeprefix("cascade:")).threshold == 0.3


def test_the_backend_resolves_a_cascade_of_any_two_router_ids(tmp_path, weak_model):
    save_student(weak_model, tmp_path / "student")
    settings = load_settings()
    backend = LocalBackend(settings, Store(settings.store_path))
    router = backend.router(f"cascade:student:{tmp_path / 'student'}|teacher@0.4")
    assert isinstance(router, CascadeRouter)
    assert isinstance(router.student, StudentRouter) and isinstance(router.teacher, ReferenceTeacher)
    assert router.threshold == 0.4 and not router.billable
    with pytest.raises(BackendUnavailable, match="ends with @<threshold>"):
        backend.router("cascade:uniform|teacher")
    with pytest.raises(BackendUnavailable, match="Unknown router"):
        backend.router("cascade:nonsense|teacher@0.2")
    assert any("cascade:" in form for form in backend.router_id_forms)


# ---- routing ------------------------------------------------------------------------------------------------


def test_confidence_is_the_leaders_margin_and_an_invalid_reply_always_falls_back():
    assert decision_margin(RoutingDecision(visual=0.6, audio=0.3, transcription=0.1, metadata=0.0)) == pytest.approx(
        0.3
    )
    assert decision_margin(RoutingDecision(visual=0.25, audio=0.25, transcription=0.25, metadata=0.25)) == 0.0
    assert decision_margin(None) == 0.0
    assert falls_back(valid=False, confidence=0.9, threshold=0.0)
    assert falls_back(valid=True, confidence=0.29, threshold=0.3)
    assert not falls_back(valid=True, confidence=0.3, threshold=0.3)


class Unparseable(UniformRouter):
    def route_many(self, queries):
        return [RouterReply(text="no idea") for _ in queries]


def test_an_invalid_student_reply_goes_to_the_teacher_and_is_answered():
    cascade = CascadeRouter(Unparseable(router_id="broken"), ReferenceTeacher(), 0.0, "cascade:broken|teacher@0")
    trace = cascade.route_traced(["dog barking loudly", "red car driving"])
    assert trace.fell_back == [True, True]
    assert all(r.valid and r.router_id == "cascade:broken|teacher@0" for r in trace.results)
    assert "the student's reply was invalid" in trace.results[0].warnings[-1]


def test_the_student_offers_its_own_confidence_from_its_probabilities(weak_model):
    student = StudentRouter(weak_model)
    queries = ["dog barking loudly", "the interview with the mayor", "a"]
    confidences = student.confidences(queries)
    probabilities = weak_model.predict_proba(queries)
    for confidence, row in zip(confidences, probabilities, strict=True):
        ranked = sorted(row, reverse=True)
        assert confidence == pytest.approx(ranked[0] - ranked[1])


# ---- the acceptance: between student and teacher, a share to the teacher, the cost it says --------------------


def test_the_cascade_scores_between_student_and_teacher_for_the_student_cost_plus_its_share_of_the_teachers(
    weak_model, heldout
):
    student = BillableStudent(weak_model, router_id="student:weak")
    teacher = BillableTeacher()
    base = run_evaluation(heldout, {"student:weak": student, "teacher": teacher})
    s, t = base.figures()["student:weak"], base.figures()["teacher"]
    assert s["rubric_mean"] < t["rubric_mean"] == 5.0  # the student disagrees with the teacher on some queries

    cascade = CascadeRouter(student, teacher, 0.3, "cascade:student:weak|teacher@0.3")
    figures = run_evaluation(heldout, {cascade.router_id: cascade}).figures()[cascade.router_id]

    assert s["rubric_mean"] < figures["rubric_mean"] < t["rubric_mean"]
    assert s["dominant_accuracy"] < figures["dominant_accuracy"] < t["dominant_accuracy"]
    share = figures["teacher_share"]
    assert 0.0 < share < 1.0
    assert s["cost_per_1k_usd"] > 0 and t["cost_per_1k_usd"] > 0
    assert figures["cost_per_1k_usd"] == pytest.approx(s["cost_per_1k_usd"] + share * t["cost_per_1k_usd"])
    assert figures["input_tokens_per_1k"] == pytest.approx(1000 * (STUDENT_TOKENS[0] + share * TEACHER_TOKENS[0]))


def test_each_curve_point_is_what_that_cascade_scores(weak_model, heldout):
    student = BillableStudent(weak_model, router_id="student:weak")
    teacher = BillableTeacher()
    base = run_evaluation(heldout, {"student:weak": student, "teacher": teacher, "uniform": UniformRouter()})
    curve = cascade_curve(base, heldout, "student:weak", "teacher", thresholds=(0.0, 0.2, 0.4, 1.0))

    assert [p.threshold for p in curve.points] == [0.0, 0.2, 0.4, 1.0]
    shares = [p.teacher_share for p in curve.points]
    costs = [p.cost_per_1k_usd for p in curve.points]
    assert shares == sorted(shares) and costs == sorted(costs)
    assert curve.points[0].recovered == pytest.approx(base.figures()["student:weak"]["quality_recovered"])
    assert curve.points[-1].teacher_share == 1.0 and curve.points[-1].recovered == pytest.approx(1.0)
    for point in curve.points[1:3]:
        cascade = CascadeRouter(student, teacher, point.threshold, point.router_id)
        measured = run_evaluation(heldout, {point.router_id: cascade}).figures()[point.router_id]
        assert point.teacher_share == measured["teacher_share"]
        assert point.rubric_mean == pytest.approx(measured["rubric_mean"])
        assert point.dominant_accuracy == pytest.approx(measured["dominant_accuracy"])
        assert point.cost_per_1k_usd == pytest.approx(measured["cost_per_1k_usd"])


def test_the_curve_names_the_cheapest_threshold_recovering_95_percent(weak_model, heldout):
    student = BillableStudent(weak_model, router_id="student:weak")
    base = run_evaluation(heldout, {"student:weak": student, "teacher": BillableTeacher()})
    curve = cascade_curve(base, heldout, "student:weak", "teacher")

    best = curve.recommended
    assert best is not None and best.recovered >= 0.95
    assert all(p.cost_per_1k_usd >= best.cost_per_1k_usd for p in curve.points if p.recovered >= 0.95)
    assert best.threshold < 1.0 and best.teacher_share < 1.0
    assert best.router_id in curve.recommendation_sentence()
    with pytest.raises(KeyError, match="did not score"):
        cascade_curve(base, heldout, "student:weak", "uniform")


def test_a_run_read_back_from_the_history_draws_the_same_curve_without_its_set(weak_model, heldout, tmp_path):
    from core.evaluate.history import EvaluationHistory
    from core.store import Store

    student = BillableStudent(weak_model, router_id="student:weak")
    base = run_evaluation(heldout, {"student:weak": student, "teacher": BillableTeacher()})
    history = EvaluationHistory(Store(tmp_path / "studio.db"))
    history.save(base)

    kept = cascade_curve(history.get(base.id), None, "student:weak", "teacher")
    assert kept == cascade_curve(base, heldout, "student:weak", "teacher")
    assert kept.measure == "rubric_mean"
