"""The one rule that makes a suggested name unique: the name itself, else name-2, name-3, ... (the first free one).

Job names, the default dataset name, a job's model name and dataset folders all use it, so every "-2" in the
studio means the same thing.
"""

from __future__ import annotations

from collections.abc import Callable

FIRST_SUFFIX = 2


def unique_name(base: str, taken: Callable[[str], bool]) -> str:
    """`base` when it is free, else `base-2`, `base-3`...; `taken` says whether a name is in use (its own rule:
    exact, ignoring case, a folder that exists)."""
    name, number = base, FIRST_SUFFIX
    while taken(name):
        name, number = f"{base}-{number}", number + 1
    return name


def default_dataset_name(total: int, seed: int, taken: Callable[[str], bool]) -> str:
    """mix-<total>-seed<seed>, the name the Data Mix page suggests for a generated set, made unique."""
    return unique_name(f"mix-{total}-seed{seed}", taken)
