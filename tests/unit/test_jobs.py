"""Local distillation jobs: phases to a registered model, stops in every phase, lost workers, restarts.

Jobs that must run in their own process (the lifecycle, a kill, two at once) start real workers; tests
that need a stop at an exact point run the same `run_job` in this process and request the stop from
inside the phase. Waiting is always polling the store against a deadline, never a bare sleep.
"""

import contextlib
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from core.datasets.files import DatasetTags, make_record
from core.datasets.library import DatasetLibrary
from core.distill import pipeline, worker
from core.distill.jobs import (
    INTERRUPTED,
    LABEL_CHECKPOINT_FILE,
    PROCESS_FILE,
    JobError,
    JobNotFoundError,
    JobRunner,
    record_process,
)
from core.model_registry import HELDOUT_AGREEMENT, HELDOUT_N, HELDOUT_RUBRIC, ModelRegistry
from core.processes import process_alive, process_start_ticks
from core.routers.reference import ReferenceTeacher
from core.routers.student import StudentRouter
from core.store import Store

DEADLINE_S = 90.0
SUBJECTS = {
    "visual": [
        "red car",
        "sunset over mountains",
        "dog running on a beach",
        "aerial shot of a city",
        "man in a blue coat",
    ],
    "audio": ["dog barking loudly", "thunder rumbling", "piano music playing", "crowd cheering", "siren wailing"],
    "transcription": [
        "interview about climate",
        "lecture on physics",
        "someone saying goodbye",
        "podcast discussing startups",
        "chef explains the recipe",
    ],
    "metadata": [
        "movies from 1995",
        "season 2 episode 4",
        "documentary by Ken Burns",
        "4k footage licensed",
        "trailer of a comedy",
    ],
}
SETTINGS = [
    "at night",
    "in the rain",
    "close up",
    "slow motion",
    "with friends",
    "in a kitchen",
    "outdoors",
    "in winter",
]
# A training run that takes many seconds on this machine (one example per step, no early stop), so a
# stop or a kill lands while it is still training.
LONG_TRAINING = {"batch_size": 1, "epochs": 1000, "patience": 1000}


def fixture_queries(n_settings: int) -> tuple[list[str], list[DatasetTags]]:
    """4 focuses x 5 subjects x n settings distinct queries (160 by default), each tagged with its focus."""
    queries, tags = [], []
    for focus, subjects in SUBJECTS.items():
        for subject, setting in itertools.product(subjects, SETTINGS[:n_settings]):
            queries.append(f"{subject} {setting}")
            tags.append(DatasetTags(focus=focus, difficulty="easy", domain="test"))
    return queries, tags


@pytest.fixture
def data_dir(tmp_path):
    return (tmp_path / "studio").resolve()


@pytest.fixture
def store(data_dir):
    return Store(data_dir / "studio.db")


@pytest.fixture
def library(store, data_dir):
    return DatasetLibrary(store, data_dir)


@pytest.fixture
def runner(store, data_dir):
    runner = JobRunner(store, data_dir)
    yield runner
    # Leave no worker behind: stop every job still running and kill what does not end.
    for job in runner.list():
        if job.active and job.pid and job.pid != os.getpid():
            _kill_group(job.pid)


def save_dataset(library, name="fixture", *, labelled=True, n_settings=None):
    queries, tags = fixture_queries(n_settings or len(SETTINGS))
    decisions = [r.decision for r in ReferenceTeacher().route_batch(queries)] if labelled else [None] * len(queries)
    records = [make_record(q, d) for q, d in zip(queries, decisions, strict=True)]
    return library.save(name, records, tags, {"teacher_id": "teacher" if labelled else None})


def wait_for(read, done, what):
    deadline = time.monotonic() + DEADLINE_S
    value = read()
    while not done(value):
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}; last seen: {value}")
        time.sleep(0.02)
        value = read()
    return value


def wait_until_finished(runner, job_id):
    return wait_for(lambda: runner.get(job_id), lambda job: job.finished, f"job {job_id} to finish")


def _kill_group(pid):
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


# --- the whole life of a job, in its own process ---------------------------------------------------


def test_a_job_goes_through_its_phases_to_a_registered_model(runner, library, store, data_dir):
    dataset = save_dataset(library)
    job = runner.submit("router-distill-1", dataset.id, {"epochs": 12, "seed": 4})
    assert (job.status, job.phase, job.backend) == ("InProgress", "Validation", "local")
    assert job.teacher == "teacher"  # a labelled dataset's teacher is the one that labelled it

    done = wait_until_finished(runner, job.id)

    assert done.status == "Completed", done.failure_message
    assert done.progress == 1.0 and done.failure_message is None and done.ended_at
    phases = [line.split("phase ")[1].strip() for line in runner.log_text(job.id).splitlines() if " phase " in line]
    assert phases == ["Validation", "DataProcessing", "Training"]

    model = ModelRegistry(store, data_dir).get(done.model_id)
    assert (model.name, model.job_id, model.dataset_id) == ("router-distill-1", job.id, dataset.id)
    assert model.path.parent == data_dir / "models" and model.size_bytes > 0
    assert model.metrics[HELDOUT_N] == 16  # 10% of 160, stratified by focus
    assert 0.0 <= model.heldout_agreement <= 1.0 and 1.0 <= model.heldout_rubric <= 5.0
    routed = StudentRouter.from_directory(model.path).route("dog barking loudly at night")
    assert routed.valid and routed.decision.reasoning.startswith("Student")

    frame = pd.DataFrame(runner.metrics(job.id))
    assert list(frame.columns) == ["step", "epoch", "name", "value"]
    per_epoch = frame[frame["name"] == "train_loss"]
    assert list(per_epoch["epoch"]) == list(range(1, len(per_epoch) + 1))
    assert {"train_loss", "validation_loss", "validation_agreement", HELDOUT_AGREEMENT} <= set(frame["name"])


def test_two_jobs_run_at_once_each_with_its_own_metrics_and_model(runner, library, store, data_dir):
    dataset = save_dataset(library)
    first = runner.submit("twin-a", dataset.id, {"epochs": 6, "seed": 1})
    second = runner.submit("twin-b", dataset.id, {"epochs": 9, "seed": 2, "patience": 100})
    assert first.pid != second.pid

    done = [wait_until_finished(runner, job.id) for job in (first, second)]

    assert [job.status for job in done] == ["Completed", "Completed"], [job.failure_message for job in done]
    assert done[0].model_id != done[1].model_id
    epochs = [max(row["epoch"] for row in runner.metrics(job.id)) for job in done]
    assert epochs[1] == 9 and epochs[0] <= 6
    models = {model.job_id: model for model in ModelRegistry(store, data_dir).list()}
    assert set(models) == {first.id, second.id}
    assert models[first.id].path != models[second.id].path


def test_a_stop_during_training_ends_the_worker_stopped(runner, library, store, data_dir):
    dataset = save_dataset(library)
    job = runner.submit("long-run", dataset.id, LONG_TRAINING)
    wait_for(lambda: runner.metrics(job.id), bool, "the first epoch's metrics")

    assert runner.stop(job.id).status == "Stopping"
    done = wait_until_finished(runner, job.id)

    assert (done.status, done.phase, done.model_id) == ("Stopped", "Training", None)
    assert ModelRegistry(store, data_dir).list() == []
    wait_for(lambda: process_alive(done.pid), lambda alive: not alive, "the worker process to exit")


def test_a_killed_worker_is_failed_interrupted_by_reconcile(runner, library):
    dataset = save_dataset(library)
    job = runner.submit("killed-run", dataset.id, LONG_TRAINING)
    wait_for(lambda: runner.get(job.id).phase, lambda phase: phase == "Training", "the Training phase")

    os.killpg(job.pid, signal.SIGKILL)
    wait_for(runner.reconcile, lambda ids: job.id in ids, "reconcile to notice the dead worker")

    failed = runner.get(job.id)
    assert (failed.status, failed.failure_message) == ("Failed", INTERRUPTED)
    assert failed.ended_at


def test_a_restarted_runner_marks_jobs_of_dead_workers_interrupted(runner, library, store, data_dir):
    dataset = save_dataset(library)
    job = runner.submit("orphaned-run", dataset.id, LONG_TRAINING)
    wait_for(lambda: runner.get(job.id).phase, lambda phase: phase == "Training", "the Training phase")
    os.killpg(job.pid, signal.SIGKILL)

    # A new runner (the app restarted) has no handle on the old worker: only the pid and /proc tell.
    restarted = JobRunner(Store(store.path), data_dir)
    listed = wait_for(restarted.list, lambda jobs: jobs[0].status == "Failed", "the restarted runner's list")

    assert (listed[0].id, listed[0].failure_message) == (job.id, INTERRUPTED)


# --- stops at exact points, run in this process ----------------------------------------------------


def stop_inside(monkeypatch, runner, job_id, name):
    """Make the pipeline's call to `name` request a stop first, as a user clicking Stop at that moment."""
    real = getattr(pipeline, name)

    def stopping_first(*args, **kwargs):
        assert runner.stop(job_id).status == "Stopping"
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, name, stopping_first)


def test_a_stop_during_validation_ends_stopped_before_data_processing(monkeypatch, runner, library, store, data_dir):
    job = runner.submit("stop-validation", save_dataset(library).id, background=False)
    stop_inside(monkeypatch, runner, job.id, "read_dataset")

    assert worker.run_job(store, data_dir, job.id) == "Stopped"

    stopped = runner.get(job.id)
    assert (stopped.phase, stopped.model_id, stopped.stop_requested) == ("Validation", None, True)
    assert stopped.ended_at and runner.metrics(job.id) == []


def test_a_stop_during_labelling_ends_stopped_in_data_processing(monkeypatch, runner, library, store, data_dir):
    job = runner.submit("stop-labelling", save_dataset(library, labelled=False).id, background=False)
    stop_inside(monkeypatch, runner, job.id, "label_queries")

    assert worker.run_job(store, data_dir, job.id) == "Stopped"

    assert runner.get(job.id).phase == "DataProcessing"
    assert ModelRegistry(store, data_dir).list() == []


def test_a_stop_between_epochs_ends_stopped_in_training_with_the_epochs_done(
    monkeypatch, runner, library, store, data_dir
):
    job = runner.submit("stop-training", save_dataset(library).id, {"epochs": 50, "patience": 50}, background=False)
    real_train = pipeline.train_student

    def train_then_stop_after_first_epoch(*args, on_epoch, **kwargs):
        def on_epoch_then_stop(report):
            on_epoch(report)
            if report.epoch == 1:
                runner.stop(job.id)

        return real_train(*args, on_epoch=on_epoch_then_stop, **kwargs)

    monkeypatch.setattr(pipeline, "train_student", train_then_stop_after_first_epoch)

    assert worker.run_job(store, data_dir, job.id) == "Stopped"

    assert runner.get(job.id).phase == "Training"
    assert {row["epoch"] for row in runner.metrics(job.id)} == {1}
    assert ModelRegistry(store, data_dir).list() == []


def test_stopping_a_job_whose_worker_never_ran_stops_it_at_once(runner, library, store, data_dir):
    job = runner.submit("never-ran", save_dataset(library).id, background=False)

    stopped = runner.stop(job.id)

    assert stopped.status == "Stopped" and stopped.ended_at
    assert worker.run_job(store, data_dir, job.id) == "Stopped"
    with pytest.raises(JobError, match="already ended"):
        runner.stop(job.id)


# --- data processing, validation and failures ------------------------------------------------------


def test_a_prompt_only_dataset_is_labelled_by_the_teacher_with_a_checkpoint(runner, library, store, data_dir):
    dataset = save_dataset(library, labelled=False)
    job = runner.submit("label-then-train", dataset.id, {"epochs": 10}, background=False)
    # One name per teacher: the job, its model and the form all say who labelled.
    assert job.teacher == "Local reference teacher"

    assert worker.run_job(store, data_dir, job.id) == "Completed"

    lines = (runner.job_dir(job.id) / LABEL_CHECKPOINT_FILE).read_text().splitlines()
    assert len(lines) == 1 + 160  # a header, then one entry per query
    assert all("d" in json.loads(line) for line in lines[1:])
    model = ModelRegistry(store, data_dir).get(runner.get(job.id).model_id)
    assert model.metrics[HELDOUT_N] == 16 and model.metrics["n_train"] > 0
    assert StudentRouter.from_directory(model.path).model.manifest.teacher_id == "Local reference teacher"


def test_a_held_out_dataset_is_scored_instead_of_a_split(runner, library, store, data_dir):
    training = save_dataset(library, "train-part")
    heldout = save_dataset(library, "heldout-part", n_settings=3)
    job = runner.submit(
        "with-heldout", training.id, {"heldout_dataset_id": heldout.name, "epochs": 10}, background=False
    )
    assert job.params["heldout_dataset_id"] == heldout.id

    assert worker.run_job(store, data_dir, job.id) == "Completed"

    model = ModelRegistry(store, data_dir).get(runner.get(job.id).model_id)
    assert model.metrics[HELDOUT_N] == 60 and model.metrics["n_train"] == 160
    assert model.metrics[HELDOUT_RUBRIC] is not None


def test_a_broken_dataset_fails_in_validation_with_line_numbers(runner, library, store, data_dir):
    dataset = save_dataset(library)
    lines = dataset.path.read_text().splitlines()
    lines[2] = '{"schemaVersion": "bedrock-conversation-2024", "messages": ['
    record = json.loads(lines[6])
    record["id"] = 7
    lines[6] = json.dumps(record)
    dataset.path.write_text("\n".join(lines) + "\n")
    job = runner.submit("broken-data", dataset.id)

    failed = wait_until_finished(runner, job.id)

    assert (failed.status, failed.phase) == ("Failed", "Validation")
    assert "line 3:" in failed.failure_message and "line 7:" in failed.failure_message
    assert "Traceback" not in failed.failure_message and "\n" not in failed.failure_message
    assert "Traceback" in runner.log_text(job.id)


def test_an_unexpected_error_fails_the_job_with_one_sentence(monkeypatch, runner, library, store, data_dir, caplog):
    job = runner.submit("crashing", save_dataset(library).id, background=False)

    def broken_trainer(*args, **kwargs):
        raise RuntimeError("matrix exploded\nsecond line of detail")

    monkeypatch.setattr(pipeline, "train_student", broken_trainer)

    assert worker.run_job(store, data_dir, job.id) == "Failed"

    failed = runner.get(job.id)
    assert failed.phase == "Training"
    assert failed.failure_message == "Training failed unexpectedly (RuntimeError: matrix exploded); see the job log."
    assert "Traceback" in caplog.text


# --- submitting ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("bad_name", {}, "cannot contain '_'"),
        ("", {}, "job name is empty"),
        ("ok-name", {"epoch": 3}, "'epoch' is not valid"),
        ("ok-name", {"epochs": 0}, "'epochs' is not valid"),
        ("ok-name", {"heldout_ratio": 0.95}, "'heldout_ratio' is not valid"),
        ("ok-name", {"student": "transformer"}, "'student' is not valid"),
        ("ok-name", {"heldout_dataset_id": "nowhere"}, "held-out dataset 'nowhere' is not in the library"),
        ("ok-name", {"model_name": "has.dot"}, "custom model name cannot contain '.'"),
    ],
)
def test_submit_refuses_bad_requests_with_a_sentence(runner, library, name, params, message):
    dataset = save_dataset(library)
    with pytest.raises(JobError, match=message):
        runner.submit(name, dataset.id, params, background=False)
    assert runner.list() == []


def test_submit_refuses_an_unknown_dataset_and_a_duplicate_name(runner, library):
    with pytest.raises(JobError, match="not in the library"):
        runner.submit("first", "no-such-dataset", background=False)
    dataset = save_dataset(library)
    runner.submit("first", dataset.name, background=False)
    with pytest.raises(JobError, match="already exists"):
        runner.submit("first", dataset.id, background=False)


def test_submit_refuses_a_model_name_an_active_job_will_make(runner, library):
    dataset = save_dataset(library)
    first = runner.submit("first-maker", dataset.id, {"model_name": "shared-student"}, background=False)

    with pytest.raises(JobError, match="'first-maker' is already making a model named 'shared-student'"):
        runner.submit("second-maker", dataset.id, {"model_name": "shared-student"}, background=False)
    assert [job.name for job in runner.list()] == ["first-maker"]

    runner.stop(first.id)  # an ended job made nothing, so its model name is free again
    assert runner.submit("second-maker", dataset.id, {"model_name": "shared-student"}, background=False).active


def test_a_model_name_requested_by_a_running_job_is_not_taken_by_another_jobs_default(runner, library, store, data_dir):
    dataset = save_dataset(library)
    asking = runner.submit("asks-for-a-name", dataset.id, {"model_name": "clash", "epochs": 3}, background=False)
    defaulted = runner.submit("clash", dataset.id, {"epochs": 3}, background=False)

    assert worker.run_job(store, data_dir, defaulted.id) == "Completed"
    assert worker.run_job(store, data_dir, asking.id) == "Completed"

    registry = ModelRegistry(store, data_dir)
    assert registry.get(runner.get(asking.id).model_id).name == "clash"
    assert registry.get(runner.get(defaulted.id).model_id).name == "clash-2"


def test_a_model_name_taken_after_submit_fails_the_job_at_save_with_a_sentence(runner, library, store, data_dir):
    job = runner.submit("late-clash", save_dataset(library).id, {"model_name": "late", "epochs": 3}, background=False)
    elsewhere = data_dir / "models" / "made-elsewhere"
    elsewhere.mkdir(parents=True)
    ModelRegistry(store, data_dir).register("late", None, None, elsewhere, {})

    assert worker.run_job(store, data_dir, job.id) == "Failed"

    assert runner.get(job.id).failure_message == "A model named 'late' already exists; choose another name."
    assert sorted(path.name for path in (data_dir / "models").iterdir()) == ["made-elsewhere"]


def test_submit_refuses_a_bedrock_teacher_for_a_prompt_only_dataset(runner, library):
    prompts = save_dataset(library, labelled=False)
    with pytest.raises(JobError, match="cannot label on the local backend"):
        runner.submit("remote-teacher", prompts.id, {"teacher": "nova-premier"}, background=False)


def test_the_job_record_keeps_every_setting_for_a_rerun(runner, library):
    job = runner.submit("recorded", save_dataset(library).id, {"epochs": 7, "learning_rate": 0.1}, background=False)
    assert job.params["epochs"] == 7 and job.params["learning_rate"] == 0.1
    assert {"batch_size", "seed", "heldout_ratio", "teacher", "student"} <= set(job.params)
    assert job.distill_params().training_config().epochs == 7


# --- processes, reconcile and clean-up -------------------------------------------------------------


def test_process_identity_sees_zombies_and_reused_pids():
    me = os.getpid()
    assert process_alive(me, process_start_ticks(me))
    assert not process_alive(me, process_start_ticks(me) + 1)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    wait_for(lambda: _state(child.pid), lambda state: state in ("Z", None), "the child to exit")
    assert not process_alive(child.pid)  # exited but not yet reaped: a zombie
    child.wait()
    assert not process_alive(child.pid)


def _state(pid):
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rfind(")") + 2]


def test_reconcile_fails_a_job_whose_pid_now_belongs_to_another_process(runner, library, store):
    job = runner.submit("reused-pid", save_dataset(library).id, background=False)
    folder = runner.job_dir(job.id)
    record_process(store, folder, job.id, os.getpid())
    assert runner.reconcile() == []  # the recorded process is this one, alive

    recorded = json.loads((folder / PROCESS_FILE).read_text())
    recorded["start_ticks"] += 1  # same pid, different start: the worker died and the pid was reused
    (folder / PROCESS_FILE).write_text(json.dumps(recorded))

    assert runner.reconcile() == [job.id]
    assert runner.get(job.id).failure_message == INTERRUPTED


class _EndedWorker:
    """A finished worker whose first poll lets another session reap it, as a second browser tab's fragment would."""

    def __init__(self, other_session):
        self.other_session = other_session
        self.polls = 0

    def poll(self):
        self.polls += 1
        if self.polls == 1:
            other = threading.Thread(target=self.other_session)
            other.start()
            other.join(DEADLINE_S)
            assert not other.is_alive(), "the other session's reap never finished"
        return 0


def test_two_sessions_reaping_the_same_ended_worker_both_succeed(runner):
    failures = []

    def other_session_lists_jobs():
        try:
            runner.list()
        except Exception as exc:  # noqa: BLE001 - handed to the test thread, which asserts there were none
            failures.append(exc)

    runner._workers.children["job-ended"] = _EndedWorker(other_session_lists_jobs)

    assert runner.reconcile() == []

    assert failures == []
    assert runner._workers.children == {}


def test_a_job_whose_worker_never_started_is_failed_only_after_a_grace_period(runner, library, store):
    job = runner.submit("not-started", save_dataset(library).id, background=False)
    assert runner.reconcile() == []

    store.execute("UPDATE jobs SET created_at = '2000-01-01 00:00:00.000' WHERE id = ?", (job.id,))

    assert runner.reconcile() == [job.id]


def test_delete_removes_a_finished_job_but_keeps_its_model(runner, library, store, data_dir):
    running = runner.submit("still-running", save_dataset(library).id, background=False)
    with pytest.raises(JobError, match="still InProgress"):
        runner.delete(running.id)
    job = runner.submit("to-delete", running.dataset_id, {"epochs": 3}, background=False)
    assert worker.run_job(store, data_dir, job.id) == "Completed"
    model_id = runner.get(job.id).model_id

    runner.delete(job.id)

    with pytest.raises(JobNotFoundError):
        runner.get(job.id)
    assert runner.metrics(job.id) == []
    assert not runner.job_dir(job.id).exists()
    assert ModelRegistry(store, data_dir).get(model_id).job_id == job.id


def test_list_is_newest_first(runner, library):
    dataset = save_dataset(library)
    for name in ("older", "newer"):
        runner.submit(name, dataset.id, background=False)
    assert [job.name for job in runner.list()] == ["newer", "older"]
