"""Evaluation: is a router good enough, at what cost and speed? Routers scored on one set, kept in the history."""

import streamlit as st

from dashboard import evaluation_more_views as more
from dashboard import evaluation_result_views as results
from dashboard import evaluation_run_views as runs
from dashboard import evaluation_set_views as sets
from dashboard import state
from dashboard.widgets import notices

st.title("Evaluation")
st.caption(
    "Score routers on one set: quality against the reference, latency and cost, where they go wrong, what a "
    "student-first cascade would recover, and how each run compares with a pinned baseline."
)
notices.show(notices.PAGE)
backend = state.studio().backend
history = backend.evaluations()

st.subheader("Set and routers")
evaluation_set = sets.pick_set(backend.datasets())
labels = runs.router_labels(backend)
router_ids = runs.pick_routers(labels)
if evaluation_set is not None:
    new_run = runs.run_controls(backend, history, evaluation_set, router_ids)
    if new_run is not None:
        results.select_run(new_run)

run = results.shown_run(history)
if run is None:
    st.info("No evaluation yet: choose a set and routers above, then evaluate.", icon=":material/leaderboard:")
    st.stop()
names = results.display_names(run, labels)

st.subheader("Results")
results.run_header(run, history)
results.leaderboard(run, names, history)
results.figure_charts(run, names)
st.subheader("Where routers go wrong")
results.channel_charts(run, names)
results.confusion_view(run, names)
results.slice_view(run, names)
st.subheader("At your volume")
results.projection_view(run, names)
st.subheader("Cascade: the student first, the teacher when unsure")
more.cascade_view(run, names)
st.subheader("LLM-as-judge")
more.judge_view(backend, history, run)
st.subheader("History")
more.history_view(history, run, names)
