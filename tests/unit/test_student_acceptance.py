"""The local student's acceptance figures: distilled from 10,000 teacher-labelled queries with the default
settings, it must agree with the teacher on queries it never saw and route hand-written queries as people
expect. Run with `pytest -s` to see the measured figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.distill.trainer import decision_targets, train_student
from core.evaluate import score_pairs
from core.routers.reference import ReferenceTeacher
from core.routers.student import StudentRouter
from core.synth import DataMix, generate

HANDWRITTEN = Path(__file__).parents[1] / "data" / "handwritten_queries.jsonl"
REAL_SHAPES = Path(__file__).parents[1] / "data" / "handwritten_real_shapes.jsonl"
MIN_AGREEMENT = 0.95
MAX_MAE = 0.05
MIN_RUBRIC = 4.3
MIN_HANDWRITTEN_SHARE = 0.85


@pytest.fixture(scope="module")
def student():
    teacher = ReferenceTeacher()
    queries = [q.query for q in generate(DataMix(total=10_000, seed=7))]
    decisions = [result.decision for result in teacher.route_batch(queries)]
    targets = decision_targets(decisions)
    return StudentRouter(train_student(queries, targets))


@pytest.fixture(scope="module")
def heldout_scores(student):
    queries = [q.query for q in generate(DataMix(total=2_000, seed=8))]
    references = [result.decision for result in ReferenceTeacher().route_batch(queries)]
    scores = score_pairs(student.route_batch(queries), references)
    training = student.model.manifest.training_metrics
    print(
        f"\nstudent on 2,000 held-out queries (seed 8): dominant agreement {scores['dominant_accuracy']:.4f}, "
        f"mean absolute weight error {scores['mae']:.4f}, rubric {scores['rubric_mean']:.3f} "
        f"(trained in {training['seconds']:.1f} s, {training['epochs_run']} epochs, best {training['best_epoch']})"
    )
    return scores


def test_the_student_agrees_with_the_teacher_on_the_dominant_modality(heldout_scores):
    assert heldout_scores["validity"] == 1.0
    assert heldout_scores["dominant_accuracy"] >= MIN_AGREEMENT


def test_the_students_weights_are_close_to_the_teachers(heldout_scores):
    assert heldout_scores["mae"] <= MAX_MAE


def test_the_student_scores_well_on_the_rubric(heldout_scores):
    assert heldout_scores["rubric_mean"] >= MIN_RUBRIC


@pytest.mark.parametrize("path", [HANDWRITTEN, REAL_SHAPES], ids=["hand-written", "real shapes"])
def test_the_student_routes_hand_written_queries_as_people_expect(student, path):
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    results = student.route_batch([row["query"] for row in rows])
    # A tie between top modalities earns the share of them that is right, as in score_pairs.
    credit = [
        (row["expected"] in result.decision.dominant_set()) / len(result.decision.dominant_set())
        for result, row in zip(results, rows, strict=True)
    ]
    share = sum(credit) / len(rows)
    print(f"\nstudent on {len(rows)} queries of {path.name}: dominant modality as expected {share:.3f}")
    assert share >= MIN_HANDWRITTEN_SHARE
