"""The published evaluation of the distilled router (docs/ARCHITECTURE.md, facts), shown beside our figures as a
reference, never as one of our measurements: AWS's write-up judged its routers with Claude Sonnet on 100
teacher-labelled held-out queries (the OverallQuality rubric, 1-5) and timed them on Amazon Bedrock."""

from __future__ import annotations

PUBLISHED_EVALUATION_SETTING = "AWS's distillation write-up: 100 held-out queries, judged by Claude Sonnet"
# Reference name -> figure (the engine's keys) -> value.
PUBLISHED_EVALUATION: dict[str, dict[str, float]] = {
    "distilled Nova Micro": {"rubric_mean": 4.0, "latency_mean_ms": 833.0},
    "Claude Haiku 4.5": {"rubric_mean": 4.0, "latency_mean_ms": 1741.0},
}
