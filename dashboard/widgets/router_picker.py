"""Choose up to four routers from what the backend offers now (`Backend.router_choices()`), the address winning on
arrival, so a link brings its routers back. A router the address names that is not among the choices but that the
backend resolves (a cascade at another threshold, say) is offered too; one it cannot resolve is left out with a
warning. The default is the teacher and the active student, or the teacher and uniform weights when nothing is
deployed. The choice is written back to the address (`router`, repeated).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import streamlit as st

from dashboard import components, state

if TYPE_CHECKING:
    from core.backends import Backend

ROUTER_PARAM = "router"
MAX_ROUTERS = 4


def router_labels(backend: Backend, wanted: Sequence[str] = ()) -> dict[str, str]:
    """Router id -> label of every router the backend offers now (the built-in two when the list cannot be read),
    and of each id `wanted` or named in the address (where the choice is kept between runs) that the backend
    resolves though it is not among its choices."""
    try:
        choices = backend.router_choices()
    except Exception as exc:  # e.g. the model registry cannot be read: the built-in routers still work
        components.show_error(exc)
        choices = []
    labels = {choice.router_id: choice.label for choice in choices} or {
        "teacher": backend.teacher_name,
        "uniform": "Uniform weights",
    }
    for router_id in dict.fromkeys([*wanted, *address_routers()]):
        if router_id not in labels and _resolves(router_id):
            labels[router_id] = router_id
    return labels


def _resolves(router_id: str) -> bool:
    try:  # state.router keeps what it built: the page routes with the same router, and a rerun loads nothing
        state.router(router_id)
    except Exception:  # any reason it cannot route: pick_routers names it as left out
        return False
    return True


def pick_routers(
    labels: Mapping[str, str],
    *,
    key: str,
    wanted: Sequence[str] = (),
    on_change: Callable[[], None] | None = None,
    label: str = f"Routers (up to {MAX_ROUTERS}, side by side)",
    help: str | None = None,
) -> list[str]:
    """A multiselect of up to four of `labels`; `wanted` (the address's ids) sets it in a session's first run."""
    if key not in st.session_state:
        unknown = [router_id for router_id in wanted if router_id not in labels]
        if unknown:
            st.warning(
                components.plain_markdown(
                    f"Not available here, so left out: {', '.join(unknown)} (named in the address; a model may have "
                    "been deleted)."
                ),
                icon=":material/help:",
            )
        known = [router_id for router_id in wanted if router_id in labels][:MAX_ROUTERS]
        st.session_state[key] = known or default_routers(labels)
    else:
        st.session_state[key] = [r for r in st.session_state[key] if r in labels]
    chosen = st.multiselect(
        label,
        list(labels),
        key=key,
        max_selections=MAX_ROUTERS,
        format_func=lambda router_id: labels.get(router_id, router_id),
        on_change=on_change,
        help=help,
    )
    st.query_params[ROUTER_PARAM] = chosen
    return list(chosen)


def address_routers() -> list[str]:
    """The router ids the address names, in order, once each."""
    return [r for r in dict.fromkeys(st.query_params.get_all(ROUTER_PARAM)) if r.strip()]


def default_routers(labels: Mapping[str, str]) -> list[str]:
    """The teacher and the active student when one is deployed, else the teacher and uniform weights."""
    second = "student" if "student" in labels else "uniform"
    return [router_id for router_id in ("teacher", second) if router_id in labels]
