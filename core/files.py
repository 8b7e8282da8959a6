"""Safe file handling: atomic writes and paths that stay inside the data directory."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
MAX_NAME_LENGTH = 63


class UnsafePathError(ValueError):
    """A path built from user input would leave the data directory."""


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file beside the target, fsync, then rename over it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def safe_name(name: str, fallback: str = "untitled") -> str:
    """A file-system-safe version of a user-given name (letters, digits, '.', '_', '-')."""
    cleaned = _UNSAFE_NAME.sub("-", name.strip()).strip(".-")[:MAX_NAME_LENGTH]
    return cleaned or fallback


def path_inside(root: Path, *parts: str) -> Path:
    """Join user-given parts under root and refuse anything that resolves outside it."""
    root_resolved = Path(root).resolve()
    candidate = root_resolved.joinpath(*parts).resolve()
    if candidate != root_resolved and root_resolved not in candidate.parents:
        raise UnsafePathError(f"{'/'.join(parts)!r} is outside the data directory")
    return candidate
