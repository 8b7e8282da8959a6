"""Router ids, shared by the command line and the pages: what each form means, and how one is read.

- `teacher`: the backend's teacher;  `uniform`: 0.25 on every channel (the no-routing baseline);
- `student`: the backend's active deployment;  `student:<model id or directory>`: a distilled local student;
- `deployment:<name>`: a deployment by name;  `bedrock:<model id, inference profile or ARN>`: a model on
  Amazon Bedrock through Converse.

The Backend resolves a parsed id to a router (core.backends); this module only reads ids.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# Forms with an argument, by prefix; the bare forms need none.
PREFIXED_KINDS = ("student:", "deployment:", "bedrock:")
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


def unknown_router_sentence(router_id: str, forms: Sequence[str]) -> str:
    shown = router_id.strip() if isinstance(router_id, str) else ""
    quoted = [f"'{form}'" for form in forms]
    listed = ", ".join(quoted[:-1]) + f" or {quoted[-1]}" if len(quoted) > 1 else quoted[0]
    return f"Unknown router {shown!r}: use {listed}."


def router_id_help(forms: Sequence[str]) -> str:
    return "router id: " + ", ".join(forms)
