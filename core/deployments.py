"""Deployments: a named endpoint in front of a trained model, and the service that manages them.

A deployment is Creating until its model has loaded and answered a self-test, then Active; any failure
leaves it Failed with the reason. Statuses are Bedrock's words for custom model deployments (and, for
provisioned throughput, Creating, InService, Updating, Failed), so local endpoints and Bedrock ones read
alike. One deployment may be the backend's active student: the router id `student` resolves to it. Each
backend implements DeploymentService (docs/ARCHITECTURE.md, deployments); both keep their records in the
store's `deployments` table through DeploymentRecords, which also gives every deployment its lineage
(dataset -> job -> model -> deployment) and, for anything billed by the hour, its running cost meter.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import math
import sqlite3
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from core.aws.names import check_deployment_name, check_provisioned_model_name, check_tags
from core.pricing import billing_rate
from core.store import NOW_SQL, Store

if TYPE_CHECKING:
    from core.model_registry import CustomModel
    from core.routers.base import Router
    from core.schema import RouteResult

# What a self-test routes: a query every router has an obvious answer for.
SELF_TEST_QUERY = "dog barking loudly"
MAX_DESCRIPTION_CHARS = 2048
SETTLE_TIMEOUT_S = 120.0
SETTLE_POLL_S = 0.2
STOPPED_UNEXPECTEDLY = "stopped unexpectedly"


class DeploymentStatus(StrEnum):
    CREATING = "Creating"
    ACTIVE = "Active"
    FAILED = "Failed"
    # Provisioned throughput's own words for "serving" and "changing".
    IN_SERVICE = "InService"
    UPDATING = "Updating"


READY_STATUSES = frozenset({DeploymentStatus.ACTIVE.value, DeploymentStatus.IN_SERVICE.value})
SETTLING_STATUSES = frozenset({DeploymentStatus.CREATING.value, DeploymentStatus.UPDATING.value})


class DeploymentKind(StrEnum):
    ENDPOINT = "endpoint"  # a local HTTP endpoint process
    ON_DEMAND = "on-demand"  # a Bedrock custom model deployment, billed per token
    PROVISIONED = "provisioned"  # Bedrock provisioned throughput, billed by the hour whether used or not


class DeploymentError(Exception):
    """A deployment request that cannot be done; the message says why and what to do."""


class DeploymentNotFoundError(DeploymentError):
    pass


class BillingNotConfirmed(DeploymentError):
    """Something that bills by the hour was asked for without the caller passing the confirmation."""

    def __init__(self, estimate: BillingEstimate):
        super().__init__(estimate.warning() + " Confirm to go ahead.")
        self.estimate = estimate


@dataclass(frozen=True)
class Lineage:
    """Where a deployment's model came from: dataset -> job -> model -> deployment (None where unknown)."""

    deployment: str
    model_id: str
    model_name: str | None = None
    job_id: str | None = None
    job_name: str | None = None
    dataset_id: str | None = None
    dataset_name: str | None = None

    def steps(self) -> list[tuple[str, str]]:
        """(what, name) from the data to the deployment, for a lineage line or table."""
        return [
            ("dataset", self.dataset_name or self.dataset_id or "unknown"),
            ("job", self.job_name or self.job_id or "unknown"),
            ("model", self.model_name or self.model_id),
            ("deployment", self.deployment),
        ]

    def describe(self) -> str:
        return " -> ".join(f"{what} {name}" for what, name in self.steps())


@dataclass(frozen=True)
class BillingEstimate:
    """What a resource billed by the hour will cost, quoted before it is made (the confirmation step)."""

    model_key: str | None
    model_units: int
    hourly_usd: float | None  # for all units; None when the user has not entered the rate
    commitment: str | None = None

    def warning(self) -> str:
        units = f"{self.model_units} model unit{'s' if self.model_units != 1 else ''}"
        if self.hourly_usd is None:
            cost = (
                f"{units} at a rate not entered yet (price unknown: enter the provisioned throughput hourly rate "
                f"for {self.model_key or 'this model'} in Settings)"
            )
        else:
            cost = f"{units}, ${self.hourly_usd:,.2f} per hour (about ${self.hourly_usd * 24:,.2f} a day)"
        term = (
            f" It commits you to {self.commitment}: the whole term is billed even if you delete it sooner."
            if self.commitment
            else " It keeps billing until you delete it."
        )
        return f"Provisioned throughput bills by the hour whether it is used or not: {cost}.{term}"


@dataclass(frozen=True)
class IdleBilling:
    """The running cost meter of something that bills while idle: hours so far x the rate the user entered."""

    started_at: datetime
    model_units: int
    hourly_usd: float | None  # for all units; None: "price unknown"
    model_key: str | None = None
    commitment: str | None = None

    def hours(self, now: datetime | None = None) -> float:
        now = now or datetime.now(UTC)
        return max(0.0, (now - self.started_at).total_seconds() / 3600.0)

    def cost_so_far_usd(self, now: datetime | None = None) -> float | None:
        return None if self.hourly_usd is None else self.hours(now) * self.hourly_usd

    def describe(self, now: datetime | None = None) -> str:
        hours = self.hours(now)
        cost = self.cost_so_far_usd(now)
        if cost is None or self.hourly_usd is None:
            so_far = (
                f"{hours:,.1f} h so far, price unknown (enter the provisioned throughput hourly rate for "
                f"{self.model_key or 'this model'} in Settings)"
            )
        else:
            so_far = f"{hours:,.1f} h so far x ${self.hourly_usd:,.2f}/h = ${cost:,.2f}"
        return f"Bills by the hour while it exists: {so_far}; delete it to stop the billing."


@dataclass(frozen=True)
class EndpointSnippets:
    """Copy-ready calls of one deployment's endpoint."""

    curl: str
    python: str


@dataclass(frozen=True)
class Deployment:
    name: str
    model_id: str  # the model it is asked to serve (a registered model id, or an ARN)
    status: str
    endpoint: str  # a localhost URL, or the deployment ARN on Bedrock ("" until known)
    created_at: str
    updated_at: str
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    failure_message: str | None = None
    active_student: bool = False
    requests_served: int = 0  # queries routed through it (on Bedrock: by this studio)
    kind: str = DeploymentKind.ENDPOINT.value
    serving_model_id: str | None = None  # the model it serves now (differs from model_id during a swap)
    id: str = ""
    lineage: Lineage | None = None
    billing: IdleBilling | None = None
    model_units: int | None = None

    @property
    def ready(self) -> bool:
        return self.status in READY_STATUSES

    @property
    def swapping(self) -> bool:
        """A swap to model_id is under way while the endpoint goes on serving the old model."""
        return self.serving_model_id is not None and self.serving_model_id != self.model_id and self.ready

    @property
    def settled(self) -> bool:
        return self.status not in SETTLING_STATUSES and not self.swapping

    @property
    def bills_while_idle(self) -> bool:
        return self.billing is not None

    def to_json_dict(self, now: datetime | None = None) -> dict[str, object]:
        """The `deploy --json` object (docs/ARCHITECTURE.md, command line)."""
        billing = None
        if self.billing is not None:
            billing = {
                "model_units": self.billing.model_units,
                "hourly_usd": self.billing.hourly_usd,
                "hours": round(self.billing.hours(now), 4),
                "cost_so_far_usd": self.billing.cost_so_far_usd(now),
                "commitment": self.billing.commitment,
            }
        lineage = self.lineage
        return {
            "name": self.name,
            "kind": self.kind,
            "status": self.status,
            "model_id": self.model_id,
            "serving_model_id": self.serving_model_id,
            "endpoint": self.endpoint,
            "description": self.description,
            "tags": dict(self.tags),
            "failure_message": self.failure_message,
            "active_student": self.active_student,
            "requests_served": self.requests_served,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "lineage": None
            if lineage is None
            else {
                "dataset_id": lineage.dataset_id,
                "dataset": lineage.dataset_name,
                "job_id": lineage.job_id,
                "job": lineage.job_name,
                "model_id": lineage.model_id,
                "model": lineage.model_name,
            },
            "billing": billing,
        }

    def to_row(self, now: datetime | None = None) -> dict[str, object]:
        """One flat row for a table of deployments."""
        return {
            "name": self.name,
            "status": self.status,
            "kind": self.kind,
            "model": self.serving_model_id or self.model_id,
            "swapping_to": self.model_id if self.swapping else None,
            "endpoint": self.endpoint,
            "created": self.created_at,
            "requests_served": self.requests_served,
            "active_student": self.active_student,
            "failure": self.failure_message,
            "lineage": self.lineage.describe() if self.lineage else None,
            "billing": self.billing.describe(now) if self.billing else None,
        }


def request_token(*parts: object) -> str:
    """A clientRequestToken derived from the request itself, so submitting it twice makes one resource."""
    text = json.dumps(parts, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:64]


def check_new_deployment(name: str, description: str, tags: Mapping[str, str] | None) -> tuple[str, str, dict]:
    """The trimmed name, description and tags of a new deployment, or DeploymentError with the first problem."""
    name = (name or "").strip() if isinstance(name, str) else name
    problem = check_deployment_name(name)
    if problem:
        raise DeploymentError(problem)
    description = (description or "").strip()
    if len(description) > MAX_DESCRIPTION_CHARS:
        raise DeploymentError(
            f"The description is {len(description):,} characters long: keep it to {MAX_DESCRIPTION_CHARS:,}."
        )
    tag_dict = dict(tags or {})
    problem = check_tags(tag_dict)
    if problem:
        raise DeploymentError(problem)
    return name, description, tag_dict


def parse_tag_pairs(pairs: Iterable[str]) -> dict[str, str]:
    """`key=value` texts as a tag mapping (the CLI's repeated --tag, the page's tag box split into pairs)."""
    tags: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise DeploymentError(f"The tag {pair.strip()!r} is not KEY=VALUE, for example team=search.")
        tags[key.strip()] = value.strip()
    return tags


def parse_tag_text(text: str) -> dict[str, str]:
    """Tags typed in one box: `key=value` pairs separated by commas or new lines (blank ones ignored)."""
    pairs = [part for line in (text or "").splitlines() for part in line.split(",")]
    return parse_tag_pairs(part for part in pairs if part.strip())


def new_name_problem(name: str, taken: Iterable[str], *, provisioned: bool = False) -> str | None:
    """Why a new deployment cannot take this name (the API's naming rule, or one in use), or None."""
    name = (name or "").strip()
    problem = check_provisioned_model_name(name) if provisioned else check_deployment_name(name)
    if problem:
        return problem
    if name in set(taken):
        return f"A deployment named {name!r} already exists: choose another name, or swap its model."
    return None


def deployments_using(store: Store, *model_refs: str | None) -> list[str]:
    """Names of the live deployments (any backend) that serve or are swapping to one of these model ids or ARNs."""
    refs = [ref for ref in model_refs if ref]
    if not refs:
        return []
    marks = ", ".join("?" for _ in refs)
    rows = store.query(
        f"SELECT DISTINCT name FROM deployments WHERE deleted_at IS NULL "
        f"AND (model_id IN ({marks}) OR serving_model_id IN ({marks})) ORDER BY name",
        (*refs, *refs),
    )
    return [row["name"] for row in rows]


def parse_store_time(text: str | None) -> datetime | None:
    """A timestamp written by the store (UTC, NOW_SQL or ISO form) as an aware datetime."""
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class DeploymentRecords:
    """The `deployments` rows of one backend: live rows have no `deleted_at`, deleted ones stay as history."""

    def __init__(self, store: Store, backend: str):
        self.store = store
        self.backend = backend

    def claim(
        self,
        *,
        name: str,
        kind: str,
        model_id: str,
        description: str = "",
        tags: Mapping[str, str] | None = None,
        token: str | None = None,
        model_units: int | None = None,
        commitment: str | None = None,
        price_key: str | None = None,
        status: str = DeploymentStatus.CREATING.value,
    ) -> tuple[sqlite3.Row, bool]:
        """Write a new Creating row for `name`, or return the live row a request with the same token already made.

        Returns (row, made): made is False for a repeat of the same request (a double submit). A different
        request for a name in use is refused with a sentence.
        """
        deployment_id = "dep-" + uuid.uuid4().hex[:12]
        try:
            with self.store.transaction() as conn:
                existing = conn.execute(
                    "SELECT * FROM deployments WHERE backend = ? AND name = ? AND deleted_at IS NULL",
                    (self.backend, name),
                ).fetchone()
                if existing is not None:
                    if token is not None and existing["request_token"] == token:
                        return existing, False
                    raise DeploymentError(
                        f"A deployment named {name!r} already exists: choose another name, or swap its model."
                    )
                conn.execute(
                    "INSERT INTO deployments (id, backend, name, kind, model_id, status, description, tags_json, "
                    "request_token, model_units, commitment, price_key, created_at, updated_at) "
                    f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, {NOW_SQL}, {NOW_SQL})",
                    (
                        deployment_id,
                        self.backend,
                        name,
                        kind,
                        model_id,
                        status,
                        description,
                        json.dumps(dict(tags or {}), sort_keys=True),
                        token,
                        model_units,
                        commitment,
                        price_key,
                    ),
                )
        except sqlite3.IntegrityError as exc:  # another process claimed the name between our read and write
            raise DeploymentError(f"A deployment named {name!r} already exists: choose another name.") from exc
        row = self.row_by_id(deployment_id)
        assert row is not None
        return row, True

    def generation(self, name: str) -> int:
        """How many deployments of this name were deleted before: part of a new request's token."""
        row = self.store.query_one(
            "SELECT COUNT(*) AS n FROM deployments WHERE backend = ? AND name = ? AND deleted_at IS NOT NULL",
            (self.backend, name),
        )
        return int(row["n"]) if row else 0

    def row(self, name: str) -> sqlite3.Row:
        found = self.store.query_one(
            "SELECT * FROM deployments WHERE backend = ? AND name = ? AND deleted_at IS NULL",
            (self.backend, (name or "").strip()),
        )
        if found is None:
            raise DeploymentNotFoundError(
                f"There is no deployment {name!r}: create it first, or pick one from the list of deployments."
            )
        return found

    def row_by_id(self, deployment_id: str) -> sqlite3.Row | None:
        return self.store.query_one("SELECT * FROM deployments WHERE id = ?", (deployment_id,))

    def rows(self) -> builtins.list[sqlite3.Row]:
        return self.store.query(
            "SELECT * FROM deployments WHERE backend = ? AND deleted_at IS NULL ORDER BY created_at DESC, rowid DESC",
            (self.backend,),
        )

    def update(self, deployment_id: str, *, where: str = "", where_params: tuple = (), **values: object) -> int:
        """Set columns of a live row (only if `where` also holds); returns 1 when it changed."""
        assignments = ", ".join(f"{column} = ?" for column in values)
        condition = f" AND ({where})" if where else ""
        return self.store.execute(
            f"UPDATE deployments SET {assignments}{', ' if assignments else ''}updated_at = {NOW_SQL} "
            f"WHERE id = ? AND deleted_at IS NULL{condition}",
            (*values.values(), deployment_id, *where_params),
        )

    def mark_deleted(self, deployment_id: str) -> None:
        self.store.execute(
            f"UPDATE deployments SET deleted_at = {NOW_SQL}, active_student = 0, updated_at = {NOW_SQL} WHERE id = ?",
            (deployment_id,),
        )

    def forget(self, deployment_id: str) -> None:
        """Remove a row that never became a deployment (its create call failed)."""
        self.store.execute("DELETE FROM deployments WHERE id = ?", (deployment_id,))

    def set_active_student(self, deployment_id: str) -> None:
        with self.store.transaction() as conn:
            conn.execute(
                "UPDATE deployments SET active_student = 0 WHERE backend = ? AND active_student = 1", (self.backend,)
            )
            conn.execute(
                f"UPDATE deployments SET active_student = 1, updated_at = {NOW_SQL} WHERE id = ?", (deployment_id,)
            )

    def count_requests(self, deployment_id: str, n: int) -> None:
        if n > 0:
            self.store.execute(
                "UPDATE deployments SET requests_served = requests_served + ? WHERE id = ?", (n, deployment_id)
            )

    def to_deployment(self, row: sqlite3.Row) -> Deployment:
        try:
            tags = json.loads(row["tags_json"] or "{}")
        except ValueError:
            tags = {}
        return Deployment(
            id=row["id"],
            name=row["name"],
            model_id=row["model_id"],
            serving_model_id=row["serving_model_id"],
            status=row["status"],
            endpoint=row["endpoint"] or "",
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            description=row["description"] or "",
            tags=tags if isinstance(tags, dict) else {},
            failure_message=row["failure_message"],
            active_student=bool(row["active_student"]),
            requests_served=int(row["requests_served"] or 0),
            kind=row["kind"],
            lineage=self.lineage(row["name"], row["serving_model_id"] or row["model_id"]),
            billing=self._billing(row),
            model_units=row["model_units"],
        )

    def lineage(self, deployment: str, model_ref: str) -> Lineage:
        found = self.store.query_one(
            "SELECT m.id AS model_id, m.name AS model_name, m.job_id AS job_id, j.name AS job_name, "
            "COALESCE(m.dataset_id, j.dataset_id) AS dataset_id, d.name AS dataset_name "
            "FROM models m LEFT JOIN jobs j ON j.id = m.job_id "
            "LEFT JOIN datasets d ON d.id = COALESCE(m.dataset_id, j.dataset_id) "
            "WHERE m.id = ? OR m.arn = ? LIMIT 1",
            (model_ref, model_ref),
        )
        if found is None:
            return Lineage(deployment=deployment, model_id=model_ref)
        return Lineage(
            deployment=deployment,
            model_id=found["model_id"],
            model_name=found["model_name"],
            job_id=found["job_id"],
            job_name=found["job_name"],
            dataset_id=found["dataset_id"],
            dataset_name=found["dataset_name"],
        )

    def _billing(self, row: sqlite3.Row) -> IdleBilling | None:
        if row["kind"] != DeploymentKind.PROVISIONED.value:
            return None
        started = parse_store_time(row["billing_started_at"]) or parse_store_time(row["created_at"])
        if started is None:
            return None
        units = int(row["model_units"] or 1)
        return IdleBilling(
            started_at=started,
            model_units=units,
            hourly_usd=hourly_rate(self.store, row["price_key"], units),
            model_key=row["price_key"],
            commitment=row["commitment"],
        )


def hourly_rate(store: Store, model_key: str | None, model_units: int) -> float | None:
    """Provisioned throughput per hour for `model_units` units, from the rate the user entered (None: unknown)."""
    if model_key is None:
        return None
    rate = billing_rate(store, "provisioned_hour", model_key)
    return None if rate is None or not math.isfinite(rate) else rate * model_units


class DeploymentService(ABC):
    """Create, watch, swap and delete deployments; every method raises DeploymentError with a sentence.

    The records live in the store; a backend's service adds where the endpoints run. Pages and the CLI call
    only these methods (docs/ARCHITECTURE.md, deployments).
    """

    backend: str
    # One sentence on what a deployment is here and what it costs, for the create form.
    description: str = ""
    # Whether create_provisioned can be offered (provisioned throughput exists only on Amazon Bedrock).
    provisioned_available: bool = False
    # How often and how long wait_until_settled polls (a local endpoint starts in seconds, Bedrock in minutes).
    settle_poll_s: float = SETTLE_POLL_S
    settle_timeout_s: float = SETTLE_TIMEOUT_S
    # How often a view of settled deployments looks again, for a change nobody asked for (None: it does not).
    watch_interval_s: float | None = None

    def __init__(self, store: Store):
        self.store = store
        self.records = DeploymentRecords(store, self.backend)

    # ---- what each backend does --------------------------------------------------------------------------

    @abstractmethod
    def create(
        self, name: str, model_id: str, *, description: str = "", tags: Mapping[str, str] | None = None
    ) -> Deployment:
        """Start a deployment of a model under a new name; it begins Creating. The same request twice makes one."""

    @abstractmethod
    def update(self, name: str, model_id: str) -> Deployment:
        """Swap the model behind the same name and endpoint, without a gap in service."""

    @abstractmethod
    def delete(self, name: str) -> None:
        """Stop the endpoint (and its billing) and forget the deployment."""

    @abstractmethod
    def restart(self, name: str) -> Deployment:
        """Bring a Failed deployment back with the model it was serving."""

    @abstractmethod
    def router(self, name: str, router_id: str | None = None) -> Router:
        """A router that routes through the deployment's endpoint (router id `deployment:<name>` unless given)."""

    @abstractmethod
    def snippets(self, deployment: Deployment) -> EndpointSnippets:
        """Copy-ready curl and Python calls of the deployment's endpoint."""

    @abstractmethod
    def reconcile(self) -> builtins.list[str]:
        """Bring the records in line with what really runs; returns the names whose status changed."""

    def create_provisioned(
        self,
        name: str,
        model_id: str,
        *,
        model_units: int = 1,
        commitment: str | None = None,
        confirm_hourly_billing: bool = False,
        tags: Mapping[str, str] | None = None,
    ) -> Deployment:
        """Provisioned throughput: only where `provisioned_available`; raises BillingNotConfirmed without the
        confirmation."""
        raise DeploymentError(
            "Provisioned throughput exists only on Amazon Bedrock: choose Amazon Bedrock in Settings, or create "
            "an ordinary deployment."
        )

    def provisioned_estimate(
        self, model_id: str, model_units: int = 1, commitment: str | None = None
    ) -> BillingEstimate:
        """What provisioned throughput for this model would cost per hour, for the warning before confirming."""
        raise DeploymentError(
            "Provisioned throughput exists only on Amazon Bedrock: choose Amazon Bedrock in Settings."
        )

    def deployable(self, model: CustomModel) -> bool:
        """Whether this backend can deploy the model (a local student here, a Bedrock custom model there)."""
        return True

    # ---- shared by every backend -------------------------------------------------------------------------

    def get(self, name: str) -> Deployment:
        self.reconcile()
        return self.records.to_deployment(self.records.row(name))

    def list(self, refresh: bool = True) -> builtins.list[Deployment]:
        """Every live deployment, newest first; `refresh=False` reads only the records (no network call)."""
        if refresh:
            self.reconcile()
        return [self.records.to_deployment(row) for row in self.records.rows()]

    def set_active_student(self, name: str) -> Deployment:
        """Make this deployment the one the router id `student` resolves to (it must be serving)."""
        deployment = self.get(name)
        if not deployment.ready:
            raise DeploymentError(
                f"Deployment {name!r} is {deployment.status}: only a serving deployment can be the active student."
            )
        self.records.set_active_student(deployment.id)
        return self.get(name)

    def active_student_router(self) -> Router:
        rows = self.records.rows()
        active = next((row for row in rows if row["active_student"]), None)
        if active is None:
            if not rows:
                raise DeploymentError(
                    "No deployment yet, so there is no active student: deploy a model and set it active on the "
                    "Deployments page, or use 'student:<model id or directory>'."
                )
            raise DeploymentError(
                "No deployment is the active student yet: set one on the Deployments page (or use 'deployment:<name>')."
            )
        return self.router(active["name"], router_id="student")

    def self_test(self, name: str, query: str = SELF_TEST_QUERY) -> RouteResult:
        """Route one sample query through the deployment's endpoint (its latency is the round trip)."""
        return self.router(name).route(query)

    def wait_until_settled(
        self, name: str, timeout_s: float | None = None, sleep: Callable[[float], None] = time.sleep
    ) -> Deployment:
        """Poll until the deployment is no longer Creating or swapping (or the time is up); returns its state."""
        deadline = time.monotonic() + (self.settle_timeout_s if timeout_s is None else timeout_s)
        deployment = self.get(name)
        while not deployment.settled and time.monotonic() < deadline:
            sleep(self.settle_poll_s)
            deployment = self.get(name)
        return deployment

    def billing_while_idle(self) -> builtins.list[Deployment]:
        """Every deployment that bills while idle (for the Overview's banner), from the records only."""
        return [deployment for deployment in self.list(refresh=False) if deployment.bills_while_idle]

    def _ready_row(self, name: str) -> sqlite3.Row:
        row = self.records.row(name)
        if row["status"] not in READY_STATUSES:
            reason = f" ({row['failure_message']})" if row["failure_message"] else ""
            advice = "restart it" if row["status"] == DeploymentStatus.FAILED.value else "wait until it is Active"
            raise DeploymentError(f"Deployment {row['name']!r} is {row['status']}{reason}: {advice}.")
        return row
