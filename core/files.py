"""Safe file handling: atomic writes, sets of files replaced as one, bounded reads of regular files, and paths that
stay inside the data directory.

Every write of the studio's own files goes through `atomic_write_bytes` (one file) or `replace_file_set` (files
that belong together, such as a dataset with its tags and manifest), and every byte of them through `os.write`
here: the one seam where a full disk shows up, and where the tests simulate it.
"""

from __future__ import annotations

import errno
import json
import os
import re
import secrets
import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import BinaryIO

_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
MAX_NAME_LENGTH = 63
WRITE_CHUNK_BYTES = 1 << 20
# A staged file is `.<target name>.<writer pid>-<token>.tmp`, so a leftover of a killed writer can be told
# from the file of a writer still at work.
_STAGED = re.compile(r"\.(?P<target>.+)\.(?P<pid>\d+)-[0-9a-f]{12}\.tmp")
JOURNAL_SUFFIX = ".replacing.json"


class UnsafePathError(ValueError):
    """A path built from user input would leave the data directory."""


class NotRegularFileError(OSError):
    """A path to read names a device, a pipe, a socket or a folder rather than a regular file."""


class FileTooLargeError(OSError):
    """A file is larger than what may be read from it."""


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a staged file beside the target, fsync it, rename it over the target, fsync the folder.

    A file replaced keeps its permissions; a new one gets the usual ones (0666 less the umask).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = _write_staged(path, data)
    try:
        os.replace(staged, path)
    except BaseException:
        _unlink_quietly(staged)
        raise
    _fsync_folder(path.parent)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def replace_file_set(files: Sequence[tuple[Path, bytes]]) -> None:
    """Replace files of one folder as one set: afterwards a reader finds all of the old ones or all of the new.

    Every new file is staged and synced first; then a journal naming the renames is written (the commit point);
    then the renames are done and the journal removed. A writer killed before the journal leaves the old set
    (and staged leftovers, removed by the next one to touch the set); killed after it, the next reader finishes
    the renames (`recover_file_set`). The first file names the set.
    """
    targets = [Path(path) for path, _ in files]
    folder = targets[0].parent
    if any(target.parent != folder for target in targets):
        raise ValueError("the files of one set must share a folder")
    folder.mkdir(parents=True, exist_ok=True)
    recover_file_set(targets)
    staged: list[Path] = []
    try:
        for target, (_, data) in zip(targets, files, strict=True):
            staged.append(_write_staged(target, data))
        renames = [[s.name, t.name] for s, t in zip(staged, targets, strict=True)]
        atomic_write_bytes(_journal(targets[0]), json.dumps({"renames": renames}).encode("utf-8"))
    except BaseException:
        for path in staged:
            _unlink_quietly(path)
        raise
    _apply_journal(_journal(targets[0]))


def recover_file_set(targets: Sequence[Path]) -> bool:
    """Finish a replace of this set that was committed but interrupted, and remove leftovers of killed writers.

    Returns True when an interrupted replace was completed. Readers call it before reading a set.
    """
    targets = [Path(target) for target in targets]
    journal = _journal(targets[0])
    completed = False
    if journal.exists():
        _apply_journal(journal)
        completed = True
    _remove_leftovers(targets[0].parent, {t.name for t in targets} | {journal.name})
    return completed


def set_journal_path(primary: Path) -> Path:
    """Where the journal of an unfinished replace of the set named by `primary` lives."""
    return _journal(Path(primary))


@contextmanager
def open_regular(path: Path) -> Iterator[BinaryIO]:
    """Open a regular file for reading; a device, pipe, socket or folder is refused (without blocking on a FIFO)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFileError(errno.EINVAL, f"not a regular file ({_kind_of(mode)})", str(path))
        os.set_blocking(fd, True)
        handle = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with handle:
        yield handle


def read_regular_file(path: Path, max_bytes: int) -> bytes:
    """A regular file's bytes, refusing one larger than `max_bytes` without reading more than that."""
    with open_regular(path) as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise FileTooLargeError(errno.EFBIG, f"larger than {_size(max_bytes)}", str(path))
    return data


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


def _write_staged(target: Path, data: bytes) -> Path:
    """`data` in a new, synced file beside `target`, with the target's permissions if it exists."""
    staged = target.with_name(f".{target.name}.{os.getpid()}-{secrets.token_hex(6)}.tmp")
    fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    try:
        try:
            kept = os.stat(target)
        except FileNotFoundError:
            kept = None
        if kept is not None and stat.S_ISREG(kept.st_mode):
            os.fchmod(fd, stat.S_IMODE(kept.st_mode))
        view = memoryview(data)
        while view:
            written = os.write(fd, view[:WRITE_CHUNK_BYTES])
            view = view[written:]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        _unlink_quietly(staged)
        raise
    os.close(fd)
    return staged


def _journal(primary: Path) -> Path:
    return primary.with_name(f".{primary.name}{JOURNAL_SUFFIX}")


def _apply_journal(journal: Path) -> None:
    folder = journal.parent
    try:
        renames = json.loads(journal.read_bytes())["renames"]
        pairs = [(str(staged), str(target)) for staged, target in renames]
    except (ValueError, KeyError, TypeError) as exc:
        raise OSError(errno.EIO, f"the replace journal {journal.name} is damaged; remove it", str(journal)) from exc
    for staged, target in pairs:
        # Only renames of our own staged files to plain names in this folder: a journal is never a way out.
        if "/" in staged or "/" in target or not _STAGED.fullmatch(staged):
            raise OSError(errno.EIO, f"the replace journal {journal.name} names a file it may not move", str(journal))
        # Already moved: by this replace before it was interrupted, or by another reader finishing it.
        with suppress(FileNotFoundError):
            os.replace(folder / staged, folder / target)
    _fsync_folder(folder)
    _unlink_quietly(journal)
    _fsync_folder(folder)


def _remove_leftovers(folder: Path, names: set[str]) -> None:
    """Staged files of these names whose writer process is gone (a killed writer's leftovers)."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        match = _STAGED.fullmatch(entry.name)
        if match and match["target"] in names and not _process_exists(int(match["pid"])):
            _unlink_quietly(Path(entry.path))


def _process_exists(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        with suppress(OSError):  # some file systems cannot sync a folder; the renames are still atomic
            os.fsync(fd)
    finally:
        os.close(fd)


def _unlink_quietly(path: Path) -> None:
    with suppress(OSError):
        os.unlink(path)


def _kind_of(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a file"


def _size(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= scale:
            return f"{n / scale:g} {unit}"
    return f"{n} bytes"
