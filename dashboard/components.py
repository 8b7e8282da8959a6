"""UI pieces the pages share: the backend frame, errors shown as sentences, links, a route result, the steps.

Model and user text is rendered with st.text / st.code, never as HTML; inside a markdown body (an alert box) it
is escaped with plain_markdown first, so it shows exactly as written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import streamlit as st
from streamlit.errors import StreamlitAPIException
from streamlit.navigation.page import StreamlitPage

from core import progress
from core.backends import BackendStatus
from core.schema import RouteResult
from dashboard import state
from dashboard.charts import weights_bar_chart
from dashboard.widgets.formatting import format_ms, format_usd, preview, weights_text
from dashboard.widgets.layout import Figure, figure_row, wrapping_row

if TYPE_CHECKING:
    from core.store import Store

SIDEBAR_DETAILS = ("teacher", "data directory", "profile", "region", "account")
PATH_DETAILS = ("data directory",)
# Wide enough for a step's link ("Open Data mix") beside its arrow; five fit across at 1400 px, three at 1024 px.
STEP_CARD_WIDTH_PX = 180
PUBLISHED_LATENCY_NOTE = (
    "Published reference points, not measured here: in AWS's distillation write-up a distilled Nova Micro "
    "router answered in 833 ms on average and Claude Haiku 4.5 in 1,741 ms."
)
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


def page_link_if_listed(page: Path, label: str, icon: str, query_params: Mapping[str, str] | None = None) -> None:
    """A link to another page of the studio, or a caption when that page is not in the menu (yet)."""
    if not page.is_file():
        st.caption(f"{label}: that page is not available yet.")
        return
    try:
        st.page_link(page, label=label, icon=icon, query_params=dict(query_params) if query_params else None)
    except StreamlitAPIException:
        st.caption(f"{label}: that page is not in the menu yet.")


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
                if name in PATH_DETAILS:
                    # A path has no place to break but its hyphens, so narrow text would cut a word in two: it
                    # scrolls in a code block instead (with a copy button).
                    st.code(status.details[name], language=None)
                else:
                    st.text(status.details[name])
        if status.message:
            st.warning(plain_markdown(status.message), icon=":material/key:")
            st.page_link(settings_page, label="Fix it in Settings", icon=":material/settings:")


def not_ready_banner(status: BackendStatus, settings_page: StreamlitPage, *, on_settings: bool = False) -> None:
    """At the top of every page while the backend is not ready: what is wrong and how to fix it, so no page leaves
    the user guessing why its work is off (the page itself keeps what it can show); Settings needs no link to
    itself."""
    if status.ready:
        return
    st.warning(
        plain_markdown(f"{status.label} is not ready: {status.message or 'it cannot be used just now.'}"),
        icon=":material/key:",
    )
    if not on_settings:
        st.page_link(settings_page, label="Configure it in Settings", icon=":material/settings:")


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
    figure_row(
        [
            Figure("Valid", "yes" if result.valid else "no"),
            Figure("Latency", format_ms(result.latency_ms)),
            Figure(
                f"Tokens in / out ({result.token_source})",
                f"{result.input_tokens:,} / {result.output_tokens:,}",
                "Measured tokens come from the model's usage report; estimated ones from about four characters a "
                "token.",
            ),
            Figure("Cost", format_usd(result.cost_usd)),
        ]
    )


def step_cards(store: Store) -> None:
    """The studio's workflow, one card per step, each with what the store holds for it."""
    try:
        steps = progress.studio_steps(store, lambda page_file: (state.PAGES_DIR / page_file).is_file())
    except Exception as exc:  # e.g. a locked database: the rest of the page still works
        show_error(exc)
        return
    # A wrapping row of cards of one width: as many across as fit, never squeezed below their links' width.
    with wrapping_row(gap="small"):
        for step in steps:
            _step_card(step)


def _step_card(step: progress.StepState) -> None:
    with st.container(border=True, width=STEP_CARD_WIDTH_PX, height="stretch"):
        st.markdown(f"**{step.number}. {step.title}**")
        st.caption(step.purpose)
        st.text(step.state)
        _step_link(step)


def _step_link(step: progress.StepState) -> None:
    if not step.has_page:
        st.caption("Page not available yet.")
        return
    for page in step.pages:
        try:
            st.page_link(Path(state.PAGES_DIR / page.file), label=f"Open {page.title}", icon=":material/east:")
        except StreamlitAPIException:
            # The page file exists but is not in the navigation yet (app.py lists the pages).
            st.caption(f"{page.title}: page not in the menu yet.")
