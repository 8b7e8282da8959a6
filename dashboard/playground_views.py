"""The Playground's one-query comparison: the address on arrival, the routers, the query box with a sample of each
focus, and each router's answer in its own column.

A column shows the four weights as bars on the one 0-1 scale every weights chart uses, the reasoning, a validity
badge, the raw output (in an expander; shown at once, with the error, when the reply is not valid), latency,
tokens (measured or estimated, said which), the cost per query and per million queries, and the agreement with
the reference (the teacher when chosen): the same leading channel, and the L1 distance of the weights. The address
keeps the query and the router ids (`q`, `router`) or a stored run (`run`), so a link reproduces the comparison.
Model and user text is rendered as text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

from core.compare import (
    LINK_QUERY,
    LINK_ROUTER,
    LINK_RUN,
    Comparison,
    RouterOutcome,
    link_params,
    read_link,
    sample_queries,
)
from core.schema import MODALITIES
from dashboard import components, gold_views, playground_history_views
from dashboard import playground_runs as runs
from dashboard.widgets import router_picker
from dashboard.widgets.formatting import MISSING, format_ms, format_usd, preview

if TYPE_CHECKING:
    from core.backends import Backend

ROUTERS_KEY = "playground_routers"
QUERY_KEY = "playground_query"
FORM_KEY = "playground_form"
SEND_KEY = "playground_send"
CONFIRM_KEY = "playground_confirm_query"
REQUEST_KEY = "playground_request"
ARRIVED_KEY = "playground_arrived"
GOLD_KEY = "playground_gold_one"
SAMPLE_CHARS = 70
# Two routers a row: four across would leave each under 180 px of the 736 px a 1024 px screen gives the page.
ROUTERS_PER_ROW = 2


def arrival(backend: Backend) -> list[str]:
    """Read the address once per session: a stored run (`run`) is shown, a query (`q`) is compared (a billable
    router still asks first). Returns the router ids it names, for the picker."""
    if st.session_state.get(ARRIVED_KEY):
        return []
    st.session_state[ARRIVED_KEY] = True
    link = read_link({name: st.query_params.get_all(name) for name in st.query_params})
    if link.run_id is not None:
        try:
            comparison = backend.comparisons().get(link.run_id)
        except Exception as exc:  # a run deleted since the link was made: say so, the page still works
            components.show_error(exc)
            return link.router_ids
        runs.keep(comparison)
        playground_history_views.pick(comparison.run_id or link.run_id)
        if comparison.kind == "query":
            st.session_state[QUERY_KEY] = comparison.queries[0].query
        return comparison.router_ids
    if link.query:
        st.session_state[QUERY_KEY] = link.query
        st.session_state[REQUEST_KEY] = link.query
    return link.router_ids


def pick_routers(backend: Backend, wanted: list[str]) -> tuple[list[str], dict[str, str]]:
    labels = router_picker.router_labels(backend, wanted)
    chosen = router_picker.pick_routers(
        labels,
        key=ROUTERS_KEY,
        wanted=wanted,
        help="Every router routes the same query at once; the teacher, when chosen, is the one the others are "
        "measured against.",
    )
    return chosen, labels


def query_box(backend: Backend, router_ids: list[str], labels: dict[str, str]) -> None:
    """Samples, the query box and Compare; then each router's answer side by side."""
    st.session_state.setdefault(QUERY_KEY, "")
    with st.container(horizontal=True, vertical_alignment="center", wrap=True):
        st.caption("A sample of each focus:", width="content")
        for focus, query in sample_queries().items():
            st.button(
                preview(query, SAMPLE_CHARS),
                key=f"playground_sample_{focus}",
                on_click=_choose_sample,
                args=(query,),
                help=f"A {focus} query from the synthetic generator.",
            )
    with st.form(FORM_KEY, border=False, enter_to_submit=True):
        st.text_input("Search query", key=QUERY_KEY, placeholder="Describe the moment you are looking for")
        submitted = st.form_submit_button(
            "Compare", type="primary", icon=":material/compare_arrows:", key=SEND_KEY, disabled=not router_ids
        )
    if not router_ids:
        st.info("Choose at least one router above to compare.", icon=":material/alt_route:")
    requested = st.session_state.pop(REQUEST_KEY, None)
    if submitted:
        requested = st.session_state[QUERY_KEY]
    ran = None
    if requested is not None and router_ids:
        ran = runs.ask_or_run(CONFIRM_KEY, runs.RunRequest("query", tuple(router_ids), (requested,)))
    ran = runs.pending(CONFIRM_KEY, labels) or ran
    if ran is not None:
        _link_to(ran)
    comparison = runs.shown("query")
    if comparison is None:
        st.caption("Nothing compared yet: type a query or pick a sample, and every router answers it side by side.")
        return
    side_by_side(comparison, labels)
    with st.expander("Save a gold label for this query", icon=":material/verified:"):
        gold_views.gold_editor(
            backend.gold_labels(),
            comparison.queries[0].query,
            start_weights(comparison, 0),
            key=GOLD_KEY,
            run_id=comparison.run_id,
        )


def _choose_sample(query: str) -> None:
    st.session_state[QUERY_KEY] = query
    st.session_state[REQUEST_KEY] = query


def _link_to(comparison: Comparison) -> None:
    """The address reproduces what is shown: the query and its routers."""
    st.query_params.pop(LINK_RUN, None)
    params = link_params(comparison.queries[0].query, comparison.router_ids)
    st.query_params[LINK_QUERY] = params[LINK_QUERY]
    st.query_params[LINK_ROUTER] = params[LINK_ROUTER]


def start_weights(comparison: Comparison, index: int) -> dict[str, float]:
    """What a gold label starts from: the reference's weights, else the first valid answer's, else uniform."""
    item = comparison.queries[index]
    ordered = [item.outcomes[comparison.reference], *item.outcomes.values()]
    for outcome in ordered:
        if outcome.result.valid and outcome.result.decision is not None:
            return outcome.result.decision.weights()
    return dict.fromkeys(MODALITIES, 1 / len(MODALITIES))


def side_by_side(comparison: Comparison, labels: dict[str, str], index: int = 0) -> None:
    """One query of a comparison: the verdict, then one column per router."""
    item = comparison.queries[index]
    reference = labels.get(comparison.reference, comparison.reference)
    st.caption("Query")
    st.text(preview(item.query))
    if len(item.outcomes) > 1:
        if item.disagree:
            st.warning(
                components.plain_markdown(f"They disagree: not every router leads with {reference}'s channel."),
                icon=":material/call_split:",
            )
        else:
            st.success(
                components.plain_markdown(f"They agree: every router leads with {reference}'s channel."),
                icon=":material/check_circle:",
            )
    for place, router_id in zip(_router_places(len(comparison.router_ids)), comparison.router_ids, strict=True):
        with place:
            router_column(item.outcomes[router_id], labels.get(router_id, router_id), reference)
    st.caption(
        components.plain_markdown(
            f"Agreement is against {reference}: the same leading channel (a tie counts the share of tied channels "
            "that lead), and the L1 distance of the four weights, from 0 (the same) to 2 (nothing shared)."
        )
    )


def _router_places(n: int) -> list:
    """One bordered box per router, at most two a row, so each keeps room for its chart at 1024 px (a last one
    alone takes half the row, with no empty box beside it)."""
    places: list = []
    for start in range(0, n, ROUTERS_PER_ROW):
        columns = st.columns(ROUTERS_PER_ROW if n > 1 else 1, gap="small")
        places += [column.container(border=True) for column in columns[: n - start]]
    return places


def router_column(outcome: RouterOutcome, label: str, reference: str) -> None:
    result = outcome.result
    st.markdown(f"**{components.plain_markdown(label)}**", help=f"Router id: {outcome.router_id}")
    if result.valid and result.decision is not None:
        st.badge("valid", icon=":material/check:", color="green")
        components.weights_chart(result.decision.weights())
        st.caption("Reasoning")
        st.text(result.decision.reasoning or "(no reasoning given)")
    else:
        st.badge("invalid reply" if result.raw_text else "failed", icon=":material/block:", color="red")
        st.error(
            components.plain_markdown("\n".join(result.errors) or "The router gave no reason."), icon=":material/error:"
        )
        if result.raw_text:
            st.caption("Raw reply, as written")
            st.code(result.raw_text, language=None, wrap_lines=True)
    if result.warnings:
        st.caption("Notes")
        st.text("\n".join(result.warnings))
    answered = result.valid or bool(result.raw_text)
    facts = [
        *(
            [
                ("Latency", format_ms(result.latency_ms)),
                (f"Tokens in / out ({result.token_source})", f"{result.input_tokens:,} / {result.output_tokens:,}"),
                ("Cost per query", format_usd(result.cost_usd)),
                ("Per million queries", format_usd(result.cost_usd * 1e6)),
            ]
            if answered
            else []
        ),
        *agreement_facts(outcome, reference),
    ]
    st.markdown("  \n".join(f"{label}: **{components.plain_markdown(value)}**" for label, value in facts))
    if result.valid:
        with st.expander("Raw output"):
            st.code(result.raw_text or "(no text: this router gives weights directly)", language=None, wrap_lines=True)


def agreement_facts(outcome: RouterOutcome, reference: str) -> list[tuple[str, str]]:
    agreement = outcome.agreement
    if agreement is None:
        return [("Agreement", "the reference")]
    if agreement.leading is None:
        lead = f"{MISSING} ({reference} gave no answer)"
    elif agreement.agrees:
        lead = "same leading channel"
    elif agreement.leading > 0:
        lead = f"{agreement.leading:.0%} (a tie: that share of its leads match)"
    else:
        lead = "different leading channel"
    return [("Agreement", lead), ("L1 distance", MISSING if agreement.l1 is None else f"{agreement.l1:.2f}")]
