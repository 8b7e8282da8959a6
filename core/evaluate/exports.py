"""An evaluation run as files a customer can take away: the whole run as JSON, the leaderboard and every
record as CSV (one row per router and query, weights in columns)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from core.evaluate.engine import EvaluationRun
from core.evaluate.history import DELTA_FIGURES
from core.evaluate.rubric import EVALUATE_KEYS
from core.schema import MODALITIES

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
LEADERBOARD_COLUMNS: tuple[str, ...] = ("router", *dict.fromkeys((*EVALUATE_KEYS, *DELTA_FIGURES)))
RECORD_COLUMNS: tuple[str, ...] = (
    "router",
    "index",
    "line",
    "query",
    "valid",
    *MODALITIES,
    *(f"reference_{m}" for m in MODALITIES),
    "expected",
    "leaders",
    "reference_leaders",
    "rubric",
    "max_error",
    "mean_error",
    "credit",
    "confidence",
    "fallback",
    "judge",
    "latency_ms",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "focus",
    "difficulty",
    "domain",
    "errors",
    "reasoning",
)


def run_json(run: EvaluationRun) -> str:
    """The whole run, every record included (what history reads back)."""
    return run.model_dump_json(indent=2)


def leaderboard_csv(run: EvaluationRun) -> str:
    rows = [{"router": router_id, **figures} for router_id, figures in run.figures().items()]
    return _csv(LEADERBOARD_COLUMNS, rows)


def records_csv(run: EvaluationRun, router_ids: Sequence[str] | None = None) -> str:
    rows = []
    for router_id in router_ids or list(run.routers):
        for record in run.routers[router_id].records:
            row: dict[str, Any] = {"router": router_id, **record.model_dump()}
            for m in MODALITIES:
                row[m] = record.weights[m] if record.weights else None
                row[f"reference_{m}"] = record.reference[m] if record.reference else None
            row["leaders"] = " ".join(record.leaders)
            row["reference_leaders"] = " ".join(record.reference_leaders)
            row["errors"] = "; ".join(record.errors)
            rows.append(row)
    return _csv(RECORD_COLUMNS, rows)


def _csv(columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: _cell(row.get(c)) for c in columns})
    return out.getvalue()


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        # A query typed as "=..." must stay text when the file is opened in a spreadsheet.
        return "'" + value
    return value
