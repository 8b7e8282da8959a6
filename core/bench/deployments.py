"""Deploy and compare: a batch comparison of 1,000 queries through the local teacher and student, and the round
trip of one query through a real local deployment's HTTP endpoint."""

from __future__ import annotations

import tempfile
from pathlib import Path

from core.bench.figures import BenchFigure, bench_queries, best_seconds, median_call_ms

BATCH = 1000
TRAINING_EXAMPLES = 2000


def deploy_and_compare() -> list[BenchFigure]:
    from core.compare import compare_batch
    from core.deploy.service import LocalDeploymentService
    from core.distill.artifact import save_student
    from core.distill.trainer import decision_targets, train_student
    from core.model_registry import ModelRegistry
    from core.routers.reference import ReferenceTeacher
    from core.routers.student import StudentRouter
    from core.store import Store
    from core.synth import DataMix, generate

    teacher = ReferenceTeacher(router_id="teacher")
    texts = [q.query for q in generate(DataMix(total=TRAINING_EXAMPLES, seed=31))]
    decisions = [r.decision for r in teacher.route_batch(texts)]
    kept = [(q, d) for q, d in zip(texts, decisions, strict=True) if d is not None]
    model = train_student([q for q, _ in kept], decision_targets([d for _, d in kept]))
    routers = {"teacher": teacher, "student": StudentRouter(model, router_id="student")}
    queries = bench_queries()
    batch = best_seconds(lambda: compare_batch(routers.__getitem__, queries[:BATCH], ["teacher", "student"]))

    with tempfile.TemporaryDirectory(prefix="vsrs-bench-") as folder:
        data_dir = Path(folder)
        store = Store(data_dir / "studio.db")
        registry = ModelRegistry(store, data_dir)
        registry.register("bench-student", None, None, save_student(model, registry.model_dir("bench-model")), {})
        service = LocalDeploymentService(store, data_dir)
        deployment = service.wait_until_settled(service.create("bench-endpoint", "bench-student").name)
        try:
            if not deployment.ready:
                raise RuntimeError(f"the bench deployment did not become Active: {deployment.failure_message}")
            round_trip = median_call_ms(service.router("bench-endpoint").route, queries)
        finally:
            service.delete("bench-endpoint")
    return [
        BenchFigure("compare_batch_1k_teacher_student", batch, "s", 2.0),
        BenchFigure("deployment_round_trip_p50", round_trip, "ms", 5.0),
    ]
