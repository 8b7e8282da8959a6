"""The Evaluation page's run: choose routers (the backend's choices, and any router id such as a cascade), confirm
the estimate when one of them bills, then route every query with a progress bar; the run is kept in the history
(Backend.evaluations()) and becomes the one the page shows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import streamlit as st

from core.evaluate.engine import EvaluationRun, run_evaluation
from core.evaluate.sets import EvaluationSet
from core.routers.base import Router
from dashboard import components, state
from dashboard.widgets import confirm, notices
from dashboard.widgets.formatting import markdown_usd

if TYPE_CHECKING:
    from core.backends import Backend
    from core.evaluate.history import EvaluationHistory

ROUTERS_KEY = "evaluation_routers"
EXTRA_KEY = "evaluation_extra_router"
LABEL_KEY = "evaluation_label"
RUN_KEY = "evaluation_run"
RUN_PLACE = "evaluation_run"
MAX_ROUTERS = 6


def router_labels(backend: Backend) -> dict[str, str]:
    """Every router the backend offers now, by id, with its label."""
    try:
        choices = backend.router_choices()
    except Exception as exc:  # an unreadable registry: the built-in routers still work
        components.show_error(exc)
        choices = []
    return {choice.router_id: choice.label for choice in choices} or {
        "teacher": backend.teacher_name,
        "uniform": "Uniform weights",
    }


def pick_routers(labels: Mapping[str, str]) -> list[str]:
    """Up to six routers: the backend's choices, and one more by id (a cascade, a Bedrock model...)."""
    if ROUTERS_KEY not in st.session_state:
        st.session_state[ROUTERS_KEY] = default_routers(labels)
    else:
        st.session_state[ROUTERS_KEY] = [r for r in st.session_state[ROUTERS_KEY] if r in labels]
    chosen = st.multiselect(
        f"Routers (up to {MAX_ROUTERS})",
        list(labels),
        key=ROUTERS_KEY,
        max_selections=MAX_ROUTERS,
        format_func=lambda router_id: labels.get(router_id, router_id),
        help="Each router routes every query of the set; uniform weights are the no-routing baseline.",
    )
    extra = st.text_input(
        "Another router by id (optional)",
        key=EXTRA_KEY,
        placeholder="cascade:student:MODEL|teacher@0.3",
        help="Any router id the backend resolves, such as a cascade named by the curve below.",
    ).strip()
    return list(dict.fromkeys([*chosen, *([extra] if extra else [])]))


def default_routers(labels: Mapping[str, str]) -> list[str]:
    """The teacher, uniform weights and the newest local student (or the active student) when there is one."""
    students = [r for r in labels if r == "student" or r.startswith("student:")]
    return [r for r in ("teacher", "uniform", *students[-1:]) if r in labels]


def run_controls(
    backend: Backend, history: EvaluationHistory, evaluation_set: EvaluationSet, router_ids: Sequence[str]
) -> EvaluationRun | None:
    """The run button (a billable router asks first, with its estimate) and the run itself; the new run or None."""
    notices.show(RUN_PLACE)
    if not router_ids:
        st.caption("Choose at least one router to evaluate.")
        return None
    routers: dict[str, Router] = {}
    for router_id in router_ids:
        try:
            routers[router_id] = state.router(router_id)
        except Exception as exc:  # an id the backend cannot resolve: its sentence, the others still run
            components.show_error(exc)
    if len(routers) != len(router_ids):
        return None
    label = st.text_input("Note kept with the run (optional)", key=LABEL_KEY, max_chars=200)
    value = (evaluation_set.key, tuple(router_ids))
    agreed = confirm.confirmed(RUN_KEY)
    billable = [router_id for router_id, router in routers.items() if router.billable]
    if agreed is not None and agreed == value:
        return _run(history, evaluation_set, routers, label)
    if billable and confirm.waiting(RUN_KEY) == value:
        estimate = sum(routers[r].estimate_batch_cost_usd(evaluation_set.n) for r in billable)
        confirm.confirm_box(
            RUN_KEY,
            f"Routing {evaluation_set.n:,} queries through {', '.join(components.plain_markdown(r) for r in billable)} "
            f"bills your AWS account: about {markdown_usd(estimate)} (on-demand token prices). Go on?",
            confirm="Run and pay",
            confirm_icon=":material/payments:",
        )
        return None
    clicked = st.button(
        f"Evaluate {len(routers)} router{'s' if len(routers) > 1 else ''} on {evaluation_set.n:,} queries",
        key=f"{RUN_KEY}_start",
        type="primary",
        icon=":material/play_arrow:",
    )
    if not clicked:
        return None
    if billable:
        status = state.backend_status()
        if not status.ready:
            st.warning(
                components.plain_markdown(status.message or f"{status.label} is not ready."), icon=":material/block:"
            )
            return None
        confirm.ask(RUN_KEY, value)
        st.rerun()
    return _run(history, evaluation_set, routers, label)


def _run(
    history: EvaluationHistory, evaluation_set: EvaluationSet, routers: Mapping[str, Router], label: str
) -> EvaluationRun | None:
    total = evaluation_set.n * len(routers)
    order = list(routers)
    bar = st.progress(0.0, text=f"Routing {total:,} queries…")

    def progress(done: int, of: int, router_id: str) -> None:
        finished = order.index(router_id) * evaluation_set.n + done
        bar.progress(min(finished / total, 1.0), text=f"{router_id}: {done:,} of {of:,} queries")

    try:
        run = run_evaluation(evaluation_set, routers, on_progress=progress, label=label.strip())
        history.save(run)
    except Exception as exc:  # a router or the store failed: one sentence, the page stays usable
        bar.empty()
        notices.failure(RUN_PLACE, exc)
        notices.show(RUN_PLACE)
        return None
    bar.empty()
    return run
