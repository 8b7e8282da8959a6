"""What a router would cost and how long it would keep searches waiting at a monthly query volume.

Cost is the measured cost per 1,000 queries scaled to the volume (on-demand token prices; provisioned
throughput bills by the hour whatever the volume and is not in it). Time is the routing time those
queries add up to (mean latency x volume, in hours), beside the per-query mean and p95 a user feels.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.evaluate.engine import EvaluationRun

MAX_QUERIES_PER_MONTH = 10**12
MS_PER_HOUR = 3_600_000.0


@dataclass(frozen=True)
class MonthlyProjection:
    router_id: str
    queries_per_month: int
    cost_usd: float | None
    routing_hours: float | None
    latency_mean_ms: float | None
    latency_p95_ms: float | None

    def to_json_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def check_volume(queries_per_month: object) -> int:
    """The volume as a whole number of queries; ValueError with a sentence for anything else."""
    if isinstance(queries_per_month, bool) or not isinstance(queries_per_month, (int, float)):
        raise ValueError("Give the monthly query volume as a number of queries, such as 1000000.")
    if not math.isfinite(queries_per_month) or queries_per_month < 0 or queries_per_month > MAX_QUERIES_PER_MONTH:
        raise ValueError(f"The monthly query volume must be between 0 and {MAX_QUERIES_PER_MONTH:,} queries.")
    return int(queries_per_month)


def project_monthly(router_id: str, figures: Mapping[str, Any], queries_per_month: object) -> MonthlyProjection:
    volume = check_volume(queries_per_month)
    cost_per_1k = figures.get("cost_per_1k_usd")
    mean_ms = figures.get("latency_mean_ms")
    return MonthlyProjection(
        router_id=router_id,
        queries_per_month=volume,
        cost_usd=cost_per_1k * volume / 1000.0 if cost_per_1k is not None else None,
        routing_hours=mean_ms * volume / MS_PER_HOUR if mean_ms is not None else None,
        latency_mean_ms=mean_ms,
        latency_p95_ms=figures.get("latency_p95_ms"),
    )


def project_run(run: EvaluationRun, queries_per_month: object) -> list[MonthlyProjection]:
    """Every router of a run at the same volume, in the run's order."""
    return [project_monthly(router_id, figures, queries_per_month) for router_id, figures in run.figures().items()]
