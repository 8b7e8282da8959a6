"""Deployments: serve a distilled model at an endpoint, see which one is the active student, test, swap, delete."""

import streamlit as st

from dashboard import components, deployment_views, state
from dashboard.widgets import notices

st.title("Deployments")
st.caption(
    "A deployment puts a model behind an endpoint under a name. It is Creating until the model has loaded and "
    "answered a self-test, then Active. The one set as the active student is what the router id `student` uses."
)
notices.show(notices.PAGE)
current = state.studio()
try:
    service = state.deployments()
    registry = current.backend.models()
    models = [model for model in registry.list() if service.deployable(model)]
except Exception as exc:  # e.g. a locked database, or a backend without deployments
    components.show_error(exc)
    st.stop()
if registry.notice():
    st.info(components.plain_markdown(registry.notice() or ""), icon=":material/sync_problem:")

found = deployment_views.read_deployments(service)

st.subheader("Deploy a model")
with st.container(border=True):
    deployment_views.create_form(service, models, {deployment.name for deployment in found.deployments})

st.subheader("Deployments")
deployment_views.deployments_section(service, models, found)
