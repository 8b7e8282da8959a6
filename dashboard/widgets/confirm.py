"""Confirm-then-act: an action that cannot be undone, or that AWS bills, waits for a second, explicit click.

ask(key, value) opens a confirmation for `value` (what the action acts on: a job id, a query...); it may be an
on_click callback. While it waits, confirm_box(key, ...) draws the question, the value's description as plain
text, and the confirm and cancel buttons (keys `<key>_confirm` and `<key>_cancel`). Both buttons settle it in
their callback, before the next run: confirming runs `on_confirm(value)` there, or, without one, hands the
value to confirmed(key) in that next run, for an action whose progress and result show on the page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st


def ask(key: str, value: Any = True) -> None:
    st.session_state[_waiting(key)] = value


def waiting(key: str) -> Any | None:
    """What waits for confirmation on `key`, or None."""
    return st.session_state.get(_waiting(key))


def forget(key: str) -> None:
    """Drop what waits (it no longer holds, e.g. the estimate it showed changed)."""
    st.session_state.pop(_waiting(key), None)


def confirmed(key: str) -> Any | None:
    """The value confirmed by the click that started this run (only without on_confirm), once; else None."""
    return st.session_state.pop(_confirmed(key), None)


def confirm_box(
    key: str,
    question: str,
    *,
    detail: str | None = None,
    confirm: str = "Confirm",
    cancel: str = "Cancel",
    icon: str = ":material/help:",
    confirm_icon: str | None = None,
    on_confirm: Callable[[Any], object] | None = None,
    border: bool = True,
) -> None:
    """While something waits on `key`: `question` (a markdown body, escape user text first), `detail` as plain
    text, and the two buttons, in a bordered box unless it already stands in one."""
    value = waiting(key)
    if value is None:
        return
    with st.container(border=border):
        st.warning(question, icon=icon)
        if detail is not None:
            st.text(detail)
        with st.container(horizontal=True):
            st.button(
                confirm,
                key=f"{key}_confirm",
                type="primary",
                icon=confirm_icon,
                on_click=_settle,
                args=(key, True, on_confirm),
            )
            st.button(cancel, key=f"{key}_cancel", on_click=_settle, args=(key, False, None))


def _settle(key: str, confirmed_now: bool, on_confirm: Callable[[Any], object] | None) -> None:
    value = st.session_state.pop(_waiting(key), None)
    if not confirmed_now or value is None:
        return
    if on_confirm is None:
        st.session_state[_confirmed(key)] = value
    else:
        on_confirm(value)


def _waiting(key: str) -> str:
    return f"{key}_waiting"


def _confirmed(key: str) -> str:
    return f"{key}_confirmed"
