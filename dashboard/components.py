"""UI pieces the pages share: the backend frame, errors, links, a route result, the router try-out box, prices.

Model and user text is rendered with st.text / st.code, never as HTML; inside a markdown body (an alert box) it
is escaped with plain_markdown first, so it shows exactly as written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd
import streamlit as st
from streamlit.errors import StreamlitAPIException
from streamlit.navigation.page import StreamlitPage

from core import progress
from core.aws.models import MODELS
from core.backends import BackendStatus
from core.pricing import DEFAULT_PRICES_PER_MILLION, ModelPrice, load_price_table, parse_price, reset_prices, save_price
from core.routers.base import Router
from core.schema import MODALITIES, RouteResult
from core.store import Store
from dashboard import state
from dashboard.charts import weights_bar_chart

FLASH_KEY = "flash_messages"
# Published examples (docs/ARCHITECTURE.md, published reference points), so a first-time visitor has something to click.
EXAMPLE_QUERIES = ("dog barking loudly", "Olivia talking about growing up in poverty", "sunset over mountains")
QUERY_PREVIEW_CHARS = 300
SIDEBAR_DETAILS = ("teacher", "data directory", "profile", "region", "account")
PUBLISHED_LATENCY_NOTE = (
    "Published reference points, not measured here: in AWS's distillation write-up a distilled Nova Micro "
    "router answered in 833 ms on average and Claude Haiku 4.5 in 1,741 ms."
)
PRICE_INPUT = "input_per_million"
PRICE_OUTPUT = "output_per_million"
PRICE_LABELS = {PRICE_INPUT: "Input, USD per 1M tokens", PRICE_OUTPUT: "Output, USD per 1M tokens"}
# What markdown (CommonMark, GFM and Streamlit's own ":icon:" and ":color[...]" directives) reads inside a line:
# backslash, code, emphasis, links, HTML and entities, strikethrough, tables, formulas; a '_' between two letters
# or digits never makes emphasis, and a ':' followed by a space never starts a directive.
_MARKDOWN_INLINE = re.compile(r"[\\`*\[\]<&~|$]|(?<![^\W_])_|_(?![^\W_])|:(?=\S)")
# What it reads only at the start of a line: headings, quotes, list items, rules and setext underlines.
_MARKDOWN_LINE_START = re.compile(r"^\s*(?:[#>+\-=]|\d+[.)](?=\s|$))")


def plain_markdown(text: str) -> str:
    """Text for a markdown body (st.error, st.info...) that shows exactly as written.

    Names and quoted input can hold '_', '*', '$' or ':' that markdown would turn into emphasis, formulas or
    icons. Only what markdown could read is escaped, so a plain sentence passes through unchanged.
    """
    lines = (_MARKDOWN_INLINE.sub(r"\\\g<0>", line) for line in text.split("\n"))
    return "\n".join(_MARKDOWN_LINE_START.sub(_escape_last_character, line) for line in lines)


def _escape_last_character(match: re.Match[str]) -> str:
    return f"{match[0][:-1]}\\{match[0][-1]}"


def show_error(exc: BaseException) -> None:
    """An error as one sentence for the user, shown as written, never a traceback."""
    st.error(plain_markdown(state.explain_error(exc)), icon=":material/error:")


def flash(message: str) -> None:
    """A success message (plain text, not markdown) shown on the next run (survives st.rerun)."""
    st.session_state.setdefault(FLASH_KEY, []).append(message)


def show_flash() -> None:
    for message in st.session_state.pop(FLASH_KEY, []):
        st.success(plain_markdown(message), icon=":material/check_circle:")


def fact(label: str, value: str) -> None:
    """A small label over a value shown as plain text."""
    st.caption(label)
    st.text(value)


def page_link_if_listed(page: Path, label: str, icon: str, query_params: Mapping[str, str] | None = None) -> None:
    """A link to another page of the studio, or a caption when that page is not in the menu (yet)."""
    if not page.is_file():
        st.caption(f"{label}: that page is not available yet.")
        return
    try:
        st.page_link(page, label=label, icon=icon, query_params=dict(query_params) if query_params else None)
    except StreamlitAPIException:
        st.caption(f"{label}: that page is not in the menu yet.")


def format_usd(amount: float) -> str:
    if amount == 0:
        return "$0"
    if amount >= 0.01:
        return f"${amount:,.2f}"
    if amount >= 0.000001:
        return f"${amount:.6f}"
    return "< $0.000001"


def format_ms(milliseconds: float) -> str:
    # On-box routers answer in well under a millisecond; keep their digits visible.
    return f"{milliseconds:,.1f} ms" if milliseconds >= 1 else f"{milliseconds:.3f} ms"


def markdown_usd(amount: float) -> str:
    """format_usd for markdown bodies, where a bare '$' would start a formula."""
    return format_usd(amount).replace("$", "\\$")


def preview(text: str, limit: int = QUERY_PREVIEW_CHARS) -> str:
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters in all)"


def backend_sidebar(status: BackendStatus, settings_page: StreamlitPage) -> None:
    """The sidebar frame: which backend is in use, on what, and what to do when it is not ready."""
    with st.sidebar, st.container(border=True):
        with st.container(horizontal=True, vertical_alignment="center"):
            st.markdown(f"**{status.label}**")
            if status.ready:
                st.badge("ready", icon=":material/check:", color="green")
            else:
                st.badge("not ready", icon=":material/block:", color="red")
        for name in SIDEBAR_DETAILS:
            if name in status.details:
                st.caption(name.capitalize())
                st.text(status.details[name])
        if status.message:
            st.warning(plain_markdown(status.message), icon=":material/key:")
            st.page_link(settings_page, label="Fix it in Settings", icon=":material/settings:")


def weights_text(weights: Mapping[str, float]) -> str:
    """The four weights as one line of text, in the fixed channel order."""
    return "   ".join(f"{m} {weights[m]:.2f}" for m in MODALITIES)


def weights_chart(weights: Mapping[str, float]) -> None:
    st.altair_chart(weights_bar_chart(weights), width="stretch")


def route_result_view(result: RouteResult, router_label: str | None = None) -> None:
    """One routed query: the weights chart, the reasoning, validity, latency, tokens and cost."""
    query_column, router_column = st.columns([3, 2], gap="large")
    query_column.caption("Query")
    query_column.text(preview(result.query) if result.query.strip() else "(empty)")
    if router_label:
        router_column.caption("Router")
        router_column.text(router_label)
    if result.valid and result.decision is not None:
        chart_column, reasoning_column = st.columns([3, 2], gap="large")
        with chart_column:
            weights_chart(result.decision.weights())
            st.text(weights_text(result.decision.weights()))
        with reasoning_column:
            st.caption("Reasoning")
            st.text(result.decision.reasoning or "(no reasoning given)")
    else:
        st.error("No usable routing for this query.", icon=":material/error:")
        st.text("\n".join(result.errors) or "The router gave no reason.")
        if result.raw_text:
            st.caption("Raw reply")
            st.code(result.raw_text, language=None, wrap_lines=True)
    if result.warnings:
        st.warning("The reply needed fixing before it could be used.", icon=":material/build:")
        st.text("\n".join(result.warnings))
    if result.query.strip():
        _route_figures(result)


def _route_figures(result: RouteResult) -> None:
    valid_column, latency_column, tokens_column, cost_column = st.columns(4)
    valid_column.metric("Valid", "yes" if result.valid else "no")
    latency_column.metric("Latency", format_ms(result.latency_ms))
    tokens_column.metric(
        f"Tokens in / out ({result.token_source})",
        f"{result.input_tokens:,} / {result.output_tokens:,}",
        help="Measured tokens come from the model's usage report; estimated ones from about four characters a token.",
    )
    cost_column.metric("Cost", format_usd(result.cost_usd))


def try_router_box(
    router_id: str = "teacher", *, examples: Sequence[str] = EXAMPLE_QUERIES, key: str = "try_router"
) -> None:
    """Type or pick a query, route it and see the result; a billable router asks to confirm its cost first.

    The last result lives in a plain session key, so it survives reruns and page switches.
    """
    keys = _TryKeys(key)
    current = state.studio()
    status = state.backend_status()
    label = current.backend.teacher_name if router_id == "teacher" else router_id
    if not status.ready:
        st.warning(
            f"{status.label} is not ready, so routing is off. Open Settings in the sidebar to fix it.",
            icon=":material/block:",
        )
        _last_result(keys)
        return
    try:
        router = state.router(router_id)
    except Exception as exc:  # e.g. a backend that cannot build this router; shown as a sentence
        show_error(exc)
        return
    _describe_router(router, label, status.label)
    last = st.session_state.get(keys.result)
    st.session_state.setdefault(keys.query, last[1].query if last else "")
    with st.container(horizontal=True, vertical_alignment="center"):
        st.caption("Try an example:", width="content")
        for index, example in enumerate(examples):
            st.button(
                example,
                key=f"{key}_example_{index}",
                on_click=_choose_example,
                args=(keys, example),
                icon=":material/search:",
            )
    with st.form(f"{key}_form", border=False, enter_to_submit=True):
        st.text_input("Search query", key=keys.query, placeholder="Describe the moment you are looking for")
        submitted = st.form_submit_button("Route", type="primary", icon=":material/alt_route:", key=f"{key}_route")
    requested = st.session_state.pop(keys.request, None)
    if submitted:
        requested = st.session_state[keys.query]
    if requested is not None:
        st.session_state.pop(keys.pending, None)
        if router.billable and requested.strip():
            st.session_state[keys.pending] = requested
        else:
            _route_now(router, requested, label, keys)
    if keys.pending in st.session_state:
        _confirm_billable(router, label, keys)
    _last_result(keys)


class _TryKeys:
    """The session keys of one try-out box (a page may hold several, each with its own key)."""

    def __init__(self, key: str):
        self.query = f"{key}_query"
        self.request = f"{key}_request"
        self.pending = f"{key}_pending"
        self.result = f"{key}_result"


def _describe_router(router: Router, label: str, backend_label: str) -> None:
    if router.billable:
        st.caption(
            f"Routes with {plain_markdown(label)} on {backend_label}. Each query is billed by AWS per token: you "
            "see the estimated cost and confirm before anything is sent."
        )
    else:
        st.caption(f"{plain_markdown(label)} runs on this machine: instant, offline and free.")


def _choose_example(keys: _TryKeys, example: str) -> None:
    st.session_state[keys.query] = example
    st.session_state[keys.request] = example


def _route_now(router: Router, query: str, label: str, keys: _TryKeys) -> None:
    try:
        with st.spinner("Routing…"):
            result = router.route(query)
    except Exception as exc:  # a failed call must leave the page usable and the last result in place
        show_error(exc)
        return
    st.session_state[keys.result] = (label, result)


def _confirm_billable(router: Router, label: str, keys: _TryKeys) -> None:
    query = st.session_state[keys.pending]
    box = st.empty()
    with box.container(border=True):
        st.warning(
            f"Routing this query calls {plain_markdown(label)} and AWS bills it: "
            f"about {markdown_usd(router.estimate_cost_usd(query))} "
            "(estimated before sending).",
            icon=":material/payments:",
        )
        st.text(preview(query))
        with st.container(horizontal=True):
            confirmed = st.button("Confirm and route", key=f"{keys.pending}_confirm", type="primary")
            cancelled = st.button("Cancel", key=f"{keys.pending}_cancel")
    if confirmed or cancelled:
        del st.session_state[keys.pending]
        box.empty()
    if confirmed:
        _route_now(router, query, label, keys)


def _last_result(keys: _TryKeys) -> None:
    last = st.session_state.get(keys.result)
    if last is not None:
        label, result = last
        with st.container(border=True):
            route_result_view(result, label)


def step_cards(store: Store) -> None:
    """The studio's workflow, one card per step, each with what the store holds for it."""
    try:
        steps = progress.studio_steps(store, lambda page_file: (state.PAGES_DIR / page_file).is_file())
    except Exception as exc:  # e.g. a locked database: the rest of the page still works
        show_error(exc)
        return
    # A wrapping row: five cards across on a wide screen, fewer per row (never squeezed) on a narrow one.
    with st.container(horizontal=True, wrap=True):
        for step in steps:
            _step_card(step)


def _step_card(step: progress.StepState) -> None:
    with st.container(border=True, width="stretch", height="stretch"):
        st.markdown(f"**{step.number}. {step.title}**")
        st.caption(step.purpose)
        st.text(step.state)
        _step_link(step)


def _step_link(step: progress.StepState) -> None:
    if not step.has_page:
        st.caption("Page not available yet.")
        return
    try:
        st.page_link(Path(state.PAGES_DIR / step.page_file), label=f"Open {step.title}", icon=":material/east:")
    except StreamlitAPIException:
        # The page file exists but is not in the navigation yet (app.py lists the pages).
        st.caption("Page not in the menu yet.")


def model_name(model_key: str) -> str:
    entry = MODELS.get(model_key)
    return entry.name if entry else model_key


def price_frame(store: Store) -> pd.DataFrame:
    rows = []
    # The order of core.aws.models (Nova family first), then any price it does not name.
    order = {key: index for index, key in enumerate(MODELS)}
    for price in sorted(load_price_table(store).all(), key=lambda p: (order.get(p.model_key, len(order)), p.model_key)):
        default = DEFAULT_PRICES_PER_MILLION.get(price.model_key)
        current = (price.input_per_million, price.output_per_million)
        rows.append(
            {
                "model_key": price.model_key,
                "model": model_name(price.model_key),
                PRICE_INPUT: price.input_per_million,
                PRICE_OUTPUT: price.output_per_million,
                "source": "default" if default == current else "edited",
            }
        )
    return pd.DataFrame(rows, columns=["model_key", "model", PRICE_INPUT, PRICE_OUTPUT, "source"])


def prices_from_table(table: pd.DataFrame) -> tuple[list[ModelPrice], list[str]]:
    """The edited table as prices, or the problems that stop it being saved (core.pricing.parse_price)."""
    prices: list[ModelPrice] = []
    problems: list[str] = []
    for row in table.to_dict("records"):
        price, found = parse_price(row["model_key"], row["model"], row[PRICE_INPUT], row[PRICE_OUTPUT])
        problems += found
        if price is not None:
            prices.append(price)
    return prices, problems


def price_editor(store: Store, key: str = "price_editor") -> None:
    """The token price table, editable; saved only when every value is valid, resettable to the defaults."""
    generation_key = f"{key}_generation"
    # A new editor key after a save or reset drops the edits already applied.
    editor_key = f"{key}_{st.session_state.get(generation_key, 0)}"
    current = price_frame(store)
    edited = st.data_editor(
        current,
        key=editor_key,
        hide_index=True,
        num_rows="fixed",
        disabled=["model", "source"],
        column_order=["model", PRICE_INPUT, PRICE_OUTPUT, "source"],
        column_config={
            "model": st.column_config.TextColumn("Model"),
            PRICE_INPUT: st.column_config.NumberColumn(PRICE_LABELS[PRICE_INPUT], min_value=0.0, format="plain"),
            PRICE_OUTPUT: st.column_config.NumberColumn(PRICE_LABELS[PRICE_OUTPUT], min_value=0.0, format="plain"),
            "source": st.column_config.TextColumn("Source"),
        },
    )
    with st.container(horizontal=True):
        save = st.button("Save prices", key=f"{key}_save", type="primary", icon=":material/save:")
        reset = st.button("Reset to defaults", key=f"{key}_reset", icon=":material/restart_alt:")
    if save:
        _save_prices(store, current, edited, generation_key)
    if reset:
        try:
            reset_prices(store)
        except Exception as exc:
            show_error(exc)
            return
        _next_editor(generation_key, "Prices reset to the defaults.")


def _save_prices(store: Store, current: pd.DataFrame, edited: pd.DataFrame, generation_key: str) -> None:
    prices, problems = prices_from_table(edited)
    if problems:
        st.error(plain_markdown("Prices not saved: " + "; ".join(problems) + "."), icon=":material/error:")
        return
    before = {row["model_key"]: (row[PRICE_INPUT], row[PRICE_OUTPUT]) for row in current.to_dict("records")}
    changed = [p for p in prices if before.get(p.model_key) != (p.input_per_million, p.output_per_million)]
    try:
        for price in changed:
            save_price(store, price)
    except Exception as exc:
        show_error(exc)
        return
    _next_editor(
        generation_key,
        f"Saved {len(changed)} changed price{'' if len(changed) == 1 else 's'}." if changed else "No price changed.",
    )


def _next_editor(generation_key: str, message: str) -> None:
    st.session_state[generation_key] = st.session_state.get(generation_key, 0) + 1
    flash(message)
    st.rerun()
