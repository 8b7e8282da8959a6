"""The Deployments page's pieces: the create form, and one card per deployment with its status, lineage, endpoint,
self-test, snippets, swap, set active, restart and a guarded delete (a teardown, for what bills by the hour).

Everything goes through the backend's DeploymentService (state.deployments()); the rules (names, tags, billing,
lineage, the meter) are core's. While any deployment is Creating or swapping, the list polls in a fragment that
stops once all have settled. Names, descriptions and model text are shown as text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import streamlit as st

from core.backends import BackendStatus
from core.deployments import (
    SELF_TEST_QUERY,
    STOPPED_UNEXPECTEDLY,
    Deployment,
    DeploymentError,
    DeploymentService,
    DeploymentStatus,
    new_name_problem,
    parse_tag_text,
)
from core.model_registry import CustomModel
from core.schema import RouteResult
from dashboard import components, state
from dashboard.widgets import billing, confirm, notices
from dashboard.widgets.checks import Checks
from dashboard.widgets.formatting import format_time, markdown_usd
from dashboard.widgets.layout import fact_row

CREATE_PROBLEMS = "deploy_create"
LIST_PROBLEMS = "deploy_list"
NAME_KEY = "deploy_name"
CLEAR_NAME_KEY = "deploy_name_clear"
MODEL_KEY = "deploy_model"
DESCRIPTION_KEY = "deploy_description"
TAGS_KEY = "deploy_tags"
KIND_KEY = "deploy_kind"
UNITS_KEY = "deploy_model_units"
COMMITMENT_KEY = "deploy_commitment"
CREATE_KEY = "deploy_create"
PROVISION_KEY = "deploy_provision"
DELETE_KEY = "deploy_delete"
TEST_KEY = "deploy_test"
SWAP_KEY = "deploy_swap"
# A local endpoint settles in seconds; Bedrock is asked no more often than its service polls.
MIN_POLL_S = 1.0
ON_DEMAND = "on-demand"
PROVISIONED = "provisioned"
NO_COMMITMENT = ""
COMMITMENTS = (NO_COMMITMENT, "OneMonth", "SixMonths")
MODEL_UNITS = tuple(range(1, 11))
# Wide enough for a model name of about 36 characters beside the buttons at 1024 px.
SWAP_PICKER_WIDTH_PX = 320
BadgeColour = Literal["gray", "blue", "green", "orange", "red"]
STATUS_BADGES: dict[str, tuple[BadgeColour, str]] = {
    DeploymentStatus.ACTIVE.value: ("green", ":material/check_circle:"),
    DeploymentStatus.IN_SERVICE.value: ("green", ":material/check_circle:"),
    DeploymentStatus.CREATING.value: ("blue", ":material/progress_activity:"),
    DeploymentStatus.UPDATING.value: ("blue", ":material/progress_activity:"),
    DeploymentStatus.FAILED.value: ("red", ":material/error:"),
}
STOPPED_TEXT = (
    "The endpoint process stopped unexpectedly (it was killed, or the machine restarted), so nothing answers at its "
    "address. Restart it to serve again."
)


def not_ready_sentence(status: BackendStatus, what: str) -> str | None:
    """Why `what` is off while the backend is not ready (with what to do), or None when it is ready."""
    if status.ready:
        return None
    why = f" {status.message}" if status.message else ""
    return f"{status.label} is not ready, so {what} is off.{why} Open Settings in the sidebar to fix it."


def blocked_warning(sentence: str) -> None:
    st.warning(components.plain_markdown(sentence), icon=":material/key:")


def model_label(model: CustomModel) -> str:
    return f"{model.name} ({format_time(model.created_at)})"


# --- creating -----------------------------------------------------------------------------------------------


def create_form(service: DeploymentService, models: Sequence[CustomModel], taken: set[str]) -> None:
    """Model, name (checked against the naming rule as typed), description and tags; on Bedrock also provisioned
    throughput, behind its hourly-billing warning and a confirmation."""
    notices.show(CREATE_PROBLEMS)
    blocked = not_ready_sentence(state.backend_status(), "deploying")
    if blocked:
        blocked_warning(blocked)
        return
    if not models:
        st.info(
            "No models to deploy yet: distil a student on the Distillation page; each finished job registers its "
            "model, which can then be deployed here.",
            icon=":material/deployed_code:",
        )
        components.page_link_if_listed(state.PAGES_DIR / "distillation.py", "Open Distillation", ":material/school:")
        return
    by_id = {model.id: model for model in models}
    if st.session_state.pop(CLEAR_NAME_KEY, False):
        st.session_state[NAME_KEY] = ""  # the name just deployed is taken now
    st.caption(service.description)
    kind = ON_DEMAND
    if service.provisioned_available:
        kind = st.radio(
            "Kind",
            (ON_DEMAND, PROVISIONED),
            key=KIND_KEY,
            horizontal=True,
            format_func=lambda k: (
                "On-demand (billed per token)" if k == ON_DEMAND else "Provisioned throughput (billed by the hour)"
            ),
        )
    model_id = st.selectbox("Model", list(by_id), key=MODEL_KEY, format_func=lambda key: model_label(by_id[key]))
    checks = Checks()
    st.text_input(
        "Deployment name",
        key=NAME_KEY,
        live=True,
        placeholder="for example router-live",
        help="Checked against Amazon Bedrock's rule, so the same name works there: 1 to 63 letters and digits, each "
        "optionally followed by one '-' or '_'.",
    )
    name = (st.session_state.get(NAME_KEY) or "").strip()
    checks.require(
        "Give the deployment a name." if not name else new_name_problem(name, taken, provisioned=kind == PROVISIONED)
    )
    tags_text = st.text_input("Tags", key=TAGS_KEY, placeholder="team=search, stage=test", help="key=value pairs.")
    try:
        tags = parse_tag_text(tags_text or "")
    except DeploymentError as exc:
        tags = {}
        checks.require(str(exc))
    if kind == PROVISIONED:
        _provisioned_form(service, checks, name, model_id, tags)
        return
    description = st.text_area("Description", key=DESCRIPTION_KEY, height=68)
    if checks.button("Deploy", key=CREATE_KEY, type="primary", icon=":material/rocket_launch:"):
        made = notices.attempt(
            CREATE_PROBLEMS, lambda: service.create(name, model_id, description=description or "", tags=tags)
        )
        if made is not None:
            notices.success(notices.PAGE, f"Deploying {made.result.name}: it turns Active once its model answers.")
            st.session_state[CLEAR_NAME_KEY] = True
            st.rerun()


def _provisioned_form(
    service: DeploymentService, checks: Checks, name: str, model_id: str, tags: Mapping[str, str]
) -> None:
    units_column, term_column = st.columns(2)
    units = units_column.selectbox("Model units", MODEL_UNITS, key=UNITS_KEY)
    commitment = term_column.selectbox(
        "Commitment",
        COMMITMENTS,
        key=COMMITMENT_KEY,
        format_func=lambda term: term or "None: billed by the hour until deleted",
    )
    try:
        estimate = service.provisioned_estimate(model_id, units, commitment or None)
    except Exception as exc:  # e.g. a local student cannot be provisioned: the sentence says so
        checks.require(state.explain_error(exc))
        estimate = None
    if estimate is not None:
        st.warning(components.plain_markdown(estimate.warning()), icon=":material/payments:")
    request = (name, model_id, units, commitment or None, tuple(sorted(tags.items())))
    if confirm.waiting(PROVISION_KEY) != request:
        if checks.button("Create provisioned throughput", key=f"{PROVISION_KEY}_ask", icon=":material/payments:"):
            confirm.ask(PROVISION_KEY, request)
            st.rerun()
        return
    confirm.confirm_box(
        PROVISION_KEY,
        "It starts billing by the hour as soon as it is created, and keeps billing until it is deleted: create it?",
        detail=f"{name}: {units} model unit{'s' if units != 1 else ''}, {commitment or 'no commitment'}",
        confirm="Create it and start billing",
        icon=":material/payments:",
        confirm_icon=":material/payments:",
        on_confirm=lambda wanted: _provision(service, wanted),
    )


def _provision(service: DeploymentService, request: tuple) -> None:
    name, model_id, units, commitment, tags = request
    made = notices.attempt(
        CREATE_PROBLEMS,
        lambda: service.create_provisioned(
            name, model_id, model_units=units, commitment=commitment, confirm_hourly_billing=True, tags=dict(tags)
        ),
    )
    if made is not None:
        notices.success(notices.PAGE, f"Created provisioned throughput {made.result.name}: it bills by the hour.")
        st.session_state[CLEAR_NAME_KEY] = True


# --- the list -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Found:
    """The deployments as read just now, and why they could not be refreshed (None when they were)."""

    deployments: list[Deployment]
    problem: str | None = None

    @property
    def settling(self) -> bool:
        return any(not deployment.settled for deployment in self.deployments)


def read_deployments(service: DeploymentService) -> Found:
    """The deployments as they are now (reconciled), or, when that cannot be read, as last recorded and why."""
    try:
        return Found(service.list())
    except Exception as exc:  # e.g. no AWS credentials: the records still show, with the sentence
        problem = state.explain_error(exc)
    try:
        return Found(service.list(refresh=False), problem)
    except Exception as exc:
        return Found([], state.explain_error(exc))


def deployments_section(service: DeploymentService, models: Sequence[CustomModel], found: Found) -> None:
    """Every deployment as a card. Polled while any is Creating or swapping, so a status change shows by itself,
    and, where the service asks for it, now and then while they are settled (a local endpoint can die)."""
    if found.settling:
        poll: float | None = max(MIN_POLL_S, service.settle_poll_s)
    else:
        poll = service.watch_interval_s if found.deployments else None
    st.fragment(_deployments_panel, run_every=poll)(service, models, found.settling)


def _deployments_panel(service: DeploymentService, models: Sequence[CustomModel], settling: bool) -> None:
    read = read_deployments(service)
    found, problem = read.deployments, read.problem
    if read.settling != settling:
        st.rerun()  # something started or stopped settling: redraw the whole page, polling at the new pace
    notices.show(LIST_PROBLEMS)
    if problem:
        st.warning(
            components.plain_markdown(f"The deployments could not be refreshed; shown as last recorded: {problem}"),
            icon=":material/sync_problem:",
        )
    if not found:
        st.info("No deployments yet: deploy a model above.", icon=":material/rocket_launch:")
        return
    blocked = not_ready_sentence(state.backend_status(), "changing deployments")
    names = {model.id: model.name for model in models}
    for deployment in found:
        with st.container(border=True):
            deployment_card(service, deployment, models, names, blocked)


def status_text(deployment: Deployment) -> str:
    if deployment.status == DeploymentStatus.FAILED.value and deployment.failure_message:
        return f"{deployment.status} ({deployment.failure_message})"
    return deployment.status


def deployment_card(
    service: DeploymentService,
    deployment: Deployment,
    models: Sequence[CustomModel],
    names: Mapping[str, str],
    blocked: str | None,
) -> None:
    _header(deployment)
    _state_note(deployment, names)
    serving = deployment.serving_model_id or deployment.model_id
    # Two facts to a row: a model name or a time keeps its line at 1024 px.
    fact_row([("Model", names.get(serving, serving)), ("Requests served", f"{deployment.requests_served:,}")])
    fact_row([("Created", format_time(deployment.created_at)), ("Kind", deployment.kind)])
    if deployment.lineage is not None:
        lineage_row(deployment)
    if deployment.description or deployment.tags:
        fact_row(
            [
                ("Description", deployment.description or "–"),
                ("Tags", ", ".join(f"{key}={value}" for key, value in sorted(deployment.tags.items())) or "–"),
            ]
        )
    st.caption("Endpoint")
    st.code(deployment.endpoint or "(not known yet)", language=None)
    if deployment.billing is not None:
        st.warning(components.plain_markdown(deployment.billing.describe()), icon=":material/payments:")
        billing.meter_figures(deployment.billing)
    if blocked:
        blocked_warning(blocked)
    else:
        _actions(service, deployment, models, names)
    _self_test_result(deployment)
    _delete_control(service, deployment, blocked)
    if deployment.endpoint:
        with st.expander("Call this endpoint: curl and Python"):
            snippets = service.snippets(deployment)
            st.code(snippets.curl, language="bash", wrap_lines=True)
            st.code(snippets.python, language="python")


def lineage_row(deployment: Deployment) -> None:
    """dataset -> job -> model -> deployment, one badge a step, wrapping between steps (never inside a name)."""
    assert deployment.lineage is not None
    st.caption("Lineage")
    with st.container(horizontal=True, vertical_alignment="center", wrap=True, gap="small"):
        for index, (what, name) in enumerate(deployment.lineage.steps()):
            if index:
                st.markdown(":material/arrow_forward:", width="content")
            st.badge(components.plain_markdown(f"{what}: {name}"), color="gray")


def _header(deployment: Deployment) -> None:
    with st.container(horizontal=True, vertical_alignment="center", wrap=True):
        st.markdown(f"**{components.plain_markdown(deployment.name)}**", width="content")
        colour, icon = STATUS_BADGES.get(deployment.status, ("gray", ":material/help:"))
        st.badge(status_text(deployment), icon=icon, color=colour)
        if deployment.active_student:
            st.badge("active student", icon=":material/star:", color="orange", help="Router id `student` routes here.")
        if deployment.bills_while_idle:
            st.badge("bills by the hour", icon=":material/payments:", color="red")


def _state_note(deployment: Deployment, names: Mapping[str, str]) -> None:
    if deployment.status == DeploymentStatus.FAILED.value:
        if deployment.failure_message == STOPPED_UNEXPECTEDLY:
            st.error(STOPPED_TEXT, icon=":material/error:")
        else:
            st.error("This deployment failed; it serves nothing until it is restarted.", icon=":material/error:")
            st.text(deployment.failure_message or "No reason given.")
    elif deployment.status in (DeploymentStatus.CREATING.value, DeploymentStatus.UPDATING.value):
        st.info(
            "Creating: the model is loading and must answer a self-test before it serves. This list refreshes by "
            "itself.",
            icon=":material/progress_activity:",
        )
    elif deployment.swapping:
        target = names.get(deployment.model_id, deployment.model_id)
        st.info(
            components.plain_markdown(f"Swapping to {target}; the old model serves until the new one answers."),
            icon=":material/swap_horiz:",
        )
    elif deployment.failure_message:  # e.g. a swap that did not happen: it still serves the old model
        st.warning(components.plain_markdown(deployment.failure_message), icon=":material/warning:")


def _actions(
    service: DeploymentService, deployment: Deployment, models: Sequence[CustomModel], names: Mapping[str, str]
) -> None:
    key = deployment.id
    failed = deployment.status == DeploymentStatus.FAILED.value
    with st.container(horizontal=True, vertical_alignment="bottom", wrap=True):
        # Only what can be done now: a Creating or Failed deployment cannot answer or be the active student.
        if deployment.ready and st.button(
            "Self-test",
            key=f"{TEST_KEY}_{key}",
            icon=":material/network_check:",
            help=f"Routes {SELF_TEST_QUERY!r} through the endpoint and shows the weights and the round-trip latency.",
        ):
            _self_test(service, deployment)
        if deployment.ready and not deployment.active_student:
            st.button(
                "Set as active student",
                key=f"deploy_activate_{key}",
                icon=":material/star:",
                help="The router id `student` (Overview, Search, the CLI) will route through this deployment.",
                on_click=_attempt_then_note,
                args=(lambda: service.set_active_student(deployment.name), f"{deployment.name} is the active student."),
            )
        if failed:
            st.button(
                "Restart",
                key=f"deploy_restart_{key}",
                type="primary",
                icon=":material/restart_alt:",
                on_click=_attempt_then_note,
                args=(lambda: service.restart(deployment.name), f"Restarting {deployment.name}."),
            )
        others = [model for model in models if model.id != deployment.model_id]
        if others and (deployment.ready or failed):
            by_id = {model.id: model for model in others}
            with st.container(width=SWAP_PICKER_WIDTH_PX):
                swap_to = st.selectbox(
                    "Swap to model",
                    list(by_id),
                    key=f"{SWAP_KEY}_{key}_model",
                    format_func=lambda model_id: by_id[model_id].name,
                )
            st.button(
                "Swap model",
                key=f"{SWAP_KEY}_{key}",
                icon=":material/swap_horiz:",
                help="Same name and endpoint; the old model serves until the new one has loaded and answered.",
                on_click=_attempt_then_note,
                args=(
                    lambda: service.update(deployment.name, swap_to),
                    f"Swapping {deployment.name} to {names.get(swap_to, swap_to)}.",
                ),
            )
    _billable_test_confirmation(service, deployment)


def _attempt_then_note(action, success: str) -> None:
    if notices.attempt(LIST_PROBLEMS, action) is not None:
        notices.success(LIST_PROBLEMS, success)


def _self_test(service: DeploymentService, deployment: Deployment) -> None:
    try:
        router = service.router(deployment.name)
    except Exception as exc:  # e.g. it stopped meanwhile
        notices.failure(LIST_PROBLEMS, exc)
        return
    if router.billable:
        confirm.ask(f"{TEST_KEY}_{deployment.id}_billable", router.estimate_cost_usd(SELF_TEST_QUERY))
        return
    _run_self_test(service, deployment.id, deployment.name)


def _billable_test_confirmation(service: DeploymentService, deployment: Deployment) -> None:
    key = f"{TEST_KEY}_{deployment.id}_billable"
    estimate = confirm.waiting(key)
    if estimate is None:
        return
    confirm.confirm_box(
        key,
        f"The self-test sends one query to Amazon Bedrock, billed per token: about {markdown_usd(estimate)}. Send it?",
        confirm="Send the self-test",
        icon=":material/payments:",
        on_confirm=lambda _: _run_self_test(service, deployment.id, deployment.name),
    )


def _run_self_test(service: DeploymentService, deployment_id: str, name: str) -> None:
    done = notices.attempt(LIST_PROBLEMS, lambda: service.self_test(name))
    if done is not None:
        st.session_state[f"{TEST_KEY}_{deployment_id}_result"] = done.result


def _self_test_result(deployment: Deployment) -> None:
    result: RouteResult | None = st.session_state.get(f"{TEST_KEY}_{deployment.id}_result")
    if result is None:
        return
    st.caption("Self-test: one query through the endpoint (latency is the whole round trip)")
    components.route_result_view(result, router_label=f"deployment:{deployment.name}")


def _delete_control(service: DeploymentService, deployment: Deployment, blocked: str | None) -> None:
    key = f"{DELETE_KEY}_{deployment.id}"
    teardown = deployment.bills_while_idle
    label = "Tear down (stop billing)" if teardown else "Delete"
    if confirm.waiting(key) is None:
        st.button(
            label,
            key=key,
            icon=":material/delete:",
            type="primary" if teardown else "secondary",
            disabled=blocked is not None,
            on_click=confirm.ask,
            args=(key, deployment.name),
        )
        return
    question = (
        "Tear it down? It stops billing; the endpoint and its address are gone for good."
        if teardown
        else "Delete this deployment? Its endpoint stops answering; the model itself is kept."
    )
    if deployment.active_student:
        question += " It is the active student: the router id `student` will have nothing to route to."
    confirm.confirm_box(
        key,
        question,
        detail=deployment.name,
        confirm="Tear it down" if teardown else "Delete the deployment",
        icon=":material/delete_forever:",
        confirm_icon=":material/delete_forever:",
        on_confirm=lambda name: _attempt_then_note(
            lambda: service.delete(name), f"Deleted {name}." + (" Its hourly billing has stopped." if teardown else "")
        ),
    )
