"""The Settings table of prices AWS does not publish in a form the studio can know (core.pricing RATE_KINDS):
Nova customization training and custom model storage, per student model. An empty cell is "price unknown", and
every estimate that needs it says so instead of counting it as zero."""

from __future__ import annotations

import math
import numbers
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
    rows = [
        {"key": key, "model": MODELS[key].name, **{kind: billing_rate(store, kind, key) for kind in SHOWN_KINDS}}
        for key in student_keys()
    ]
    return pd.DataFrame(rows, columns=["key", "model", *SHOWN_KINDS]).astype({kind: "float64" for kind in SHOWN_KINDS})


def cell_problem(model_name: str, kind: str, raw: object) -> str | None:
    if raw is None or (isinstance(raw, float) and math.isnan(raw)):
        return None  # empty: unknown
    if not isinstance(raw, numbers.Real) or not math.isfinite(float(raw)):
        return f"{model_name}, {LABELS[kind].lower()} must be a number"
    return f"{model_name}, {LABELS[kind].lower()} cannot be negative" if float(raw) < 0 else None


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
                kind: st.column_config.NumberColumn(LABELS[kind], format="plain", width=200, help=RATE_KINDS[kind])
                for kind in SHOWN_KINDS
            },
        },
    )
    rows = edited.to_dict("records")
    problems = [
        problem
        for row in rows
        for kind in SHOWN_KINDS
        if (problem := cell_problem(str(row["model"]), kind, row[kind])) is not None
    ]
    form = Checks()
    form.require("Rates cannot be saved: " + "; ".join(problems) + "." if problems else None)
    if form.button("Save rates", key=f"{key}_save", icon=":material/save:"):
        try:
            for row in rows:
                for kind in SHOWN_KINDS:
                    value = row[kind]
                    empty = value is None or (isinstance(value, float) and math.isnan(value))
                    save_rate(store, kind, str(row["key"]), None if empty else float(value))
        except Exception as exc:
            components.show_error(exc)
            return
        st.session_state[generation_key] = st.session_state.get(generation_key, 0) + 1
        notices.success(notices.PAGE, "Rates saved.")
        st.rerun()
