"""How the Playground runs a comparison: one typed query, a batch, or a stored run again, through core.compare.

Routers come by id through state.router. When any chosen router bills per query, the run waits for a confirmation
that names the billable routers and the estimated cost (core.compare.billing_estimate); nothing is sent before it.
On a backend that is not ready a billable router cannot route: its column says so and the others still run. Every
run is kept in the backend's comparison history (Backend.comparisons()) and its result in a plain session key, so
it survives reruns and page switches.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import streamlit as st

from core.backends import BackendStatus, BackendUnavailable
from core.compare import Comparison, billing_estimate, compare_batch, compare_query
from core.routers.base import Router
from dashboard import components, state
from dashboard.widgets import confirm
from dashboard.widgets.formatting import markdown_usd

# The last one-query comparison and the last batch, as shown.
ONE_KEY = "playground_one"
BATCH_KEY = "playground_batch"
SOURCE = "playground"


@dataclass(frozen=True)
class RunRequest:
    """What to run: queries through routers (`kind` "query" or "batch"), or a stored run again (`rerun_of`)."""

    kind: str
    router_ids: tuple[str, ...]
    queries: tuple[str, ...]
    rerun_of: str | None = None


def resolver(status: BackendStatus) -> Callable[[str], Router]:
    """Router by id; a billable one on a backend that is not ready raises the sentence its column shows."""

    def resolve(router_id: str) -> Router:
        router = state.router(router_id)
        if router.billable and not status.ready:
            raise BackendUnavailable(
                f"{status.label} is not ready, so this router cannot route now: open Settings in the sidebar to fix it."
            )
        return router

    return resolve


def estimate(request: RunRequest, status: BackendStatus) -> tuple[list[str], float]:
    """The routers of the request that bill per query, and what it would cost (routers that cannot be had: none)."""
    resolve = resolver(status)
    routers: dict[str, Router] = {}
    for router_id in request.router_ids:
        try:
            routers[router_id] = resolve(router_id)
        except Exception:  # it will show its error in its own column and costs nothing
            continue
    return billing_estimate(routers, len(request.queries))


def ask_or_run(key: str, request: RunRequest) -> Comparison | None:
    """Run the request now, or, when it bills, keep it waiting for the confirmation drawn by `pending`."""
    confirm.forget(key)
    billable, _ = estimate(request, state.backend_status())
    if billable:
        confirm.ask(key, request)
        return None
    return execute(request)


def pending(key: str, labels: dict[str, str]) -> Comparison | None:
    """Draw the confirmation of a billable run waiting on `key`, and run the request once confirmed."""
    agreed = confirm.confirmed(key)
    if agreed is not None:
        return execute(agreed)
    waiting = confirm.waiting(key)
    if waiting is not None:
        billable, usd = estimate(waiting, state.backend_status())
        who = components.plain_markdown(listed([labels.get(r, r) for r in billable]))
        n = len(waiting.queries)
        what = "this query" if n == 1 else f"these {n:,} queries"
        confirm.confirm_box(
            key,
            f"Routing {what} calls {who}, and AWS bills per token: about {markdown_usd(usd)} in all (estimated "
            "before sending). The other routers run on this machine for free.",
            confirm="Confirm and compare",
            icon=":material/payments:",
        )
    return None


def execute(request: RunRequest, progress: Callable[[int, int], None] | None = None) -> Comparison | None:
    """Run the request, keep it in the history, and keep its result for the page; None (and the sentence) on failure."""
    status = state.backend_status()
    resolve = resolver(status)
    history = state.studio().backend.comparisons()
    bar = None
    if progress is None and request.kind == "batch":
        bar = st.progress(0.0, text=f"Routing {len(request.queries):,} queries…")

        def progress(done: int, total: int) -> None:
            bar.progress(done / total if total else 1.0, text=f"Routed {done:,} of {total:,} answers…")

    try:
        with st.spinner("Routing…") if request.kind == "query" else contextlib.nullcontext():
            if request.rerun_of is not None:
                comparison = history.rerun(request.rerun_of, resolve, progress, source=SOURCE)
            elif request.kind == "query":
                comparison = compare_query(resolve, request.queries[0], request.router_ids)
            else:
                comparison = compare_batch(resolve, request.queries, request.router_ids, progress)
    except Exception as exc:  # a sentence (no query, too many...); nothing is lost
        components.show_error(exc)
        return None
    finally:
        if bar is not None:
            bar.empty()
    if request.rerun_of is None:
        try:
            history.save(comparison, source=SOURCE)
        except Exception as exc:  # e.g. a locked database: the result still shows
            components.show_error(exc)
    keep(comparison)
    return comparison


def keep(comparison: Comparison) -> None:
    """Show a comparison (a new run, or one from the history) in its section."""
    st.session_state[ONE_KEY if comparison.kind == "query" else BATCH_KEY] = comparison


def shown(kind: str) -> Comparison | None:
    return st.session_state.get(ONE_KEY if kind == "query" else BATCH_KEY)


def listed(names: Sequence[str]) -> str:
    if not names:
        return "no router"
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
