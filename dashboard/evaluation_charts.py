"""Altair charts of the Evaluation page: quality, latency and cost per router (the published figures as reference
marks in a layer and legend of their own), the rubric histogram, the confusion heatmap, error by channel and by
slice, the latency distribution, cost against quality and the cascade curve. Rows come from core's figures."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from typing import Any

import altair as alt

from core.evaluate.engine import INVALID
from core.schema import MODALITIES
from dashboard.search_charts import PUBLISHED_COLOURS, SERIES_COLOURS, figures_chart

ROW_PX = 18
HEATMAP_CELL_PX = 40
CELL_SELECTION = "cell"
# A fixed height is the whole chart's (axes and legend included); the bars get what the legend leaves.
HISTOGRAM_HEIGHT_PX = 340
# Log scales cannot draw 0: on-box latencies far under a millisecond are drawn at this floor (tooltips are exact).
LATENCY_FLOOR_MS = 0.0001
QUALITY_LABELS = {"validity": "valid", "dominant_accuracy": "leader right", "rubric_share": "rubric ÷ 5"}
LATENCY_LABELS = {"latency_p50_ms": "p50", "latency_mean_ms": "mean", "latency_p95_ms": "p95"}
Figures = Mapping[str, Any]


def _series_colour(series: Sequence[str], title: str | None) -> alt.Color:
    return alt.Color(
        "series:N",
        sort=list(series),
        scale=alt.Scale(
            domain=list(series), range=[SERIES_COLOURS[i % len(SERIES_COLOURS)] for i in range(len(series))]
        ),
        legend=alt.Legend(orient="bottom", title=title, columns=1, labelLimit=0) if title else None,
    )


def quality_chart(
    figures: Mapping[str, Figures], published: Mapping[str, Mapping[str, float]], setting: str
) -> alt.LayerChart:
    """Validity, leading-channel accuracy and the rubric mean over 5 per router, on one 0-1 axis, with the
    published rubric scores as reference ticks (they were judged by an LLM; ours are the deterministic rubric)."""
    ours = {label: _quality_values(f) for label, f in figures.items()}
    references = {name: {"rubric_share": values["rubric_mean"] / 5.0} for name, values in published.items()}
    labels = {key: text for key, text in QUALITY_LABELS.items() if any(key in values for values in ours.values())}
    return figures_chart(ours, references, labels, setting)


def _quality_values(figures: Figures) -> dict[str, float]:
    values = {key: float(figures[key]) for key in ("validity", "dominant_accuracy") if figures.get(key) is not None}
    if figures.get("rubric_mean") is not None:
        values["rubric_share"] = float(figures["rubric_mean"]) / 5.0
    return values


def latency_chart(
    figures: Mapping[str, Figures], published: Mapping[str, Mapping[str, float]], setting: str
) -> alt.LayerChart:
    """p50, mean and p95 latency per router on a log axis, and the published mean latencies as reference ticks."""
    series = list(figures)
    rows = [
        {"figure": text, "series": label, "value": float(f[key]), "shown": max(float(f[key]), LATENCY_FLOOR_MS)}
        for label, f in figures.items()
        for key, text in LATENCY_LABELS.items()
        if f.get(key) is not None
    ]
    names = [f"published: {name}" for name in published]
    ticks = [
        {
            "figure": LATENCY_LABELS["latency_mean_ms"],
            "reference": f"published: {name}",
            "value": values["latency_mean_ms"],
        }
        for name, values in published.items()
    ]
    y = alt.Y("figure:N", sort=list(LATENCY_LABELS.values()), title=None, axis=alt.Axis(labelFontSize=12))
    x_scale = alt.Scale(type="log")
    bars = (
        alt.Chart(alt.Data(values=rows))
        .mark_bar()
        .encode(
            y=y,
            x=alt.X("shown:Q", scale=x_scale, title="milliseconds (log scale)"),
            # A bar on a log axis starts at the floor (there is no zero to start from).
            x2=alt.datum(LATENCY_FLOOR_MS),
            yOffset=alt.YOffset("series:N", sort=series),
            color=_series_colour(series, "Measured here"),
            tooltip=[
                alt.Tooltip("series:N", title="router"),
                alt.Tooltip("figure:N"),
                alt.Tooltip("value:Q", format=",.4f"),
            ],
        )
    )
    marks = (
        alt.Chart(alt.Data(values=ticks))
        .mark_tick(thickness=3, size=ROW_PX * max(len(series), 1), opacity=0.9)
        .encode(
            y=y,
            x=alt.X("value:Q", scale=x_scale),
            color=alt.Color(
                "reference:N",
                sort=names,
                scale=alt.Scale(domain=names, range=list(PUBLISHED_COLOURS[: len(names)])),
                legend=alt.Legend(
                    orient="top", title=f"Reference, not measured here ({setting})", labelLimit=0, titleLimit=0
                ),
            ),
            tooltip=[alt.Tooltip("reference:N"), alt.Tooltip("value:Q", title="mean ms", format=",.0f")],
        )
    )
    return alt.layer(bars, marks).resolve_scale(color="independent").properties(height=alt.Step(ROW_PX))


def cost_chart(figures: Mapping[str, Figures]) -> alt.Chart:
    """Cost per 1,000 queries per router (on-demand token prices; an unpriced router has none)."""
    series = list(figures)
    rows = [
        {"series": label, "value": float(f["cost_per_1k_usd"])}
        for label, f in figures.items()
        if f.get("cost_per_1k_usd") is not None
    ]
    return (
        alt.Chart(alt.Data(values=rows))
        .mark_bar()
        .encode(
            y=alt.Y("series:N", sort=series, title=None, axis=alt.Axis(labelLimit=260)),
            x=alt.X("value:Q", title="USD per 1,000 queries", axis=alt.Axis(format="$,.4~f")),
            color=_series_colour(series, None),
            tooltip=[alt.Tooltip("series:N", title="router"), alt.Tooltip("value:Q", title="USD / 1k", format="$,.6f")],
        )
        .properties(height=alt.Step(ROW_PX + 6))
    )


def histogram_chart(figures: Mapping[str, Figures]) -> alt.Chart:
    """How many queries got each rubric score (1-5), per router side by side."""
    series = list(figures)
    rows = [
        {"score": int(score), "series": label, "queries": count}
        for label, f in figures.items()
        for score, count in (f.get("rubric_histogram") or {}).items()
    ]
    return (
        alt.Chart(alt.Data(values=rows))
        .mark_bar()
        .encode(
            x=alt.X("score:O", title="rubric score", axis=alt.Axis(labelAngle=0)),
            xOffset=alt.XOffset("series:N", sort=series),
            y=alt.Y("queries:Q", title="queries"),
            color=_series_colour(series, "Router"),
            tooltip=[alt.Tooltip("series:N", title="router"), alt.Tooltip("score:O"), alt.Tooltip("queries:Q")],
        )
        .properties(height=HISTOGRAM_HEIGHT_PX)
    )


def confusion_rows(confusion: Mapping[str, Mapping[str, float]]) -> list[dict[str, object]]:
    return [
        {"reference": reference, "candidate": candidate, "queries": round(float(count), 2)}
        for reference, row in confusion.items()
        for candidate, count in row.items()
    ]


def confusion_chart(confusion: Mapping[str, Mapping[str, float]]) -> alt.LayerChart:
    """Reference leading channel (rows) against the router's (columns, and invalid replies), counts in the cells."""
    rows = confusion_rows(confusion)
    columns = [*MODALITIES, INVALID]
    base = alt.Chart(alt.Data(values=rows)).encode(
        x=alt.X("candidate:N", sort=columns, title="the router's leader", axis=alt.Axis(labelAngle=0, orient="top")),
        y=alt.Y("reference:N", sort=list(MODALITIES), title="the reference's"),
    )
    # A click on a cell selects it (the page opens its queries); the selection is named CELL_SELECTION.
    picked = alt.selection_point(
        name=CELL_SELECTION, fields=["reference", "candidate"], on="click", clear="dblclick", empty=False
    )
    cells = (
        base.mark_rect(cursor="pointer")
        .encode(
            color=alt.Color("queries:Q", scale=alt.Scale(scheme="blues"), legend=None),
            stroke=alt.condition(picked, alt.value("#C92A2A"), alt.value(None)),
            strokeWidth=alt.condition(picked, alt.value(3), alt.value(0)),
            tooltip=[alt.Tooltip("reference:N"), alt.Tooltip("candidate:N", title="router"), alt.Tooltip("queries:Q")],
        )
        .add_params(picked)
    )
    counts = base.mark_text(fontSize=13).encode(
        text=alt.Text("queries:Q", format=",.4~g"),
        color=alt.condition(alt.datum.queries > _half_max(rows), alt.value("white"), alt.value("black")),
    )
    return alt.LayerChart(layer=[cells, counts]).properties(
        width=alt.Step(HEATMAP_CELL_PX * 2), height=alt.Step(HEATMAP_CELL_PX)
    )


def _half_max(rows: Sequence[Mapping[str, object]]) -> float:
    return max((float(r["queries"]) for r in rows), default=0.0) / 2  # type: ignore[arg-type]


def channel_chart(figures: Mapping[str, Figures], key: str, title: str) -> alt.Chart:
    """One per-channel figure (mean absolute error, or leading-channel accuracy) per router, channel by channel."""
    series = list(figures)
    rows = [
        {"channel": m, "series": label, "value": float(value)}
        for label, f in figures.items()
        for m, value in (f.get(key) or {}).items()
        if value is not None
    ]
    return (
        alt.Chart(alt.Data(values=rows))
        .mark_bar()
        .encode(
            y=alt.Y("channel:N", sort=list(MODALITIES), title=None),
            yOffset=alt.YOffset("series:N", sort=series),
            x=alt.X("value:Q", title=title),
            color=_series_colour(series, "Router"),
            tooltip=[
                alt.Tooltip("series:N", title="router"),
                alt.Tooltip("channel:N"),
                alt.Tooltip("value:Q", format=".3f"),
            ],
        )
        .properties(height=alt.Step(ROW_PX))
    )


def slice_chart(figures: Mapping[str, Figures], field_name: str, key: str, title: str) -> alt.Chart:
    """A figure per value of a slice field (focus, difficulty, domain, source), per router."""
    series = list(figures)
    rows = [
        {"value_name": value, "series": label, "value": float(slice_[key]), "n": slice_["n"]}
        for label, f in figures.items()
        for value, slice_ in ((f.get("slices") or {}).get(field_name) or {}).items()
        if slice_.get(key) is not None
    ]
    return (
        alt.Chart(alt.Data(values=rows))
        .mark_bar()
        .encode(
            y=alt.Y("value_name:N", title=field_name, axis=alt.Axis(labelLimit=200)),
            yOffset=alt.YOffset("series:N", sort=series),
            x=alt.X("value:Q", title=title),
            color=_series_colour(series, "Router"),
            tooltip=[
                alt.Tooltip("series:N", title="router"),
                alt.Tooltip("value_name:N", title=field_name),
                alt.Tooltip("value:Q", format=".3f"),
                alt.Tooltip("n:Q", title="queries"),
            ],
        )
        .properties(height=alt.Step(ROW_PX))
    )


def latency_distribution_chart(spreads: Mapping[str, Mapping[str, float]]) -> alt.LayerChart:
    """Each router's per-query latencies (latency_spread: five numbers) as a box (quartiles), a whisker (fastest
    to slowest) and its median, on a log axis."""
    series = list(spreads)
    rows = [{"series": label, **spread} for label, spread in spreads.items()]
    y = alt.Y("series:N", sort=series, title=None, axis=alt.Axis(labelLimit=260))
    x_scale = alt.Scale(type="log")
    base = alt.Chart(alt.Data(values=rows)).encode(
        y=y,
        tooltip=[
            alt.Tooltip("series:N", title="router"),
            *(alt.Tooltip(f"{key}:Q", title=title, format=",.4f") for key, title in SPREAD_TITLES.items()),
        ],
    )
    whisker = base.mark_rule(color="#495057").encode(
        x=alt.X("fastest:Q", scale=x_scale, title="milliseconds per query (log scale)"), x2="slowest:Q"
    )
    box = base.mark_bar(size=14).encode(x=alt.X("q1:Q", scale=x_scale), x2="q3:Q", color=_series_colour(series, None))
    median = base.mark_tick(color="white", thickness=2, size=14).encode(x=alt.X("median:Q", scale=x_scale))
    return alt.LayerChart(layer=[whisker, box, median]).properties(height=alt.Step(ROW_PX + 8))


SPREAD_TITLES = {"fastest": "fastest", "q1": "quartile 1", "median": "median", "q3": "quartile 3", "slowest": "slowest"}


def latency_spread(latencies: Sequence[float]) -> dict[str, float]:
    """Fastest, quartiles and slowest of a router's latencies (at the log axis' floor at least)."""
    values = sorted(max(v, LATENCY_FLOOR_MS) for v in latencies)
    if len(values) == 1:
        q1 = median = q3 = values[0]
    else:
        q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return {"fastest": values[0], "q1": q1, "median": median, "q3": q3, "slowest": values[-1]}


def cost_quality_chart(figures: Mapping[str, Figures], quality_key: str, quality_title: str) -> alt.LayerChart:
    """One point per router: cost per 1,000 queries against its quality, each labelled."""
    series = list(figures)
    rows = [
        {"series": label, "cost": float(f["cost_per_1k_usd"]), "quality": float(f[quality_key])}
        for label, f in figures.items()
        if f.get("cost_per_1k_usd") is not None and f.get(quality_key) is not None
    ]
    base = alt.Chart(alt.Data(values=rows)).encode(
        x=alt.X("cost:Q", title="USD per 1,000 queries", axis=alt.Axis(format="$,.4~f")),
        y=alt.Y("quality:Q", title=quality_title, scale=alt.Scale(zero=False)),
    )
    points = base.mark_point(size=120, filled=True).encode(
        color=_series_colour(series, None),
        tooltip=[
            alt.Tooltip("series:N", title="router"),
            alt.Tooltip("cost:Q", format="$,.6f"),
            alt.Tooltip("quality:Q", format=".3f"),
        ],
    )
    names = base.mark_text(align="left", dx=9, fontSize=12).encode(text="series:N")
    return alt.LayerChart(layer=[points, names]).properties(height=240)


def cascade_chart(
    points: Sequence[Mapping[str, Any]], x_key: str, x_title: str, recommended: float | None
) -> alt.LayerChart:
    """Teacher quality recovered against cost or latency, one point per threshold, the recommended one ringed."""
    rows = [
        {
            "threshold": p["threshold"],
            "x": float(p[x_key] or 0.0),
            "recovered": p["recovered"],
            "to_teacher": p["teacher_share"],
            "recommended": recommended is not None and p["threshold"] == recommended,
        }
        for p in points
        if p["recovered"] is not None
    ]
    base = alt.Chart(alt.Data(values=rows)).encode(
        x=alt.X("x:Q", title=x_title, scale=alt.Scale(zero=False), axis=alt.Axis(format=",.4~f")),
        y=alt.Y("recovered:Q", title="teacher quality recovered", axis=alt.Axis(format=".0%")),
        tooltip=[
            alt.Tooltip("threshold:Q"),
            alt.Tooltip("recovered:Q", format=".1%"),
            alt.Tooltip("to_teacher:Q", title="sent to the teacher", format=".0%"),
            alt.Tooltip("x:Q", title=x_title, format=",.6f"),
        ],
    )
    line = base.mark_line(point=True, color=SERIES_COLOURS[0]).encode(order="threshold:Q")
    ring = base.mark_point(size=320, color="#C92A2A", strokeWidth=3).transform_filter(alt.datum.recommended)
    return alt.LayerChart(layer=[line, ring]).properties(height=240)
