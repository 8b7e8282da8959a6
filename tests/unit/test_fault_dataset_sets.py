"""A dataset set (records, tags sidecar, manifest) changes as one: killed at any step, a full disk, a path in the
way, it is afterwards either the whole old set or the whole new set, and `validate` agrees with its manifest.

Kills are real (the writer is a forked child that SIGKILLs itself at the n-th file-system call); the full disk is
simulated at the one write seam (os.write in core.files) and, for real, with RLIMIT_FSIZE in a child process.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import resource
import signal
import subprocess
import sys
import textwrap

import pytest

from core.cli import main
from core.datasets.files import DatasetTags, dataset_paths, make_record, read_dataset, write_dataset
from core.schema import RoutingDecision

DECISION = RoutingDecision(visual=0.7, audio=0.1, transcription=0.1, metadata=0.1, reasoning="Mostly what is seen.")
# The calls a replace is made of; the writer is killed before the n-th one.
STEP_CALLS = ("write", "fsync", "replace", "rename", "unlink")


def make_set(version: str, n: int) -> tuple[list[dict], list[DatasetTags]]:
    records = [make_record(f"{version} query number {i} about a red car", DECISION) for i in range(n)]
    tags = [DatasetTags(focus="visual", difficulty="easy", domain=version)] * n
    return records, tags


def set_bytes(path) -> tuple[bytes | None, ...]:
    return tuple(p.read_bytes() if p.exists() else None for p in dataset_paths(path))


def write_set(path, version: str, n: int) -> tuple[bytes | None, ...]:
    records, tags = make_set(version, n)
    write_dataset(path, records, tags, {"seed": n, "created_at": "2026-04-01T12:00:00Z"})
    return set_bytes(path)


def validate_agrees_with_manifest(path, capsys) -> None:
    """`validate` exits 0 and the manifest it read hashes the data and tags files as they are."""
    code = main(["validate", str(path)])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    loaded = read_dataset(path)
    data, tags, _ = set_bytes(path)
    assert loaded.ok and loaded.manifest is not None
    assert loaded.manifest.sha256 == hashlib.sha256(data).hexdigest()
    assert loaded.manifest.tags_sha256 == hashlib.sha256(tags).hexdigest()


def killed_at(step: int, path, version: str, n: int) -> bool:
    """Replace the set in a forked child killed just before its `step`-th file-system call; True if it was killed."""
    records, tags = make_set(version, n)
    pid = os.fork()
    if pid == 0:  # the child: count the calls, and SIGKILL itself at the chosen one
        try:
            calls = [0]

            def counting(real):
                def call(*args, **kwargs):
                    calls[0] += 1
                    if calls[0] == step:
                        os.kill(os.getpid(), signal.SIGKILL)
                    return real(*args, **kwargs)

                return call

            for name in STEP_CALLS:
                setattr(os, name, counting(getattr(os, name)))
            write_dataset(path, records, tags, {"seed": n, "created_at": "2026-04-01T12:00:00Z"})
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    return os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL


def test_fault_a_replace_killed_at_every_step_leaves_the_whole_old_or_the_whole_new_set(tmp_path, capsys):
    path = tmp_path / "mix.jsonl"
    probe = tmp_path / "probe" / "mix.jsonl"
    probe.parent.mkdir()
    new = write_set(probe, "new", 150)
    outcomes = []
    for step in range(1, 200):
        old = write_set(path, "old", 120)
        if not killed_at(step, path, "new", 150):
            break
        validate_agrees_with_manifest(path, capsys)
        after = set_bytes(path)
        assert after in (old, new), f"killed at step {step}: a torn set"
        outcomes.append("old" if after == old else "new")
        leftovers = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("."))
        assert leftovers == [], f"killed at step {step}: {leftovers} left behind after the next read"
    else:
        pytest.fail("the replace never finished")
    # Killed early the old set stays; killed after the commit point the next read completes the new one.
    assert outcomes[0] == "old" and outcomes[-1] == "new" and len(outcomes) >= 6
    assert set_bytes(path) == new


@pytest.mark.parametrize("failing_write", [1, 2, 3, 4])
def test_fault_a_full_disk_during_a_replace_keeps_the_whole_old_set(tmp_path, capsys, monkeypatch, failing_write):
    path = tmp_path / "mix.jsonl"
    old = write_set(path, "old", 120)
    records, tags = make_set("new", 150)
    real_write = os.write
    writes = [0]

    def write_until_the_disk_is_full(fd, data):
        writes[0] += 1
        if writes[0] >= failing_write:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write_until_the_disk_is_full)
    with pytest.raises(OSError) as raised:
        write_dataset(path, records, tags)
    monkeypatch.undo()

    assert raised.value.errno == errno.ENOSPC
    assert set_bytes(path) == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mix.jsonl", "mix.manifest.json", "mix.tags.jsonl"]
    validate_agrees_with_manifest(path, capsys)


def test_fault_a_real_file_size_limit_during_a_replace_keeps_the_whole_old_set(tmp_path, capsys):
    path = tmp_path / "mix.jsonl"
    old = write_set(path, "old", 120)
    limit = len(old[0]) + 1000  # the new records file cannot fit; the smaller old files could
    child = textwrap.dedent(
        f"""
        import errno, resource, signal, sys
        from core.datasets.files import DatasetTags, make_record, write_dataset
        from core.schema import RoutingDecision
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))
        decision = RoutingDecision(visual=0.7, audio=0.1, transcription=0.1, metadata=0.1, reasoning="x")
        records = [make_record(f"a much longer new query number {{i}} about a red car", decision) for i in range(400)]
        try:
            write_dataset({str(path)!r}, records, [DatasetTags()] * 400)
        except OSError as exc:
            sys.exit(10 if exc.errno == errno.EFBIG else 11)
        """
    )
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=60)
    assert done.returncode == 10, done.stderr  # the real write failed with EFBIG
    assert resource.getrlimit(resource.RLIMIT_FSIZE)[0] == resource.RLIM_INFINITY
    assert set_bytes(path) == old
    validate_agrees_with_manifest(path, capsys)


def test_bad_input_a_manifest_path_that_is_a_folder_is_refused_before_anything_is_written(tmp_path):
    path = tmp_path / "mix.jsonl"
    old = write_set(path, "old", 120)
    manifest = dataset_paths(path).manifest
    manifest.unlink()
    manifest.mkdir()
    records, tags = make_set("new", 150)

    with pytest.raises(ValueError, match="mix.manifest.json is a folder"):
        write_dataset(path, records, tags)

    paths = dataset_paths(path)
    assert (paths.data.read_bytes(), paths.tags.read_bytes()) == old[:2]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mix.jsonl", "mix.manifest.json", "mix.tags.jsonl"]


def test_fault_validate_calls_a_torn_set_invalid(tmp_path, capsys):
    """A set torn before this fix (new records beside the old tags and manifest) is not called valid."""
    path = tmp_path / "mix.jsonl"
    write_set(path, "old", 120)
    _, old_tags, old_manifest = set_bytes(path)
    write_set(path, "new", 150)
    dataset_paths(path).tags.write_bytes(old_tags)
    dataset_paths(path).manifest.write_bytes(old_manifest)

    code = main(["validate", str(path)])
    out, _ = capsys.readouterr()

    assert code == 1
    assert "mix.jsonl does not match mix.manifest.json" in out
    assert json.loads(old_manifest)["record_count"] == 120 and "Invalid" in out
