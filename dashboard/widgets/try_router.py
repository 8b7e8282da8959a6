"""The "try a router" box: type or pick a query, route it through each chosen router, and see every result.

Routers come by id (docs/ARCHITECTURE.md, router ids) through state.router. When any chosen router is billable,
one confirmation covers the estimated cost of all of them before anything is sent. On a backend that is not
ready, routers that need AWS (the billable ones) are off and the others still route. The last results live in
a plain session key, so they survive reruns and page switches; they show while the same routers are chosen,
each in its own box, or all of them through the page's own `results_view` (the Search page ranks segments).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import streamlit as st

from core.routers.base import Router
from core.schema import RouteResult
from dashboard import components, state
from dashboard.widgets import confirm
from dashboard.widgets.formatting import markdown_usd, preview

# Published examples (docs/ARCHITECTURE.md, published reference points), so a first-time visitor has something to click.
EXAMPLE_QUERIES = ("dog barking loudly", "Olivia talking about growing up in poverty", "sunset over mountains")


@dataclass(frozen=True)
class Routed:
    """One query routed through the chosen routers: (label, result) for each router that answered."""

    router_ids: tuple[str, ...]
    query: str
    results: tuple[tuple[str, RouteResult], ...]
    answered: tuple[str, ...] = ()  # the router id of each result, in the same order


class _Keys:
    """The session keys of one box (a page may hold several, each with its own key)."""

    def __init__(self, key: str):
        self.key = key
        self.query = f"{key}_query"
        self.request = f"{key}_request"
        self.confirm = f"{key}_pending"
        self.result = f"{key}_result"
        self.form = f"{key}_form"
        self.route = f"{key}_route"


def try_router_box(
    router_ids: Sequence[str],
    *,
    labels: Mapping[str, str] | None = None,
    key: str = "try_router",
    examples: Sequence[str] = EXAMPLE_QUERIES,
    route_label: str = "Route",
    initial_query: str = "",
    results_view: Callable[[Routed], None] | None = None,
) -> None:
    """Route a query through each of `router_ids` and show each result; `labels` names routers for people
    (by default the teacher's name for `teacher`, else the id); `results_view` draws the results instead."""
    keys = _Keys(key)
    chosen = tuple(router_ids)
    names = {rid: _label(rid, labels or {}) for rid in chosen}
    status = state.backend_status()
    usable, problems = _routers(chosen)
    if not status.ready:
        off = [rid for rid in chosen if rid in problems or usable[rid].billable]
        if off:
            _not_ready_warning(status.label, [names[rid] for rid in off], everything=len(off) == len(chosen))
        usable = {rid: router for rid, router in usable.items() if rid not in off}
        if not usable:
            _last_results(keys, chosen, results_view)
            return
    else:
        for exc in problems.values():
            components.show_error(exc)
    for rid, router in usable.items():
        _describe_router(router, names[rid], status.label)
    last = st.session_state.get(keys.result)
    st.session_state.setdefault(keys.query, last.query if last else initial_query)
    if examples:
        _example_buttons(keys, examples)
    with st.form(keys.form, border=False, enter_to_submit=True):
        st.text_input("Search query", key=keys.query, placeholder="Describe the moment you are looking for")
        submitted = st.form_submit_button(route_label, type="primary", icon=":material/alt_route:", key=keys.route)
    requested = st.session_state.pop(keys.request, None)
    if submitted:
        requested = st.session_state[keys.query]
    if requested is not None:
        confirm.forget(keys.confirm)
        if requested.strip() and any(router.billable for router in usable.values()):
            confirm.ask(keys.confirm, requested)
        else:
            _route_now(usable, names, requested, keys, chosen)
    agreed = confirm.confirmed(keys.confirm)
    if agreed is not None:
        _route_now(usable, names, agreed, keys, chosen)
    pending = confirm.waiting(keys.confirm)
    if pending is not None:
        confirm.confirm_box(
            keys.confirm,
            _billing_question(pending, usable, names),
            detail=preview(pending),
            confirm="Confirm and route",
            icon=":material/payments:",
        )
    _last_results(keys, chosen, results_view)


def request_route(key: str, query: str) -> None:
    """Route `query` in the box `key` when it is next drawn, as if typed and sent (billable routers still ask)."""
    keys = _Keys(key)
    st.session_state[keys.query] = query
    st.session_state[keys.request] = query


def last_routed(key: str) -> Routed | None:
    """The last query the box `key` routed, with its results, whichever routers were chosen then."""
    return st.session_state.get(_Keys(key).result)


def _label(router_id: str, labels: Mapping[str, str]) -> str:
    if router_id in labels:
        return labels[router_id]
    return state.studio().backend.teacher_name if router_id == "teacher" else router_id


def _routers(router_ids: Sequence[str]) -> tuple[dict[str, Router], dict[str, Exception]]:
    """Each router that can be built, and why each other one cannot (e.g. a broken model folder)."""
    built: dict[str, Router] = {}
    problems: dict[str, Exception] = {}
    for router_id in router_ids:
        try:
            built[router_id] = state.router(router_id)
        except Exception as exc:  # shown as a sentence; the other routers still work
            problems[router_id] = exc
    return built, problems


def _not_ready_warning(backend_label: str, off: list[str], *, everything: bool) -> None:
    what = "routing is off" if everything else f"{components.plain_markdown(_listed(off))} cannot route now"
    st.warning(
        f"{backend_label} is not ready, so {what}. Open Settings in the sidebar to fix it.", icon=":material/block:"
    )


def _describe_router(router: Router, label: str, backend_label: str) -> None:
    if router.billable:
        st.caption(
            f"Routes with {components.plain_markdown(label)} on {backend_label}. Each query is billed by AWS per "
            "token: you see the estimated cost and confirm before anything is sent."
        )
    else:
        st.caption(f"{components.plain_markdown(label)} runs on this machine: instant, offline and free.")


def _example_buttons(keys: _Keys, examples: Sequence[str]) -> None:
    with st.container(horizontal=True, vertical_alignment="center"):
        st.caption("Try an example:", width="content")
        for index, example in enumerate(examples):
            st.button(
                example,
                key=f"{keys.key}_example_{index}",
                on_click=_choose_example,
                args=(keys, example),
                icon=":material/search:",
            )


def _choose_example(keys: _Keys, example: str) -> None:
    st.session_state[keys.query] = example
    st.session_state[keys.request] = example


def _billing_question(query: str, routers: Mapping[str, Router], names: Mapping[str, str]) -> str:
    billable = {rid: router for rid, router in routers.items() if router.billable}
    estimate = markdown_usd(sum(router.estimate_cost_usd(query) for router in billable.values()))
    who = components.plain_markdown(_listed([names[rid] for rid in billable]))
    if len(billable) == 1:
        return f"Routing this query calls {who} and AWS bills it: about {estimate} (estimated before sending)."
    return f"Routing this query calls {who}, and AWS bills each: about {estimate} in all (estimated before sending)."


def _listed(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _route_now(
    routers: Mapping[str, Router], names: Mapping[str, str], query: str, keys: _Keys, chosen: tuple[str, ...]
) -> None:
    results = []
    answered = []
    with st.spinner("Routing…"):
        for router_id, router in routers.items():
            try:
                results.append((names[router_id], router.route(query)))
                answered.append(router_id)
            except Exception as exc:  # a failed call leaves the page usable and the other results in place
                components.show_error(exc)
    if results:
        st.session_state[keys.result] = Routed(chosen, query, tuple(results), tuple(answered))


def _last_results(keys: _Keys, chosen: tuple[str, ...], results_view: Callable[[Routed], None] | None) -> None:
    last = st.session_state.get(keys.result)
    if last is None or last.router_ids != chosen:
        return
    if results_view is not None:
        results_view(last)
        return
    for label, result in last.results:
        with st.container(border=True):
            components.route_result_view(result, label)
