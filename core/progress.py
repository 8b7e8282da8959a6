"""What the store holds for each step of the studio's workflow, in a sentence each (the Overview shows them)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

from core.store import Store
from core.wording import count


def table_names(store: Store) -> set[str]:
    return {row["name"] for row in store.query("SELECT name FROM sqlite_master WHERE type = 'table'")}


def datasets_summary(store: Store) -> str:
    row = _one(store, "SELECT COUNT(*) AS n, COALESCE(SUM(records), 0) AS records FROM datasets")
    if not row["n"]:
        return "No datasets yet."
    return f"{count(row['n'], 'dataset')}, {count(row['records'], 'record')}."


def jobs_summary(store: Store) -> str:
    rows = store.query("SELECT status, COUNT(*) AS n FROM jobs GROUP BY status ORDER BY status")
    models = _one(store, "SELECT COUNT(*) AS n FROM models")["n"]
    if not rows and not models:
        return "No jobs yet."
    jobs = ", ".join(f"{row['n']} {row['status']}" for row in rows) if rows else "none"
    return f"Jobs: {jobs}. {count(models, 'trained model')}."


def row_count_summary(table: str, noun: str) -> Callable[[Store], str]:
    def summary(store: Store) -> str:
        n = _one(store, f'SELECT COUNT(*) AS n FROM "{table}"')["n"]
        return f"{count(n, noun)}." if n else f"No {noun}s yet."

    return summary


def deployments_summary(store: Store) -> str:
    """Live deployments only: a deleted one keeps its row as history."""
    n = _one(store, "SELECT COUNT(*) AS n FROM deployments WHERE deleted_at IS NULL")["n"]
    return f"{count(n, 'deployment')}." if n else "No deployments yet."


def _one(store: Store, sql: str) -> sqlite3.Row:
    """The one row an aggregate query always returns."""
    row = store.query_one(sql)
    assert row is not None, sql
    return row


NOT_AVAILABLE = "Not available yet."
NOTHING_STORED = "Nothing is stored for this step."


@dataclass(frozen=True)
class StepPage:
    """A page a step links to: its script in pages/ and its title."""

    file: str
    title: str


@dataclass(frozen=True)
class StepState:
    """One step of the studio's workflow as the Overview shows it."""

    number: int
    title: str
    purpose: str
    pages: tuple[StepPage, ...]  # the step's pages that are there, in the order the step lists them
    state: str

    @property
    def has_page(self) -> bool:
        return bool(self.pages)


def studio_steps(store: Store, page_exists: Callable[[str], bool]) -> list[StepState]:
    """The five workflow steps with what the store currently holds for each; `page_exists` says whether a page
    script (e.g. "deploy.py") is there yet."""
    tables = table_names(store)
    steps = []
    for number, (title, purpose, pages, table, summary) in enumerate(STEPS, start=1):
        present = tuple(page for page in pages if page_exists(page.file))
        if table in tables and summary is not None:
            state = summary(store)
        elif present:
            # A page that keeps nothing yet (or whose table a later migration adds) makes the step available.
            state = NOTHING_STORED
        else:
            state = NOT_AVAILABLE
        steps.append(StepState(number, title, purpose, present, state))
    return steps


# (title, purpose, the pages it links to, table holding its state or None, summary of that table). Pages and
# tables that later issues add are named here so the step lights up once they exist.
STEPS: tuple[tuple[str, str, tuple[StepPage, ...], str | None, Callable[[Store], str] | None], ...] = (
    (
        "Data mix",
        "Tune a synthetic query mix and label it with the teacher.",
        (StepPage("data_mix.py", "Data mix"),),
        "datasets",
        datasets_summary,
    ),
    (
        "Distil",
        "Train a small student router on the teacher's labels.",
        (StepPage("distillation.py", "Distil"),),
        "jobs",
        jobs_summary,
    ),
    (
        "Deploy",
        "Put a trained student behind an endpoint.",
        (StepPage("deployments.py", "Deploy"),),
        "deployments",
        deployments_summary,
    ),
    (
        "Compare",
        "Route the same queries with teacher and student side by side.",
        (StepPage("playground.py", "Playground"),),
        "playground_runs",
        row_count_summary("playground_runs", "comparison run"),
    ),
    (
        "Evaluate",
        "Score routers on held-out queries and on search results.",
        (StepPage("evaluate.py", "Evaluation"), StepPage("search.py", "Search")),
        "evaluations",
        row_count_summary("evaluations", "evaluation"),
    ),
)
