"""Models: every distilled student, where it came from, how well it did; try one on a query, or delete it."""

import streamlit as st

from dashboard import components, model_views, state
from dashboard.widgets import notices

st.title("Models")
st.caption(
    "Custom models made by distillation jobs. Each keeps a manifest of how it was made (dataset hash, teacher, "
    "prompt version, seed, hyperparameters) so a run can be traced and repeated."
)
notices.show(notices.PAGE)
current = state.studio()
registry = current.backend.models()
try:
    models = registry.list()
    job_names = state.job_names()
    dataset_names = {d.id: d.name for d in current.backend.datasets().list()}
except Exception as exc:  # e.g. a locked database
    components.show_error(exc)
    st.stop()
if not models:
    model_views.list_notice(registry)
    model_views.empty_state(state.PAGES_DIR / "distillation.py")
    st.stop()

model_views.list_notice(registry)
model_views.model_table(models, job_names, dataset_names)
selected = model_views.with_lineage(registry, model_views.pick_model(models))

st.subheader("Manifest")
model_views.model_details(selected, job_names, dataset_names)

st.subheader("Try it")
model_views.try_model_box(selected)

st.subheader("Delete")
model_views.delete_control(registry, selected)
