"""The TF-IDF + logistic-regression peer that `bench` sets beside the student, and the figures it reports."""

from __future__ import annotations

from core.bench.figures import BenchFigure
from core.cli import main
from core.routers.peer import train_peer
from core.routers.reference import ReferenceTeacher
from core.synth import DataMix, generate


def test_the_peer_learns_the_teachers_leading_channel_and_answers_with_valid_weights():
    teacher = ReferenceTeacher()
    queries = [q.query for q in generate(DataMix(total=400, seed=3))]
    leaders = [r.decision.dominant() for r in teacher.route_batch(queries)]
    peer = train_peer(queries, leaders)
    results = peer.route_batch(queries)
    assert all(r.valid for r in results)
    agreement = sum(r.decision.dominant() == leader for r, leader in zip(results, leaders, strict=True))
    assert agreement / len(queries) >= 0.8
    assert results[0].decision.reasoning.startswith("TF-IDF logistic-regression peer")


def test_a_peer_figure_is_reported_against_the_bar_but_never_fails_the_bench():
    figure = BenchFigure("peer_latency_p50", 5.0, "ms", 0.3, "info")
    assert figure.ok and round(figure.ratio, 2) == 16.67
    assert not BenchFigure("student_latency_p50", 5.0, "ms", 0.3).ok


def test_bench_refuses_a_bad_expectation_file_before_measuring(capsys, tmp_path):
    bad = tmp_path / "set.jsonl"
    bad.write_text('{"query": "rain on a roof", "expected": "smell"}\n', encoding="utf-8")
    code = main(["bench", "--only", "distillation", "--expectations", str(bad)])
    err = capsys.readouterr().err
    assert code == 2 and "cannot be used" in err and "line 1" in err and "Traceback" not in err
