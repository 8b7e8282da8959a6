"""Messages that survive a rerun: an outcome kept for a place on a page and shown there once, on a later run.

An action that ends in st.rerun(), or runs in a button callback (before the script), keeps its outcome with
success() or error(); the place shows it with show(place) where the user is looking. PAGE is the top of every
page (each page shows it first), for an outcome that moves the user on, such as a deleted model or saved
settings. Messages are plain text: they are shown exactly as written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

import streamlit as st

from dashboard import components, state

NOTICES_KEY = "notices"
PAGE = "page"
ICONS = {"success": ":material/check_circle:", "error": ":material/error:"}
T = TypeVar("T")
Kind = Literal["success", "error"]


def success(place: str, message: str) -> None:
    _keep(place, "success", message)


def error(place: str, message: str) -> None:
    _keep(place, "error", message)


def failure(place: str, exc: BaseException) -> None:
    """An exception as the place's error, in the one sentence state.explain_error gives it."""
    error(place, state.explain_error(exc))


def show(place: str) -> None:
    """Show what is kept for `place`, once."""
    for kind, message in st.session_state.get(NOTICES_KEY, {}).pop(place, []):
        (st.success if kind == "success" else st.error)(components.plain_markdown(message), icon=ICONS[kind])


@dataclass(frozen=True)
class Done(Generic[T]):
    """What a change returned, once it succeeded."""

    result: T


def attempt(place: str, action: Callable[[], T]) -> Done[T] | None:
    """Run a change: Done with its result, or None with the failure kept as the place's error."""
    try:
        return Done(action())
    except Exception as exc:  # any failure becomes one sentence beside the section that caused it
        failure(place, exc)
        return None


def _keep(place: str, kind: Kind, message: str) -> None:
    st.session_state.setdefault(NOTICES_KEY, {}).setdefault(place, []).append((kind, message))
