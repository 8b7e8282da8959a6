"""How the studio writes a count with its noun, in the pages and on the command line alike: "1 record", "2 records"."""

from __future__ import annotations


def count(n: int, noun: str) -> str:
    """`n` with thousands separators and `noun`, plural unless n is 1 (nouns here take a plain -s)."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"
