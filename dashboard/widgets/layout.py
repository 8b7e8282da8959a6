"""Rows that reflow: figures and facts side by side on a wide screen, wrapping onto more lines on a narrow one.

Fixed columns squeeze their content at 1024 px (a projector): labels break mid-word and values end in "…". In these
rows a metric is as wide as its value, a group of elements takes an even share of at least 8rem (Streamlit's flex
basis), an item given a width in pixels keeps it, and the row wraps when they do not fit, so every label and value
stays whole. tests/e2e/test_layout_browser.py checks every page at 1024 and 1400 px.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import streamlit as st


@dataclass(frozen=True)
class Figure:
    """One st.metric: a label, its value as text, and what it means."""

    label: str
    value: str
    help: str | None = None


@contextmanager
def wrapping_row(gap: Literal["small", "medium", "large"] = "medium") -> Iterator[None]:
    """A row of items that wraps onto the next line when the screen is too narrow for them."""
    with st.container(horizontal=True, wrap=True, gap=gap):
        yield


def figure_row(figures: Sequence[Figure], *, border: bool = False) -> None:
    with wrapping_row():
        for figure in figures:
            st.metric(figure.label, figure.value, help=figure.help, border=border)


def fact_row(facts: Sequence[tuple[str, str]]) -> None:
    """Small labels over plain-text values (names and other user text are shown as written)."""
    with wrapping_row(gap="large"):
        for label, value in facts:
            with st.container(gap="small"):
                st.caption(label)
                st.text(value)
