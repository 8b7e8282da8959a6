"""How the studio writes numbers, times and text for people: money, latency, sizes, times, durations, shares,
rubric scores, weights and long text. Pure functions, no Streamlit."""

from __future__ import annotations

from collections.abc import Mapping

from core.schema import MODALITIES

MISSING = "–"
QUERY_PREVIEW_CHARS = 300
SHOWN_DIGITS = 4


def format_usd(amount: float) -> str:
    if amount == 0:
        return "$0"
    if amount >= 0.01:
        return f"${amount:,.2f}"
    if amount >= 0.000001:
        return f"${amount:.6f}"
    return "< $0.000001"


def markdown_usd(amount: float) -> str:
    """format_usd for markdown bodies, where a bare '$' would start a formula."""
    return format_usd(amount).replace("$", "\\$")


def format_ms(milliseconds: float) -> str:
    # On-box routers answer in well under a millisecond; keep their digits visible.
    return f"{milliseconds:,.1f} ms" if milliseconds >= 1 else f"{milliseconds:.3f} ms"


def format_size(size_bytes: int) -> str:
    if size_bytes < 1024:
        return f"{size_bytes} B"
    if size_bytes < 1024 * 1024:
        return f"{size_bytes / 1024:,.0f} KB"
    return f"{size_bytes / (1024 * 1024):,.1f} MB"


def format_time(timestamp: str | None) -> str:
    """A stored UTC timestamp ('YYYY-MM-DD HH:MM:SS.fff' from the store, or ISO 8601) to the minute."""
    return f"{timestamp[:16].replace('T', ' ')} UTC" if timestamp else MISSING


def format_elapsed(seconds: float | None) -> str:
    if seconds is None:
        return MISSING
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def format_share(value: float | None) -> str:
    return MISSING if value is None else f"{value:.0%}"


def format_rubric(value: float | None) -> str:
    return MISSING if value is None else f"{value:.2f} / 5"


def readable_numbers(values: Mapping[str, object], digits: int = SHOWN_DIGITS) -> dict[str, object]:
    """Metrics with floats cut to a few significant digits for reading (the manifest keeps them whole)."""
    return {key: float(f"{value:.{digits}g}") if isinstance(value, float) else value for key, value in values.items()}


def weights_text(weights: Mapping[str, float]) -> str:
    """The four weights as one line of text, in the fixed channel order."""
    return "   ".join(f"{m} {weights[m]:.2f}" for m in MODALITIES)


def preview(text: str, limit: int = QUERY_PREVIEW_CHARS) -> str:
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters in all)"
