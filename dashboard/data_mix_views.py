"""The Data Mix page's mix pieces: mix controls, the teacher prompt, generation, the generated set and the save
form (the dataset library, validation and S3 upload are in dashboard.dataset_views).

State lives in plain session keys (the mix, the prompt, the generated set), so it survives reruns and leaving the
page; widget keys are re-seeded from them before the widgets are drawn.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st
from pydantic import ValidationError

from core.datasets.library import MAX_DATASET_NAME
from core.labelling import LabelFailure, prompt_version_of
from core.naming import default_dataset_name
from core.prompts import DEFAULT_TEACHER_TEMPLATE, QUERY_PLACEHOLDER, RouterPrompt, teacher_prompt
from core.routers.base import Router
from core.schema import MODALITIES
from core.synth import DataMix
from core.synth.mix import GROUPS
from core.synth.pipeline import Synthesis, synthesise
from core.synth.quality import diversity
from dashboard import components, state
from dashboard import data_mix_charts as charts
from dashboard.dataset_views import select_dataset
from dashboard.widgets import confirm, drafts, notices
from dashboard.widgets.checks import Checks
from dashboard.widgets.formatting import format_usd, markdown_usd, preview
from dashboard.widgets.layout import Figure, fact_row, figure_row, wrapping_row

if TYPE_CHECKING:
    from core.backends import Backend
    from core.datasets.library import DatasetLibrary

MIX_KEY = "data_mix_mix"
TOTAL_KEY = "data_mix_total"
SEED_KEY = "data_mix_seed"
TERMS_KEY = "data_mix_terms"
PROMPT_KEY = "data_mix_prompt_template"
PROMPT_WIDGET_KEY = "data_mix_prompt_text"
RESULT_KEY = "data_mix_result"
GENERATE_KEY = "data_mix_generate"
SAVE_NOTICES = "data_mix_save"
SAVE_NAME_KEY = "data_mix_save_name"
# The key of the generated set last saved to the library (a set not saved is lost when another replaces it).
SAVED_KEY = "data_mix_saved"
# An unsaved set a draft recorded, waiting to be made again from its mix and prompt.
RECREATE_KEY = "data_mix_recreate"
DRAFT_PAGE = "data_mix"

PREVIEW_ROWS = 200
# Wide enough for the longest label ("transcription-led") on one line; as many a row as the screen holds.
SLIDER_WIDTH_PX = 150
PREVIEW_COLUMNS = ("query", "focus", *MODALITIES)
# Each header whole, and the table's columns all in view at 1024 px.
PREVIEW_WEIGHT_WIDTHS = {"visual": 64, "audio": 60, "transcription": 108, "metadata": 84}
FAILURES_SHOWN = 20
GROUP_TITLES = {
    "focus": ("Focus", "which channel should lead the query"),
    "difficulty": ("Difficulty", "how hard the query is to route"),
    "domain": ("Domain", "what kind of video it is about"),
}


# ---- mix controls ---------------------------------------------------------------------------------------------


def current_mix() -> DataMix:
    """The mix in force (a plain session key, so it survives leaving the page)."""
    mix = st.session_state.get(MIX_KEY)
    if not isinstance(mix, DataMix):
        mix = st.session_state[MIX_KEY] = DataMix()
    return mix


def share_key(group: str, key: str) -> str:
    return f"data_mix_share_{group}_{key}"


def percent(share: float) -> int:
    return round(share * 100)


def parse_terms(text: str) -> list[str]:
    """Custom vocabulary typed one term a line (commas also separate terms)."""
    return [term.strip() for line in text.splitlines() for term in line.split(",") if term.strip()]


def _widget_values(mix: DataMix) -> dict[str, object]:
    values: dict[str, object] = {
        TOTAL_KEY: str(mix.total),
        SEED_KEY: str(mix.seed),
        TERMS_KEY: "\n".join(mix.custom_vocabulary),
    }
    values.update(_share_values(mix))
    return values


def _share_values(mix: DataMix) -> dict[str, object]:
    return {
        share_key(group, key): percent(share) for group, shares in mix.groups().items() for key, share in shares.items()
    }


def _seed_widgets(mix: DataMix) -> None:
    for key, value in _widget_values(mix).items():
        st.session_state.setdefault(key, value)


def _set_mix(mix: DataMix) -> None:
    """Keep the mix and move every slider to it (in a callback, or in the script before the sliders are drawn)."""
    st.session_state[MIX_KEY] = mix
    st.session_state.update(_share_values(mix))


def _on_share(group: str, key: str) -> None:
    _set_mix(current_mix().with_share(group, key, st.session_state[share_key(group, key)] / 100))


def _first_reason(exc: ValidationError) -> str:
    error = exc.errors()[0]
    reason = error.get("ctx", {}).get("error")
    return f"{reason or error['msg']}."


def mix_controls(checks: Checks) -> DataMix | None:
    """Total, seed, custom vocabulary and the three share groups; moving one share rebalances its group.

    The mix the boxes show, or None while one of them holds something the mix cannot take (its problem is in
    `checks`, so Generate stays off): nothing runs with a number the form no longer shows.
    """
    mix = current_mix()
    _seed_widgets(mix)
    total_column, seed_column, terms_column = st.columns([1, 1, 2])
    with total_column:
        total = checks.number(
            "Queries to generate",
            DataMix,
            "total",
            key=TOTAL_KEY,
            help="A Bedrock distillation job takes the same range of examples.",
        )
    with seed_column:
        seed = checks.number(
            "Seed", DataMix, "seed", key=SEED_KEY, help="The same mix and seed always give the same queries."
        )
    with terms_column:
        st.text_area(
            "Custom vocabulary (optional, one term a line)",
            key=TERMS_KEY,
            height=102,
            placeholder="Your product names, people, jargon…",
            help="Your own terms get a 'custom' domain of their own, with queries built around them.",
        )
        shown = _mix_as_shown(mix, total, seed, parse_terms(st.session_state[TERMS_KEY]), checks)
    if shown is not None and shown != mix:
        _set_mix(shown)
        mix = shown
    counts = mix.counts() if shown is not None else None
    for group in GROUPS:
        _share_group(group, mix.groups()[group], counts[group] if counts else None, mix.total if counts else None)
    return shown


def _mix_as_shown(
    mix: DataMix, total: int | None, seed: int | None, terms: list[str], checks: Checks
) -> DataMix | None:
    """The mix with the boxes' total, seed and terms, or None (and the terms' problem) when one cannot be used."""
    if terms != mix.custom_vocabulary:
        try:
            mix = mix.with_custom_terms(terms)
        except ValidationError as exc:
            checks.require("The custom vocabulary cannot be used: " + _first_reason(exc), here=True)
            return None
    if total is None or seed is None:
        return None
    return mix if (total, seed) == (mix.total, mix.seed) else mix.model_copy(update={"total": total, "seed": seed})


def _share_group(group: str, shares: dict[str, float], counts: dict[str, int] | None, total: int | None) -> None:
    """One group's sliders, as many a row as fit; counts are left out while the total box holds no usable number."""
    title, purpose = GROUP_TITLES[group]
    with st.container(border=True):
        of_total = f" of {total:,} queries" if total is not None else ""
        st.markdown(f"**{title}** · {purpose} · {sum(percent(s) for s in shares.values())}%{of_total}")
        with wrapping_row(gap="small"):
            for key in shares:
                with st.container(width=SLIDER_WIDTH_PX):
                    label = f"{key}-led" if group == "focus" and key != "mixed" else key
                    st.slider(
                        label,
                        0,
                        100,
                        step=1,
                        format="%d%%",
                        key=share_key(group, key),
                        on_change=_on_share,
                        args=(group, key),
                    )
                    st.caption(f"{counts[key]:,} queries" if counts is not None else "– queries")


# ---- teacher prompt -------------------------------------------------------------------------------------------


def _on_prompt() -> None:
    st.session_state[PROMPT_KEY] = st.session_state[PROMPT_WIDGET_KEY]


def _reset_prompt() -> None:
    st.session_state[PROMPT_KEY] = st.session_state[PROMPT_WIDGET_KEY] = DEFAULT_TEACHER_TEMPLATE


def current_prompt() -> tuple[RouterPrompt | None, str | None]:
    """The prompt in force, or None and the sentence saying why the edited text cannot be used."""
    template = st.session_state.setdefault(PROMPT_KEY, DEFAULT_TEACHER_TEMPLATE)
    try:
        return teacher_prompt(template), None
    except ValueError:
        return None, (
            f"The teacher prompt must contain {QUERY_PLACEHOLDER} where each query goes: put it back or reset "
            "the prompt."
        )


def prompt_editor(teacher: Router | None, teacher_name: str, checks: Checks) -> RouterPrompt | None:
    """The teacher prompt, viewable and editable; an edit is a new prompt version recorded in the manifest."""
    prompt, problem = current_prompt()
    st.session_state.setdefault(PROMPT_WIDGET_KEY, st.session_state[PROMPT_KEY])
    with st.expander("Teacher prompt", icon=":material/edit_note:", expanded=problem is not None):
        if teacher is not None and prompt_version_of(teacher) is None:
            st.caption(
                f"{teacher_name} routes by its cue lexicons and does not read this prompt. It is what a Bedrock "
                "teacher receives for every query; its version is recorded in the dataset's manifest either way."
            )
        else:
            st.caption(
                f"{teacher_name} receives this prompt for every query, with the query in place of {QUERY_PLACEHOLDER}."
            )
        st.text_area("Prompt template", key=PROMPT_WIDGET_KEY, on_change=_on_prompt, height=320)
        st.button(
            "Reset to the default prompt",
            key="data_mix_prompt_reset",
            on_click=_reset_prompt,
            icon=":material/restart_alt:",
            disabled=st.session_state[PROMPT_KEY] == DEFAULT_TEACHER_TEMPLATE,
        )
    if prompt is None:  # current_prompt says why
        checks.require(problem, here=True)
    else:
        edited = " (edited)" if st.session_state[PROMPT_KEY] != DEFAULT_TEACHER_TEMPLATE else ""
        st.caption(f"Prompt version: {prompt.version}{edited}")
    return prompt


# ---- generation -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GeneratedMix:
    """A generated and labelled set with everything the page shows of it, computed once."""

    key: str
    synthesis: Synthesis
    prompt: RouterPrompt
    rows: pd.DataFrame
    figures: dict[str, float | int]
    weight_counts: pd.DataFrame
    breakdowns: dict[str, pd.DataFrame]
    length_counts: pd.DataFrame
    teacher_name: str
    billable: bool

    @property
    def failures(self) -> list[LabelFailure]:
        return self.synthesis.run.failures if self.synthesis.run is not None else []

    @property
    def preview(self) -> pd.DataFrame:
        return self.rows.head(PREVIEW_ROWS)


def generation_key(mix: DataMix, prompt: RouterPrompt, backend: Backend) -> str:
    """What a generated set depends on: the mix, the prompt version and who labels it."""
    text = f"{mix.model_dump_json()}|{prompt.version}|{backend.label}|{backend.teacher_name}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def summarise(synthesis: Synthesis, key: str, prompt: RouterPrompt, teacher_name: str, billable: bool) -> GeneratedMix:
    decisions = synthesis.run.decisions if synthesis.run is not None else [None] * len(synthesis.queries)
    rows = pd.DataFrame(
        {
            "query": [q.query for q in synthesis.queries],
            "focus": [q.focus for q in synthesis.queries],
            "difficulty": [q.difficulty for q in synthesis.queries],
            "domain": [q.domain for q in synthesis.queries],
            **{m: [getattr(d, m) if d is not None else None for d in decisions] for m in MODALITIES},
            "reasoning": [d.reasoning if d is not None else "" for d in decisions],
        }
    )
    leads = [charts.leading_channel(d) for d in decisions if d is not None]
    counts = synthesis.mix.counts()
    breakdowns = {}
    for group in GROUPS:
        series = {charts.TARGET: counts[group], charts.GENERATED: rows[group].value_counts().to_dict()}
        if group == "focus":
            series[charts.TEACHER_LEAD] = pd.Series(leads, dtype=str).value_counts().to_dict()
        breakdowns[group] = charts.target_vs_actual(list(counts[group]), series)
    figures = {**diversity(synthesis.queries), "duplicates_removed": synthesis.duplicates_removed}
    return GeneratedMix(
        key=key,
        synthesis=synthesis,
        prompt=prompt,
        rows=rows,
        figures=figures,
        weight_counts=charts.weight_counts(rows[list(MODALITIES)]),
        breakdowns=breakdowns,
        length_counts=charts.length_counts(rows["query"].str.split().str.len()),
        teacher_name=teacher_name,
        billable=billable,
    )


def generated_mix() -> GeneratedMix | None:
    return st.session_state.get(RESULT_KEY)


def labelling_teacher(backend: Backend, prompt: RouterPrompt) -> Router:
    """A fresh teacher for one labelling run (not the page's cached one); one that reads a prompt gets `prompt`."""
    return backend.teacher(prompt)


def page_teacher() -> tuple[Router | None, str | None]:
    """The backend's teacher for what the page shows about it, or None and why it cannot be used now."""
    status = state.backend_status()
    if not status.ready:
        return None, (f"{status.label} is not ready, so generating is off. Open Settings in the sidebar to fix it.")
    try:
        return state.router("teacher"), None
    except Exception as exc:  # e.g. Bedrock without a usable session: shown as a sentence
        return None, state.explain_error(exc)


def generate_controls(
    current: state.Studio,
    mix: DataMix | None,
    prompt: RouterPrompt | None,
    teacher: Router | None,
    problem: str | None,
    checks: Checks,
) -> None:
    """The Generate button, off while the form holds something it cannot run; a billable teacher shows its
    estimated cost and waits for confirmation."""
    backend = current.backend
    if teacher is None:  # page_teacher says why
        st.warning(components.plain_markdown(problem or ""), icon=":material/block:")
        return
    if teacher.billable:
        st.caption(
            f"Labelled by {backend.teacher_name} on {backend.label}: AWS bills every query, so you see an "
            "estimate and confirm before anything is sent."
        )
    else:
        st.caption(f"Labelled by {backend.teacher_name}, on this machine: free, offline and deterministic.")
    _recreate_unsaved(current, teacher)
    if unsaved_set() is not None:
        st.caption("Generating replaces the unsaved set below.")
    label = f"Generate and label {mix.total:,} queries" if mix is not None else "Generate and label queries"
    clicked = checks.button(label, key=GENERATE_KEY, type="primary", icon=":material/auto_awesome:")
    if mix is None or prompt is None or not checks.ok:
        confirm.forget(GENERATE_KEY)  # an estimate shown for other values no longer holds
        return
    key = generation_key(mix, prompt, backend)
    pending = confirm.waiting(GENERATE_KEY)
    if pending is not None and pending[0] != key:  # the mix or prompt moved on: that estimate no longer holds
        confirm.forget(GENERATE_KEY)
    if clicked:
        result = generated_mix()
        if result is not None and result.key == key:
            st.info(
                "This set is already generated for the mix and prompt in force: change either to make a new one.",
                icon=":material/info:",
            )
        else:
            _start_generation(current, mix, prompt, key)
    agreed = confirm.confirmed(GENERATE_KEY)
    if agreed is not None:
        agreed_key, agreed_teacher, _ = agreed
        _generate(current, mix, prompt, agreed_key, agreed_teacher)
    _confirm_generation(current, mix)


def _recreate_unsaved(current: state.Studio, teacher: Router) -> None:
    """The unsaved set a draft recorded before a reload: made again when that is free (the same mix, prompt and
    seed give the same set); with a billable teacher, Generate does it, reading the labels already bought back
    from the labelling checkpoint."""
    recorded = st.session_state.get(RECREATE_KEY)
    if recorded is None or generated_mix() is not None:
        return
    try:
        mix = DataMix.model_validate(recorded["mix"])
        prompt = teacher_prompt(str(recorded["prompt"]))
        key = str(recorded["key"])
    except (KeyError, TypeError, ValueError):  # a draft from another version of the studio
        st.session_state.pop(RECREATE_KEY, None)
        return
    if key != generation_key(mix, prompt, current.backend):
        st.session_state.pop(RECREATE_KEY, None)
        st.info(
            "The set generated before the reload was labelled by another backend or teacher, so it was not made "
            "again; it was never saved.",
            icon=":material/history:",
        )
        return
    if teacher.billable:
        st.info(
            f"The set of {mix.total:,} queries generated before the reload was not saved. Generate with the same mix "
            "and prompt makes it again: the labels already bought are read back from the labelling checkpoint, "
            "not bought twice.",
            icon=":material/history:",
        )
        return
    st.session_state.pop(RECREATE_KEY, None)
    try:
        made = labelling_teacher(current.backend, prompt)
    except Exception as exc:
        components.show_error(exc)
        return
    if _generate(current, mix, prompt, key, made):
        st.info(
            "The unsaved set generated before the reload is back (the same mix, prompt and seed make the same set); "
            "it is still not saved.",
            icon=":material/history:",
        )


def _start_generation(current: state.Studio, mix: DataMix, prompt: RouterPrompt, key: str) -> None:
    try:
        teacher = labelling_teacher(current.backend, prompt)
    except Exception as exc:
        components.show_error(exc)
        return
    if teacher.billable:
        estimate = teacher.estimate_batch_cost_usd(mix.total)
        confirm.ask(GENERATE_KEY, (key, teacher, estimate))
    else:
        _generate(current, mix, prompt, key, teacher)


def _confirm_generation(current: state.Studio, mix: DataMix) -> None:
    pending = confirm.waiting(GENERATE_KEY)
    if pending is None:
        return
    confirm.confirm_box(
        GENERATE_KEY,
        f"Labelling {mix.total:,} queries calls {current.backend.teacher_name} once per query and AWS bills it: "
        f"about {markdown_usd(pending[2])} (estimated from a typical query before sending).",
        confirm="Confirm and generate",
        icon=":material/payments:",
    )


def _generate(current: state.Studio, mix: DataMix, prompt: RouterPrompt, key: str, teacher: Router) -> bool:
    bar = st.progress(0.0, text="Generating queries…")

    def on_progress(done: int, total: int) -> None:
        bar.progress(done / total if total else 1.0, text=f"Labelling with the teacher: {done:,} of {total:,}")

    try:
        # A paid run checkpoints each batch, so a crash or a closed tab resumes without paying twice.
        synthesis = synthesise(
            mix,
            teacher,
            teacher_id=current.backend.teacher_name,
            prompt=prompt,
            checkpoint_dir=current.settings.data_dir,
            on_progress=on_progress,
        )
        result = summarise(synthesis, key, prompt, current.backend.teacher_name, teacher.billable)
    except Exception as exc:  # a failed run leaves the last set in place
        bar.empty()
        components.show_error(exc)
        return False
    bar.empty()
    st.session_state[RESULT_KEY] = result
    st.session_state.pop(RECREATE_KEY, None)
    st.session_state[SAVE_NAME_KEY] = suggested_name(current.backend.datasets(), mix)
    return True


# ---- the generated set ----------------------------------------------------------------------------------------


def unsaved_set() -> GeneratedMix | None:
    """The generated set shown, while it is not saved in the library."""
    result = generated_mix()
    return result if result is not None and st.session_state.get(SAVED_KEY) != result.key else None


def stale_notice(result: GeneratedMix, mix: DataMix | None, prompt: RouterPrompt | None, backend: Backend) -> None:
    if mix is None or prompt is None or result.key != generation_key(mix, prompt, backend):
        st.info(
            "The mix, the prompt or the backend changed since this set was generated: press Generate to see "
            "the new one. Below is the last set generated.",
            icon=":material/history:",
        )


def quality_figures(result: GeneratedMix) -> None:
    figures = result.figures
    run = result.synthesis.run
    st.caption(f"Labelled by {result.teacher_name}.")
    shown = [Figure("Queries", f"{figures['queries']:,}")]
    if run is not None:
        shown += [Figure("Labelled", f"{run.labelled:,}"), Figure("Label failures", f"{run.failed:,}")]
    shown += [
        Figure("Distinct queries", f"{figures['distinct']:,}", "Ignoring case, punctuation and spacing."),
        Figure(
            "Distinct openings",
            f"{figures['distinct_openings']:,}",
            "Different first two words: a low figure means many queries start alike.",
        ),
        Figure(
            "Length, words",
            f"{figures['mean_words']:.1f} ± {figures['std_words']:.1f}",
            f"Mean and spread; in characters {figures['mean_chars']:.0f} ± {figures['std_chars']:.0f}.",
        ),
        Figure("Vocabulary", f"{figures['vocabulary_size']:,} words", "Distinct words over the whole set."),
        Figure("Duplicates removed", f"{figures['duplicates_removed']:,}", "Near duplicates dropped before labelling."),
    ]
    if result.billable and run is not None:
        shown.append(Figure("Teacher cost", format_usd(run.cost_usd), "What this labelling run cost."))
    figure_row(shown, border=True)


def mix_charts(result: GeneratedMix) -> None:
    st.markdown("**How the teacher weighted each channel**")
    counts = result.weight_counts
    y_max = int(counts["queries"].max()) if len(counts) else 1
    # Two a row: four side by side leave a 1024 px screen too little width for their titles and axes.
    for pair in (MODALITIES[:2], MODALITIES[2:]):
        for column, channel in zip(st.columns(2), pair, strict=True):
            column.altair_chart(charts.weight_histogram(counts, channel, y_max), width="stretch")
    st.caption(
        "Queries per weight step (weights are rounded to 0.05). A tall bar at 0 means the channel is off "
        "for most queries."
    )
    focus_column, difficulty_column = st.columns(2)
    focus_column.altair_chart(charts.breakdown_chart(result.breakdowns["focus"], "focus"), width="stretch")
    focus_column.caption(
        "Target, generated, and the teacher's leading channel: its highest weight (a tie for the lead counts as mixed)."
    )
    difficulty_column.altair_chart(
        charts.breakdown_chart(result.breakdowns["difficulty"], "difficulty"), width="stretch"
    )
    difficulty_column.altair_chart(charts.length_histogram(result.length_counts), width="stretch")
    st.altair_chart(charts.breakdown_chart(result.breakdowns["domain"], "domain"), width="stretch")


def preview_table(result: GeneratedMix) -> None:
    """The first rows: each query, its focus and the teacher's four weights (every column in view at 1024 px);
    the selected row's difficulty, domain and reasoning below."""
    shown = len(result.preview)
    st.markdown(f"**Sample rows** · the first {shown:,} of {len(result.rows):,} · select one to read its reasoning")
    weight_column = {
        m: st.column_config.NumberColumn(m, format="%.2f", width=PREVIEW_WEIGHT_WIDTHS[m]) for m in MODALITIES
    }
    picked = st.dataframe(
        result.preview,
        hide_index=True,
        height=320,
        key="data_mix_preview",
        column_order=PREVIEW_COLUMNS,
        column_config={
            "query": st.column_config.TextColumn("query", width=230),
            "focus": st.column_config.TextColumn("focus", width=100),
            **weight_column,
        },
        on_select="rerun",
        selection_mode="single-row",
    )
    rows = picked.selection.rows if picked is not None else []
    row = result.preview.iloc[rows[0] if rows else 0]
    with st.container(border=True):
        fact_row([("Query", preview(str(row["query"])))])
        fact_row([("Difficulty", str(row["difficulty"])), ("Domain", str(row["domain"]))])
        st.caption("The teacher's reasoning")
        st.text(str(row["reasoning"]) or "(no reasoning: the teacher could not label this query)")


def label_failures(result: GeneratedMix) -> None:
    failures = result.failures
    if not failures:
        return
    st.warning(
        f"The teacher could not label {len(failures):,} queries; they are left out of the dataset.",
        icon=":material/warning:",
    )
    with st.expander(f"Label failures ({len(failures):,})"):
        for failure in failures[:FAILURES_SHOWN]:
            st.text(f"{preview(failure.query)}\n{'; '.join(failure.errors)}")
            st.code(failure.raw_text or "(no reply)", language=None, wrap_lines=True)
        if len(failures) > FAILURES_SHOWN:
            st.caption(f"… and {len(failures) - FAILURES_SHOWN:,} more.")


def suggested_name(library: DatasetLibrary, mix: DataMix) -> str:
    """The default dataset name for this mix, with -2, -3... when the library already holds it."""
    return default_dataset_name(mix.total, mix.seed, lambda name: library.find(name) is not None)


def save_form(library: DatasetLibrary, result: GeneratedMix) -> None:
    if SAVE_NAME_KEY not in st.session_state:
        st.session_state[SAVE_NAME_KEY] = suggested_name(library, result.synthesis.mix)
    if unsaved_set() is not None:
        _unsaved_warning(result)
    with st.form("data_mix_save_form", border=False), st.container(horizontal=True, vertical_alignment="bottom"):
        st.text_input(
            "Dataset name", key=SAVE_NAME_KEY, max_chars=MAX_DATASET_NAME, placeholder="for example router-train-v1"
        )
        st.form_submit_button(
            "Save dataset",
            type="primary",
            icon=":material/save:",
            key="data_mix_save",
            on_click=_save,
            args=(library, result),
        )
    notices.show(SAVE_NOTICES)


def _save(library: DatasetLibrary, result: GeneratedMix) -> None:
    synthesis = result.synthesis
    name = st.session_state.get(SAVE_NAME_KEY, "")
    done = notices.attempt(
        SAVE_NOTICES, lambda: library.save(name, synthesis.records, synthesis.tags, synthesis.manifest_fields)
    )
    if done is not None:
        st.session_state[SAVED_KEY] = result.key
        select_dataset(done.result.id)
        notices.success(
            SAVE_NOTICES,
            f"Saved: {done.result.records:,} {done.result.kind} records. It is selected in Saved datasets below.",
        )


def _unsaved_warning(result: GeneratedMix) -> None:
    """What keeps an unsaved set, and what loses it: a reload or a navigation cannot be stopped, so say it here."""
    if result.billable:
        kept = (
            "A reload of this page keeps its mix and prompt (the address names their draft), and Generate then "
            "makes it again from the labels already bought, kept in the labelling checkpoint."
        )
    else:
        kept = "A reload of this page makes it again from its draft (the address names it)."
    st.warning(
        f"This set is not saved yet. {kept} Generating another set replaces it, and only a saved dataset can be "
        "distilled.",
        icon=":material/save:",
    )


# ---- the page's draft -----------------------------------------------------------------------------------------


def restore_draft() -> None:
    """In a session's first run: the mix, the prompt and the unsaved set of the draft the address names."""
    content = drafts.restore(DRAFT_PAGE)
    if content is None:
        return
    try:
        mix = DataMix.model_validate(content["mix"])
        template = str(content["prompt"])
    except (KeyError, TypeError, ValidationError):  # a draft from another version of the studio
        st.warning(
            "The draft named in the address could not be read: the page starts afresh.", icon=":material/history:"
        )
        return
    st.session_state[MIX_KEY] = mix
    st.session_state.update(_widget_values(mix))
    st.session_state[PROMPT_KEY] = st.session_state[PROMPT_WIDGET_KEY] = template
    unsaved = content.get("unsaved")
    if isinstance(unsaved, dict):
        st.session_state[RECREATE_KEY] = unsaved


def keep_draft() -> None:
    """At the end of every run: the mix, the prompt and the unsaved set (how to make it again), in the draft."""
    content: dict[str, object] = {
        "mix": current_mix().model_dump(mode="json"),
        "prompt": st.session_state.get(PROMPT_KEY, DEFAULT_TEACHER_TEMPLATE),
    }
    result = unsaved_set()
    if result is not None:
        content["unsaved"] = {
            "mix": result.synthesis.mix.model_dump(mode="json"),
            "prompt": result.prompt.template,
            "key": result.key,
        }
    elif RECREATE_KEY in st.session_state:  # not made again yet (a billable teacher waits for Generate)
        content["unsaved"] = st.session_state[RECREATE_KEY]
    fresh = {"mix": DataMix().model_dump(mode="json"), "prompt": DEFAULT_TEACHER_TEMPLATE}
    drafts.keep(DRAFT_PAGE, content, fresh=fresh)
