"""Teacher quality recovered: how much of the teacher's lead over the no-routing baseline a router keeps.

recovered = (router - uniform) / (teacher - uniform), on the rubric mean (labelled sets) or on leading-channel
accuracy (every set). 1.0 is the teacher's quality, 0.0 is no better than uniform weights, and a router may
score below 0 or, on a gold set, above 1. When the teacher does not beat uniform there is no lead to
recover, and the figure is None (shown as "n/a"), never a division by zero or by a negative gap.
"""

from __future__ import annotations

# A teacher must beat uniform by more than this for a share of its lead to mean anything.
RECOVERY_TOLERANCE = 1e-9


def quality_recovered(value: float | None, uniform: float | None, teacher: float | None) -> float | None:
    """(value - uniform) / (teacher - uniform); None when any figure is missing or the teacher is no better."""
    if value is None or uniform is None or teacher is None:
        return None
    gap = teacher - uniform
    if gap <= RECOVERY_TOLERANCE:
        return None
    return (value - uniform) / gap
