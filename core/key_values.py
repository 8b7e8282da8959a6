"""`key=value` texts (tags, invocation-log filters) as a mapping: one rule for the command line and the pages."""

from __future__ import annotations

from collections.abc import Iterable


def parse_key_values(pairs: Iterable[str]) -> dict[str, str]:
    """Each `key=value` text as an entry (blank texts skipped); ValueError quotes the first that is not one."""
    found: dict[str, str] = {}
    for pair in pairs:
        if not pair.strip():
            continue
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{pair.strip()!r} is not key=value")
        found[key.strip()] = value.strip()
    return found
