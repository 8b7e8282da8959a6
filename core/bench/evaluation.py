"""Evaluation of 1,000 queries across three local routers (teacher, uniform, a distilled student).

`evaluation_1k_three_routers_core` times what the CLI and the Evaluation page both call: routing every
query through each router, scoring every record, the figures, slices and confusion, and keeping the run
in the store. The budget (docs/ARCHITECTURE.md, budgets: 3 s) covers the
page's script run too: the page-timing harness (tests/perf) times the Evaluation page's run on
`evaluation_bench_inputs()`, the same set and routers, and that figure is added beside this one; the two
must fit the budget together.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from core.bench.figures import BenchFigure, best_seconds

EVALUATION_QUERIES = 1000
EVALUATION_BUDGET_S = 3.0
TRAINING_QUERIES = 4000


def evaluation_bench_inputs():
    """The 1,000-query teacher-labelled held-out set (tagged) and the three local routers, by router id."""
    from core.datasets.files import DatasetTags
    from core.distill.trainer import decision_targets, train_student
    from core.evaluate.sets import EvaluationSet
    from core.routers.reference import ReferenceTeacher
    from core.routers.student import StudentRouter
    from core.routers.uniform import UniformRouter
    from core.synth import DataMix, generate

    teacher = ReferenceTeacher()
    train = [q.query for q in generate(DataMix(total=TRAINING_QUERIES, seed=7))]
    student = StudentRouter(
        train_student(train, decision_targets([r.decision for r in teacher.route_batch(train)])),  # type: ignore[misc]
        router_id="student:bench",
    )
    heldout = generate(DataMix(total=EVALUATION_QUERIES, seed=8))[:EVALUATION_QUERIES]
    queries = [q.query for q in heldout]
    evaluation_set = EvaluationSet(
        kind="heldout",
        name="bench-heldout-1k",
        source="bench",
        queries=queries,
        references=[r.decision for r in teacher.route_batch(queries)],  # type: ignore[misc]
        tags=[DatasetTags(focus=q.focus, difficulty=q.difficulty, domain=q.domain) for q in heldout],
    )
    return evaluation_set, {"teacher": teacher, "uniform": UniformRouter(), "student:bench": student}


def evaluation() -> list[BenchFigure]:
    from core.evaluate.engine import run_evaluation
    from core.evaluate.history import EvaluationHistory
    from core.store import Store

    evaluation_set, routers = evaluation_bench_inputs()
    with tempfile.TemporaryDirectory() as folder:
        history = EvaluationHistory(Store(Path(folder) / "studio.db"))
        seconds = best_seconds(lambda: history.save(run_evaluation(evaluation_set, routers)))
    return [BenchFigure("evaluation_1k_three_routers_core", seconds, "s", EVALUATION_BUDGET_S)]
