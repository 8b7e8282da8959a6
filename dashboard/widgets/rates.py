"""The Settings table of prices AWS does not publish in a form the studio can know (core.pricing RATE_KINDS):
Nova customization training and custom model storage, per student model. An empty cell is "price unknown", and
every estimate that needs it says so instead of counting it as zero."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from core.aws.models import DISTILLATION_PAIRS, MODELS
from core.pricing import RATE_KINDS, billing_rate, save_rate
from dashboard import components
from dashboard.widgets import notices
from dashboard.widgets.checks import Checks

if TYPE_CHECKING:
    from core.store import Store

TRAINING, STORAGE = "training_per_million_tokens", "storage_per_month"
SHOWN_KINDS = (TRAINING, STORAGE)
LABELS = {TRAINING: "Training, USD per 1M tokens", STORAGE: "Storage, USD per month"}


def student_keys() -> list[str]:
    """The models a distillation job can make: each has its own training and storage price."""
    return list(dict.fromkeys(key for students in DISTILLATION_PAIRS.values() for key in students))


def rate_frame(store: Store) -> pd.DataFrame:
    """One row per student model; a rate is shown as typed text, empty while it is unknown."""
    rows = [
        {
            "key": key,
            "model": MODELS[key].name,
            **{kind: _shown(billing_rate(store, kind, key)) for kind in SHOWN_KINDS},
        }
        for key in student_keys()
    ]
    return pd.DataFrame(rows, columns=["key", "model", *SHOWN_KINDS])


def read_rate(model_name: str, kind: str, text: object) -> tuple[float | None, str | None]:
    """A typed rate: (USD, None), (None, None) when empty (unknown), or (None, what is wrong)."""
    cleaned = str(text if text is not None else "").strip().removeprefix("$").replace(",", "")
    if not cleaned:
        return None, None
    try:
        value = float(cleaned)
    except ValueError:
        return None, f"{model_name}, {LABELS[kind].lower()} must be a number (the cell holds {str(text)!r})"
    if not math.isfinite(value) or value < 0:
        return None, f"{model_name}, {LABELS[kind].lower()} must be a number of US dollars, 0 or more"
    return value, None


def _rates(store: Store, key: str) -> dict[str, str]:
    return {kind: _shown(billing_rate(store, kind, key)) for kind in SHOWN_KINDS}


def _shown(usd: float | None) -> str:
    return "" if usd is None else f"{usd:g}"


def rate_editor(store: Store, key: str = "rate_editor") -> None:
    generation_key = f"{key}_generation"
    editor_key = f"{key}_{st.session_state.get(generation_key, 0)}"
    current = rate_frame(store)
    edited = st.data_editor(
        current,
        key=editor_key,
        hide_index=True,
        num_rows="fixed",
        disabled=["model"],
        column_order=["model", *SHOWN_KINDS],
        column_config={
            "model": st.column_config.TextColumn("Student model", width=170),
            **{
                kind: st.column_config.TextColumn(
                    LABELS[kind], width=200, help=f"{RATE_KINDS[kind]}; empty: price unknown."
                )
                for kind in SHOWN_KINDS
            },
        },
    )
    rows = edited.to_dict("records")
    problems = [
        problem
        for row in rows
        for kind in SHOWN_KINDS
        if (problem := read_rate(str(row["model"]), kind, row[kind])[1]) is not None
    ]
    form = Checks()
    form.require("Rates cannot be saved: " + "; ".join(problems) + "." if problems else None)
    if form.button("Save rates", key=f"{key}_save", icon=":material/save:"):
        try:
            for row in rows:
                for kind in SHOWN_KINDS:
                    save_rate(store, kind, str(row["key"]), read_rate(str(row["model"]), kind, row[kind])[0])
        except Exception as exc:
            components.show_error(exc)
            return
        st.session_state[generation_key] = st.session_state.get(generation_key, 0) + 1
        notices.success(notices.PAGE, "Rates saved.")
        st.rerun()
