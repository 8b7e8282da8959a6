"""Local distillation, the distilled student's latency and throughput, and the peer beside it.

The peer (core.routers.peer: TF-IDF over words and character n-grams plus logistic regression) is trained
on the same 10,000 teacher-labelled queries (their leading channel) and measured the same way, so the
student is judged against the plain router a user would build instead: held-out agreement with the
teacher, accuracy on an expectation file when one is given (`bench --expectations F`), single-query p50
and 10,000-batch throughput, and the ratios student/peer.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from core.bench.figures import BenchFigure, best_seconds, median_call_ms

if TYPE_CHECKING:
    from core.routers.base import Router
    from core.schema import RoutingDecision

# What the issue asks of the student; the peer is measured against the same bars (informational).
STUDENT_P50_MS = 0.3
STUDENT_BATCH_QPS = 40_000.0
MIN_AGREEMENT = 0.96


def distillation(expectations: Path | None = None) -> list[BenchFigure]:

    from core.distill.trainer import decision_targets, train_student
    from core.labelling import label_queries
    from core.routers.peer import train_peer
    from core.routers.reference import ReferenceTeacher
    from core.routers.student import StudentRouter
    from core.synth import DataMix, generate

    teacher = ReferenceTeacher()
    queries = [q.query for q in generate(DataMix(total=10_000, seed=7))]
    decisions = label_queries(teacher, queries).decisions
    kept = [(q, d) for q, d in zip(queries, decisions, strict=True) if d is not None]
    targets = decision_targets([d for _, d in kept])
    texts = [q for q, _ in kept]
    models = []
    training = best_seconds(lambda: models.append(train_student(texts, targets)), repeats=1)
    student = StudentRouter(models[-1])
    peer = train_peer(texts, [d.dominant() for _, d in kept])
    heldout = [q.query for q in generate(DataMix(total=10_000, seed=8))]
    references = [r.decision for r in teacher.route_batch(heldout[:2_000]) if r.decision is not None]
    figures = [BenchFigure("distill_local_10k", training, "s", 30.0)]
    measured: dict[str, dict[str, float]] = {}
    routers: list[tuple[str, Router]] = [("student", student), ("peer", peer)]
    for name, router in routers:
        values = _measure_router(router, heldout, references)
        if expectations is not None:
            values["expected"] = _expectation_accuracy(router, expectations)
        measured[name] = values
        info = name == "peer"
        figures += [
            BenchFigure(f"{name}_heldout_agreement", values["agreement"], "", MIN_AGREEMENT, "info" if info else "min"),
            BenchFigure(f"{name}_latency_p50", values["p50"], "ms", STUDENT_P50_MS, "info" if info else "max"),
            BenchFigure(
                f"{name}_batch_10k_throughput", values["qps"], "q/s", STUDENT_BATCH_QPS, "info" if info else "min"
            ),
        ]
        if "expected" in values:
            figures.append(BenchFigure(f"{name}_expectation_accuracy", values["expected"], "", 0.0, "info"))
    student_values, peer_values = measured["student"], measured["peer"]
    figures += [
        BenchFigure("student/peer_agreement", student_values["agreement"] / peer_values["agreement"], "x", 1.0, "min"),
        BenchFigure("student/peer_latency_p50", student_values["p50"] / peer_values["p50"], "x", 1.0, "max"),
        BenchFigure("student/peer_throughput", student_values["qps"] / peer_values["qps"], "x", 1.0, "min"),
    ]
    if expectations is not None:
        ratio = student_values["expected"] / max(peer_values["expected"], 1e-9)
        figures.append(BenchFigure("student/peer_expectation_accuracy", ratio, "x", 1.0, "min"))
    return figures


def _measure_router(router: Router, heldout: list[str], references: list[RoutingDecision]) -> dict[str, float]:
    from core.evaluate import score_pairs

    scores = score_pairs(router.route_batch(heldout[: len(references)]), references)
    return {
        "agreement": float(scores["dominant_accuracy"] or 0.0),
        "p50": median_call_ms(router.route, heldout),
        "qps": len(heldout) / best_seconds(lambda: router.route_batch(heldout)),
    }


def _expectation_accuracy(router: Router, path: Path) -> float:
    """Leading-channel credit on an expectation file (ties split), scored as `evaluate --expectations` does."""
    from core.evaluate.rubric import expected_channel_credit, usable_decision
    from core.evaluate.sets import load_expectation_file

    evaluation_set = load_expectation_file(path)
    results = router.route_batch(evaluation_set.queries)
    expected = evaluation_set.expected or []
    credit = [expected_channel_credit(usable_decision(r), e) for r, e in zip(results, expected, strict=True)]
    return sum(credit) / evaluation_set.n
