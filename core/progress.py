"""What the store holds for each step of the studio's workflow, in a sentence each (the Overview shows them)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from core.store import Store


def table_names(store: Store) -> set[str]:
    return {row["name"] for row in store.query("SELECT name FROM sqlite_master WHERE type = 'table'")}


def datasets_summary(store: Store) -> str:
    row = _one(store, "SELECT COUNT(*) AS n, COALESCE(SUM(records), 0) AS records FROM datasets")
    if not row["n"]:
        return "No datasets yet."
    return f"{_count(row['n'], 'dataset')}, {_count(row['records'], 'record')}."


def jobs_summary(store: Store) -> str:
    rows = store.query("SELECT status, COUNT(*) AS n FROM jobs GROUP BY status ORDER BY status")
    models = _one(store, "SELECT COUNT(*) AS n FROM models")["n"]
    if not rows and not models:
        return "No jobs yet."
    jobs = ", ".join(f"{row['n']} {row['status']}" for row in rows) if rows else "none"
    return f"Jobs: {jobs}. {_count(models, 'trained model')}."


def row_count_summary(table: str, noun: str) -> Callable[[Store], str]:
    def summary(store: Store) -> str:
        n = _one(store, f'SELECT COUNT(*) AS n FROM "{table}"')["n"]
        return f"{_count(n, noun)}." if n else f"No {noun}s yet."

    return summary


def _one(store: Store, sql: str) -> sqlite3.Row:
    """The one row an aggregate query always returns."""
    row = store.query_one(sql)
    assert row is not None, sql
    return row


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


# (title, purpose, page file, table holding its state or None, summary of that table). Tables that
# later issues add are named here so the step lights up once they exist.
