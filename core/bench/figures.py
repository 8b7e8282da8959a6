"""A bench figure and the two ways figures are measured (median latency of one call, best time of a run)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

WARMUP_CALLS = 200
LATENCY_CALLS = 2000
REPEATS = 3


@dataclass(frozen=True)
class BenchFigure:
    name: str
    value: float
    unit: str
    budget: float
    # "max": value must stay at or under the budget; "min": at or over it (throughput); "info": reported
    # beside the others for comparison (a peer's figures), with the budget it is compared to, never failing.
    kind: str = "max"

    @property
    def ok(self) -> bool:
        if self.kind == "info":
            return True
        return self.value <= self.budget if self.kind == "max" else self.value >= self.budget

    @property
    def ratio(self) -> float:
        """Value over budget for ceilings, budget over value for floors: under 1.0 means within budget."""
        if self.kind == "info":
            return self.value / self.budget if self.budget else float("nan")
        if self.kind == "max":
            return self.value / self.budget
        return self.budget / self.value if self.value else float("inf")

    def to_json_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "value": round(self.value, 6),
            "unit": self.unit,
            "budget": self.budget,
            "ok": self.ok,
        }


def median_call_ms(call: Callable[[str], object], queries: Sequence[str]) -> float:
    """Median wall time of one call, in milliseconds, over the given queries (after a warm-up)."""
    for query in queries[:WARMUP_CALLS]:
        call(query)
    timings = []
    for query in queries[:LATENCY_CALLS]:
        started = time.perf_counter()
        call(query)
        timings.append((time.perf_counter() - started) * 1000.0)
    return statistics.median(timings)


def best_seconds(work: Callable[[], object], repeats: int = REPEATS) -> float:
    """The fastest of a few runs: the figure least disturbed by other load on a shared machine."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best


def bench_queries(n: int = LATENCY_CALLS) -> list[str]:
    from core.synth.generator import generate
    from core.synth.mix import DataMix

    return [q.query for q in generate(DataMix(total=max(100, n), seed=20261125))][:n]
