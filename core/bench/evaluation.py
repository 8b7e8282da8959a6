"""Evaluation of 1,000 queries across three local routers (teacher, uniform, a distilled student).

`evaluation_1k_three_routers_core` times what the CLI and the Evaluation page both call: routing every
query through each router, scoring every record, the figures, slices and confusion, and keeping the run
in the store. `evaluation_1k_three_routers_page` times the same work through the real page: the Evaluate
click on the Evaluation page, a whole script run (routing, scoring, keeping the run, drawing every chart),
driven by the page-timing harness (tests/perf/page_timing.py) in a child process, on the same set (the
1,000-query held-out set of seed 8, tagged) and the same three routers (the student distilled by a real job
on 4,000 queries of seed 7). The budget (docs/ARCHITECTURE.md, budgets: 3 s) is the page run's, everything
included.
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
    return [
        BenchFigure("evaluation_1k_three_routers_core", seconds, "s", EVALUATION_BUDGET_S),
        BenchFigure("evaluation_1k_three_routers_page", _page_run_seconds(), "s", EVALUATION_BUDGET_S),
    ]


def _page_run_seconds() -> float:
    """The Evaluation page's run, timed by the page-timing harness in a child process (core never imports
    Streamlit)."""
    import json
    import subprocess
    import sys

    from core.bench.pages import PAGE_TIMING_TIMEOUT_S
    from core.processes import REPO_ROOT

    done = subprocess.run(
        [sys.executable, "-m", "tests.perf.page_timing", "evaluation"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=PAGE_TIMING_TIMEOUT_S,
    )
    if done.returncode != 0:
        raise RuntimeError(f"evaluation page timing failed: {done.stderr.strip().splitlines()[-1:]}")
    return float(json.loads(done.stdout.strip().splitlines()[-1])["evaluation"])
