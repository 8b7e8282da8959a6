"""Distillation: start a job that teaches the compact student from a teacher's labels, and watch it run."""

import streamlit as st

from dashboard import components, distillation_views, state
from dashboard.widgets import notices

st.title("Distillation")
st.caption(
    "A distillation job teaches a small student router to copy a teacher's weights: it validates the dataset, "
    "labels and splits it, trains epoch by epoch and scores the student on held-out queries. Jobs run in their "
    "own process, so they keep going when you leave this page."
)
notices.show(notices.PAGE)
current = state.studio()
try:
    runner = state.jobs()
except Exception as exc:  # e.g. a locked database
    components.show_error(exc)
    st.stop()

st.subheader("Start a job")
with st.container(border=True):
    distillation_views.launch_form(current, runner)

st.subheader("Jobs")
distillation_views.jobs_section(current, runner)
