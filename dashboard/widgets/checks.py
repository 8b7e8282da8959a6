"""What a form shows is what runs: inputs read with core's own field rules, and actions that stay off while any
input is out of range, with the reasons written beside them.

Streamlit's number_input keeps its last valid value when the box holds one outside its min_value/max_value (the box
only turns red), so an action would run with a number the form no longer shows. The numbers here are text boxes
instead: whatever the box holds reaches the script and is read with the pydantic field core validates
(TrainingConfig.epochs, DataMix.total...), so the limits are core's and never a second copy. A Checks collects the
sentence of every input that fails, plus any rule the page adds (`require`); `button` then draws the action disabled
with those sentences beside it, and returns True only for a click made while nothing failed.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import annotated_types
import streamlit as st
from pydantic import BaseModel, TypeAdapter, ValidationError

from dashboard import components

# "1000", "-5", or grouped the way the studio writes counts: "1,000", "15,000".
REASONS_PREFIX = ":red[:material/block: "
_WHOLE_NUMBER = re.compile(r"[+-]?(?:\d+|\d{1,3}(?:,\d{3})+)")
_DECIMAL_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


@dataclass(frozen=True)
class FieldLimits:
    """A numeric field's bounds as core's model declares them (ge/gt/le/lt), and whether it takes whole numbers."""

    whole: bool
    low: float | None = None
    low_included: bool = True
    high: float | None = None
    high_included: bool = True

    def describe(self) -> str:
        """The rule in words: "a whole number from 1 to 1,000", "a number above 0 and at most 10"..."""
        kind = "a whole number" if self.whole else "a number"
        low, high = _shown(self.low), _shown(self.high)
        if self.low is not None and self.high is not None:
            if self.low_included and self.high_included:
                return f"{kind} from {low} to {high}"
            lower = f"at least {low}" if self.low_included else f"above {low}"
            upper = f"at most {high}" if self.high_included else f"below {high}"
            return f"{kind} {lower} and {upper}"
        if self.low is not None:
            return f"{kind}, {low} or more" if self.low_included else f"{kind} above {low}"
        if self.high is not None:
            return f"{kind}, {high} or less" if self.high_included else f"{kind} below {high}"
        return kind


def field_limits(model: type[BaseModel], field: str) -> FieldLimits:
    info = model.model_fields[field]
    bounds: dict[str, Any] = {}
    for rule in info.metadata:
        if isinstance(rule, annotated_types.Ge):
            bounds.update(low=float(rule.ge), low_included=True)  # type: ignore[arg-type]
        elif isinstance(rule, annotated_types.Gt):
            bounds.update(low=float(rule.gt), low_included=False)  # type: ignore[arg-type]
        elif isinstance(rule, annotated_types.Le):
            bounds.update(high=float(rule.le), high_included=True)  # type: ignore[arg-type]
        elif isinstance(rule, annotated_types.Lt):
            bounds.update(high=float(rule.lt), high_included=False)  # type: ignore[arg-type]
    return FieldLimits(whole=info.annotation is int, **bounds)


def read_field(model: type[BaseModel], field: str, value: object) -> tuple[Any, bool]:
    """The value as core's field takes it, and whether the field accepts it (its type and every constraint)."""
    try:
        return _adapter(model, field).validate_python(value), True
    except ValidationError:
        return None, False


def read_number(text: str, model: type[BaseModel], field: str) -> int | float | None:
    """The number a box holds when it is one the field accepts, else None (empty, not a number, out of range)."""
    cleaned = text.strip()
    limits = field_limits(model, field)
    pattern = _WHOLE_NUMBER if limits.whole else _DECIMAL_NUMBER
    if not pattern.fullmatch(cleaned):
        return None
    number: int | float = int(cleaned.replace(",", "")) if limits.whole else float(cleaned)
    if isinstance(number, float) and not math.isfinite(number):
        return None
    value, ok = read_field(model, field, number)
    return value if ok else None


def shown_number(value: int | float) -> str:
    """A number as a box first shows it (and as read_number reads it back)."""
    return str(value) if isinstance(value, int) else f"{value:g}"


def number_problem(label: str, text: str, limits: FieldLimits) -> str:
    if not text.strip():
        return f"{label} is empty: type {limits.describe()}."
    return f"{label} must be {limits.describe()}; the box holds {text.strip()!r}."


class Checks:
    """The problems of one form; its action is off while there are any."""

    def __init__(self) -> None:
        self._problems: list[str] = []

    @property
    def problems(self) -> tuple[str, ...]:
        return tuple(self._problems)

    @property
    def ok(self) -> bool:
        return not self._problems

    def require(self, problem: str | None, *, here: bool = False) -> None:
        """Add a page's own rule (e.g. a job name already taken): a sentence, or None when it holds; `here` also
        shows it where it is called, beside the input it is about."""
        if problem:
            self._problems.append(problem)
            if here:
                st.caption(f":red[{components.plain_markdown(problem)}]")

    def number(
        self,
        label: str,
        model: type[BaseModel],
        field: str,
        *,
        key: str,
        default: int | float | None = None,
        help: str | None = None,
        disabled: bool = False,
        on_change: Callable[..., None] | None = None,
        args: Sequence[Any] | None = None,
    ) -> Any:
        """A box for one numeric field of `model`: its value as the field takes it, or None (and a problem)."""
        limits = field_limits(model, field)
        if default is not None:
            st.session_state.setdefault(key, shown_number(default))
        rule = f"{limits.describe()[0].upper()}{limits.describe()[1:]}."
        text = st.text_input(
            label,
            key=key,
            help=f"{help} {rule}" if help else rule,
            disabled=disabled,
            on_change=on_change,
            args=tuple(args) if args else None,
        )
        value = read_number(text or "", model, field)
        if value is None:
            problem = number_problem(label, text or "", limits)
            self._problems.append(problem)
            st.caption(f":red[{components.plain_markdown(rule)}]")
        return value

    def text(self, label: str, model: type[BaseModel], field: str, *, key: str, problem: str, **text_input: Any) -> Any:
        """A text box for one string field of `model` (its pattern, its length), read without the spaces around
        it; `problem` says what is wrong."""
        value = (st.text_input(label, key=key, **text_input) or "").strip()
        checked, ok = read_field(model, field, value)
        if not ok:
            self._problems.append(problem)
        return checked

    def button(
        self, label: str, *, key: str, type: Any = "secondary", icon: str | None = None, help: str | None = None
    ) -> bool:
        """The form's action: disabled, with every problem written beside it, until nothing fails; True for a click
        made while nothing failed (a click that raced an edit making the form invalid does nothing)."""
        with st.container(horizontal=True, vertical_alignment="center", wrap=True):
            clicked = st.button(label, key=key, type=type, icon=icon, help=help, disabled=not self.ok)
            if self._problems:
                reasons(self._problems)
        return clicked and self.ok


def reasons(problems: Sequence[str]) -> None:
    """Why an action is off, in red beside it (not only in a tooltip)."""
    text = " ".join(components.plain_markdown(problem) for problem in problems)
    st.markdown(f"{REASONS_PREFIX}{text}]", width="stretch")


@functools.cache
def _adapter(model: type[BaseModel], field: str) -> TypeAdapter:
    info = model.model_fields[field]
    return TypeAdapter(Annotated[info.annotation, info])  # type: ignore[arg-type]


def _shown(bound: float | None) -> str:
    if bound is None:
        return ""
    return f"{int(bound):,}" if bound.is_integer() else f"{bound:g}"
