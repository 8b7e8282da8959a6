"""Teacher labelling through the Bedrock router's worker pool, against a stand-in runtime that answers every
Converse call after a fixed 50 ms: the rate with 1 worker and the speed-up with 4 and 16 (docs/ARCHITECTURE.md,
budgets). What is measured is the studio's own pool, checkpoint and post-processing, not Bedrock."""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

from core.bench.figures import BenchFigure, bench_queries

STUB_LATENCY_S = 0.05
PROMPTS = 320
REPLY = json.dumps({"visual": 0.7, "audio": 0.1, "transcription": 0.1, "metadata": 0.1, "reasoning": "seen"})


class FixedLatencyRuntime:
    """Answers every Converse call with valid router JSON after STUB_LATENCY_S, like a steady model would."""

    def converse(self, **request):
        time.sleep(STUB_LATENCY_S)
        return {
            "output": {"message": {"role": "assistant", "content": [{"text": REPLY}]}},
            "stopReason": "end_turn",
            "usage": {"inputTokens": 400, "outputTokens": 40, "totalTokens": 440},
            "metrics": {"latencyMs": int(STUB_LATENCY_S * 1000)},
        }


def labelling_seconds(workers: int, queries: list[str], folder: Path) -> float:
    """Wall time of labelling `queries` with `workers` calls in flight, checkpoint included."""
    from core.labelling import label_queries
    from core.routers.bedrock import BedrockRouter

    router = BedrockRouter(None, "nova-premier", mode="teacher", client=FixedLatencyRuntime(), concurrency=workers)
    started = time.perf_counter()
    run = label_queries(router, queries, checkpoint_path=folder / f"bench-{workers}.ckpt.jsonl")
    seconds = time.perf_counter() - started
    if not run.complete or run.labelled != len(queries):
        raise RuntimeError(f"the bench run labelled {run.labelled} of {len(queries)} prompts")
    return seconds


def bedrock_labelling(prompts: int = int(os.environ.get("VSRS_BENCH_LABEL_PROMPTS", PROMPTS))) -> list[BenchFigure]:
    queries = bench_queries(prompts)
    with tempfile.TemporaryDirectory() as folder:
        one, four, sixteen = (labelling_seconds(n, queries, Path(folder)) for n in (1, 4, 16))
    return [
        BenchFigure("bedrock_label_rate_1_worker", len(queries) / one, "/s", 18.0, kind="min"),
        BenchFigure("bedrock_label_speedup_4_workers", one / four, "x", 3.5, kind="min"),
        BenchFigure("bedrock_label_speedup_16_workers", one / sixteen, "x", 12.0, kind="min"),
    ]
