"""Altair charts of the Search page: each hit's score split by channel, and the retrieval figures per router
beside the published reference marks (drawn as marks of their own, never as bars among ours)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import altair as alt

from core.schema import MODALITIES
from core.search.engine import SearchHit
from dashboard.charts import MODALITY_COLOURS

HIT_ROW_PX = 24
FIGURE_ROW_PX = 16
KEY_ITEM_PX = 120
KEY_HEIGHT_PX = 22
# Ours are bars in these colours (routers first, then the baselines beside them); the published figures are
# black and grey ticks across a metric's whole band.
SERIES_COLOURS = ("#3B5BDB", "#0CA678", "#F08C00", "#AE3EC9", "#868E96", "#495057")
PUBLISHED_COLOURS = ("#111111", "#9E9E9E")


def contribution_rows(hits: Sequence[SearchHit]) -> list[dict[str, object]]:
    """One row per hit and queried channel: what that channel added to the hit's fused score."""
    return [
        {
            "rank": hit.rank,
            "channel": channel,
            "contribution": value,
            "score": hit.score,
            "time": hit.segment.time_range(),
            "title": hit.segment.title,
        }
        for hit in hits
        for channel, value in hit.contributions.items()
    ]


def contributions_chart(hits: Sequence[SearchHit]) -> alt.Chart:
    """A stacked bar per hit, best first: each queried channel's part of the fused score, in its colour."""
    return (
        alt.Chart(alt.Data(values=contribution_rows(hits)))
        .mark_bar()
        .encode(
            # Ranks label the bars; the list under the chart gives each rank's video, time and caption.
            y=alt.Y("rank:O", title="rank", axis=alt.Axis(labelFontSize=12, titleFontWeight="normal")),
            x=alt.X("contribution:Q", stack="zero", title="fused score, by channel", axis=alt.Axis(format=".2~f")),
            color=alt.Color(
                "channel:N",
                scale=alt.Scale(domain=list(MODALITIES), range=[MODALITY_COLOURS[m] for m in MODALITIES]),
                legend=None,  # one key for every list: channel_key_chart
            ),
            order=alt.Order("channel:N", sort="ascending"),
            tooltip=[
                alt.Tooltip("rank:O"),
                alt.Tooltip("title:N", title="video"),
                alt.Tooltip("time:N", title="time"),
                alt.Tooltip("channel:N"),
                alt.Tooltip("contribution:Q", format=".4f"),
                alt.Tooltip("score:Q", title="fused score", format=".4f"),
            ],
        )
        .properties(height=alt.Step(HIT_ROW_PX))
    )


def channel_key_chart() -> alt.LayerChart:
    """The channels' colours in one row, the key to every contributions chart on the page."""
    rows = [{"channel": m, "x": index * KEY_ITEM_PX} for index, m in enumerate(MODALITIES)]
    base = alt.Chart(alt.Data(values=rows)).encode(
        x=alt.X("x:Q", axis=None, scale=alt.Scale(domain=[0, KEY_ITEM_PX * len(MODALITIES)])),
        y=alt.value(KEY_HEIGHT_PX / 2),
    )
    squares = base.mark_square(size=130, opacity=1).encode(
        color=alt.Color(
            "channel:N",
            scale=alt.Scale(domain=list(MODALITIES), range=[MODALITY_COLOURS[m] for m in MODALITIES]),
            legend=None,
        )
    )
    labels = base.mark_text(align="left", dx=10, fontSize=13).encode(text="channel:N")
    return alt.LayerChart(layer=[squares, labels]).properties(width=KEY_ITEM_PX * len(MODALITIES), height=KEY_HEIGHT_PX)


def figures_chart(
    ours: Mapping[str, Mapping[str, float]],
    published: Mapping[str, Mapping[str, float]],
    metric_labels: Mapping[str, str],
    published_setting: str,
) -> alt.LayerChart:
    """Bars of our figures per metric (one colour per router or baseline) with the published figures as
    labelled ticks across each metric's band: a reference to read ours against, not one of our series."""
    series = list(ours)
    metrics = list(metric_labels.values())
    bar_rows = [
        {"metric": metric_labels[name], "series": label, "value": float(figures[name])}
        for label, figures in ours.items()
        for name in metric_labels
    ]
    published_names = [f"published: {name}" for name in published]
    tick_rows = [
        {"metric": metric_labels[name], "reference": f"published: {label}", "value": float(figures[name])}
        for label, figures in published.items()
        for name in metric_labels
        if name in figures  # a reference gives only the figures it published
    ]
    y = alt.Y("metric:N", sort=metrics, title=None, axis=alt.Axis(labelFontSize=12))
    x = alt.X("value:Q", scale=alt.Scale(domain=[0, 1]), title=None, axis=alt.Axis(format=".0%"))
    bars = (
        alt.Chart(alt.Data(values=bar_rows))
        .mark_bar()
        .encode(
            y=y,
            x=x,
            yOffset=alt.YOffset("series:N", sort=series),
            color=alt.Color(
                "series:N",
                sort=series,
                scale=alt.Scale(domain=series, range=list(SERIES_COLOURS[: len(series)])),
                legend=alt.Legend(orient="bottom", title="Measured here", columns=1, labelLimit=0),
            ),
            tooltip=[
                alt.Tooltip("series:N", title="measured"),
                alt.Tooltip("metric:N"),
                alt.Tooltip("value:Q", format=".1%"),
            ],
        )
    )
    ticks = (
        alt.Chart(alt.Data(values=tick_rows))
        .mark_tick(thickness=3, size=FIGURE_ROW_PX * len(series), opacity=0.9)
        .encode(
            y=y,
            x=x,
            color=alt.Color(
                "reference:N",
                sort=published_names,
                scale=alt.Scale(domain=published_names, range=list(PUBLISHED_COLOURS[: len(published_names)])),
                legend=alt.Legend(
                    orient="top",
                    title=f"Reference, not measured here ({published_setting})",
                    labelLimit=0,
                    titleLimit=0,
                ),
            ),
            tooltip=[
                alt.Tooltip("reference:N", title="reference"),
                alt.Tooltip("metric:N"),
                alt.Tooltip("value:Q", format=".0%"),
            ],
        )
    )
    # The step is each router's bar; a metric's band holds one per series.
    return alt.layer(bars, ticks).resolve_scale(color="independent").properties(height=alt.Step(FIGURE_ROW_PX))
