"""Altair charts shared by the pages; every chart of weights uses the same channel order and colours."""

from __future__ import annotations

from collections.abc import Mapping

import altair as alt

from core.schema import MODALITIES

# One colour per channel everywhere in the studio (Tableau 10, distinguishable with common colour blindness).
MODALITY_COLOURS: dict[str, str] = {
    "visual": "#4C78A8",
    "audio": "#F58518",
    "transcription": "#54A24B",
    "metadata": "#B279A2",
}
BAR_CHART_HEIGHT = 180
BAR_THICKNESS = 26


def weights_bar_chart(weights: Mapping[str, float]) -> alt.LayerChart:
    """Horizontal bars of the four channel weights on a fixed 0-1 axis, each labelled with its value."""
    rows = [{"channel": m, "weight": float(weights[m]), "label": f"{float(weights[m]):.2f}"} for m in MODALITIES]
    base = alt.Chart(alt.Data(values=rows)).encode(
        y=alt.Y("channel:N", sort=list(MODALITIES), title=None, axis=alt.Axis(labelFontSize=13, labelPadding=6)),
        x=alt.X("weight:Q", scale=alt.Scale(domain=[0, 1]), title="weight", axis=alt.Axis(format=".1f")),
    )
    bars = base.mark_bar(cornerRadiusEnd=3, size=BAR_THICKNESS).encode(
        color=alt.Color(
            "channel:N",
            scale=alt.Scale(domain=list(MODALITIES), range=[MODALITY_COLOURS[m] for m in MODALITIES]),
            legend=None,
        ),
        tooltip=[alt.Tooltip("channel:N"), alt.Tooltip("weight:Q", format=".2f")],
    )
    # Labels sit just right of each bar; a full-length bar carries its label inside, in white.
    labels = (
        base.mark_text(align="left", dx=5, fontSize=13, fontWeight="bold")
        .encode(text="label:N")
        .transform_filter(alt.datum.weight <= 0.85)
    )
    inner_labels = (
        base.mark_text(align="right", dx=-6, fontSize=13, fontWeight="bold", color="white")
        .encode(text="label:N")
        .transform_filter(alt.datum.weight > 0.85)
    )
    return alt.LayerChart(layer=[bars, labels, inner_labels]).properties(height=BAR_CHART_HEIGHT)
