"""Pick one item of a list by a query parameter, so that a reload or a link returns to it.

One behaviour everywhere: the query parameter wins; one naming an item that is gone says so and falls back to
the newest (lists come newest first); the choice is written back to the address.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

import streamlit as st


class Listed(Protocol):
    """What the studio lists: jobs, models, datasets."""

    @property
    def id(self) -> str: ...

    @property
    def name(self) -> str: ...


T = TypeVar("T", bound=Listed)


def pick(
    items: Sequence[T],
    *,
    param: str,
    key: str,
    label: str,
    item_label: Callable[[T], str] | None = None,
    on_change: Callable[[], None] | None = None,
) -> T:
    """A select box over `items` (not empty, newest first) that follows the `param` query parameter; an item
    shows as its name unless `item_label` says otherwise."""
    by_id = {item.id: item for item in items}
    wanted = st.query_params.get(param)
    if wanted is not None and wanted not in by_id:
        st.warning(
            f"The {label.lower()} in the address is gone (it may have been deleted): showing the newest one.",
            icon=":material/help:",
        )
    chosen = wanted if wanted is not None and wanted in by_id else items[0].id
    st.session_state[key] = chosen
    st.selectbox(
        label,
        list(by_id),
        key=key,
        format_func=lambda picked: (item_label or _name)(by_id[picked]),
        on_change=_picked,
        args=(param, key, on_change),
    )
    st.query_params[param] = chosen
    return by_id[chosen]


def choose(param: str, item_id: str | None) -> None:
    """Make an item the chosen one from the next run on (None: the newest), e.g. from a button callback."""
    if item_id is None:
        st.query_params.pop(param, None)
    else:
        st.query_params[param] = item_id


def _picked(param: str, key: str, then: Callable[[], None] | None) -> None:
    st.query_params[param] = st.session_state[key]
    if then is not None:
        then()


def _name(item: Listed) -> str:
    return item.name
