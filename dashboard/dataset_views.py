"""The Data Mix page's dataset pieces: the saved-dataset library, its notices and actions, file validation and
import, and the S3 upload.

Library changes run in button callbacks, before the script, so they may move the dataset selection; their
outcome is a notice (dashboard.widgets.notices) shown beside the section that caused it.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from core.datasets.files import SplitInfo
from core.datasets.library import MAX_DATASET_NAME
from core.datasets.validation import ValidationReport, validate_file
from core.files import safe_name
from core.wording import count
from dashboard import components, state
from dashboard.widgets import confirm, notices, picker
from dashboard.widgets.checks import Checks
from dashboard.widgets.formatting import format_time

if TYPE_CHECKING:
    from core.backends import Backend
    from core.datasets.library import DatasetInfo, DatasetLibrary

DATASET_KEY = "data_mix_dataset"
DATASET_PARAM = "dataset"
DELETE_KEY = "data_mix_delete"
SPLIT_RATIO_KEY = "data_mix_split_ratio"
SPLIT_SEED_KEY = "data_mix_split_seed"
S3_BUCKET_KEY = "data_mix_s3_bucket"
UPLOAD_KEY = "data_mix_upload"
IMPORT_NAME_KEY = "data_mix_import_name"
REPORTS_KEY = "data_mix_validation_reports"
# Where each notice shows: beside the section whose action it reports.
LIBRARY, S3, IMPORT = "data_mix_library", "data_mix_s3", "data_mix_import"
EMPTY_LIBRARY = "No datasets yet: generate a mix above and save it, or import a valid file below."


def select_dataset(dataset_id: str | None) -> None:
    """Make a dataset the selected one in Saved datasets from the next run on (None: the newest)."""
    picker.choose(DATASET_PARAM, dataset_id)


# ---- saved datasets -------------------------------------------------------------------------------------------


def datasets_frame(datasets: list[DatasetInfo]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "name": d.name,
                "kind": d.kind,
                "records": d.records,
                "created": format_time(d.created_at),
                "s3 uri": d.s3_uri or "",
            }
            for d in datasets
        ],
        columns=["name", "kind", "records", "created", "s3 uri"],
    )


def library_section(library: DatasetLibrary, backend: Backend) -> DatasetInfo | None:
    """The saved datasets, and what can be done with the selected one (returned; None when there is none)."""
    notices.show(LIBRARY)
    try:
        datasets = library.list()
    except Exception as exc:
        components.show_error(exc)
        return None
    if not datasets:
        st.info(EMPTY_LIBRARY, icon=":material/dataset:")
        return None
    st.dataframe(
        datasets_frame(datasets),
        hide_index=True,
        key="data_mix_datasets",
        # Widths that fit 1024 px with every column in view; wider screens share out the rest.
        column_config={
            "name": st.column_config.TextColumn("name", width=220),
            "kind": st.column_config.TextColumn("kind", width=95),
            "records": st.column_config.NumberColumn("records", format="localized", width=80),
            "created": st.column_config.TextColumn("created", width=150),
            "s3 uri": st.column_config.TextColumn("s3 uri", width=150),
        },
    )
    selected = picker.pick(datasets, param=DATASET_PARAM, key=DATASET_KEY, label="Dataset")
    # One action a line: three side by side leave a 1024 px screen too little width for their buttons.
    with st.container(border=True):
        if confirm.waiting(DELETE_KEY) == selected.id:
            _confirm_delete(library, selected)
        _download_and_delete(library, selected)
        _rename_form(library, selected)
        _split_form(library, selected)
    st.markdown("**Upload to Amazon S3**")
    s3_upload_form(library, backend, selected)
    return selected


def _download_and_delete(library: DatasetLibrary, info: DatasetInfo) -> None:
    if not info.path.is_file():
        st.error(
            "The dataset's file is missing from the data directory: delete this entry and save it again.",
            icon=":material/error:",
        )
    with st.container(horizontal=True):
        if info.path.is_file():
            st.download_button(
                "Download JSONL",
                data=lambda: library.download_bytes(info.id),
                file_name=f"{safe_name(info.name)}.jsonl",
                mime="application/jsonl",
                on_click="ignore",
                icon=":material/download:",
                key="data_mix_download",
            )
        st.button("Delete…", key=DELETE_KEY, icon=":material/delete:", on_click=confirm.ask, args=(DELETE_KEY, info.id))


def _confirm_delete(library: DatasetLibrary, info: DatasetInfo) -> None:
    # What was made from it is said before the question: its models and jobs keep its name, not its records.
    usage = notices.attempt(LIBRARY, lambda: library.usage(info.id))
    made_from = usage.result.warning if usage is not None else None
    question = "Delete this dataset and its files? This cannot be undone."
    if made_from:
        question = f"{components.plain_markdown(made_from)} {question}"
    confirm.confirm_box(
        DELETE_KEY,
        question,
        detail=info.name,
        confirm="Delete for good",
        cancel="Keep it",
        icon=":material/delete_forever:",
        on_confirm=lambda dataset_id: _delete(library, dataset_id),
        border=False,  # it stands in the selected dataset's box
    )


def _delete(library: DatasetLibrary, dataset_id: str) -> None:
    if notices.attempt(LIBRARY, lambda: library.delete(dataset_id)) is not None:
        select_dataset(None)
        notices.success(LIBRARY, "Dataset deleted.")


def rename_key(dataset_id: str) -> str:
    return f"data_mix_rename_{dataset_id}"


def _rename_form(library: DatasetLibrary, info: DatasetInfo) -> None:
    st.session_state.setdefault(rename_key(info.id), info.name)
    with (
        st.form(f"data_mix_rename_form_{info.id}", border=False),
        st.container(horizontal=True, vertical_alignment="bottom"),
    ):
        st.text_input("New name", key=rename_key(info.id), max_chars=MAX_DATASET_NAME)
        st.form_submit_button(
            "Rename", icon=":material/edit:", key="data_mix_rename", on_click=_rename, args=(library, info.id)
        )


def _rename(library: DatasetLibrary, dataset_id: str) -> None:
    if (
        notices.attempt(LIBRARY, lambda: library.rename(dataset_id, st.session_state[rename_key(dataset_id)]))
        is not None
    ):
        notices.success(LIBRARY, "Dataset renamed.")


def _split_form(library: DatasetLibrary, info: DatasetInfo) -> None:
    """The held-out share and the seed, checked as typed (no form: Split stays off while the seed is unusable)."""
    st.session_state.setdefault(SPLIT_RATIO_KEY, 20)
    form = Checks()
    with st.container(horizontal=True, vertical_alignment="bottom"):
        st.slider("Held-out share", 5, 50, step=5, format="%d%%", key=SPLIT_RATIO_KEY)
        with st.container():
            seed = form.number("Split seed", SplitInfo, "seed", key=SPLIT_SEED_KEY, default=7)
    if form.button("Split into train and held-out", key="data_mix_split", icon=":material/call_split:"):
        _split(library, info.id, st.session_state[SPLIT_RATIO_KEY] / 100, seed)
        st.rerun()  # the list above was drawn before the split


def _split(library: DatasetLibrary, dataset_id: str, ratio: float, seed: int) -> None:
    done = notices.attempt(LIBRARY, lambda: library.split(dataset_id, ratio, seed))
    if done is not None:
        train, heldout = done.result
        select_dataset(train.id)
        notices.success(
            LIBRARY,
            f"Split into {train.records:,} training and {heldout.records:,} held-out "
            "records, saved as two new datasets (the training part is selected).",
        )


# ---- S3 upload ------------------------------------------------------------------------------------------------


def s3_prefix_key(dataset_id: str) -> str:
    return f"data_mix_s3_prefix_{dataset_id}"


def s3_upload_form(library: DatasetLibrary, backend: Backend, info: DatasetInfo) -> None:
    """Where this backend's jobs read datasets from, and the upload there when the dataset must go first."""
    try:
        storage = backend.dataset_storage()
    except Exception as exc:  # e.g. a profile that does not exist: shown as a sentence in place of the form
        components.show_error(exc)
        return
    if not storage.needs_upload:
        st.info(storage.describe(), icon=":material/cloud_off:")
        return
    notices.show(S3)
    status = state.backend_status()
    if not status.ready:  # an upload could only fail: say why instead of offering the form
        st.warning(
            components.plain_markdown(
                f"{status.label} is not ready, so uploading is off. Open Settings in the sidebar to fix it."
            ),
            icon=":material/block:",
        )
        return
    location = storage.location(info)
    if location:
        st.caption("Uploaded to")
        st.text(location)
    st.session_state.setdefault(s3_prefix_key(info.id), storage.suggested_destination(info))
    with st.form(f"data_mix_s3_form_{info.id}", border=False):
        bucket_column, prefix_column = st.columns(2)
        bucket_column.text_input("S3 bucket", key=S3_BUCKET_KEY, placeholder="my-training-bucket")
        prefix_column.text_input("Prefix", key=s3_prefix_key(info.id))
        upload = st.form_submit_button("Upload to S3", icon=":material/cloud_upload:", key="data_mix_s3_upload")
    if upload:
        try:
            with st.spinner("Uploading the dataset, its tags and its manifest…"):
                storage.upload(
                    library, info, st.session_state.get(S3_BUCKET_KEY, ""), st.session_state[s3_prefix_key(info.id)]
                )
        except Exception as exc:
            components.show_error(exc)
            return
        notices.success(S3, "Uploaded; the S3 URI is stored with the dataset.")
        st.rerun()


# ---- validation -----------------------------------------------------------------------------------------------


def validate_upload(name: str, data: bytes) -> ValidationReport:
    """The report for these bytes, kept per content so a rerun does not validate the same file again."""
    key = f"{name}|{hashlib.sha256(data).hexdigest()}"
    reports = st.session_state.setdefault(REPORTS_KEY, {})
    if key not in reports:
        stream = io.BytesIO(data)
        stream.name = name
        reports.clear()
        reports[key] = validate_file(stream)
    return reports[key]


def problems_frame(report: ValidationReport, warnings: bool = False) -> pd.DataFrame:
    found = report.warnings if warnings else report.problems
    return pd.DataFrame(
        [{"where": f"line {p.line}" if p.line is not None else "whole file", "problem": p.message} for p in found],
        columns=["where", "problem"],
    )


def validation_report_view(report: ValidationReport) -> None:
    """The verdict, then every problem with its line number (and the warnings, folded away)."""
    if report.ok:
        st.success(report.verdict, icon=":material/check_circle:")
    else:
        st.error(report.verdict, icon=":material/error:")
    st.caption(f"{count(report.records, 'record')} ({report.labelled:,} labelled), {count(report.size_bytes, 'byte')}.")
    if report.problems:
        st.dataframe(
            problems_frame(report),
            hide_index=True,
            key="data_mix_problems",
            column_config={
                "where": st.column_config.TextColumn("where", width=110),
                "problem": st.column_config.TextColumn("problem", width=520),
            },
        )
        if report.problems_not_stored:
            st.caption(f"… and {report.problems_not_stored:,} more problems not listed.")
    if report.warnings:
        with st.expander(f"Warnings ({report.warning_count:,})"):
            st.dataframe(problems_frame(report, warnings=True), hide_index=True, key="data_mix_warnings")


def uploaded_file_check(library: DatasetLibrary, name: str, data: bytes) -> None:
    """Validate uploaded bytes, show the report, and offer a valid file for import into the library."""
    report = validate_upload(name, data)
    validation_report_view(report)
    if not report.ok:
        return
    st.session_state.setdefault(IMPORT_NAME_KEY, Path(name).stem)
    with st.form("data_mix_import_form", border=False), st.container(horizontal=True, vertical_alignment="bottom"):
        st.text_input("Import as", key=IMPORT_NAME_KEY, max_chars=MAX_DATASET_NAME)
        st.form_submit_button(
            "Import into the library",
            icon=":material/library_add:",
            key="data_mix_import",
            on_click=_import,
            args=(library, name, data),
        )
    notices.show(IMPORT)


def _import(library: DatasetLibrary, name: str, data: bytes) -> None:
    stream = io.BytesIO(data)
    stream.name = name
    done = notices.attempt(IMPORT, lambda: library.import_file(st.session_state[IMPORT_NAME_KEY], stream))
    if done is not None:
        select_dataset(done.result.id)
        notices.success(
            IMPORT, f"Imported: {done.result.records:,} {done.result.kind} records, selected in Saved datasets."
        )


def validate_section(library: DatasetLibrary) -> None:
    uploaded = st.file_uploader("JSONL file (bedrock-conversation-2024)", type=["jsonl"], key=UPLOAD_KEY)
    if uploaded is None:
        st.caption(
            "Upload a training file to check it against Bedrock's rules: every problem is listed with its "
            "line number, and a valid file can be imported into the library."
        )
        return
    uploaded_file_check(library, uploaded.name, uploaded.getvalue())
