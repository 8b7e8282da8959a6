"""Router ids, shared by the command line and the pages: what each form means, and how one is read.

- `teacher`: the backend's teacher;  `uniform`: 0.25 on every channel (the no-routing baseline);
- `student`: the backend's active deployment;  `student:<model id or directory>`: a distilled local student;
- `deployment:<name>`: a deployment by name;  `bedrock:<model id, inference profile or ARN>`: a model on
  Amazon Bedrock through Converse;
- `cascade:<student id>|<teacher id>@<threshold>`: the student answers, and the queries it is unsure of
  (an invalid reply, or a confidence under the threshold, 0-1) go to the teacher (core.routers.cascade).
  Router ids contain ':' and ',' but never '|', so one '|' parts the two ids; the threshold follows the
  last '@'. A cascade does not nest.

The Backend resolves a parsed id to a router (core.backends); this module only reads ids.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

# Forms with an argument, by prefix; the bare forms need none.
PREFIXED_KINDS = ("student:", "deployment:", "bedrock:", "cascade:")
BARE_KINDS = ("teacher", "uniform", "student")
MAX_ROUTER_ID_CHARS = 2048


@dataclass(frozen=True)
class RouterId:
    kind: str  # one of BARE_KINDS or PREFIXED_KINDS
    argument: str  # what follows the prefix ("" for a bare form)
    text: str  # the id as written, trimmed


@dataclass(frozen=True)
class RouterChoice:
    """A router a picker can offer: its id, a person-readable label and what it is."""

    router_id: str
    label: str
    description: str


def parse_router_id(router_id: str) -> RouterId | None:
    """The id's form and argument, or None when it is no router id at all."""
    text = router_id.strip() if isinstance(router_id, str) else ""
    if not text or len(text) > MAX_ROUTER_ID_CHARS:
        return None
    if text in BARE_KINDS:
        return RouterId(text, "", text)
    for prefix in PREFIXED_KINDS:
        if text.startswith(prefix) and text[len(prefix) :].strip():
            return RouterId(prefix, text[len(prefix) :].strip(), text)
    return None


@dataclass(frozen=True)
class CascadeId:
    """The parts of `cascade:<student id>|<teacher id>@<threshold>`."""

    student: str
    teacher: str
    threshold: float


CASCADE_PREFIX = "cascade:"
CASCADE_SEPARATOR = "|"
THRESHOLD_MARK = "@"
CASCADE_EXAMPLE = "cascade:student:my-model|teacher@0.3"


def parse_cascade_id(argument: str) -> CascadeId:
    """The student, teacher and threshold of a cascade id's argument; ValueError says what is wrong."""
    routers, mark, threshold_text = argument.strip().rpartition(THRESHOLD_MARK)
    if not mark:
        raise ValueError(f"A cascade id ends with @<threshold>, a confidence from 0 to 1: e.g. {CASCADE_EXAMPLE}.")
    try:
        threshold = float(threshold_text)
    except ValueError:
        threshold = math.nan
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"The cascade threshold {threshold_text.strip()!r} is not a number from 0 to 1.")
    parts = [part.strip() for part in routers.split(CASCADE_SEPARATOR)]
    if len(parts) != 2 or not all(parts):
        raise ValueError(
            f"A cascade names two routers with one '|' between them, the student then the teacher: e.g. "
            f"{CASCADE_EXAMPLE} (a cascade does not nest)."
        )
    return CascadeId(parts[0], parts[1], threshold)


def cascade_id(student: str, teacher: str, threshold: float) -> str:
    """The router id of a cascade, with the threshold written the shortest exact way (0.3, not 0.30)."""
    return f"{CASCADE_PREFIX}{student}{CASCADE_SEPARATOR}{teacher}{THRESHOLD_MARK}{round(threshold, 4):g}"


def unknown_router_sentence(router_id: str, forms: Sequence[str]) -> str:
    shown = router_id.strip() if isinstance(router_id, str) else ""
    quoted = [f"'{form}'" for form in forms]
    listed = ", ".join(quoted[:-1]) + f" or {quoted[-1]}" if len(quoted) > 1 else quoted[0]
    return f"Unknown router {shown!r}: use {listed}."


def router_id_help(forms: Sequence[str]) -> str:
    return "router id: " + ", ".join(forms)
