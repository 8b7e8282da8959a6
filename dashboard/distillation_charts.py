"""Altair charts of a distillation job's per-epoch metrics (rows as JobRunner.metrics returns them)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import altair as alt

from core.model_registry import HELDOUT_AGREEMENT

# The whole chart (title, axes and legend included) is fitted into this height.
CURVE_HEIGHT = 340
EDGE_PADDING_PX = 10
# The curves each chart draws: metric name in the store -> the legend's words.
LOSS_CURVES = {"train_loss": "training loss", "validation_loss": "validation loss"}
# Bedrock's step_wise_training_metrics.csv also reports the perplexity of each step.
PERPLEXITY_CURVES = {"perplexity": "perplexity"}
HELDOUT_CURVE = "held-out agreement"
AGREEMENT_CURVES = {"validation_agreement": "validation agreement", HELDOUT_AGREEMENT: HELDOUT_CURVE}
CURVE_COLOURS = {
    "training loss": "#4C78A8",
    "validation loss": "#F58518",
    "validation agreement": "#54A24B",
    HELDOUT_CURVE: "#B279A2",
    "perplexity": "#E45756",
}


def x_title(metrics: Sequence[Mapping[str, Any]]) -> str:
    """ "epoch" when each row is an epoch (a local job's), "training step" when rows are steps within epochs (a
    Bedrock job's step_wise_training_metrics.csv)."""
    by_step = any(row.get("epoch") is not None and row.get("epoch") != row["step"] for row in metrics)
    return "training step" if by_step else "epoch"


def has_curves(metrics: Sequence[Mapping[str, Any]], curves: Mapping[str, str]) -> bool:
    return any(row["name"] in curves for row in metrics)


def curve_rows(metrics: Sequence[Mapping[str, Any]], curves: Mapping[str, str]) -> list[dict[str, object]]:
    """The metric rows of the named curves, as (x, curve, value) rows in step order (the x field is named epoch
    for a local job and holds the step of a Bedrock one)."""
    return [
        {"epoch": int(row["step"]), "curve": curves[str(row["name"])], "value": float(row["value"])}
        for row in metrics
        if row["name"] in curves
    ]


def metric_curves_chart(
    metrics: Sequence[Mapping[str, Any]],
    curves: Mapping[str, str],
    title: str,
    *,
    y_title: str,
    y_domain: tuple[float, float] | None = None,
    y_format: str = ".2f",
) -> alt.LayerChart:
    """Lines with a point on every epoch (a curve with one value, such as held-out agreement, is one point)."""
    rows = curve_rows(metrics, curves)
    shown = [curve for curve in curves.values() if any(row["curve"] == curve for row in rows)]
    y_scale = alt.Scale(domain=list(y_domain)) if y_domain else alt.Scale(zero=False)
    base = alt.Chart(alt.Data(values=rows)).encode(
        # Padding keeps the first and last points (the held-out one sits on the last epoch) inside the plot.
        x=alt.X(
            "epoch:Q",
            title=x_title(metrics),
            scale=alt.Scale(padding=EDGE_PADDING_PX, nice=False),
            axis=alt.Axis(tickMinStep=1, format="d"),
        ),
        y=alt.Y("value:Q", title=y_title, scale=y_scale, axis=alt.Axis(format=y_format)),
        color=alt.Color(
            "curve:N",
            title=None,
            scale=alt.Scale(domain=shown, range=[CURVE_COLOURS[curve] for curve in shown]),
            # One entry a line: a row of entries wider than a narrow chart is cut at its edge.
            legend=alt.Legend(orient="bottom", direction="vertical"),
        ),
        tooltip=[
            alt.Tooltip("curve:N", title="curve"),
            alt.Tooltip("epoch:Q", title=x_title(metrics)),
            alt.Tooltip("value:Q", title=y_title, format=".3f"),
        ],
    )
    lines = base.mark_line(strokeWidth=2)
    # Held-out agreement is measured once, after training: a larger point so that it is not missed.
    points = base.mark_point(filled=True).encode(
        size=alt.condition(alt.datum.curve == HELDOUT_CURVE, alt.value(130), alt.value(45))
    )
    return alt.LayerChart(layer=[lines, points]).properties(title=title, height=CURVE_HEIGHT)


def loss_chart(metrics: Sequence[Mapping[str, Any]]) -> alt.LayerChart:
    return metric_curves_chart(metrics, LOSS_CURVES, "Loss", y_title="cross-entropy")


def agreement_chart(metrics: Sequence[Mapping[str, Any]]) -> alt.LayerChart:
    return metric_curves_chart(
        metrics,
        AGREEMENT_CURVES,
        "Agreement with the teacher",
        y_title="agreement",
        y_domain=(0.0, 1.0),
        y_format=".0%",
    )


def perplexity_chart(metrics: Sequence[Mapping[str, Any]]) -> alt.LayerChart:
    return metric_curves_chart(metrics, PERPLEXITY_CURVES, "Perplexity", y_title="perplexity")
