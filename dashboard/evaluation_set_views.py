"""The Evaluation page's set: a labelled dataset of the library (a held-out part, or a gold set), an uploaded
labelled file, or an expectation set (the studio's own, or an imported JSONL or CSV). Every kind is loaded by
core.evaluate.sets into one EvaluationSet; a bad file shows its sentence and its line-numbered problems as text.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING

import streamlit as st

from core.evaluate.sets import (
    SET_KIND_LABELS,
    EvaluationSet,
    EvaluationSetError,
    SetKind,
    load_expectation_upload,
    load_labelled_file,
    load_library_set,
    load_studio_expectations,
)
from core.wording import count
from dashboard import components

if TYPE_CHECKING:
    from core.datasets.library import DatasetInfo, DatasetLibrary

SOURCE_KEY = "evaluation_source"
DATASET_KEY = "evaluation_dataset"
UPLOAD_KEY = "evaluation_upload"
UPLOAD_GOLD_KEY = "evaluation_upload_gold"
EXPECTATIONS_KEY = "evaluation_expectations_source"
EXPECTATION_UPLOAD_KEY = "evaluation_expectation_upload"
LOADED_KEY = "evaluation_loaded_set"
SOURCES = {"dataset": "A dataset of the library", "upload": "A labelled file", "expectations": "An expectation set"}
STUDIO_SET = "studio"
IMPORTED_SET = "import"
EXPECTATION_SOURCES = {
    STUDIO_SET: "The studio's own (80 hand-written queries, 20 per channel)",
    IMPORTED_SET: "Import a JSONL or CSV file",
}
SHOWN_PROBLEMS = 50


def pick_set(library: DatasetLibrary) -> EvaluationSet | None:
    """The set the user chose, loaded (None while nothing usable is chosen; problems are on the page)."""
    choices = _labelled_datasets(library)
    source = st.radio(
        "Evaluate on",
        list(SOURCES),
        key=SOURCE_KEY,
        format_func=SOURCES.__getitem__,
        horizontal=True,
        help="A held-out set's labels are the teacher's; a gold set's weights were set by people; an expectation "
        "set names the one channel a person expects to lead.",
    )
    if source == "dataset":
        return _dataset_set(library, choices)
    if source == "upload":
        return _uploaded_set()
    return _expectation_set()


def _labelled_datasets(library: DatasetLibrary) -> list[DatasetInfo]:
    try:
        return [info for info in library.heldout_choices() if info.kind == "labelled"]
    except Exception as exc:  # an unreadable library: the other kinds of set still work
        components.show_error(exc)
        return []


def _dataset_set(library: DatasetLibrary, choices: Sequence[DatasetInfo]) -> EvaluationSet | None:
    if not choices:
        st.info(
            "No labelled dataset yet. Make one on **Data Mix** (generate, label with the teacher, save and split "
            "it), or evaluate on a labelled file or an expectation set above.",
            icon=":material/dataset:",
        )
        return None
    by_id = {info.id: info for info in choices}
    if st.session_state.get(DATASET_KEY) not in by_id:
        st.session_state[DATASET_KEY] = choices[0].id
    chosen = st.selectbox(
        "Dataset (held-out parts of splits first)",
        list(by_id),
        key=DATASET_KEY,
        format_func=lambda dataset_id: _dataset_label(by_id[dataset_id]),
    )
    info = by_id[chosen]
    return _loaded(("dataset", info.id, info.sha256), lambda: load_library_set(library, info.id))


def _dataset_label(info: DatasetInfo) -> str:
    kind = "gold set" if info.is_gold else ("held-out part" if info.role == "heldout" else "teacher labels")
    return f"{info.name} ({count(info.records, 'record')}, {kind})"


def _uploaded_set() -> EvaluationSet | None:
    upload = st.file_uploader(
        "Labelled file (bedrock-conversation-2024 JSONL)",
        type=["jsonl"],
        key=UPLOAD_KEY,
        help="Each line a conversation whose assistant turn holds the reference weights, as Data Mix writes them.",
    )
    gold = st.checkbox(
        "People set these weights (a gold set)",
        key=UPLOAD_GOLD_KEY,
        help="Then the teacher is scored against them like any router; otherwise they count as the teacher's labels.",
    )
    if upload is None:
        st.caption("Choose a file to evaluate on; it is checked line by line first.")
        return None
    kind: SetKind = "gold" if gold else "heldout"
    data = upload.getvalue()
    return _loaded(
        ("upload", upload.file_id, kind), lambda: load_labelled_file(io.BytesIO(data), kind, name=upload.name)
    )


def _expectation_set() -> EvaluationSet | None:
    source = st.radio(
        "Expectation set",
        list(EXPECTATION_SOURCES),
        key=EXPECTATIONS_KEY,
        format_func=EXPECTATION_SOURCES.__getitem__,
        help="Each line a query and the channel a person expects to lead (visual, audio, transcription or "
        'metadata), optionally its source: {"query": "...", "expected": "audio", "source": "..."} or CSV columns '
        "query, expected, source.",
    )
    if source == STUDIO_SET:
        return _loaded(("studio",), load_studio_expectations)
    upload = st.file_uploader("Expectation file (JSONL or CSV)", type=["jsonl", "csv"], key=EXPECTATION_UPLOAD_KEY)
    if upload is None:
        st.caption("Choose a file to evaluate on; it is checked line by line first.")
        return None
    data = upload.getvalue()
    return _loaded(("expectations", upload.file_id), lambda: load_expectation_upload(data, upload.name))


def _loaded(key: tuple, load) -> EvaluationSet | None:
    """Load a set once per choice (kept for the session); a set that cannot be used shows why, line by line."""
    kept = st.session_state.get(LOADED_KEY)
    if kept is not None and kept[0] == key:
        evaluation_set = kept[1]
    else:
        try:
            evaluation_set = load()
        except EvaluationSetError as exc:
            show_set_problems(str(exc), exc.lines)
            return None
        except Exception as exc:  # an unreadable file: one sentence, nothing lost
            components.show_error(exc)
            return None
        st.session_state[LOADED_KEY] = (key, evaluation_set)
    st.caption(
        components.plain_markdown(
            f"{evaluation_set.n:,} queries, {SET_KIND_LABELS[evaluation_set.kind]}: {evaluation_set.name}"
        )
    )
    return evaluation_set


def show_set_problems(sentence: str, lines: Sequence[str]) -> None:
    st.error(components.plain_markdown(sentence), icon=":material/error:")
    if lines:
        shown = list(lines[:SHOWN_PROBLEMS])
        st.code("\n".join(shown), language=None, wrap_lines=True)
        if len(lines) > SHOWN_PROBLEMS:
            st.caption(f"… and {len(lines) - SHOWN_PROBLEMS:,} more problems not listed.")
