"""Job names: the default a launch form suggests, and the check a typed name must pass before a job starts."""

from __future__ import annotations

from collections.abc import Container
from datetime import datetime

from core.aws.names import check_job_name
from core.naming import unique_name

DEFAULT_NAME_PREFIX = "router-distill-"


def default_job_name(taken: Container[str], now: datetime | None = None) -> str:
    """router-distill-<yyyymmdd-hhmm>, valid on Bedrock too, with -2, -3... when that name is taken."""
    base = DEFAULT_NAME_PREFIX + (now or datetime.now()).strftime("%Y%m%d-%H%M")
    return unique_name(base, taken.__contains__)


def job_name_problem(name: str, taken: Container[str]) -> str | None:
    """Bedrock's job name rule first (so a name that works here works there), then uniqueness."""
    problem = check_job_name(name)
    if problem:
        return problem
    if name in taken:
        return f"A job named {name!r} already exists: choose another name (New name suggests one)."
    return None
