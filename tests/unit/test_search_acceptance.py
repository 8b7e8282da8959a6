"""Does better routing find better clips? On the default catalog (seed 7: 2,000 segments, 1,000 judged queries),
teacher-routed min-max fusion must beat uniform weights by at least 5 points on Recall@5 and NDCG@10, and a
student distilled from the teacher (10,000 synthetic teacher labels, default training settings) must stay
within 2 points of the teacher on every figure; the combined-index baseline is reported beside them.
Run with `pytest -s` to see the measured figures."""

from __future__ import annotations

import pytest

from core.distill.trainer import decision_targets, train_student
from core.routers.reference import ReferenceTeacher
from core.routers.student import StudentRouter
from core.routers.uniform import UniformRouter
from core.search.engine import SearchIndex
from core.search.evaluation import evaluate_search
from core.search.metrics import METRIC_NAMES
from core.search.sample import generate_catalog
from core.synth import DataMix, generate

MIN_GAIN_OVER_UNIFORM = 0.05
MAX_STUDENT_GAP = 0.02


@pytest.fixture(scope="module")
def figures():
    teacher = ReferenceTeacher()
    queries = [q.query for q in generate(DataMix(total=10_000, seed=7))]
    student = StudentRouter(
        train_student(queries, decision_targets([r.decision for r in teacher.route_batch(queries)]))
    )
    sample = generate_catalog()
    index = SearchIndex.build(sample.catalog)
    measured = evaluate_search(
        index, sample.judgements, {"teacher": teacher, "student": student, "uniform": UniformRouter()}
    )
    rows = [*measured["routers"].items(), *((f"[baseline] {k}", v) for k, v in measured["baselines"].items())]
    print(f"\n{measured['segments']:,} segments, {measured['queries']:,} judged queries, fusion {measured['fusion']}")
    for name, entry in rows:
        print(f"{name:<30}" + "  ".join(f"{metric} {entry[metric]:.4f}" for metric in METRIC_NAMES))
    return measured


def test_the_default_catalog_judges_at_least_200_queries(figures):
    assert figures["queries"] >= 200


@pytest.mark.parametrize("metric", ["recall_at_5", "ndcg_at_10"])
def test_teacher_routed_fusion_beats_uniform_weights_by_five_points(figures, metric):
    teacher, uniform = figures["routers"]["teacher"], figures["routers"]["uniform"]
    assert teacher[metric] - uniform[metric] >= MIN_GAIN_OVER_UNIFORM


@pytest.mark.parametrize("metric", METRIC_NAMES)
def test_the_distilled_student_is_within_two_points_of_the_teacher(figures, metric):
    teacher, student = figures["routers"]["teacher"], figures["routers"]["student"]
    assert abs(teacher[metric] - student[metric]) <= MAX_STUDENT_GAP


def test_the_combined_index_baseline_is_reported_beside_them(figures):
    combined = figures["baselines"]["combined_index"]
    assert all(0.0 < combined[metric] <= 1.0 for metric in METRIC_NAMES)
    assert combined["n"] == figures["queries"]
