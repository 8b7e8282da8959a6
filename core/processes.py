"""Supervising the studio's own long-lived processes (job workers, and later endpoint servers).

A child is started in its own session, so it outlives the page, the app and a restart; its pid is
recorded with its start time, because after a restart the pid alone may name someone else's process.
The app keeps the children it started so that finished ones are reaped instead of lingering as zombies.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path

from core.files import atomic_write_text

REPO_ROOT = Path(__file__).resolve().parents[1]


def spawn_detached(command: Sequence[str], log_path: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start `command` in a new session with its output appended to `log_path`; it imports `core` from anywhere."""
    base = dict(os.environ if env is None else env)
    # The child imports `core` whatever the caller's working directory is.
    base["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), base.get("PYTHONPATH")]))
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=base,
            start_new_session=True,
        )


def write_process_file(path: Path, pid: int) -> None:
    """Note which process runs something, with its start time so that a reused pid is not mistaken for it."""
    atomic_write_text(path, json.dumps({"pid": pid, "start_ticks": process_start_ticks(pid)}))


def recorded_start(path: Path, pid: int) -> int | None:
    """The start time written beside `pid` by write_process_file, or None when unknown."""
    try:
        recorded = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(recorded, dict) or recorded.get("pid") != pid:
        return None
    ticks = recorded.get("start_ticks")
    return ticks if isinstance(ticks, int) else None


def process_alive(pid: int, start_ticks: int | None = None) -> bool:
    """True while `pid` runs and is the same process (not a zombie, not a newer process given the same pid)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else: only the start time can tell whether it is ours
    stat = _proc_stat(pid)
    if stat is None:
        return True  # no /proc here: the signal check is all there is
    state, started = stat
    if state == "Z":
        return False
    return start_ticks is None or started == start_ticks


def kill_process_group(pid: int, start_ticks: int | None = None) -> bool:
    """SIGKILL a child started by spawn_detached (it leads its own process group), if `pid` is still that process.

    Works on a suspended (SIGSTOP) process too. Never this process or its own group. True once it is gone.
    """
    if pid == os.getpid() or not process_alive(pid, start_ticks):
        return not process_alive(pid, start_ticks)
    try:
        if os.getpgid(pid) == pid and pid != os.getpgid(0):
            os.killpg(pid, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return True


def process_start_ticks(pid: int) -> int | None:
    stat = _proc_stat(pid)
    return stat[1] if stat else None


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, start time in clock ticks since boot) from /proc/<pid>/stat, or None where unreadable."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may hold spaces and parentheses: fields resume after the last ')'.
    fields = text[text.rfind(")") + 2 :].split()
    try:
        return fields[0], int(fields[19])
    except (IndexError, ValueError):
        return None


class ChildProcesses:
    """The children this process started, by key, reaped when they end.

    The app shares one supervisor between sessions, whose polling fragments reap from several threads.
    """

    def __init__(self) -> None:
        self.children: dict[str, subprocess.Popen] = {}
        self._lock = threading.Lock()

    def add(self, key: str, child: subprocess.Popen) -> None:
        with self._lock:
            self.children[key] = child

    def forget(self, key: str) -> None:
        with self._lock:
            self.children.pop(key, None)

    def reap(self) -> None:
        with self._lock:
            children = list(self.children.items())
        for key, child in children:
            # Another thread may have reaped this child since the copy was taken: forget it only once.
            if child.poll() is not None:
                with self._lock:
                    self.children.pop(key, None)
