"""The Models page's pieces: the list of custom models, a model's manifest, a try-it box and a guarded delete.

Model and user text (names, reasoning, queries) is rendered with st.text / st.code / st.json; inside an alert box
(a markdown body) it is escaped with components.plain_markdown first, so it shows exactly as written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from core.distill.artifact import JSON_NAME, StudentArtifactError, load_student
from core.distill.student_model import StudentManifest
from core.model_registry import HELDOUT_MAE, HELDOUT_N, CustomModel
from dashboard import components, state
from dashboard.widgets import confirm, notices, picker
from dashboard.widgets.formatting import format_rubric, format_share, format_size, format_time, readable_numbers
from dashboard.widgets.layout import Figure, fact_row, figure_row, wrapping_row
from dashboard.widgets.try_router import try_router_box

if TYPE_CHECKING:
    from core.model_registry import ModelRegistry

MODEL_PARAM = "model"
PICK_KEY = "models_pick"
DELETE_KEY = "models_delete"
TRY_KEY = "models_try"
TRY_QUERY_KEY = f"{TRY_KEY}_query"
TRY_ROUTE_KEY = f"{TRY_KEY}_route"
PROBLEMS = "models_delete"
TRY_EXAMPLE = "dog barking loudly"
# Wide enough for the longest key and its value on one line ("min_improvement": 0.0001).
JSON_BLOCK_WIDTH_PX = 300


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
            "job": job_names.get(model.job_id or "", model.job_id or "–"),
            "dataset": dataset_names.get(model.dataset_id or "", model.dataset_id or "–"),
            "agreement": format_share(model.heldout_agreement),
            "rubric": format_rubric(model.heldout_rubric),
        }
        for model in models
    ]
    # Widths that fit 1024 px with every column in view (wider screens share out the rest); when each was made,
    # its size and the rest of its lineage are in the selected model's manifest below.
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        width="stretch",
        column_config={
            "name": st.column_config.TextColumn("Model", width=180),
            "job": st.column_config.TextColumn("Source job", width=170),
            "dataset": st.column_config.TextColumn("Dataset", width=160),
            "agreement": st.column_config.TextColumn(
                "Agreement", width=90, help="Held out: share of queries whose top channel matches the teacher's."
            ),
            "rubric": st.column_config.TextColumn(
                "Rubric",
                width=80,
                help="Held out: mean weights-rubric score, 1-5 (5: every weight within 0.05 of the teacher).",
            ),
        },
    )


def pick_model(models: Sequence[CustomModel]) -> CustomModel:
    """The model named by the "model" query parameter (so a reload or a link returns to it), else the newest."""
    return picker.pick(models, param=MODEL_PARAM, key=PICK_KEY, label="Model")


def list_notice(registry: ModelRegistry) -> None:
    """Why part of the list could not be read just now (e.g. the Bedrock custom models), when it could not."""
    notice = registry.notice()
    if notice:
        st.warning(components.plain_markdown(notice), icon=":material/cloud_off:")


def with_lineage(registry: ModelRegistry, model: CustomModel) -> CustomModel:
    """The model as the registry describes it one by one (a Bedrock model's lineage comes from get_custom_model);
    the listed one when that cannot be read (the registry's notice says why)."""
    if model.arn is None:
        return model
    try:
        return registry.get(model.id)
    except Exception as exc:  # e.g. throttled or signed out: the listed facts are shown, with the reason
        st.warning(components.plain_markdown(state.explain_error(exc)), icon=":material/cloud_off:")
        return model


def model_details(model: CustomModel, job_names: Mapping[str, str], dataset_names: Mapping[str, str]) -> None:
    """Where the model came from (data hash, teacher, prompt, seed), how it was trained and how well it did."""
    if model.path is None:  # no files here: a model that lives in the cloud, described by its lineage
        remote_details(model, job_names, dataset_names)
        return
    try:
        manifest = read_manifest(model)
    except StudentArtifactError as exc:
        st.error("This model's files cannot be used, so it cannot route queries.", icon=":material/error:")
        st.text(str(exc))
        manifest = None
    held = (manifest.heldout_metrics if manifest else None) or {}
    mae = model.metrics.get(HELDOUT_MAE, held.get("mae"))
    count = model.metrics.get(HELDOUT_N, held.get("n"))
    figure_row(
        [
            Figure(
                "Held-out agreement",
                format_share(model.heldout_agreement),
                "Share of held-out queries whose top channel matches the teacher's.",
            ),
            Figure(
                "Held-out rubric",
                format_rubric(model.heldout_rubric),
                "Mean weights-rubric score (docs/ARCHITECTURE.md), 1 to 5.",
            ),
            Figure(
                "Mean weight error",
                "–" if mae is None else f"{mae:.3f}",
                "Mean absolute difference from the teacher's weights on held-out queries.",
            ),
            Figure("Held-out queries", "–" if count is None else f"{int(count):,}"),
        ]
    )

    st.markdown("**Provenance**")
    fact_row(
        [
            ("Source job", job_names.get(model.job_id or "", model.job_id or "–")),
            ("Dataset", dataset_names.get(model.dataset_id or "", model.dataset_id or "–")),
            ("Teacher", (manifest.teacher_id if manifest else None) or "–"),
            ("Prompt version", (manifest.prompt_version if manifest else None) or "–"),
            ("Seed", str(manifest.seed) if manifest else "–"),
            ("Created", format_time(model.created_at)),
            ("Size", format_size(model.size_bytes)),
            ("Backend", model.backend),
        ]
    )
    fact_row([("Dataset sha256", (manifest.dataset_sha256 if manifest else None) or "–")])
    fact_row([("Files", str(model.path) if model.path else (model.arn or "–"))])

    # Side by side where they fit, one under another on a narrow screen: their keys never break.
    blocks = (
        ("Hyperparameters", manifest.hyperparameters if manifest else {}),
        ("Training metrics", readable_numbers(manifest.training_metrics if manifest else {})),
        ("Held-out metrics", readable_numbers(held)),
    )
    with wrapping_row(gap="large"):
        for title, values in blocks:
            with st.container(width=JSON_BLOCK_WIDTH_PX):
                st.markdown(f"**{title}**")
                st.json(values, expanded=True)


LINEAGE_WORDS = {
    "status": "Status",
    "base_model": "Base model",
    "teacher": "Teacher",
    "training_data": "Training data",
    "job_name": "Job on Amazon Bedrock",
    "max_response_length": "Longest teacher answer",
    "training_loss": "Training loss",
    "output": "Job output",
    "origin": "Origin",
}


def remote_details(model: CustomModel, job_names: Mapping[str, str], dataset_names: Mapping[str, str]) -> None:
    """A model without files here: its source job and dataset in this studio, and its lineage as the service tells
    it (base model, teacher, training data, job), every value as plain text."""
    loss = model.metrics.get("training_loss", model.lineage.get("training_loss"))
    figure_row(
        [
            Figure("Training loss", "–" if loss is None else f"{float(loss):.3f}", "The job's last training loss."),
            Figure("Status", str(model.lineage.get("status") or "–")),
        ]
    )
    st.markdown("**Lineage**")
    fact_row(
        [
            ("Source job", job_names.get(model.job_id or "", model.job_id or "–")),
            ("Dataset", dataset_names.get(model.dataset_id or "", model.dataset_name or model.dataset_id or "–")),
            ("Created", format_time(model.created_at)),
            ("Backend", model.backend),
        ]
    )
    shown = [(LINEAGE_WORDS[key], str(model.lineage[key])) for key in LINEAGE_WORDS if key in model.lineage]
    for label, value in shown:  # ARNs and URIs are long: one a row, so none is cut at 1024 px
        fact_row([(label, value)])
    fact_row([("ARN", model.arn or "–")])
    with st.expander("Everything the service reports"):
        st.json(model.lineage, expanded=True)


def read_manifest(model: CustomModel) -> StudentManifest:
    """How the model was made, read once per version of its files; a broken folder or a model that lives on
    Bedrock raises StudentArtifactError with a sentence to show."""
    if model.path is None:
        raise StudentArtifactError(
            f"Model {model.name!r} lives on Amazon Bedrock ({model.arn}): deploy it to route queries with it."
        )
    return _cached_manifest(str(model.path), _artifact_stamp(model.path))


def _artifact_stamp(folder: Path) -> int:
    """Changes whenever the model's files are replaced, so the cache never serves stale numbers."""
    try:
        return (folder / JSON_NAME).stat().st_mtime_ns
    except OSError:
        return -1


@st.cache_resource(max_entries=8, show_spinner=False)
def _cached_manifest(path: str, stamp: int) -> StudentManifest:
    return load_student(path).manifest


def try_model_box(model: CustomModel) -> None:
    """Route a query through this model (router id `student:<model id>`) and show its weights and reasoning."""
    if model.path is None:
        st.info(
            components.plain_markdown(f"{model.name} lives on Amazon Bedrock: deploy it to route queries with it."),
            icon=":material/cloud:",
        )
        return
    try_router_box(
        [f"student:{model.id}"],
        labels={f"student:{model.id}": model.name},
        key=TRY_KEY,
        examples=(),
        route_label="Route with this model",
        initial_query=TRY_EXAMPLE,
    )


def delete_control(registry: ModelRegistry, model: CustomModel) -> None:
    """Delete behind a confirmation; refused with the registry's message while a deployment uses the model."""
    notices.show(PROBLEMS)
    if confirm.waiting(DELETE_KEY) != model.id:
        st.button(
            "Delete model", key=DELETE_KEY, icon=":material/delete:", on_click=confirm.ask, args=(DELETE_KEY, model.id)
        )
        return
    where = "from Amazon Bedrock (its storage stops billing)" if model.arn else "and its files"
    confirm.confirm_box(
        DELETE_KEY,
        f"Delete this model {where}? This cannot be undone.",
        detail=model.name,
        confirm="Delete for good",
        icon=":material/delete_forever:",
        confirm_icon=":material/delete_forever:",
        on_confirm=lambda model_id: _delete(registry, model_id, model.name),
    )


def _delete(registry: ModelRegistry, model_id: str, name: str) -> None:
    # e.g. in use by a deployment: the registry's message says what to do
    # Confirmed in the box above; still refused while a deployment uses it (the registry's sentence says which).
    if notices.attempt(PROBLEMS, lambda: registry.delete(model_id, confirm=True)) is not None:
        notices.success(notices.PAGE, f"Deleted model {name}.")
        picker.choose(MODEL_PARAM, None)
