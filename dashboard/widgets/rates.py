"""The billing rates of Settings that the studio cannot know by itself (core.pricing.RATE_KINDS): provisioned
throughput per model unit per hour, training per 1M tokens, storage per custom model per month, for each model a
distilled student can be made from. An empty cell is "price unknown", which every estimate and meter then says;
a rate is saved only when every cell is empty or a non-negative number (core.pricing.save_rate's rule)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from core.aws.models import MODELS
from core.pricing import RATE_KINDS, load_rates, rate_name, save_rate
from dashboard import components
from dashboard.widgets import notices
from dashboard.widgets.checks import Checks

if TYPE_CHECKING:
    from core.store import Store

USD = "usd"
# The models a distilled student (and so a deployment or provisioned throughput) is made from.
STUDENT_KEYS = tuple(key for key, entry in MODELS.items() if entry.customization_id)


def rate_frame(store: Store) -> pd.DataFrame:
    entered = load_rates(store)
    rows = [
        {
            "kind": kind,
            "model_key": key,
            "rate": RATE_KINDS[kind],
            "model": MODELS[key].name,
            USD: entered.get(rate_name(kind, key)),
        }
        for kind in RATE_KINDS
        for key in STUDENT_KEYS
    ]
    return pd.DataFrame(rows, columns=["kind", "model_key", "rate", "model", USD])


def rate_problems(table: pd.DataFrame) -> list[str]:
    """Why the edited rates cannot be saved (a negative or non-finite number), in save_rate's words."""
    problems = []
    for row in table.to_dict("records"):
        value = _entered(row[USD])
        if value is not None and (not math.isfinite(value) or value < 0):
            problems.append(f"{row['model']}, {row['rate']}: a rate must be a non-negative number of US dollars")
    return problems


def rate_editor(store: Store, key: str = "rate_editor") -> None:
    generation_key = f"{key}_generation"
    editor_key = f"{key}_{st.session_state.get(generation_key, 0)}"
    current = rate_frame(store)
    edited = st.data_editor(
        current,
        key=editor_key,
        hide_index=True,
        num_rows="fixed",
        disabled=["rate", "model"],
        column_order=["model", "rate", USD],
        column_config={
            "model": st.column_config.TextColumn("Model", width=150),
            "rate": st.column_config.TextColumn("Rate", width=330),
            # No min_value: a typed negative rate is named below instead of silently held back.
            USD: st.column_config.NumberColumn("USD (empty: price unknown)", format="plain", width=180),
        },
    )
    problems = rate_problems(edited)
    form = Checks()
    form.require("Rates cannot be saved: " + "; ".join(problems) + "." if problems else None)
    if form.button("Save rates", key=f"{key}_save", type="primary", icon=":material/save:"):
        _save(store, current, edited, generation_key)


def _save(store: Store, current: pd.DataFrame, edited: pd.DataFrame, generation_key: str) -> None:
    before = {(row["kind"], row["model_key"]): _entered(row[USD]) for row in current.to_dict("records")}
    changed = 0
    try:
        for row in edited.to_dict("records"):
            value = _entered(row[USD])
            if before.get((row["kind"], row["model_key"])) != value:
                save_rate(store, row["kind"], row["model_key"], value)
                changed += 1
    except Exception as exc:
        components.show_error(exc)
        return
    st.session_state[generation_key] = st.session_state.get(generation_key, 0) + 1
    notices.success(
        notices.PAGE, f"Saved {changed} changed rate{'' if changed == 1 else 's'}." if changed else "No rate changed."
    )
    st.rerun()


def _entered(value: object) -> float | None:
    """A cell's rate, or None when it is empty (price unknown)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)  # type: ignore[arg-type]
