"""The Data Mix page's figures: small pre-counted frames (built once per generated set) and their altair charts.

Charts draw counts, never one mark per query, so a 15,000-query set costs the browser a few dozen rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import altair as alt
import pandas as pd

from core.schema import MODALITIES, RoutingDecision
from dashboard.charts import MODALITY_COLOURS

WEIGHT_STEP = 0.05
HISTOGRAM_HEIGHT = 220
BAR_STEP = 11
LENGTH_HEIGHT = 260
MIXED = "mixed"
TARGET = "target"
GENERATED = "generated"
TEACHER_LEAD = "teacher's leading channel"
SERIES_COLOURS = {TARGET: "#9AA5B1", GENERATED: "#3B5BDB", TEACHER_LEAD: "#F58518"}


def weight_counts(weights: pd.DataFrame) -> pd.DataFrame:
    """Queries per channel per 0.05 weight step (the routers' rounding), every step present: channel, weight,
    queries."""
    steps = [round(i * WEIGHT_STEP, 2) for i in range(round(1 / WEIGHT_STEP) + 1)]
    rows = []
    for channel in MODALITIES:
        values = weights[channel].dropna() if channel in weights else pd.Series(dtype=float)
        counted = (values / WEIGHT_STEP).round().mul(WEIGHT_STEP).round(2).value_counts()
        rows += [{"channel": channel, "weight": step, "queries": int(counted.get(step, 0))} for step in steps]
    return pd.DataFrame(rows, columns=["channel", "weight", "queries"])


def leading_channel(decision: RoutingDecision) -> str:
    """The channel with the highest weight; a tie for the lead is 'mixed'."""
    leaders = decision.dominant_set()
    return next(iter(leaders)) if len(leaders) == 1 else MIXED


def target_vs_actual(keys: Sequence[str], series: Mapping[str, Mapping[str, int]]) -> pd.DataFrame:
    """One row per key and series (e.g. target, generated): key, series, queries; keys keep their order."""
    rows = [
        {"key": key, "series": name, "queries": int(counts.get(key, 0))}
        for key in keys
        for name, counts in series.items()
    ]
    return pd.DataFrame(rows, columns=["key", "series", "queries"])


def length_counts(word_lengths: pd.Series) -> pd.DataFrame:
    """Queries per length in words: words, queries."""
    counted = word_lengths.value_counts().sort_index()
    return pd.DataFrame({"words": counted.index.astype(int), "queries": counted.to_numpy(dtype=int)})


def weight_histogram(counts: pd.DataFrame, channel: str, y_max: int) -> alt.Chart:
    """One channel's weight distribution on a fixed 0-1 axis; every channel shares `y_max` so they compare."""
    rows = counts[counts["channel"] == channel]
    half = WEIGHT_STEP * 0.45
    return (
        alt.Chart(rows, title=channel)
        .transform_calculate(start=alt.datum.weight - half, end=alt.datum.weight + half)
        .mark_bar(color=MODALITY_COLOURS[channel])
        .encode(
            x=alt.X(
                "start:Q",
                title="weight",
                scale=alt.Scale(domain=[-WEIGHT_STEP / 2, 1 + WEIGHT_STEP / 2], nice=False),
                axis=alt.Axis(values=[0, 0.25, 0.5, 0.75, 1], format=".2f"),
            ),
            x2="end:Q",
            y=alt.Y("queries:Q", title="queries", scale=alt.Scale(domain=[0, max(y_max, 1)], nice=True)),
            y2=alt.Y2Datum(0),
            tooltip=[alt.Tooltip("weight:Q", format=".2f"), alt.Tooltip("queries:Q", format=",")],
        )
        .properties(height=HISTOGRAM_HEIGHT)
    )


def breakdown_chart(frame: pd.DataFrame, title: str) -> alt.Chart:
    """Horizontal grouped bars: queries per key, one bar per series (target beside what was made)."""
    keys = list(dict.fromkeys(frame["key"]))
    series = list(dict.fromkeys(frame["series"]))
    return (
        alt.Chart(frame, title=title)
        .mark_bar(cornerRadiusEnd=2)
        .encode(
            y=alt.Y("key:N", sort=keys, title=None, axis=alt.Axis(labelLimit=140)),
            yOffset=alt.YOffset("series:N", sort=series),
            x=alt.X("queries:Q", title="queries"),
            color=alt.Color(
                "series:N",
                sort=series,
                title=None,
                scale=alt.Scale(domain=series, range=[SERIES_COLOURS.get(s, "#666666") for s in series]),
                # One entry a line: a row of entries wider than a narrow chart is cut at its edge.
                legend=alt.Legend(orient="bottom", direction="vertical"),
            ),
            tooltip=[alt.Tooltip("key:N"), alt.Tooltip("series:N"), alt.Tooltip("queries:Q", format=",")],
            # A step, not a height: Streamlit's theme squeezes a fixed-height chart with a banded axis to nothing.
        )
        .properties(height=alt.Step(BAR_STEP))
    )


def length_histogram(counts: pd.DataFrame) -> alt.Chart:
    """Queries per length in words, one bar per whole number of words on a continuous axis."""
    return (
        alt.Chart(counts, title="query length")
        .transform_calculate(start=alt.datum.words - 0.45, end=alt.datum.words + 0.45)
        .mark_bar(color=SERIES_COLOURS[GENERATED])
        .encode(
            x=alt.X("start:Q", title="words per query", axis=alt.Axis(tickMinStep=1, format="d")),
            x2="end:Q",
            y=alt.Y("queries:Q", title="queries"),
            y2=alt.Y2Datum(0),
            tooltip=[alt.Tooltip("words:Q", title="words"), alt.Tooltip("queries:Q", format=",")],
        )
        .properties(height=LENGTH_HEIGHT)
    )
