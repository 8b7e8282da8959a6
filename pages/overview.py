"""Overview: what the studio does, where each step stands, and a router to try."""

import streamlit as st

from dashboard import components, state
from dashboard.widgets.billing import idle_billing_banner
from dashboard.widgets.try_router import try_router_box

st.title("Video Search Router Studio")
idle_billing_banner()  # anything billing by the hour, and where to tear it down
st.markdown(
    "A video search engine looks for a moment through four channels: what is **seen** (visual), what is "
    "**heard** (audio), what is **said** (transcription) and what is **known** about the video (metadata). "
    "Its *intent router* decides, for every query, how much each channel counts. This studio teaches a small, "
    "fast and cheap router to copy a large one, then shows whether it routes, and finds, as well as its teacher."
)

st.subheader("The five steps")
components.step_cards(state.studio().store)

st.subheader("Try the router")
try_router_box(["teacher"])
st.caption(components.PUBLISHED_LATENCY_NOTE)
