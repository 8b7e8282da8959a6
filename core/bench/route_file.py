"""`route --file` through the student: routed queries per second from a file, read, routed and written in chunks."""

from __future__ import annotations

from core.bench.figures import BenchFigure, best_seconds

FILE_QUERIES = 50_000
TRAINING_QUERIES = 3_000


def route_file() -> list[BenchFigure]:
    import os
    import tempfile
    from pathlib import Path

    from core.cli.common import read_query_lines
    from core.cli.route import write_routes
    from core.distill.trainer import TrainingConfig, decision_targets, train_student
    from core.labelling import label_queries
    from core.routers.reference import ReferenceTeacher
    from core.routers.student import StudentRouter
    from core.synth import DataMix, generate

    texts = [q.query for q in generate(DataMix(total=TRAINING_QUERIES, seed=7))]
    decisions = label_queries(ReferenceTeacher(), texts).decisions
    kept = [(q, d) for q, d in zip(texts, decisions, strict=True) if d is not None]
    model = train_student([q for q, _ in kept], decision_targets([d for _, d in kept]), TrainingConfig(epochs=5))
    student = StudentRouter(model, router_id="student:bench")
    queries = [q.query for q in generate(DataMix(total=15_000, seed=8))]
    lines = "".join(f"{queries[i % len(queries)]} {i // len(queries)}\n" for i in range(FILE_QUERIES))

    with tempfile.TemporaryDirectory() as folder, open(os.devnull, "w", encoding="utf-8") as sink:
        path = Path(folder) / "queries.txt"
        path.write_text(lines, encoding="utf-8")
        seconds = best_seconds(lambda: write_routes(student, read_query_lines(path), sink, as_json=True))
    return [BenchFigure("route_file_student_throughput", FILE_QUERIES / seconds, "queries/s", 10_000.0, kind="min")]
