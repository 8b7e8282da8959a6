"""Playground: one query or a batch through up to four routers side by side, gold labels, and the history."""

import streamlit as st

from dashboard import gold_views, playground_batch_views, playground_history_views, playground_views, state
from dashboard.widgets import notices

st.title("Playground")
st.caption(
    "Route the same queries through the teacher, your students and the baselines at once, and see where they "
    "agree: each router's weights, reasoning, latency and cost side by side. Save the weights a person would give "
    "as gold labels, to score routers on."
)
notices.show(notices.PAGE)
backend = state.studio().backend
wanted = playground_views.arrival(backend)
router_ids, labels = playground_views.pick_routers(backend, wanted)

st.subheader("One query, side by side")
playground_views.query_box(backend, router_ids, labels)

st.subheader("Batch compare")
playground_batch_views.batch_box(backend, router_ids, labels)

st.subheader("History")
playground_history_views.history(backend.comparisons(), labels)

st.subheader("Gold sets")
gold_views.gold_sets(backend.gold_labels())
