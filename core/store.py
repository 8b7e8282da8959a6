"""SQLite state in the data directory: WAL mode, a schema-version table and ordered migrations.

Each call opens its own short-lived connection, so threads, the app and job processes can share the
file safely; WAL lets readers go on while a job writes.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")

BUSY_TIMEOUT_S = 10.0
# Retries of a write that must not be lost (a job's end): from this pause, doubling up to the longest.
RETRY_FIRST_PAUSE_S = 0.05
RETRY_LONGEST_PAUSE_S = 2.0
NOW_SQL = "strftime('%Y-%m-%d %H:%M:%f', 'now')"

# (version, description, SQL). Append only: a released migration is never edited. Numbers are given out per
# feature (docs/ARCHITECTURE.md, store), and each one is applied once whatever order they arrive in.
MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "prices, datasets, jobs, job metrics, models",
        """
        CREATE TABLE prices (
            model_key TEXT PRIMARY KEY,
            input_per_million REAL NOT NULL,
            output_per_million REAL NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE datasets (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            path TEXT NOT NULL,
            kind TEXT NOT NULL,
            records INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            manifest_json TEXT NOT NULL,
            s3_uri TEXT,
            created_at TEXT NOT NULL
        );
        CREATE TABLE jobs (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            backend TEXT NOT NULL,
            status TEXT NOT NULL,
            phase TEXT,
            progress REAL NOT NULL DEFAULT 0,
            dataset_id TEXT,
            teacher TEXT,
            student TEXT,
            params_json TEXT NOT NULL DEFAULT '{}',
            pid INTEGER,
            stop_requested INTEGER NOT NULL DEFAULT 0,
            failure_message TEXT,
            model_id TEXT,
            remote_arn TEXT,
            created_at TEXT NOT NULL,
            started_at TEXT,
            ended_at TEXT,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE job_metrics (
            job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
            step INTEGER NOT NULL,
            epoch INTEGER,
            name TEXT NOT NULL,
            value REAL NOT NULL,
            recorded_at TEXT NOT NULL
        );
        CREATE INDEX job_metrics_by_job ON job_metrics(job_id, name, step);
        CREATE TABLE models (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            backend TEXT NOT NULL,
            job_id TEXT,
            dataset_id TEXT,
            path TEXT,
            arn TEXT,
            size_bytes INTEGER,
            metrics_json TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL
        );
        """,
    ),
    (
        2,
        "billing rates the user enters (provisioned throughput, training, storage)",
        """
        CREATE TABLE billing_rates (
            name TEXT PRIMARY KEY,
            usd REAL NOT NULL,
            updated_at TEXT NOT NULL
        );
        """,
    ),
    (
        3,
        "robustness: datasets' role, jobs' stop request time, dataset names kept in jobs' and models' lineage",
        """
        ALTER TABLE datasets ADD COLUMN role TEXT NOT NULL DEFAULT 'whole';
        UPDATE datasets SET role = json_extract(manifest_json, '$.split.role')
            WHERE json_valid(manifest_json) AND json_extract(manifest_json, '$.split.role') IN ('train', 'heldout');
        ALTER TABLE jobs ADD COLUMN stop_requested_at TEXT;
        ALTER TABLE jobs ADD COLUMN dataset_name TEXT;
        UPDATE jobs SET dataset_name = (SELECT name FROM datasets WHERE datasets.id = jobs.dataset_id);
        ALTER TABLE models ADD COLUMN dataset_name TEXT;
        UPDATE models SET dataset_name = (SELECT name FROM datasets WHERE datasets.id = models.dataset_id);
        """,
    ),
    (
        4,
        "deployments, playground runs, gold labels",
        """
        CREATE TABLE deployments (
            id TEXT PRIMARY KEY,
            backend TEXT NOT NULL,
            name TEXT NOT NULL,
            kind TEXT NOT NULL,
            model_id TEXT NOT NULL,
            serving_model_id TEXT,
            status TEXT NOT NULL,
            endpoint TEXT,
            port INTEGER,
            pid INTEGER,
            description TEXT NOT NULL DEFAULT '',
            tags_json TEXT NOT NULL DEFAULT '{}',
            failure_message TEXT,
            active_student INTEGER NOT NULL DEFAULT 0,
            requests_served INTEGER NOT NULL DEFAULT 0,
            request_token TEXT,
            model_units INTEGER,
            commitment TEXT,
            price_key TEXT,
            billing_started_at TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            deleted_at TEXT
        );
        CREATE UNIQUE INDEX deployments_live_name ON deployments(backend, name) WHERE deleted_at IS NULL;
        CREATE UNIQUE INDEX deployments_one_active_student ON deployments(backend)
            WHERE active_student = 1 AND deleted_at IS NULL;
        CREATE TABLE playground_runs (
            id TEXT PRIMARY KEY,
            backend TEXT NOT NULL,
            kind TEXT NOT NULL,
            source TEXT NOT NULL,
            router_ids_json TEXT NOT NULL,
            reference TEXT,
            query_count INTEGER NOT NULL,
            first_query TEXT NOT NULL,
            summary_json TEXT NOT NULL,
            results_json TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE INDEX playground_runs_by_time ON playground_runs(created_at);
        CREATE TABLE gold_labels (
            id TEXT PRIMARY KEY,
            gold_set TEXT NOT NULL,
            query TEXT NOT NULL,
            visual REAL NOT NULL,
            audio REAL NOT NULL,
            transcription REAL NOT NULL,
            metadata REAL NOT NULL,
            note TEXT NOT NULL DEFAULT '',
            run_id TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            UNIQUE (gold_set, query)
        );
        """,
    ),
    (
        5,
        "Bedrock distillation jobs (request, idempotency token, sub-phases) and batch inference runs",
        """
        CREATE TABLE bedrock_jobs (
            job_id TEXT PRIMARY KEY REFERENCES jobs(id) ON DELETE CASCADE,
            client_request_token TEXT NOT NULL UNIQUE,
            region TEXT NOT NULL,
            request_json TEXT NOT NULL,
            output_s3_uri TEXT NOT NULL,
            status_details_json TEXT NOT NULL DEFAULT '{}',
            estimate_json TEXT NOT NULL DEFAULT '{}',
            output_model_arn TEXT,
            refreshed_at TEXT
        );
        CREATE TABLE batch_runs (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            client_request_token TEXT NOT NULL UNIQUE,
            region TEXT NOT NULL,
            model_id TEXT NOT NULL,
            job_arn TEXT,
            status TEXT NOT NULL,
            message TEXT,
            records INTEGER NOT NULL,
            input_s3_uri TEXT NOT NULL,
            output_s3_uri TEXT NOT NULL,
            source_json TEXT NOT NULL DEFAULT '{}',
            counts_json TEXT NOT NULL DEFAULT '{}',
            estimate_json TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            ended_at TEXT
        );
        """,
    ),
    (
        6,
        "evaluation runs: figures per router, every record's scores, a pinned baseline per set",
        """
        CREATE TABLE evaluation_runs (
            id TEXT PRIMARY KEY,
            created_at TEXT NOT NULL,
            label TEXT NOT NULL DEFAULT '',
            set_kind TEXT NOT NULL,
            set_name TEXT NOT NULL,
            set_key TEXT NOT NULL,
            n INTEGER NOT NULL,
            routers_json TEXT NOT NULL,
            figures_json TEXT NOT NULL,
            set_json TEXT NOT NULL,
            details_json TEXT NOT NULL DEFAULT '{}',
            pinned INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX evaluation_runs_by_set ON evaluation_runs(set_key, created_at);
        CREATE TABLE evaluation_records (
            run_id TEXT NOT NULL REFERENCES evaluation_runs(id) ON DELETE CASCADE,
            router_id TEXT NOT NULL,
            records_json TEXT NOT NULL,
            PRIMARY KEY (run_id, router_id)
        );
        """,
    ),
    (
        7,
        "search catalogs (core.search.library)",
        """
        CREATE TABLE search_catalogs (
            name TEXT PRIMARY KEY,
            source TEXT NOT NULL,
            folder TEXT NOT NULL,
            segments INTEGER NOT NULL,
            videos INTEGER NOT NULL,
            queries INTEGER NOT NULL,
            spec_json TEXT,
            sha256 TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        """,
    ),
]


class StoreError(Exception):
    """A store problem explained for the user (locked database, full disk, unreadable file)."""


class StoreBusyError(StoreError):
    """Another process held the database's lock for the whole busy timeout; trying again later may work."""


class Store:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
        self.migrate()

    @contextmanager
    def connect(self, busy_timeout_s: float = BUSY_TIMEOUT_S) -> Iterator[sqlite3.Connection]:
        """A short connection that waits up to `busy_timeout_s` for another process's lock."""
        try:
            conn = sqlite3.connect(self.path, timeout=busy_timeout_s, isolation_level=None)
        except sqlite3.Error as exc:
            raise _store_error(exc, self.path) from exc
        conn.row_factory = sqlite3.Row
        try:
            conn.execute("PRAGMA foreign_keys=ON")
            yield conn
        except (sqlite3.OperationalError, sqlite3.DatabaseError) as exc:
            if isinstance(exc, sqlite3.IntegrityError):
                raise
            raise _store_error(exc, self.path) from exc
        finally:
            conn.close()

    def schema_version(self) -> int:
        with self.connect() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version ("
                "version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
            row = conn.execute("SELECT MAX(version) AS v FROM schema_version").fetchone()
            return int(row["v"] or 0)

    def applied_versions(self) -> set[int]:
        self.schema_version()  # makes the version table if it is not there yet
        with self.connect() as conn:
            return {int(row["version"]) for row in conn.execute("SELECT version FROM schema_version")}

    def migrate(self) -> int:
        # Every migration not yet applied, in order (not only those above the highest applied: features
        # that land in any order each bring their own numbered migration).
        applied = self.applied_versions()
        for version, description, sql in MIGRATIONS:
            if version in applied:
                continue
            with self.connect() as conn:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    # Another process may have migrated while we waited for the lock.
                    done = conn.execute("SELECT 1 FROM schema_version WHERE version = ?", (version,)).fetchone()
                    if not done:
                        for statement in _statements(sql):
                            conn.execute(statement)
                        conn.execute(
                            "INSERT INTO schema_version (version, description, applied_at) "
                            "VALUES (?, ?, datetime('now'))",
                            (version, description),
                        )
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
        return self.schema_version()

    def execute(self, sql: str, params: Sequence | dict = (), *, busy_timeout_s: float = BUSY_TIMEOUT_S) -> int:
        """Run one statement; returns the number of rows changed."""
        with self.connect(busy_timeout_s) as conn:
            return conn.execute(sql, params).rowcount

    def query(self, sql: str, params: Sequence | dict = ()) -> list[sqlite3.Row]:
        with self.connect() as conn:
            return conn.execute(sql, params).fetchall()

    def query_one(self, sql: str, params: Sequence | dict = ()) -> sqlite3.Row | None:
        with self.connect() as conn:
            return conn.execute(sql, params).fetchone()

    @contextmanager
    def transaction(self, busy_timeout_s: float = BUSY_TIMEOUT_S) -> Iterator[sqlite3.Connection]:
        with self.connect(busy_timeout_s) as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")


def retry_while_busy(call: Callable[[], T], *, deadline_s: float, what: str = "a write") -> T:
    """`call()` again, with growing pauses, while the store is busy, until `deadline_s` has passed.

    For writes that must not be lost to another process holding a lock; the last StoreBusyError is raised
    once the deadline passes. Any other error is raised at once.
    """
    give_up_at = time.monotonic() + deadline_s
    pause = RETRY_FIRST_PAUSE_S
    attempts = 0
    while True:
        try:
            return call()
        except StoreBusyError:
            attempts += 1
            if time.monotonic() + pause > give_up_at:
                log.error(
                    "gave up on %s after %d attempts in %.0f s: the store stayed busy", what, attempts, deadline_s
                )
                raise
            if attempts == 1:
                log.warning("the store is busy (another process holds its lock); retrying %s", what)
            time.sleep(pause)
            pause = min(pause * 2, RETRY_LONGEST_PAUSE_S)


def _statements(sql: str) -> list[str]:
    return [s.strip() for s in sql.split(";") if s.strip()]


def _store_error(exc: sqlite3.Error, path: Path) -> StoreError:
    kind = StoreBusyError if _is_busy(exc) else StoreError
    return kind(_explain(exc, path))


def _is_busy(exc: sqlite3.Error) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def _explain(exc: sqlite3.Error, path: Path) -> str:
    text = str(exc).lower()
    if _is_busy(exc):
        return f"The studio database is busy (another process holds a lock on {path.name}); try again in a moment."
    if "disk" in text and ("full" in text or "i/o" in text):
        return f"The disk holding {path.parent} is full or failing; free some space and try again."
    if "not a database" in text or "malformed" in text:
        return (
            f"The studio database {path} is damaged or is not a SQLite file; move it aside (the studio makes "
            "a new one) or point VSRS_DATA_DIR at another folder."
        )
    if "readonly" in text or "read-only" in text:
        return f"The studio database {path} is read-only; check the data directory's permissions."
    return f"The studio database {path} could not be used ({exc}); check the data directory in Settings."
