"""Labelling a saved prompt-only dataset with the backend's teacher, on the Data Mix page (core.labelling).

On demand: a billable teacher is estimated and confirmed first, called by a pool the size Settings gives, with
progress, rate, ETA and cost so far; every answer goes to a checkpoint, so a stopped run resumes without buying
an answer twice, and only the failures are asked again on retry. The failures show the teacher's raw reply as
text. For large sets (Bedrock, 100 records or more) a batch job at the batch price, estimated and confirmed,
polled with Bedrock's statuses; its labels are collected into the same result. The result is saved as a dataset.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import streamlit as st

from core.aws.names import check_invocation_job_name
from core.backends import CapabilityUnavailable
from core.datasets.files import LoadedDataset, read_dataset
from core.estimates import CostEstimate, router_labelling_estimate
from core.labelling import DatasetLabelling, LabelFailure, LabelProgress, dataset_queries, label_dataset
from core.naming import unique_name
from core.wording import count
from dashboard import components, state
from dashboard.widgets import confirm, notices, picker
from dashboard.widgets.checks import Checks
from dashboard.widgets.estimates import estimate_view
from dashboard.widgets.formatting import format_usd, preview
from dashboard.widgets.layout import Figure, fact_row, figure_row

if TYPE_CHECKING:
    from core.aws.batch import BatchInference, BatchRun
    from core.datasets.library import DatasetInfo, DatasetLibrary
    from core.routers.base import Router

LABEL_KEY = "data_mix_label"
RETRY_KEY = "data_mix_label_retry"
BATCH_KEY = "data_mix_batch"
BATCH_NAME_KEY = "data_mix_batch_name"
COLLECT_KEY = "data_mix_batch_collect"
STOP_BATCH_KEY = "data_mix_batch_stop"
SAVE_NAME_KEY = "data_mix_labelled_name"
SAVE_KEY = "data_mix_labelled_save"
RESULT_KEY = "data_mix_labelled"
PROBLEMS = "data_mix_label"
BATCH_PROBLEMS = "data_mix_batch"
BATCH_MIN_RECORDS = 100
BATCH_POLL_S = 30.0
FAILURES_SHOWN = 50
DATASET_PARAM = "dataset"


def label_section(current: state.Studio, library: DatasetLibrary, info: DatasetInfo) -> None:
    """Label the selected dataset when it holds prompts only; nothing for a labelled one."""
    if info.kind == "labelled":
        return
    st.markdown(f"**Label it with {current.backend.teacher_name}**")
    notices.show(PROBLEMS)
    status = state.backend_status()
    if not status.ready:
        st.warning(
            components.plain_markdown(f"{status.label} is not ready, so labelling is off. Open Settings to fix it."),
            icon=":material/block:",
        )
        return
    try:
        loaded = _loaded(info)
        queries = dataset_queries(loaded)
        teacher = state.router("teacher")
    except Exception as exc:  # a file changed under the library, a backend without a session: one sentence
        components.show_error(exc)
        return
    with st.container(border=True):
        _on_demand(current, info, loaded, queries, teacher)
        _batch(current, info, queries, teacher)
    result = labelled(info)
    if result is not None:
        result_view(current, library, info, loaded, teacher, result)


def labelled(info: DatasetInfo) -> DatasetLabelling | None:
    kept = st.session_state.get(RESULT_KEY)
    return kept[1] if kept is not None and kept[0] == info.id else None


# ---- on demand ------------------------------------------------------------------------------------------------


def _on_demand(
    current: state.Studio, info: DatasetInfo, loaded: LoadedDataset, queries: Sequence[str], teacher: Router
) -> None:
    name = current.backend.teacher_name
    estimate = router_labelling_estimate(teacher, queries, teacher=name)
    if teacher.remote:
        st.caption(
            f"{current.settings.bedrock_concurrency} calls at once (the pool size in Settings). Every answer is "
            "kept in a checkpoint as it arrives: labelling again after a stop resumes without buying an answer twice."
        )
    if estimate.billable:
        estimate_view(estimate, title=f"Labelling {len(queries):,} prompts")
    if st.button(f"Label {len(queries):,} prompts", key=LABEL_KEY, type="primary", icon=":material/label:"):
        if estimate.billable:
            confirm.ask(LABEL_KEY, info.id)
        else:
            _label(current, info, loaded, teacher, retry_failed=False)
    if confirm.confirmed(LABEL_KEY) == info.id:
        _label(current, info, loaded, teacher, retry_failed=False)
    _confirm_box(LABEL_KEY, f"Label {len(queries):,} prompts with {name}?", estimate)


def _confirm_box(key: str, question: str, estimate: CostEstimate) -> None:
    confirm.confirm_box(
        key,
        f"{components.plain_markdown(question)} AWS bills it: {components.plain_markdown(estimate.sentence())}",
        detail="\n".join(estimate.lines()),
        confirm="Confirm and label",
        cancel="Not now",
        icon=":material/payments:",
    )


def _label(
    current: state.Studio, info: DatasetInfo, loaded: LoadedDataset, teacher: Router, *, retry_failed: bool
) -> None:
    bar = st.progress(0.0, text="Labelling…")

    def on_update(progress: LabelProgress) -> None:
        bar.progress(min(progress.fraction, 1.0), text=progress.sentence())

    try:
        made = label_dataset(
            teacher,
            loaded,
            teacher_id=current.backend.teacher_name,
            source_name=info.name,
            checkpoint_dir=current.settings.data_dir,
            concurrency=current.settings.bedrock_concurrency if teacher.remote else None,
            on_update=on_update,
            retry_failed=retry_failed,
        )
    except Exception as exc:  # the teacher itself broke: what was answered is in the checkpoint
        bar.empty()
        notices.failure(PROBLEMS, exc)
        st.rerun()
        return
    bar.empty()
    st.session_state[RESULT_KEY] = (info.id, made)
    st.session_state[SAVE_NAME_KEY] = f"{info.name}-labelled"
    st.rerun()


# ---- the result: figures, failures with their raw replies, retry, save ------------------------------------------


def result_view(
    current: state.Studio,
    library: DatasetLibrary,
    info: DatasetInfo,
    loaded: LoadedDataset,
    teacher: Router,
    made: DatasetLabelling,
) -> None:
    run = made.run
    figure_row(
        [
            Figure("Labelled", f"{run.labelled:,} of {run.total:,}"),
            Figure("Failed", f"{run.failed:,}", "The teacher's reply could not be read as router weights."),
            Figure("Not done", f"{run.pending:,}", "Left when the run stopped: labelling again resumes."),
            Figure("Cost", format_usd(run.cost_usd), "What these answers cost, from the tokens reported."),
        ]
    )
    if run.aborted:
        st.error(components.plain_markdown(run.aborted), icon=":material/error:")
    if run.failures:
        failure_list(run.failures)
        failed = [failure.query for failure in run.failures]
        estimate = router_labelling_estimate(teacher, failed, teacher=current.backend.teacher_name)
        if st.button(f"Retry the {count(len(failed), 'failed record')}", key=RETRY_KEY, icon=":material/replay:"):
            if estimate.billable:
                confirm.ask(RETRY_KEY, info.id)
            else:
                _label(current, info, loaded, teacher, retry_failed=True)
        if confirm.confirmed(RETRY_KEY) == info.id:
            _label(current, info, loaded, teacher, retry_failed=True)
        _confirm_box(
            RETRY_KEY, f"Ask {current.backend.teacher_name} again for {count(len(failed), 'record')}?", estimate
        )
    _save_form(library, made)


def failure_list(failures: Sequence[LabelFailure]) -> None:
    with st.expander(f"Records the teacher could not label ({len(failures):,})"):
        for failure in failures[:FAILURES_SHOWN]:
            st.text(f"{preview(failure.query)}\n{'; '.join(failure.errors)}")
            st.code(failure.raw_text or "(no reply)", language=None, wrap_lines=True)
        if len(failures) > FAILURES_SHOWN:
            st.caption(f"… and {len(failures) - FAILURES_SHOWN:,} more.")


def _save_form(library: DatasetLibrary, made: DatasetLabelling) -> None:
    if not made.records:
        st.info("No record was labelled, so there is nothing to save yet.", icon=":material/info:")
        return
    form = Checks()
    with st.container(horizontal=True, vertical_alignment="bottom", wrap=True):
        st.text_input("Name of the labelled dataset", key=SAVE_NAME_KEY)
        save = form.button("Save labelled dataset", key=SAVE_KEY, type="primary", icon=":material/save:")
    if not save:
        return
    try:
        saved = library.save(st.session_state[SAVE_NAME_KEY].strip(), made.records, made.tags, made.manifest_fields)
    except Exception as exc:  # e.g. a name in use: the result stays for another try
        components.show_error(exc)
        return
    st.session_state.pop(RESULT_KEY, None)
    notices.success(notices.PAGE, f"Saved {saved.name} ({count(saved.records, 'labelled record')}).")
    picker.choose(DATASET_PARAM, saved.id)
    st.rerun()


# ---- batch inference --------------------------------------------------------------------------------------------


def _batch(current: state.Studio, info: DatasetInfo, queries: Sequence[str], teacher: Router) -> None:
    try:
        service = current.backend.batch_inference()
    except CapabilityUnavailable:
        return  # on-demand labelling is the only way on this backend (it is free there)
    except Exception as exc:
        components.show_error(exc)
        return
    st.markdown("**Or as a batch job** (about half the price; Bedrock takes minutes to hours)")
    notices.show(BATCH_PROBLEMS)
    if len(queries) < BATCH_MIN_RECORDS:
        st.caption(f"A batch job takes at least {BATCH_MIN_RECORDS:,} records; this dataset has {len(queries):,}.")
    else:
        _start_batch(service, current, info, queries, teacher)
    runs = [run for run in service.list() if run.source.get("dataset_id") == info.id]
    if runs:
        active = any(run.active for run in runs)
        st.fragment(_batch_runs, run_every=BATCH_POLL_S if active else None)(service, info, teacher, active)


def _start_batch(
    service: BatchInference, current: state.Studio, info: DatasetInfo, queries: Sequence[str], teacher: Router
) -> None:
    taken = {run.name for run in service.list()}
    st.session_state.setdefault(BATCH_NAME_KEY, unique_name(f"label-{_slug(info.name)}", taken.__contains__))
    estimate = service.estimate(teacher, queries)
    estimate_view(estimate, title=f"Batch of {len(queries):,} prompts")
    form = Checks()
    with st.container(horizontal=True, vertical_alignment="bottom", wrap=True):
        name = st.text_input("Batch job name", key=BATCH_NAME_KEY).strip()
        form.require(check_invocation_job_name(name))
        form.require(f"A batch named {name!r} exists already: choose another name." if name in taken else None)
        clicked = form.button("Start the batch job", key=BATCH_KEY, icon=":material/stacks:")
    if clicked:
        confirm.ask(BATCH_KEY, (info.id, name))
    agreed = confirm.confirmed(BATCH_KEY)
    if agreed is not None and agreed[0] == info.id:
        source = {"file": str(info.path), "sha256": info.sha256, "teacher": current.backend.teacher_name}
        started = notices.attempt(
            BATCH_PROBLEMS,
            lambda: service.start(agreed[1], teacher, queries, source={**source, "dataset_id": info.id}, confirm=True),
        )
        if started is not None:
            notices.success(BATCH_PROBLEMS, f"Started batch {started.result.name}: {started.result.status}.")
        st.rerun()
    _confirm_box(BATCH_KEY, f"Start a batch job labelling {len(queries):,} prompts?", estimate)


def _batch_runs(service: BatchInference, info: DatasetInfo, teacher: Router, polling: bool) -> None:
    """This dataset's batch runs as Bedrock reports them, polled while any is active."""
    runs = []
    for run in service.list():
        if run.source.get("dataset_id") != info.id:
            continue
        try:
            runs.append(service.get(run.id) if run.active else run)
        except Exception as exc:  # e.g. throttled: the last known state, with the reason
            st.warning(components.plain_markdown(state.explain_error(exc)), icon=":material/cloud_off:")
            runs.append(run)
    if polling and not any(run.active for run in runs):
        st.rerun()  # every run has ended: draw the page once more and stop polling
    for run in runs:
        _batch_run(service, info, teacher, run)


def _batch_run(service: BatchInference, info: DatasetInfo, teacher: Router, run: BatchRun) -> None:
    with st.container(border=True):
        fact_row([("Batch", run.name), ("Status", run.status), ("Records", f"{run.records:,}")])
        if run.counts:
            st.text(", ".join(f"{key.removesuffix('RecordCount')} {value:,}" for key, value in run.counts.items()))
        if run.message:
            st.text(run.message)
        if run.active:
            st.caption(f"Checked every {BATCH_POLL_S:.0f} s while it runs; it keeps running if you leave the page.")
            if st.button("Stop the batch", key=f"{STOP_BATCH_KEY}_{run.id}", icon=":material/stop:"):
                notices.attempt(BATCH_PROBLEMS, lambda: service.stop(run.id))
                st.rerun()
        elif run.has_results and st.button(
            "Collect the labels", key=f"{COLLECT_KEY}_{run.id}", icon=":material/download:"
        ):
            made = notices.attempt(BATCH_PROBLEMS, lambda: service.labelled_dataset(run.id, teacher))  # type: ignore[arg-type]
            if made is not None:
                st.session_state[RESULT_KEY] = (info.id, made.result)
                st.session_state[SAVE_NAME_KEY] = f"{info.name}-labelled"
            st.rerun()


# ---- helpers ----------------------------------------------------------------------------------------------------


def _loaded(info: DatasetInfo) -> LoadedDataset:
    """The dataset file, read once per version of it."""
    return _read(str(info.path), info.sha256)


@st.cache_resource(max_entries=4, show_spinner=False)
def _read(path: str, sha256: str) -> LoadedDataset:
    return read_dataset(Path(path), min_records=1, max_records=50_000)


def _slug(name: str) -> str:
    cleaned = "".join(char if char.isalnum() else "-" for char in name.lower()).strip("-")
    return "-".join(part for part in cleaned.split("-") if part)[:40] or "dataset"
