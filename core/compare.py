"""Compare routers side by side: one query or a batch of up to 1,000, through up to four routers at once.

Each router's answer is set against a reference router (the teacher when it is among them, else the first):
the same leading channel, scored as core.evaluate.dominant_credit scores it (1 for the same single lead,
the share of tied leads that match, 0 otherwise), and the L1 distance between the two sets of weights
(0 to 2). A query where any router does not share the reference's lead is a disagreement. A router that
cannot be resolved or fails shows its error in its own column; the others still run. Runs are kept in the
store (CompareHistory) and can be run again; a link (query and router ids) reproduces a comparison. The
playground and `python -m core compare` both run through here (docs/ARCHITECTURE.md, compare).
"""

from __future__ import annotations

import csv
import functools
import io
import json
import math
import queue
import sqlite3
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.evaluate import dominant_credit
from core.routers.base import Router
from core.routers.registry import parse_router_id
from core.schema import MODALITIES, RouteResult, RoutingDecision
from core.store import NOW_SQL, Store

MAX_ROUTERS = 4
MAX_BATCH_QUERIES = 1000
MAX_QUERY_CHARS = 2000
DEFAULT_REFERENCE = "teacher"
# Queries a router routes between two progress reports (remote routers answer slowly).
PROGRESS_CHUNK = 100
REMOTE_PROGRESS_CHUNK = 10
TIE_TOLERANCE = 1e-9
QUERY_COLUMN = "query"
# Link parameters: the query and the router ids (repeated), or a stored run.
LINK_QUERY = "q"
LINK_ROUTER = "router"
LINK_RUN = "run"
HISTORY_LIMIT = 50
# Sample queries: the shortest generated query of each focus at these difficulties, from a fixed seed.
SAMPLE_SEED = 7
SAMPLE_DIFFICULTIES = ("medium",)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

Resolve = Callable[[str], Router]
Progress = Callable[[int, int], None]


class CompareError(ValueError):
    """A comparison that cannot be run as asked; the message says why and what to do."""


@dataclass(frozen=True)
class Agreement:
    """How one router's answer stands against the reference's for one query."""

    leading: float | None  # dominant_credit against the reference; None when the reference gave no decision
    l1: float | None  # sum of absolute weight differences (0-2); None without both decisions

    @property
    def agrees(self) -> bool:
        return self.leading is not None and self.leading >= 1.0 - TIE_TOLERANCE


@dataclass(frozen=True)
class RouterOutcome:
    router_id: str
    result: RouteResult
    agreement: Agreement | None  # None for the reference itself

    def leading_channels(self) -> list[str]:
        decision = self.result.decision if self.result.valid else None
        return sorted(decision.dominant_set(), key=MODALITIES.index) if decision else []


@dataclass(frozen=True)
class QueryComparison:
    query: str
    reference: str
    outcomes: dict[str, RouterOutcome]

    @property
    def disagree(self) -> bool:
        return any(o.agreement is not None and not o.agreement.agrees for o in self.outcomes.values())


@dataclass(frozen=True)
class RouterSummary:
    router_id: str
    n: int
    validity: float
    agreement_rate: float | None  # mean leading-channel credit against the reference (None for the reference)
    mean_l1: float | None
    latency_p50_ms: float
    latency_p95_ms: float
    total_cost_usd: float
    cost_per_million_usd: float
    input_tokens: int
    output_tokens: int
    token_source: str  # "measured", "estimated" or "mixed"
    error: str | None = None  # why the router could not be used at all

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "validity": self.validity,
            "agreement_rate": self.agreement_rate,
            "mean_l1": self.mean_l1,
            "latency_p50_ms": self.latency_p50_ms,
            "latency_p95_ms": self.latency_p95_ms,
            "total_cost_usd": self.total_cost_usd,
            "cost_per_million_usd": self.cost_per_million_usd,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "token_source": self.token_source,
            "error": self.error,
        }


@dataclass
class Comparison:
    """One run: the routers, the reference, every query's comparison and each router's summary."""

    router_ids: list[str]
    reference: str
    queries: list[QueryComparison]
    summaries: dict[str, RouterSummary]
    kind: str = "batch"  # "query" for one typed query, "batch" for a list
    elapsed_s: float = 0.0
    run_id: str | None = None
    created_at: str | None = None
    router_errors: dict[str, str] = field(default_factory=dict)

    @property
    def disagreements(self) -> list[QueryComparison]:
        return [q for q in self.queries if q.disagree]

    @property
    def agreement_rate(self) -> float | None:
        """The share of queries on which every router shares the reference's lead."""
        return 1.0 - len(self.disagreements) / len(self.queries) if self.queries else None


# ---- running ---------------------------------------------------------------------------------------------


def check_router_ids(router_ids: Sequence[str]) -> list[str]:
    """The distinct router ids, in order, one to four, or a CompareError (the backend says which ids it knows)."""
    ids = list(dict.fromkeys(r.strip() for r in router_ids if isinstance(r, str) and r.strip()))
    if not ids:
        raise CompareError("Choose at least one router to compare, such as teacher.")
    if len(ids) > MAX_ROUTERS:
        raise CompareError(f"{len(ids)} routers chosen: compare at most {MAX_ROUTERS} at a time.")
    return ids


def reference_for(router_ids: Sequence[str]) -> str:
    return DEFAULT_REFERENCE if DEFAULT_REFERENCE in router_ids else router_ids[0]


def compare_query(resolve: Resolve, query: str, router_ids: Sequence[str]) -> Comparison:
    """One query through every router at once."""
    text = query.strip() if isinstance(query, str) else ""
    if not text:
        raise CompareError("Type a query to compare, such as 'dog barking loudly'.")
    comparison = compare_batch(resolve, [text], router_ids)
    comparison.kind = "query"
    return comparison


def compare_batch(
    resolve: Resolve, queries: Sequence[str], router_ids: Sequence[str], progress: Progress | None = None
) -> Comparison:
    """Every query through every router, the routers concurrently; `progress(done, total)` is called from this
    thread (never from a worker), so a page may draw with it."""
    ids = check_router_ids(router_ids)
    texts = check_queries(queries)
    reference = reference_for(ids)
    started = time.perf_counter()
    routers: dict[str, Router] = {}
    errors: dict[str, str] = {}
    for router_id in ids:
        try:
            routers[router_id] = resolve(router_id)
        except Exception as exc:  # a router that cannot be had shows why in its own column
            errors[router_id] = _sentence(exc)
    results = _route_all(routers, texts, progress)
    for router_id, message in errors.items():
        results[router_id] = [_failed(router_id, query, message) for query in texts]
    comparisons = [
        _compare_one(query, reference, {router_id: results[router_id][index] for router_id in ids})
        for index, query in enumerate(texts)
    ]
    summaries = {router_id: summarise(router_id, comparisons, errors.get(router_id)) for router_id in ids}
    return Comparison(
        router_ids=ids,
        reference=reference,
        queries=comparisons,
        summaries=summaries,
        elapsed_s=time.perf_counter() - started,
        router_errors=errors,
    )


def check_queries(queries: Sequence[str]) -> list[str]:
    texts = [q.strip() for q in queries if isinstance(q, str) and q.strip()]
    if not texts:
        raise CompareError("There are no queries to compare: paste some, one per line, or upload a file.")
    if len(texts) > MAX_BATCH_QUERIES:
        raise CompareError(f"{len(texts):,} queries given: compare at most {MAX_BATCH_QUERIES:,} at a time.")
    long = next((i for i, q in enumerate(texts, start=1) if len(q) > MAX_QUERY_CHARS), None)
    if long is not None:
        raise CompareError(f"Query {long} is {len(texts[long - 1]):,} characters long: keep it to {MAX_QUERY_CHARS:,}.")
    return texts


@functools.cache
def sample_queries() -> dict[str, str]:
    """One short query per focus (visual, audio, transcription, metadata, mixed): the shortest medium one
    the synthetic generator makes from a fixed seed, so a first-time visitor has a query of each kind to click."""
    from core.synth import FOCI, DataMix, generate

    samples: dict[str, str] = {}
    for item in generate(DataMix(total=200, seed=SAMPLE_SEED)):
        if item.difficulty in SAMPLE_DIFFICULTIES and len(item.query) < len(samples.get(item.focus, item.query + " ")):
            samples[item.focus] = item.query
    return {focus: samples[focus] for focus in FOCI if focus in samples}


def billing_estimate(routers: Mapping[str, Router], n_queries: int) -> tuple[list[str], float]:
    """The routers that bill per query and what n queries through them would cost (for the confirmation)."""
    billable = [router_id for router_id, router in routers.items() if router.billable]
    return billable, math.fsum(routers[r].estimate_batch_cost_usd(n_queries) for r in billable)


def _route_all(routers: Mapping[str, Router], texts: list[str], progress: Progress | None) -> dict[str, list]:
    total = len(texts) * len(routers)
    done = 0
    reports: queue.Queue[int] = queue.Queue()

    def run(router_id: str) -> list[RouteResult]:
        router = routers[router_id]
        step = REMOTE_PROGRESS_CHUNK if router.remote else PROGRESS_CHUNK
        out: list[RouteResult] = []
        for start in range(0, len(texts), step):
            chunk = texts[start : start + step]
            try:
                out.extend(router.route_batch(chunk))
            except Exception as exc:  # one router failing leaves the others' answers standing
                out.extend(_failed(router_id, query, _sentence(exc)) for query in chunk)
            reports.put(len(chunk))
        return out

    if not routers:
        return {}
    with ThreadPoolExecutor(max_workers=len(routers), thread_name_prefix="compare") as pool:
        futures: dict[str, Future[list[RouteResult]]] = {r: pool.submit(run, r) for r in routers}
        while done < total:
            try:
                done += reports.get(timeout=0.1)
            except queue.Empty:
                if all(f.done() for f in futures.values()) and reports.empty():
                    break
                continue
            if progress is not None:
                progress(done, total)
        return {router_id: future.result() for router_id, future in futures.items()}


def _compare_one(query: str, reference: str, results: dict[str, RouteResult]) -> QueryComparison:
    ref_result = results[reference]
    ref_decision = ref_result.decision if ref_result.valid else None
    outcomes = {}
    for router_id, result in results.items():
        agreement = None if router_id == reference else agreement_of(result, ref_decision)
        outcomes[router_id] = RouterOutcome(router_id, result, agreement)
    return QueryComparison(query, reference, outcomes)


def agreement_of(result: RouteResult, reference: RoutingDecision | None) -> Agreement:
    decision = result.decision if result.valid else None
    if reference is None:
        return Agreement(leading=None, l1=None)
    if decision is None:
        return Agreement(leading=0.0, l1=None)
    expected = reference.weights()
    l1 = math.fsum(abs(w - expected[m]) for m, w in decision.weights().items())
    return Agreement(leading=dominant_credit(decision, reference), l1=l1)


def summarise(router_id: str, comparisons: Sequence[QueryComparison], error: str | None = None) -> RouterSummary:
    outcomes = [c.outcomes[router_id] for c in comparisons]
    results = [o.result for o in outcomes]
    n = len(results)
    credits = [o.agreement.leading for o in outcomes if o.agreement is not None and o.agreement.leading is not None]
    distances = [o.agreement.l1 for o in outcomes if o.agreement is not None and o.agreement.l1 is not None]
    latencies = np.array([r.latency_ms for r in results] or [0.0], dtype=np.float64)
    total_cost = math.fsum(r.cost_usd for r in results)
    sources = {r.token_source for r in results}
    is_reference = bool(outcomes) and outcomes[0].agreement is None
    return RouterSummary(
        router_id=router_id,
        n=n,
        validity=sum(r.valid for r in results) / n if n else 0.0,
        agreement_rate=None if is_reference or not credits else math.fsum(credits) / len(credits),
        mean_l1=None if not distances else math.fsum(distances) / len(distances),
        latency_p50_ms=float(np.percentile(latencies, 50)),
        latency_p95_ms=float(np.percentile(latencies, 95)),
        total_cost_usd=total_cost,
        cost_per_million_usd=total_cost / n * 1e6 if n else 0.0,
        input_tokens=sum(r.input_tokens for r in results),
        output_tokens=sum(r.output_tokens for r in results),
        token_source=sources.pop() if len(sources) == 1 else "mixed",
        error=error,
    )


def _failed(router_id: str, query: str, message: str) -> RouteResult:
    return RouteResult(query=query, router_id=router_id, decision=None, raw_text="", valid=False, errors=[message])


def _sentence(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or f"The router failed ({type(exc).__name__})."


# ---- input files -----------------------------------------------------------------------------------------


def read_query_file(data: bytes | str, filename: str = "") -> list[str]:
    """Queries from text lines, a CSV with a `query` column, or JSONL objects with a `query` key (or dataset
    records); a problem is one sentence naming its line."""
    text = data.decode("utf-8-sig", errors="strict") if isinstance(data, bytes) else data
    lowered = filename.lower()
    if lowered.endswith(".csv"):
        queries = _csv_queries(text)
    elif lowered.endswith((".jsonl", ".json")) or (not lowered and text.lstrip().startswith("{")):
        queries = _jsonl_queries(text)
    else:
        queries = [line.strip() for line in text.splitlines() if line.strip()]
    if len(queries) > MAX_BATCH_QUERIES:
        raise CompareError(f"The file holds {len(queries):,} queries: compare at most {MAX_BATCH_QUERIES:,} at a time.")
    return queries


def _csv_queries(text: str) -> list[str]:
    reader = csv.DictReader(io.StringIO(text))
    fields = [f.strip().lower() for f in reader.fieldnames or []]
    if QUERY_COLUMN not in fields:
        shown = ", ".join(reader.fieldnames or []) or "none"
        raise CompareError(f"line 1: the CSV has no '{QUERY_COLUMN}' column (its columns: {shown}).")
    column = (reader.fieldnames or [])[fields.index(QUERY_COLUMN)]
    try:
        return [(row.get(column) or "").strip() for row in reader if (row.get(column) or "").strip()]
    except csv.Error as exc:
        raise CompareError(f"line {reader.line_num}: the CSV cannot be read ({exc}).") from exc


def _jsonl_queries(text: str) -> list[str]:
    from core.datasets.files import record_query

    queries = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError:
            raise CompareError(f"line {number}: not a JSON object (each line must be one).") from None
        query = item.get(QUERY_COLUMN) if isinstance(item, dict) else None
        if query is None and isinstance(item, dict) and "messages" in item:
            query = record_query(item)
        if not isinstance(query, str) or not query.strip():
            raise CompareError(f"line {number}: no '{QUERY_COLUMN}' text in this object.")
        queries.append(query.strip())
    return queries


# ---- tables and export -----------------------------------------------------------------------------------


def comparison_rows(comparison: Comparison, only_disagreements: bool = False) -> list[dict[str, Any]]:
    """One flat row per query: the query, whether it is a disagreement, and each router's weights and figures."""
    shown = comparison.disagreements if only_disagreements else comparison.queries
    rows = []
    for item in shown:
        row: dict[str, Any] = {"query": item.query, "disagree": item.disagree}
        for router_id, outcome in item.outcomes.items():
            result = outcome.result
            weights = result.decision.weights() if result.valid and result.decision else dict.fromkeys(MODALITIES)
            for modality in MODALITIES:
                row[f"{router_id} {modality}"] = weights[modality]
            row[f"{router_id} leading"] = "+".join(outcome.leading_channels()) or None
            row[f"{router_id} valid"] = result.valid
            if outcome.agreement is not None:
                row[f"{router_id} agreement"] = outcome.agreement.leading
                row[f"{router_id} l1"] = None if outcome.agreement.l1 is None else round(outcome.agreement.l1, 4)
            row[f"{router_id} latency_ms"] = round(result.latency_ms, 3)
            row[f"{router_id} cost_usd"] = result.cost_usd
            row[f"{router_id} error"] = "; ".join(result.errors) or None
        rows.append(row)
    return rows


def comparison_csv(comparison: Comparison, only_disagreements: bool = False) -> bytes:
    """The table of comparison_rows as CSV (cells a spreadsheet would run as formulas are quoted as text)."""
    rows = comparison_rows(comparison, only_disagreements)
    columns = list(rows[0]) if rows else ["query", "disagree"]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: _cell(value) for key, value in row.items()})
    return out.getvalue().encode("utf-8")


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


# ---- links -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ComparisonLink:
    query: str
    router_ids: list[str]
    run_id: str | None = None


def link_params(query: str, router_ids: Sequence[str]) -> dict[str, str | list[str]]:
    """URL parameters that reproduce a comparison (for st.query_params, or urlencode with doseq=True)."""
    return {LINK_QUERY: query.strip(), LINK_ROUTER: list(router_ids)}


def read_link(params: Mapping[str, str | Sequence[str]]) -> ComparisonLink:
    """A comparison from URL parameters; unknown router ids and extra routers are dropped, an over-long query cut."""

    def values(key: str) -> list[str]:
        raw = params.get(key)
        if raw is None:
            return []
        return [raw] if isinstance(raw, str) else [v for v in raw if isinstance(v, str)]

    query = (values(LINK_QUERY) or [""])[0].strip()[:MAX_QUERY_CHARS]
    ids = [r for r in dict.fromkeys(v.strip() for v in values(LINK_ROUTER)) if parse_router_id(r) is not None]
    run = (values(LINK_RUN) or [""])[0].strip()
    return ComparisonLink(query=query, router_ids=ids[:MAX_ROUTERS], run_id=run or None)


# ---- history ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunSummary:
    """One stored run, as the history list shows it."""

    id: str
    created_at: str
    kind: str
    source: str
    router_ids: list[str]
    reference: str | None
    query_count: int
    first_query: str
    summary: dict[str, Any]


class CompareHistory:
    """Every comparison run of one backend, kept in the store so it can be listed, shown again and re-run."""

    def __init__(self, store: Store, backend: str):
        self.store = store
        self.backend = backend

    def save(self, comparison: Comparison, source: str = "playground") -> str:
        run_id = "run-" + uuid.uuid4().hex[:12]
        summary = {
            "agreement_rate": comparison.agreement_rate,
            "disagreements": len(comparison.disagreements),
            "elapsed_s": comparison.elapsed_s,
            "routers": {r: s.to_json_dict() for r, s in comparison.summaries.items()},
        }
        results = [
            {"query": q.query, "results": {r: o.result.model_dump(mode="json") for r, o in q.outcomes.items()}}
            for q in comparison.queries
        ]
        self.store.execute(
            "INSERT INTO playground_runs (id, backend, kind, source, router_ids_json, reference, query_count, "
            f"first_query, summary_json, results_json, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, {NOW_SQL})",
            (
                run_id,
                self.backend,
                comparison.kind,
                source,
                json.dumps(comparison.router_ids),
                comparison.reference,
                len(comparison.queries),
                comparison.queries[0].query if comparison.queries else "",
                json.dumps(summary),
                json.dumps({"router_errors": comparison.router_errors, "queries": results}, ensure_ascii=False),
            ),
        )
        comparison.run_id = run_id
        return run_id

    def list(self, limit: int = HISTORY_LIMIT) -> list[RunSummary]:
        """The newest runs first (without their per-query results)."""
        rows = self.store.query(
            "SELECT id, created_at, kind, source, router_ids_json, reference, query_count, first_query, summary_json "
            "FROM playground_runs WHERE backend = ? ORDER BY created_at DESC, rowid DESC LIMIT ?",
            (self.backend, limit),
        )
        return [_run_summary(row) for row in rows]

    def get(self, run_id: str) -> Comparison:
        """A stored run rebuilt, figures and all, exactly as it was shown."""
        row = self.store.query_one("SELECT * FROM playground_runs WHERE id = ? AND backend = ?", (run_id, self.backend))
        if row is None:
            raise CompareError(
                f"There is no stored run {run_id!r}: it may have been deleted; run the comparison again."
            )
        ids = json.loads(row["router_ids_json"])
        stored = json.loads(row["results_json"])
        reference = row["reference"] or reference_for(ids)
        errors = stored.get("router_errors") or {}
        comparisons = [
            _compare_one(
                item["query"],
                reference,
                {r: RouteResult.model_validate(item["results"][r]) for r in ids if r in item["results"]},
            )
            for item in stored.get("queries", [])
        ]
        summaries = {r: summarise(r, comparisons, errors.get(r)) for r in ids}
        elapsed = float(json.loads(row["summary_json"]).get("elapsed_s") or 0.0)
        return Comparison(
            router_ids=ids,
            reference=reference,
            queries=comparisons,
            summaries=summaries,
            kind=row["kind"],
            elapsed_s=elapsed,
            run_id=row["id"],
            created_at=row["created_at"],
            router_errors=errors,
        )

    def rerun(
        self, run_id: str, resolve: Resolve, progress: Progress | None = None, source: str = "playground"
    ) -> Comparison:
        """The same queries through the same routers again, saved as a new run."""
        old = self.get(run_id)
        queries = [q.query for q in old.queries]
        if old.kind == "query":
            fresh = compare_query(resolve, queries[0], old.router_ids)
        else:
            fresh = compare_batch(resolve, queries, old.router_ids, progress)
        self.save(fresh, source)
        return fresh

    def delete(self, run_id: str) -> None:
        self.store.execute("DELETE FROM playground_runs WHERE id = ? AND backend = ?", (run_id, self.backend))


def _run_summary(row: sqlite3.Row) -> RunSummary:
    return RunSummary(
        id=row["id"],
        created_at=row["created_at"],
        kind=row["kind"],
        source=row["source"],
        router_ids=json.loads(row["router_ids_json"]),
        reference=row["reference"],
        query_count=int(row["query_count"]),
        first_query=row["first_query"],
        summary=json.loads(row["summary_json"]),
    )
