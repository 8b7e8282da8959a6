"""Latency of the on-box routers, one query at a time."""

from __future__ import annotations

from core.bench.figures import BenchFigure, bench_queries, median_call_ms
from core.routers.reference import ReferenceTeacher
from core.routers.uniform import UniformRouter


def router_latency() -> list[BenchFigure]:
    queries = bench_queries()
    return [
        BenchFigure("teacher_latency_p50", median_call_ms(ReferenceTeacher().route, queries), "ms", 0.5),
        BenchFigure("uniform_latency_p50", median_call_ms(UniformRouter().route, queries), "ms", 0.5),
    ]
