"""Gold labels on the Playground: set a query's four weights by hand, add a note, save them into a named gold set;
list the gold sets, their labels, and download each as the labelled bedrock-conversation-2024 file it is exported
as (core.gold). The rules (0.05 steps summing to exactly 1, names, the export) live in core.gold.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping

import pandas as pd
import streamlit as st

from core.files import safe_name
from core.gold import GoldLabels, GoldSet, dataset_name, set_weight
from core.parsing import round_weights
from core.schema import MODALITIES
from core.wording import count
from dashboard import components
from dashboard.widgets import notices
from dashboard.widgets.formatting import format_time, preview
from dashboard.widgets.layout import wrapping_row

NEW_SET = "__new__"
DEFAULT_SET_NAME = "team-labels"
SLIDER_WIDTH_PX = 150
SET_KEY = "playground_gold_set_view"
GOLD_PLACE = "playground_gold"


class _Keys:
    def __init__(self, key: str):
        self.key = key
        self.query = f"{key}_for"
        self.set = f"{key}_set"
        self.new_name = f"{key}_new_name"
        self.note = f"{key}_note"
        self.save = f"{key}_save"

    def weight(self, modality: str) -> str:
        return f"{self.key}_{modality}"


def gold_editor(
    gold: GoldLabels, query: str, start: Mapping[str, float], *, key: str, run_id: str | None = None
) -> None:
    """Four weights that keep summing to 1 (moving one rescales the others), a note and a gold set; Save."""
    keys = _Keys(key)
    if st.session_state.get(keys.query) != query:  # a new query starts from the weights it was shown with
        st.session_state[keys.query] = query
        _show_weights(keys, round_weights({m: float(start.get(m, 0.0)) for m in MODALITIES}))
        st.session_state[keys.note] = ""
    notices.show(keys.key)
    st.caption("Set the weights a person would give this query; moving one rescales the others so they sum to 1.")
    with wrapping_row(gap="small"):
        for modality in MODALITIES:
            with st.container(width=SLIDER_WIDTH_PX):
                st.slider(
                    modality,
                    0.0,
                    1.0,
                    step=0.05,
                    format="%.2f",
                    key=keys.weight(modality),
                    on_change=_moved,
                    args=(keys, modality),
                )
    try:
        sets = [s.name for s in gold.sets()]
    except Exception as exc:  # e.g. a locked database
        components.show_error(exc)
        return
    with wrapping_row():
        chosen = st.selectbox(
            "Gold set",
            [*sets, NEW_SET],
            key=keys.set,
            format_func=lambda name: "New gold set…" if name == NEW_SET else name,
            help="Each gold set is also kept as a labelled dataset, gold-<set>, to score routers on.",
        )
        if chosen == NEW_SET:
            st.session_state.setdefault(keys.new_name, DEFAULT_SET_NAME)
            st.text_input("New gold set name", key=keys.new_name)
    st.text_input("Note (optional)", key=keys.note, placeholder="Why these weights")
    st.button(
        "Save gold label", key=keys.save, icon=":material/verified:", on_click=_save, args=(gold, keys, query, run_id)
    )


def _weights(keys: _Keys) -> dict[str, float]:
    return {m: float(st.session_state[keys.weight(m)]) for m in MODALITIES}


def _show_weights(keys: _Keys, weights: Mapping[str, float]) -> None:
    for modality in MODALITIES:
        st.session_state[keys.weight(modality)] = float(weights[modality])


def _moved(keys: _Keys, modality: str) -> None:
    current = _weights(keys)
    _show_weights(keys, set_weight(current, modality, current[modality]))


def _save(gold: GoldLabels, keys: _Keys, query: str, run_id: str | None) -> None:
    chosen = st.session_state.get(keys.set)
    name = st.session_state.get(keys.new_name, "") if chosen in (None, NEW_SET) else chosen
    done = notices.attempt(
        keys.key, lambda: gold.save(name, query, _weights(keys), st.session_state[keys.note], run_id)
    )
    if done is not None:
        label = done.result
        st.session_state[keys.set] = label.gold_set
        st.session_state[SET_KEY] = label.gold_set
        notices.success(
            keys.key,
            f"Saved in gold set {label.gold_set!r} and exported as dataset {dataset_name(label.gold_set)!r}: it can be "
            "chosen wherever a held-out set can.",
        )


# ---- the gold sets ---------------------------------------------------------------------------------------------


def gold_sets(gold: GoldLabels) -> None:
    """Every gold set, one chosen: its labels and the download of its labelled dataset."""
    notices.show(GOLD_PLACE)
    try:
        sets = gold.sets()
    except Exception as exc:  # e.g. a locked database
        components.show_error(exc)
        return
    if not sets:
        st.caption("No gold sets yet: compare a query, set the weights a person would give it, and save them.")
        return
    by_name = {s.name: s for s in sets}
    if st.session_state.get(SET_KEY) not in by_name:
        st.session_state[SET_KEY] = sets[0].name
    chosen = by_name[
        st.selectbox("Gold set", list(by_name), key=SET_KEY, format_func=lambda name: _set_label(by_name[name]))
    ]
    labels = gold.labels(chosen.name)
    table = pd.DataFrame(
        [{"Query": preview(label.query), **label.weights, "Note": label.note} for label in labels],
        columns=["Query", *MODALITIES, "Note"],
    )
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={
            "Query": st.column_config.TextColumn(width=260),
            **{
                m: st.column_config.NumberColumn(width=70 if m != "transcription" else 100, format="%.2f")
                for m in MODALITIES
            },
            "Note": st.column_config.TextColumn(width=140),
        },
    )
    dataset = chosen.dataset
    if dataset is None:
        st.warning(
            "This gold set's dataset could not be exported: saving another label tries again.",
            icon=":material/sync_problem:",
        )
        return
    st.caption(
        components.plain_markdown(
            f"Kept as the labelled dataset {dataset.name} ({count(dataset.records, 'record')}): choose it as the "
            "held-out set of a distillation job, or score routers on it from the command line:"
        )
    )
    st.code(
        f"python -m core evaluate --gold {shlex.quote(dataset.name)} --router teacher --router student", language="bash"
    )
    st.download_button(
        "Download as bedrock-conversation-2024 JSONL",
        data=lambda: gold.library.download_bytes(dataset.id),
        file_name=f"{safe_name(dataset.name)}.jsonl",
        mime="application/jsonl",
        on_click="ignore",
        icon=":material/download:",
        key="playground_gold_download",
    )


def _set_label(gold_set: GoldSet) -> str:
    return f"{gold_set.name} ({count(gold_set.labels, 'label')}, updated {format_time(gold_set.updated_at)})"
