"""Teacher-written queries on the Data Mix page (core.synth.teacher_queries): the backend's teacher writes each
bucket of the mix's queries instead of the template generator. Estimated and confirmed first; checkpointed, so a
stopped run resumes without paying for a bucket twice; the result is saved as a prompt-only dataset, to be
labelled like any other. A backend without a query writer says so in one sentence."""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

from core.backends import CapabilityUnavailable
from core.naming import unique_name
from core.synth import DataMix
from dashboard import components, state
from dashboard.widgets import confirm, notices, picker
from dashboard.widgets.estimates import estimate_view

if TYPE_CHECKING:
    from core.datasets.library import DatasetLibrary
    from core.synth.teacher_queries import WrittenQueries

WRITE_KEY = "data_mix_write_queries"
OUTCOME_KEY = "data_mix_written"
PROBLEMS = "data_mix_write_queries"
DATASET_PARAM = "dataset"
FAILURES_SHOWN = 20


def teacher_writes(current: state.Studio, library: DatasetLibrary, mix: DataMix | None) -> None:
    """The teacher writes the mix's queries: estimate, confirm, write with progress, save as a dataset."""
    try:
        writer = current.backend.query_writer()
    except CapabilityUnavailable as exc:  # e.g. the local backend: its generator is the only writer
        st.caption(components.plain_markdown(str(exc)))
        return
    except Exception as exc:
        components.show_error(exc)
        return
    if not state.backend_status().ready:
        return  # the top of the page says what is wrong and how to fix it
    st.markdown(f"**Or let {current.backend.teacher_name} write the queries**")
    notices.show(PROBLEMS)
    _outcome()
    if mix is None:
        st.caption("Fix the mix above to see what writing its queries would cost.")
        return
    estimate = writer.estimate(mix)
    estimate_view(estimate, title=f"Writing {mix.total:,} queries")
    if st.button(f"Write {mix.total:,} queries with the teacher", key=WRITE_KEY, icon=":material/edit_note:"):
        confirm.ask(WRITE_KEY, mix.model_dump_json())
    agreed = confirm.confirmed(WRITE_KEY)
    if agreed is not None:
        _write(current, library, writer, DataMix.model_validate_json(agreed))
    if confirm.waiting(WRITE_KEY) not in (None, mix.model_dump_json()):
        confirm.forget(WRITE_KEY)  # the mix changed since: that estimate no longer holds
    confirm.confirm_box(
        WRITE_KEY,
        f"Let {components.plain_markdown(current.backend.teacher_name)} write {mix.total:,} queries? AWS bills it: "
        f"{components.plain_markdown(estimate.sentence())}",
        detail="\n".join(estimate.lines()),
        confirm="Confirm and write",
        cancel="Not now",
        icon=":material/payments:",
    )


def _write(current: state.Studio, library: DatasetLibrary, writer, mix: DataMix) -> None:
    bar = st.progress(0.0, text="Writing queries…")

    def on_progress(done: int, total: int) -> None:
        bar.progress(done / total if total else 1.0, text=f"Buckets written: {done:,} of {total:,}")

    try:
        written: WrittenQueries = writer.write(
            mix, confirm=True, checkpoint_dir=current.settings.data_dir, on_progress=on_progress
        )
        saved = None
        if written.queries:
            taken = {info.name for info in library.list()}
            name = unique_name(f"teacher-queries-{mix.total}-seed-{mix.seed}", taken.__contains__)
            saved = library.save(name, written.records(), written.tags(), written.manifest_fields())
    except Exception as exc:  # what was written is in the checkpoint: writing again resumes
        bar.empty()
        notices.failure(PROBLEMS, exc)
        st.rerun()
        return
    bar.empty()
    st.session_state[OUTCOME_KEY] = (saved.name if saved else None, written)
    if saved is not None:
        picker.choose(DATASET_PARAM, saved.id)
    st.rerun()


def _outcome() -> None:
    kept = st.session_state.get(OUTCOME_KEY)
    if kept is None:
        return
    name, written = kept
    if name is not None:
        st.success(
            components.plain_markdown(
                f"Saved {len(written.queries):,} teacher-written queries as {name} (prompts only; cost "
                f"${written.cost_usd:,.4f}): label it in Saved datasets below."
            ),
            icon=":material/check_circle:",
        )
    else:
        st.error("The teacher wrote no usable query, so nothing was saved.", icon=":material/error:")
    facts = []
    if written.short_by > 0:
        facts.append(f"{written.short_by:,} fewer than asked for")
    if written.duplicates_removed:
        facts.append(f"{written.duplicates_removed:,} near-duplicates removed")
    if written.rejected:
        facts.append(f"{len(written.rejected):,} refused (too long, several lines, reserved strings)")
    if facts:
        st.text("; ".join(facts))
    if written.failures:
        with st.expander(f"Buckets the teacher could not write ({len(written.failures):,})"):
            for failure in written.failures[:FAILURES_SHOWN]:
                st.text(f"{failure.bucket}: {'; '.join(failure.errors)}")
                st.code(failure.raw_text or "(no reply)", language=None, wrap_lines=True)
