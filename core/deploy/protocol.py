"""The local endpoint's HTTP API, shared by the server and its client: limits, the request and the answer.

`GET /health` -> {"status": "ok", "deployment", "model_id", "requests_served"}.
`POST /route` with {"query": "..."} -> {"deployment", "model_id", "query", "valid", "output", "errors",
"latency_ms"}; with {"queries": [...]} -> {"deployment", "model_id", "results": [one such object per query,
without the first two keys], "latency_ms"}. `output` is the router-output JSON (four weights and reasoning),
null when the query could not be routed. A bad request gets HTTP 400 and {"error": "one sentence"}.
"""

from __future__ import annotations

from typing import Any

from core.schema import RouteResult

MAX_QUERIES_PER_REQUEST = 1000
MAX_QUERY_CHARS = 2000
MAX_BODY_BYTES = 4_000_000
HOST = "127.0.0.1"
EXAMPLE_BODY = '{"query": "dog barking loudly"}'


class BadRequest(ValueError):
    """A request the endpoint cannot route; the message is the sentence it answers with."""


def read_route_request(payload: Any) -> tuple[list[str], bool]:
    """The queries of a /route body and whether it asked for one query (a single answer) or a list."""
    if not isinstance(payload, dict) or ("query" in payload) == ("queries" in payload):
        raise BadRequest(f"Send a JSON object with either 'query' or 'queries', for example {EXAMPLE_BODY}.")
    if "query" in payload:
        queries, single = [payload["query"]], True
    else:
        queries, single = payload["queries"], False
        if not isinstance(queries, list) or not queries:
            raise BadRequest("'queries' must be a non-empty list of query texts.")
        if len(queries) > MAX_QUERIES_PER_REQUEST:
            raise BadRequest(
                f"{len(queries):,} queries in one request: send at most {MAX_QUERIES_PER_REQUEST:,} at a time."
            )
    for number, query in enumerate(queries, start=1):
        where = "'query'" if single else f"query {number}"
        if not isinstance(query, str):
            raise BadRequest(f"{where} must be text, not {type(query).__name__}.")
        if len(query) > MAX_QUERY_CHARS:
            raise BadRequest(f"{where} is {len(query):,} characters long: keep it to {MAX_QUERY_CHARS:,}.")
    return queries, single


def result_json(result: RouteResult) -> dict[str, Any]:
    """One routed query as the endpoint answers it."""
    return {
        "query": result.query,
        "valid": result.valid,
        "output": result.decision.to_json_dict() if result.valid and result.decision else None,
        "errors": list(result.errors),
        "latency_ms": round(result.latency_ms, 4),
    }
