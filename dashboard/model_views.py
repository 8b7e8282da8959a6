"""The Models page's pieces: the list of custom models, a model's manifest, a try-it box and a guarded delete.

Model and user text (names, reasoning, queries) is rendered with st.text / st.code / st.json; inside an alert box
(a markdown body) it is escaped with components.plain_markdown first, so it shows exactly as written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd
import streamlit as st

from core.distill.artifact import JSON_NAME, StudentArtifactError
from core.distill.student_model import StudentManifest
from core.model_registry import HELDOUT_MAE, HELDOUT_N, CustomModel, ModelRegistry
from core.routers.student import StudentRouter
from dashboard import components, state

MODEL_PARAM = "model"
PICK_KEY = "models_pick"
DELETE_CONFIRM_KEY = "models_delete_confirm"
TRY_QUERY_KEY = "models_try_query"
TRY_RESULT_KEY = "models_try_result"
PROBLEM_KEY = "models_problem"
TRY_EXAMPLE = "dog barking loudly"
SHOWN_DIGITS = 4


def format_size(size_bytes: int) -> str:
    if size_bytes < 1024:
        return f"{size_bytes} B"
    if size_bytes < 1024 * 1024:
        return f"{size_bytes / 1024:,.0f} KB"
    return f"{size_bytes / (1024 * 1024):,.1f} MB"


def format_share(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def format_rubric(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f} / 5"


def format_time(timestamp: str | None) -> str:
    """A store timestamp (UTC, 'YYYY-MM-DD HH:MM:SS.fff') to the minute."""
    return f"{timestamp[:16]} UTC" if timestamp else "–"


def empty_state(distillation_page: Path) -> None:
    st.info(
        "No models yet: run a distillation. Each finished job registers its student here.",
        icon=":material/deployed_code:",
    )
    components.page_link_if_listed(distillation_page, "Open Distillation", ":material/school:")


def model_table(models: Sequence[CustomModel], job_names: Mapping[str, str], dataset_names: Mapping[str, str]) -> None:
    rows = [
        {
            "name": model.name,
            "created": format_time(model.created_at),
            "job": job_names.get(model.job_id or "", model.job_id or "–"),
            "dataset": dataset_names.get(model.dataset_id or "", model.dataset_id or "–"),
            "size": format_size(model.size_bytes),
            "agreement": format_share(model.heldout_agreement),
            "rubric": format_rubric(model.heldout_rubric),
        }
        for model in models
    ]
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        width="stretch",
        column_config={
            "name": st.column_config.TextColumn("Model"),
            "created": st.column_config.TextColumn("Created"),
            "job": st.column_config.TextColumn("Source job"),
            "dataset": st.column_config.TextColumn("Dataset"),
            "size": st.column_config.TextColumn("Size"),
            "agreement": st.column_config.TextColumn(
                "Held-out agreement", help="Share of held-out queries whose top channel matches the teacher's."
            ),
            "rubric": st.column_config.TextColumn(
                "Held-out rubric", help="Mean weights-rubric score, 1-5 (5: every weight within 0.05 of the teacher)."
            ),
        },
    )


def pick_model(models: Sequence[CustomModel]) -> CustomModel:
    """The model named by the "model" query parameter (so a reload or a link returns to it), else the newest."""
    by_id = {model.id: model for model in models}
    wanted = st.query_params.get(MODEL_PARAM)
    if wanted is not None and wanted not in by_id:
        st.warning(
            "The model in the address is gone (it may have been deleted): showing the newest one.",
            icon=":material/help:",
        )
    chosen = wanted if wanted in by_id else models[0].id
    st.session_state[PICK_KEY] = chosen
    st.selectbox(
        "Model", list(by_id), key=PICK_KEY, format_func=lambda model_id: by_id[model_id].name, on_change=_picked
    )
    st.query_params[MODEL_PARAM] = chosen
    return by_id[chosen]


def _picked() -> None:
    st.query_params[MODEL_PARAM] = st.session_state[PICK_KEY]


def model_details(model: CustomModel, job_names: Mapping[str, str], dataset_names: Mapping[str, str]) -> None:
    """Where the model came from (data hash, teacher, prompt, seed), how it was trained and how well it did."""
    try:
        manifest = read_manifest(model)
    except StudentArtifactError as exc:
        st.error("This model's files cannot be used, so it cannot route queries.", icon=":material/error:")
        st.text(str(exc))
        manifest = None
    held = (manifest.heldout_metrics if manifest else None) or {}
    figures = st.columns(4)
    figures[0].metric(
        "Held-out agreement",
        format_share(model.heldout_agreement),
        help="Share of held-out queries whose top channel matches the teacher's.",
    )
    figures[1].metric(
        "Held-out rubric",
        format_rubric(model.heldout_rubric),
        help="Mean weights-rubric score (docs/ARCHITECTURE.md), 1 to 5.",
    )
    mae = model.metrics.get(HELDOUT_MAE, held.get("mae"))
    figures[2].metric(
        "Mean weight error",
        "–" if mae is None else f"{mae:.3f}",
        help="Mean absolute difference from the teacher's weights on held-out queries.",
    )
    count = model.metrics.get(HELDOUT_N, held.get("n"))
    figures[3].metric("Held-out queries", "–" if count is None else f"{int(count):,}")

    st.markdown("**Provenance**")
    facts = (
        ("Source job", job_names.get(model.job_id or "", model.job_id or "–")),
        ("Dataset", dataset_names.get(model.dataset_id or "", model.dataset_id or "–")),
        ("Teacher", (manifest.teacher_id if manifest else None) or "–"),
        ("Prompt version", (manifest.prompt_version if manifest else None) or "–"),
        ("Seed", str(manifest.seed) if manifest else "–"),
        ("Created", format_time(model.created_at)),
        ("Size", format_size(model.size_bytes)),
        ("Backend", model.backend),
    )
    for row in (facts[:4], facts[4:]):
        for column, (label, value) in zip(st.columns(4), row, strict=True):
            with column:
                components.fact(label, value)
    components.fact("Dataset sha256", (manifest.dataset_sha256 if manifest else None) or "–")
    components.fact("Files", str(model.path) if model.path else (model.arn or "–"))

    hyper_column, training_column, heldout_column = st.columns(3, gap="large")
    hyper_column.markdown("**Hyperparameters**")
    hyper_column.json(manifest.hyperparameters if manifest else {}, expanded=True)
    training_column.markdown("**Training metrics**")
    training_column.json(readable_numbers(manifest.training_metrics if manifest else {}), expanded=True)
    heldout_column.markdown("**Held-out metrics**")
    heldout_column.json(readable_numbers(held), expanded=True)


def readable_numbers(values: Mapping[str, object], digits: int = SHOWN_DIGITS) -> dict[str, object]:
    """Metrics with floats cut to a few significant digits for reading (the manifest keeps them whole)."""
    return {key: float(f"{value:.{digits}g}") if isinstance(value, float) else value for key, value in values.items()}


def read_manifest(model: CustomModel) -> StudentManifest:
    return student_router(model).model.manifest


def student_router(model: CustomModel) -> StudentRouter:
    """The model as a router (id `student:<model id>`), loaded once per version of its files.

    A broken folder or a model that lives on Bedrock raises StudentArtifactError with a sentence to show.
    """
    if model.path is None:
        raise StudentArtifactError(
            f"Model {model.name!r} lives on Amazon Bedrock ({model.arn}): deploy it to route queries with it."
        )
    return _cached_router(str(model.path), model.id, _artifact_stamp(model.path))


def _artifact_stamp(folder: Path) -> int:
    """Changes whenever the model's files are replaced, so the cache never serves stale numbers."""
    try:
        return (folder / JSON_NAME).stat().st_mtime_ns
    except OSError:
        return -1


@st.cache_resource(max_entries=8, show_spinner=False)
def _cached_router(path: str, model_id: str, stamp: int) -> StudentRouter:
    # A local student costs nothing per query, so no price table is needed.
    return StudentRouter.from_directory(path, router_id=f"student:{model_id}")


def try_model_box(model: CustomModel) -> None:
    """Route a query through this model on this machine and show its weights and reasoning."""
    st.caption("Runs on this machine: instant, offline and free.")
    st.session_state.setdefault(TRY_QUERY_KEY, TRY_EXAMPLE)
    with st.form("models_try_form", border=False, enter_to_submit=True):
        st.text_input("Search query", key=TRY_QUERY_KEY, placeholder="Describe the moment you are looking for")
        routed = st.form_submit_button("Route with this model", type="primary", icon=":material/alt_route:")
    if routed:
        try:
            result = student_router(model).route(st.session_state[TRY_QUERY_KEY])
        except Exception as exc:  # a broken artifact or a bad query: say so, keep the page usable
            components.show_error(exc)
        else:
            st.session_state[TRY_RESULT_KEY] = (model.id, result)
    last = st.session_state.get(TRY_RESULT_KEY)
    if last is not None and last[0] == model.id:
        with st.container(border=True):
            components.route_result_view(last[1], model.name)


def delete_control(registry: ModelRegistry, model: CustomModel) -> None:
    """Delete behind a confirmation; refused with the registry's message while a deployment uses the model."""
    problem = st.session_state.pop(PROBLEM_KEY, None)
    if problem:
        st.error(components.plain_markdown(problem), icon=":material/error:")
    if st.session_state.get(DELETE_CONFIRM_KEY) != model.id:
        st.button("Delete model", key="models_delete", icon=":material/delete:", on_click=_ask_delete, args=(model.id,))
        return
    with st.container(border=True):
        st.warning("Delete this model and its files? This cannot be undone.", icon=":material/delete_forever:")
        st.text(model.name)
        with st.container(horizontal=True):
            confirmed = st.button(
                "Delete for good", key="models_delete_confirm_button", type="primary", icon=":material/delete_forever:"
            )
            st.button("Cancel", key="models_delete_cancel", on_click=_cancel_delete)
    if confirmed:
        st.session_state.pop(DELETE_CONFIRM_KEY, None)
        try:
            registry.delete(model.id)
        except Exception as exc:  # e.g. in use by a deployment: the message says what to do
            st.session_state[PROBLEM_KEY] = state.explain_error(exc)
        else:
            components.flash(f"Deleted model {model.name}.")
            st.session_state.pop(TRY_RESULT_KEY, None)
            st.query_params.pop(MODEL_PARAM, None)
        st.rerun()


def _ask_delete(model_id: str) -> None:
    st.session_state[DELETE_CONFIRM_KEY] = model_id


def _cancel_delete() -> None:
    st.session_state.pop(DELETE_CONFIRM_KEY, None)
