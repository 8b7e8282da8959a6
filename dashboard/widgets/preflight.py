"""Preflight: what Bedrock work needs (credentials, region, model access, bucket, role), checked on request and
shown check by check, green, amber or red, each with what to do. A backend that needs no checks says so."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import streamlit as st

from core.backends import CapabilityUnavailable
from dashboard import components

if TYPE_CHECKING:
    from core.aws.preflight import PreflightReport
    from core.backends import Backend

Colour = Literal["green", "orange", "red"]
LEVELS: dict[str, tuple[Colour, str, str]] = {
    "green": ("green", ":material/check_circle:", "ready"),
    "amber": ("orange", ":material/warning:", "check"),
    "red": ("red", ":material/error:", "blocked"),
}


def report_key(key: str) -> str:
    return f"{key}_report"


def preflight_panel(backend: Backend, key: str, **targets: str | None) -> PreflightReport | None:
    """A button that runs the checks for these targets (bucket, role_arn, teacher, student); the last report made
    for the same targets stays shown across reruns. Returns it, or None while there is none."""
    wanted = tuple(sorted((name, value or "") for name, value in targets.items()))
    kept = st.session_state.get(report_key(key))
    report = kept[1] if kept is not None and kept[0] == wanted else None
    clicked = st.button("Run the checks" if report is None else "Check again", key=key, icon=":material/checklist:")
    if clicked:
        try:
            with st.spinner("Checking credentials, region, model access, bucket and role…"):
                report = backend.preflight(**targets)
        except CapabilityUnavailable as exc:  # nothing to check on this backend: its sentence says so
            st.info(components.plain_markdown(str(exc)), icon=":material/info:")
            return None
        except Exception as exc:  # an unforeseen failure: one sentence, the form keeps its values
            components.show_error(exc)
            return None
        st.session_state[report_key(key)] = (wanted, report)
    if report is None:
        st.caption("Checks only read your account (and put and delete one test object in the bucket): nothing bills.")
        return None
    report_view(report)
    return report


def report_view(report: PreflightReport) -> None:
    """Each check as a coloured badge, what was found and, unless it is green, what to do."""
    if report.ok:
        st.success(
            "Nothing blocks the work."
            if report.worst == "green"
            else "Nothing blocks the work; amber checks say what may still go wrong.",
            icon=":material/check_circle:",
        )
    else:
        st.error("Something blocks the work: fix the red checks first.", icon=":material/error:")
    for check in report.checks:
        colour, icon, word = LEVELS.get(check.level, LEVELS["amber"])
        with st.container(horizontal=True, vertical_alignment="top", gap="small"):
            st.badge(f"{check.title}: {word}", icon=icon, color=colour, width="content")
            with st.container(gap=None):
                st.text(check.message)
                if check.action:
                    st.caption(components.plain_markdown(f"What to do: {check.action}"))
