"""Evaluation runs kept in the store: history, a pinned baseline per set, deltas against it, comparisons.

A run is written whole in one transaction (its figures, set and extras in `evaluation_runs`, every record's
scores in `evaluation_records`, one row per router), so a crash never leaves half a run. Runs compare when
they scored the same set (its kind and fingerprint, `set_key`); each set may have one pinned baseline, and a
run's deltas are its figures minus the baseline's, router by router.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter

from core.evaluate.engine import EvaluationRun, RecordScore, RouterEvaluation
from core.store import Store

# The figures a delta or a comparison is taken of (scalars, in the order a leaderboard shows them).
DELTA_FIGURES: tuple[str, ...] = (
    "validity",
    "rubric_mean",
    "mae",
    "dominant_accuracy",
    "quality_recovered",
    "accuracy_recovered",
    "judge_mean",
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_mean_ms",
    "cost_per_1k_usd",
    "input_tokens_per_1k",
    "output_tokens_per_1k",
    "teacher_share",
)
DEFAULT_LIST_LIMIT = 100
# A router's records are stored as one JSON list (pydantic's own encoder: several times faster than json).
RECORDS = TypeAdapter(list[RecordScore])


class EvaluationHistoryError(ValueError):
    """An unknown run, or a run that cannot be compared; one sentence."""


@dataclass(frozen=True)
class RunSummary:
    """A run as a history list shows it (figures without the records)."""

    id: str
    created_at: str
    label: str
    set_kind: str
    set_name: str
    set_key: str
    n: int
    routers: list[str]
    figures: dict[str, dict[str, Any]]
    pinned: bool


@dataclass(frozen=True)
class FigureChange:
    base: float | None
    other: float | None

    @property
    def delta(self) -> float | None:
        return None if self.base is None or self.other is None else self.other - self.base


@dataclass(frozen=True)
class RunComparison:
    """`other` against `base`, figure by figure, for the routers both scored."""

    base_id: str
    other_id: str
    same_set: bool
    routers: dict[str, dict[str, FigureChange]] = field(default_factory=dict)
    only_in_base: list[str] = field(default_factory=list)
    only_in_other: list[str] = field(default_factory=list)

    def deltas(self) -> dict[str, dict[str, float | None]]:
        return {r: {name: change.delta for name, change in changes.items()} for r, changes in self.routers.items()}

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "base": self.base_id,
            "other": self.other_id,
            "same_set": self.same_set,
            "routers": {
                r: {name: {"base": c.base, "other": c.other, "delta": c.delta} for name, c in changes.items()}
                for r, changes in self.routers.items()
            },
            "only_in_base": self.only_in_base,
            "only_in_other": self.only_in_other,
        }


def compare_figures(
    base: Mapping[str, Mapping[str, Any]], other: Mapping[str, Mapping[str, Any]]
) -> dict[str, dict[str, FigureChange]]:
    """Per router both hold, each delta figure's base and other value."""
    return {
        router_id: {name: FigureChange(base[router_id].get(name), other[router_id].get(name)) for name in DELTA_FIGURES}
        for router_id in other
        if router_id in base
    }


class EvaluationHistory:
    def __init__(self, store: Store):
        self.store = store

    def save(self, run: EvaluationRun) -> RunSummary:
        """Write a run (or rewrite it, after a judge run added scores), keeping whether it is pinned."""
        with self.store.transaction() as conn:
            row = conn.execute("SELECT pinned FROM evaluation_runs WHERE id = ?", (run.id,)).fetchone()
            pinned = bool(row["pinned"]) if row is not None else run.pinned
            conn.execute("DELETE FROM evaluation_runs WHERE id = ?", (run.id,))
            conn.execute(
                "INSERT INTO evaluation_runs (id, created_at, label, set_kind, set_name, set_key, n, routers_json, "
                "figures_json, set_json, details_json, pinned) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run.id,
                    run.created_at,
                    run.label,
                    run.set["kind"],
                    run.set["name"],
                    run.set["key"],
                    run.set["n"],
                    json.dumps(list(run.routers)),
                    json.dumps(run.figures()),
                    json.dumps(run.set),
                    json.dumps(run.details),
                    int(pinned),
                ),
            )
            conn.executemany(
                "INSERT INTO evaluation_records (run_id, router_id, records_json) VALUES (?, ?, ?)",
                [
                    (run.id, router_id, RECORDS.dump_json(evaluation.records).decode("utf-8"))
                    for router_id, evaluation in run.routers.items()
                ],
            )
        return self.summary(run.id)

    def list(self, set_key: str | None = None, limit: int = DEFAULT_LIST_LIMIT) -> list[RunSummary]:
        """Runs newest first, of one set when `set_key` is given."""
        where, params = ("WHERE set_key = ?", (set_key,)) if set_key else ("", ())
        rows = self.store.query(
            f"SELECT * FROM evaluation_runs {where} ORDER BY created_at DESC, rowid DESC LIMIT ?", (*params, limit)
        )
        return [_summary(row) for row in rows]

    def summary(self, run_id: str) -> RunSummary:
        return _summary(self._row(run_id))

    def get(self, run_id: str) -> EvaluationRun:
        """The whole run, every record included."""
        row = self._row(run_id)
        figures = json.loads(row["figures_json"])
        records = {
            r["router_id"]: RECORDS.validate_json(r["records_json"])
            for r in self.store.query(
                "SELECT router_id, records_json FROM evaluation_records WHERE run_id = ?", (run_id,)
            )
        }
        routers = {
            router_id: RouterEvaluation(
                router_id=router_id, figures=figures[router_id], records=records.get(router_id, [])
            )
            for router_id in json.loads(row["routers_json"])
        }
        return EvaluationRun(
            id=row["id"],
            created_at=row["created_at"],
            label=row["label"],
            set=json.loads(row["set_json"]),
            routers=routers,
            details=json.loads(row["details_json"]),
            pinned=bool(row["pinned"]),
        )

    def delete(self, run_id: str) -> None:
        self._row(run_id)
        self.store.execute("DELETE FROM evaluation_runs WHERE id = ?", (run_id,))

    def pin(self, run_id: str) -> RunSummary:
        """Make this run the baseline of its set (the set's previous baseline is unpinned)."""
        row = self._row(run_id)
        with self.store.transaction() as conn:
            conn.execute("UPDATE evaluation_runs SET pinned = 0 WHERE set_key = ?", (row["set_key"],))
            conn.execute("UPDATE evaluation_runs SET pinned = 1 WHERE id = ?", (run_id,))
        return self.summary(run_id)

    def unpin(self, run_id: str) -> RunSummary:
        self._row(run_id)
        self.store.execute("UPDATE evaluation_runs SET pinned = 0 WHERE id = ?", (run_id,))
        return self.summary(run_id)

    def baseline(self, set_key: str) -> RunSummary | None:
        row = self.store.query_one("SELECT * FROM evaluation_runs WHERE set_key = ? AND pinned = 1", (set_key,))
        return _summary(row) if row is not None else None

    def against_baseline(self, run_id: str) -> RunComparison | None:
        """The run's figures against its set's pinned baseline; None when there is none (or it is the baseline)."""
        run = self.summary(run_id)
        baseline = self.baseline(run.set_key)
        if baseline is None or baseline.id == run.id:
            return None
        return self.compare(baseline.id, run.id)

    def compare(self, base_id: str, other_id: str) -> RunComparison:
        """Any two runs, `other` against `base`; `same_set` says whether the figures can be compared as like
        for like (runs on different sets still compare, flagged)."""
        base, other = self.summary(base_id), self.summary(other_id)
        return RunComparison(
            base_id=base.id,
            other_id=other.id,
            same_set=base.set_key == other.set_key,
            routers=compare_figures(base.figures, other.figures),
            only_in_base=[r for r in base.routers if r not in other.figures],
            only_in_other=[r for r in other.routers if r not in base.figures],
        )

    def _row(self, run_id: str):
        row = self.store.query_one("SELECT * FROM evaluation_runs WHERE id = ?", (run_id,))
        if row is None:
            raise EvaluationHistoryError(f"There is no evaluation run {run_id!r}: it may have been deleted.")
        return row


def _summary(row) -> RunSummary:
    return RunSummary(
        id=row["id"],
        created_at=row["created_at"],
        label=row["label"],
        set_kind=row["set_kind"],
        set_name=row["set_name"],
        set_key=row["set_key"],
        n=int(row["n"]),
        routers=json.loads(row["routers_json"]),
        figures=json.loads(row["figures_json"]),
        pinned=bool(row["pinned"]),
    )
