"""Jobs under real faults: a second process holding the store's lock, workers SIGKILLed inside the model save,
a worker suspended with SIGSTOP. Nothing is lost: a job finishes or ends Failed with its real reason, a model is
never registered without its job, nothing is left behind unlisted, and a stop always ends.

The lock is a real `BEGIN EXCLUSIVE` in another process; kills and suspensions are real signals to real workers.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from test_jobs import LONG_TRAINING, data_dir, library, runner, save_dataset, store, wait_for, wait_until_finished

from core.distill import jobs as jobs_module
from core.distill import pipeline, worker
from core.distill.jobs import INTERRUPTED, JobRunner
from core.distill.outcome import OUTCOME_FILE
from core.model_registry import ModelRegistry
from core.processes import process_alive
from core.store import BUSY_TIMEOUT_S, Store, StoreBusyError, retry_while_busy

__all__ = ["data_dir", "library", "runner", "store"]  # fixtures shared with test_jobs

# Longer than one attempt's busy timeout, so only retrying gets a write through. FAULT_LOCK_SECONDS=30 runs the
# acceptance figure of the issue (a 30 s lock).
LOCK_S = float(os.environ.get("FAULT_LOCK_SECONDS", BUSY_TIMEOUT_S + 4))
LOCKER = textwrap.dedent(
    """
    import sqlite3, sys, time
    conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=60)
    conn.execute("BEGIN EXCLUSIVE")
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
    conn.execute("COMMIT")
    """
)


def hold_the_lock(db, seconds: float) -> subprocess.Popen:
    """Another process holding the store's write lock for `seconds`; returns once it holds it."""
    locker = subprocess.Popen([sys.executable, "-c", LOCKER, str(db), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert locker.stdout.readline().strip() == "locked"
    return locker


def assert_every_model_has_its_job(store, data_dir) -> None:
    for model in ModelRegistry(store, data_dir).list():
        row = store.query_one("SELECT status, model_id FROM jobs WHERE id = ?", (model.job_id,))
        assert row is not None and (row["status"], row["model_id"]) == ("Completed", model.id), model


def fork_and_run(store, data_dir, job_id, prepare) -> int:
    """run_job in a forked child after `prepare()` (which may make it kill itself); returns the child's pid."""
    pid = os.fork()
    if pid == 0:
        try:
            prepare()
            worker.run_job(Store(store.path), data_dir, job_id)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    return pid


# --- the store locked by another process (point 2) -------------------------------------------------------------


def test_fault_retry_while_busy_waits_out_a_real_lock_and_gives_up_at_its_deadline(store):
    locker = hold_the_lock(store.path, 1.5)
    write = lambda: store.execute("INSERT INTO prices VALUES ('x', 1, 1, 'now')", busy_timeout_s=0.1)  # noqa: E731
    with pytest.raises(StoreBusyError):
        retry_while_busy(write, deadline_s=0.3)
    assert retry_while_busy(write, deadline_s=30) == 1
    locker.wait(timeout=30)


def test_fault_a_store_locked_mid_training_does_not_end_the_job(runner, library, store, data_dir):
    job = runner.submit("locked-run", save_dataset(library).id, {"epochs": 40, "patience": 40, "batch_size": 8})
    wait_for(lambda: runner.metrics(job.id), bool, "the first epoch's metrics")

    locker = hold_the_lock(store.path, LOCK_S)
    started = time.monotonic()
    locker.wait(timeout=LOCK_S + 60)
    done = wait_until_finished(runner, job.id)

    assert time.monotonic() - started >= LOCK_S - 1
    assert done.status == "Completed", done.failure_message
    assert done.failure_message is None and done.model_id is not None
    assert ModelRegistry(store, data_dir).get(done.model_id).job_id == job.id
    assert_every_model_has_its_job(store, data_dir)
    assert "the store is busy" in runner.log_text(job.id)
    assert {row["epoch"] for row in runner.metrics(job.id)} >= set(range(1, 6)), "metrics written while locked kept"


@pytest.mark.parametrize("ending", ["completed", "failed"])
def test_fault_an_end_the_store_cannot_take_is_kept_beside_the_job_and_recorded_later(
    monkeypatch, runner, library, store, data_dir, ending
):
    job = runner.submit(f"kept-{ending}", save_dataset(library).id, {"epochs": 3}, background=False)
    lock_file = data_dir / "locker.pid"

    def lock_before_the_end():
        # The locker outlives this worker: the store stays locked past the worker's own deadline and its exit.
        monkeypatch.setattr(worker, "FINAL_WRITE_DEADLINE_S", 1.0)
        real_save = pipeline.save_student

        def save_then_lock(model, folder):
            saved = real_save(model, folder)
            lock_file.write_text(str(hold_the_lock(store.path, 6.0).pid))
            if ending == "failed":
                raise pipeline.PipelineFailure("The disk went away in the middle of the save.")
            return saved

        monkeypatch.setattr(pipeline, "save_student", save_then_lock)

    pid = fork_and_run(store, data_dir, job.id, lock_before_the_end)
    locker_pid = int(lock_file.read_text())

    # The worker is gone and the lock still held: the end is in the job folder, not yet in the store.
    assert not process_alive(pid) and process_alive(locker_pid)
    assert runner.get(job.id).status == "InProgress"
    assert (runner.job_dir(job.id) / OUTCOME_FILE).exists()
    assert ModelRegistry(store, data_dir).list() == []
    wait_for(lambda: process_alive(locker_pid), lambda alive: not alive, "the lock to be released")

    assert JobRunner(Store(store.path), data_dir).reconcile() == [job.id]

    ended = runner.get(job.id)
    assert not (runner.job_dir(job.id) / OUTCOME_FILE).exists()
    if ending == "completed":
        assert (ended.status, ended.failure_message) == ("Completed", None)
        assert ModelRegistry(store, data_dir).get(ended.model_id).job_id == job.id
    else:
        assert (ended.status, ended.model_id) == ("Failed", None)
        assert ended.failure_message == "The disk went away in the middle of the save."
        assert sorted(p.name for p in (data_dir / "models").iterdir()) == []
    assert ended.failure_message != INTERRUPTED
    assert_every_model_has_its_job(store, data_dir)


# --- kills inside the model save (point 3) ---------------------------------------------------------------------


@pytest.mark.parametrize("where", ["inside the save", "between the save and the registration"])
def test_fault_a_worker_killed_in_the_model_save_leaves_nothing_after_start_up(
    monkeypatch, runner, library, store, data_dir, caplog, where
):
    job = runner.submit("killed-in-save", save_dataset(library).id, {"epochs": 3}, background=False)

    def kill_there():
        from core.distill import artifact

        if where == "inside the save":
            monkeypatch.setattr(artifact, "_swap_in", lambda staging, target: os.kill(os.getpid(), signal.SIGKILL))
        else:
            real_save = pipeline.save_student
            monkeypatch.setattr(
                pipeline, "save_student", lambda m, f: (real_save(m, f), os.kill(os.getpid(), signal.SIGKILL))
            )

    fork_and_run(store, data_dir, job.id, kill_there)
    left = sorted(p.name for p in (data_dir / "models").iterdir())
    assert len(left) == 1  # a staging folder, or a complete model with no registry row

    with caplog.at_level(logging.WARNING):
        assert JobRunner(Store(store.path), data_dir).reconcile() == [job.id]  # the app starting again

    assert runner.get(job.id).failure_message == INTERRUPTED
    assert list((data_dir / "models").iterdir()) == []
    assert f"models/{left[0]}" in caplog.text and "removed" in caplog.text
    assert ModelRegistry(store, data_dir).list() == []


def test_fault_leftovers_of_killed_dataset_saves_are_removed_at_start_up_once_old(library, store, data_dir, caplog):
    save_dataset(library, "kept")
    root = data_dir / "datasets"
    leftovers = [root / ".staging-0123456789abcdef", root / ".deleting-abcdef012345", root / "saved-but-never-listed"]
    for folder in leftovers:
        folder.mkdir()
        (folder / "data.jsonl").write_text("{}\n")
    fresh = root / ".staging-fedcba9876543210"  # a save happening right now, in another process
    fresh.mkdir()
    hour_ago = time.time() - 3600
    for folder in leftovers:
        os.utime(folder, (hour_ago, hour_ago))

    with caplog.at_level(logging.WARNING):
        JobRunner(store, data_dir).reconcile()

    assert sorted(p.name for p in root.iterdir()) == sorted(["kept", fresh.name])
    assert all(folder.name in caplog.text for folder in leftovers)


# --- a worker that never stops (point 4) -----------------------------------------------------------------------


def test_fault_a_suspended_worker_is_killed_at_the_stop_deadline_and_the_job_ends_stopped(
    monkeypatch, runner, library, store, data_dir
):
    monkeypatch.setattr(jobs_module, "STOP_DEADLINE_S", 2)
    job = runner.submit("suspended", save_dataset(library).id, LONG_TRAINING)
    wait_for(lambda: runner.get(job.id).phase, lambda phase: phase == "Training", "the Training phase")
    os.kill(job.pid, signal.SIGSTOP)

    assert runner.stop(job.id).status == "Stopping"
    stopped = wait_for(lambda: runner.list()[0], lambda listed: listed.finished, "the stop deadline")

    assert (stopped.id, stopped.status, stopped.model_id) == (job.id, "Stopped", None)
    wait_for(lambda: process_alive(job.pid), lambda alive: not alive, "the worker to be gone")
    runner.delete(job.id)
    assert runner.list() == []
