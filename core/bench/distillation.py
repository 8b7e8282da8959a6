"""Local distillation, and the distilled student's latency and throughput."""

from __future__ import annotations

from core.bench.figures import BenchFigure, best_seconds, median_call_ms


def distillation() -> list[BenchFigure]:

    from core.distill.trainer import decision_targets, train_student
    from core.labelling import label_queries
    from core.routers.reference import ReferenceTeacher
    from core.routers.student import StudentRouter
    from core.synth import DataMix, generate

    queries = [q.query for q in generate(DataMix(total=10_000, seed=7))]
    decisions = label_queries(ReferenceTeacher(), queries).decisions
    kept = [(q, d) for q, d in zip(queries, decisions, strict=True) if d is not None]
    targets = decision_targets([d for _, d in kept])
    texts = [q for q, _ in kept]
    models = []
    training = best_seconds(lambda: models.append(train_student(texts, targets)), repeats=1)
    student = StudentRouter(models[-1])
    heldout = [q.query for q in generate(DataMix(total=10_000, seed=8))]
    batch = best_seconds(lambda: student.route_batch(heldout))
    return [
        BenchFigure("distill_local_10k", training, "s", 30.0),
        BenchFigure("student_latency_p50", median_call_ms(student.route, heldout), "ms", 2.0),
        BenchFigure("student_batch_10k_throughput", len(heldout) / batch, "queries/s", 20_000.0, kind="min"),
    ]
