"""The token price table of Settings: shown with where each price comes from, edited in place, saved only when
every value is valid (core.pricing.parse_price), and resettable to the defaults."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from core.aws.models import MODELS
from core.pricing import DEFAULT_PRICES_PER_MILLION, ModelPrice, load_price_table, parse_price, reset_prices, save_price
from dashboard import components
from dashboard.widgets import notices
from dashboard.widgets.checks import Checks

if TYPE_CHECKING:
    from core.store import Store

PRICE_INPUT = "input_per_million"
PRICE_OUTPUT = "output_per_million"
PRICE_LABELS = {PRICE_INPUT: "Input, USD per 1M tokens", PRICE_OUTPUT: "Output, USD per 1M tokens"}


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
            "model": st.column_config.TextColumn("Model", width=170),
            # No min_value: the grid would hold a typed negative price back and save the old one; core's
            # parse_price says what is wrong with it instead.
            PRICE_INPUT: st.column_config.NumberColumn(PRICE_LABELS[PRICE_INPUT], format="plain", width=190),
            PRICE_OUTPUT: st.column_config.NumberColumn(PRICE_LABELS[PRICE_OUTPUT], format="plain", width=190),
            "source": st.column_config.TextColumn("Source"),
        },
    )
    # Checked on every edit with core's own rule (core.pricing.parse_price), so Save is off while a cell holds a
    # price that cannot be saved, with the reasons beside it.
    _, problems = prices_from_table(edited)
    form = Checks()
    form.require("Prices cannot be saved: " + "; ".join(problems) + "." if problems else None)
    with st.container(horizontal=True, vertical_alignment="center"):
        reset = st.button("Reset to defaults", key=f"{key}_reset", icon=":material/restart_alt:")
        save = form.button("Save prices", key=f"{key}_save", type="primary", icon=":material/save:")
    if save:
        _save_prices(store, current, edited, generation_key)
    if reset:
        try:
            reset_prices(store)
        except Exception as exc:
            components.show_error(exc)
            return
        _next_editor(generation_key, "Prices reset to the defaults.")


def _save_prices(store: Store, current: pd.DataFrame, edited: pd.DataFrame, generation_key: str) -> None:
    prices, _ = prices_from_table(edited)  # every price is valid: Save is off otherwise
    before = {row["model_key"]: (row[PRICE_INPUT], row[PRICE_OUTPUT]) for row in current.to_dict("records")}
    changed = [p for p in prices if before.get(p.model_key) != (p.input_per_million, p.output_per_million)]
    try:
        for price in changed:
            save_price(store, price)
    except Exception as exc:
        components.show_error(exc)
        return
    _next_editor(
        generation_key,
        f"Saved {len(changed)} changed price{'' if len(changed) == 1 else 's'}." if changed else "No price changed.",
    )


def _next_editor(generation_key: str, message: str) -> None:
    st.session_state[generation_key] = st.session_state.get(generation_key, 0) + 1
    notices.success(notices.PAGE, message)
    st.rerun()
