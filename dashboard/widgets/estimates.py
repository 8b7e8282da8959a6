"""What billable work will cost, shown before it runs: the one-line total, then each part and how it was counted
(a price the studio does not know stays "price unknown", with what to do to learn it)."""

from __future__ import annotations

import streamlit as st

from core.estimates import CostEstimate
from dashboard import components


def estimate_view(estimate: CostEstimate, *, title: str = "Estimated cost") -> None:
    with st.container(border=True):
        st.markdown(f"**{title}:** {components.plain_markdown(estimate.sentence())}")
        for line in estimate.lines():
            st.text(line)
