"""The Distillation page: launching a job, the job list, a running and a finished job, stopping, failures.

Finished jobs run through the real JobRunner and worker in this process (`background=False` + `run_job`);
a "running" job is a real job record whose worker is this test process, driven by the worker's own
JobReporter, so no worker process outlives a test. The one test that starts a real worker waits for it to end.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time

import pytest

from core.aws.names import check_job_name
from core.datasets.library import DatasetInfo
from core.distill import worker
from core.distill.jobs import INTERRUPTED, Job, JobPhase, JobRunner, JobStatus, job_dir, record_process
from dashboard import state
from dashboard.components import plain_markdown
from dashboard.distillation_views import EPOCHS_KEY, INTERRUPTED_TEXT, LEARNING_RATE_KEY, NAME_KEY, SEED_KEY
from tests.app.helpers import (
    FEW_EPOCHS,
    alerts,
    chart_rows,
    finished_job,
    open_page,
    reasons,
    run_app,
    save_dataset,
    texts,
)

WORKER_DEADLINE_S = 90.0


@pytest.fixture
def runner(store, studio_env) -> JobRunner:
    return JobRunner(store, studio_env)


def running_job(runner: JobRunner, dataset: DatasetInfo, name: str = "router-distill-live") -> worker.JobReporter:
    """A job half way through Training whose worker is this (live) test process."""
    job = runner.submit(name, dataset.id, {"epochs": FEW_EPOCHS}, background=False)
    record_process(runner.store, job_dir(runner.data_dir, job.id), job.id, os.getpid())
    reporter = worker.JobReporter(runner.store, job.id)
    reporter.start()
    reporter.enter(JobPhase.DATA_PROCESSING, 0.05)
    reporter.enter(JobPhase.TRAINING, 0.25)
    reporter.add_metrics(1, 1, {"train_loss": 1.25, "validation_loss": 1.31, "validation_agreement": 0.4})
    reporter.progress(0.5)
    reporter.flush()
    return reporter


def badges(at) -> list[str]:
    return [m.value for m in at.markdown if "-badge[" in m.value]


def test_empty_library_points_to_data_mix(app):
    at = open_page(app, "distillation.py")

    assert not at.exception
    assert any("No datasets yet" in body for body in alerts(at))
    assert [link.proto.label for link in at.get("page_link")] == ["Open Data Mix"]
    assert any("No jobs yet" in body for body in alerts(at))
    assert not at.get("vega_lite_chart")


def test_running_job_shows_phases_progress_and_live_curves(app, store, runner, studio_env):
    reporter = running_job(runner, save_dataset(store, studio_env))

    at = open_page(app, "distillation.py")

    assert not at.exception, [e.value for e in at.exception]
    shown = " ".join(badges(at))
    assert "Validation: Completed" in shown and "DataProcessing: Completed" in shown
    assert "Training: InProgress" in shown
    [progress] = at.get("progress")
    assert progress.proto.value == 50 and progress.proto.text == "Training: 50%"
    loss_rows = chart_rows(at.get("vega_lite_chart")[0])
    assert {(row["curve"], row["epoch"], row["value"]) for row in loss_rows} == {
        ("training loss", 1, 1.25),
        ("validation loss", 1, 1.31),
    }
    assert at.button(key="distill_stop").label == "Stop job"

    # The fragment polls the store: a new epoch shows on the next run without any click.
    reporter.add_metrics(2, 2, {"train_loss": 1.1, "validation_loss": 1.2, "validation_agreement": 0.6})
    reporter.progress(0.6)
    reporter.flush()
    at.run()
    agreement_rows = chart_rows(at.get("vega_lite_chart")[1])
    assert [row["value"] for row in agreement_rows if row["curve"] == "validation agreement"] == [0.4, 0.6]
    assert at.get("progress")[0].proto.value == 60


def test_finished_job_shows_its_curves_figures_and_a_link_to_its_model(app, store, runner, studio_env):
    job = finished_job(runner, save_dataset(store, studio_env))
    assert job.status == JobStatus.COMPLETED

    at = open_page(app, "distillation.py")

    assert not at.exception, [e.value for e in at.exception]
    assert all(": Completed]" in badge for badge in badges(at) if "Validation" in badge or "Training" in badge)
    loss_rows = chart_rows(at.get("vega_lite_chart")[0])
    assert sorted({row["epoch"] for row in loss_rows if row["curve"] == "training loss"}) == [1, 2, 3]
    agreement_curves = {row["curve"] for row in chart_rows(at.get("vega_lite_chart")[1])}
    assert agreement_curves == {"validation agreement", "held-out agreement"}
    [link] = at.get("page_link")
    assert link.proto.query_string == f"model={job.model_id}"
    assert link.proto.page.endswith("models")
    assert "Held-out agreement" in [metric.label for metric in at.metric]
    assert not [b for b in at.button if b.key == "distill_stop"]


def test_stop_asks_for_confirmation_then_stops(app, store, runner, studio_env):
    reporter = running_job(runner, save_dataset(store, studio_env))
    job_id = reporter.job_id
    at = open_page(app, "distillation.py")

    at.button(key="distill_stop").click().run()
    assert any("Stop this job?" in body for body in alerts(at))
    assert runner.get(job_id).status == JobStatus.IN_PROGRESS

    at.button(key="distill_stop_cancel").click().run()
    assert runner.get(job_id).status == JobStatus.IN_PROGRESS
    assert not any("Stop this job?" in body for body in alerts(at))

    at.button(key="distill_stop").click().run()
    at.button(key="distill_stop_confirm").click().run()
    assert runner.get(job_id).status == JobStatus.STOPPING
    assert any("Stopping" in body for body in alerts(at))
    assert not [b for b in at.button if b.key == "distill_stop"]

    # The worker sees the request at its next check and ends the job Stopped.
    reporter.finish(JobStatus.STOPPED)
    at.run()
    assert not at.exception
    assert runner.get(job_id).status == JobStatus.STOPPED
    assert any("Stopped on request" in body for body in alerts(at))
    assert "Training: Stopped" in " ".join(badges(at))


def test_job_in_query_params_selects_it_on_load(app, store, runner, studio_env):
    dataset = save_dataset(store, studio_env)
    done = finished_job(runner, dataset, "router-distill-older")
    running_job(runner, dataset, "router-distill-newer")

    at = open_page(app, "distillation.py")
    assert at.selectbox(key="distill_pick").value != done.id  # the newest job without a query parameter

    at.query_params["job"] = done.id
    at.run()
    assert at.selectbox(key="distill_pick").value == done.id
    assert "router-distill-older" in texts(at)
    assert at.query_params["job"] == done.id


def test_invalid_job_name_shows_the_pattern_message_and_blocks_start(app, store, studio_env):
    save_dataset(store, studio_env)
    at = open_page(app, "distillation.py")
    assert at.text_input(key=NAME_KEY).value.startswith("router-distill-")
    assert not at.button(key="distill_start").disabled

    at.text_input(key=NAME_KEY).input("router_distill v1").run()

    problem = check_job_name("router_distill v1")
    assert "cannot contain '_'" in problem
    [reason] = reasons(at)  # beside Start, which is off
    assert plain_markdown(problem) in reason  # shown as written, not as markdown
    assert at.button(key="distill_start").disabled


def test_start_launches_one_job_even_when_clicked_twice_and_selects_it(app, store, runner, studio_env):
    dataset = save_dataset(store, studio_env)
    at = open_page(app, "distillation.py")
    at.text_input(key=EPOCHS_KEY).input("2").run()

    # A double click: the second click comes from the page as drawn before the first launch, button enabled.
    start_as_drawn = at.button(key="distill_start")
    start_as_drawn.click().run()
    start_as_drawn.click().run()

    jobs = runner.list()
    try:
        assert len(jobs) == 1
        assert not at.error, [error.value for error in at.error]
        assert any("Started" in body for body in alerts(at))
        [job] = jobs
        assert job.dataset_id == dataset.id and job.params["epochs"] == 2
        assert at.query_params["job"] == job.id
        assert at.selectbox(key="distill_pick").value == job.id
        assert at.button(key="distill_start").disabled  # the name is now taken
        finished = _wait_until_finished(runner, job.id)
    finally:
        _end_worker(runner)
    assert finished.status == JobStatus.COMPLETED, finished.failure_message
    at.run()
    assert at.get("page_link")[0].proto.query_string == f"model={finished.model_id}"


def test_a_failed_job_shows_its_reason_as_text(app, store, runner, studio_env):
    dataset = save_dataset(store, studio_env)
    job = runner.submit("router-distill-broken", dataset.id, background=False)
    reporter = worker.JobReporter(store, job.id)
    reporter.start()
    reason = "The training dataset 'small' is not valid: line 3: the assistant text is not JSON."
    reporter.finish(JobStatus.FAILED, failure_message=reason)

    at = open_page(app, "distillation.py")

    assert not at.exception
    assert "The job failed." in [error.value for error in at.error]
    assert reason in texts(at)
    assert "Validation: Failed" in " ".join(badges(at))


def test_a_job_whose_worker_vanished_shows_failed_interrupted(app, store, runner, studio_env):
    dataset = save_dataset(store, studio_env)
    job = runner.submit("router-distill-killed", dataset.id, background=False)
    # A process that has surely ended stands for a killed worker.
    record_process(store, job_dir(studio_env, job.id), job.id, _ended_pid())

    at = open_page(app, "distillation.py")

    assert runner.get(job.id).failure_message == INTERRUPTED
    assert INTERRUPTED_TEXT in texts(at)
    assert not [b for b in at.button if b.key == "distill_stop"]


def test_the_studios_job_runner_marks_a_job_whose_worker_died_while_the_app_was_down_when_it_is_made(
    store, runner, studio_env
):
    dataset = save_dataset(store, studio_env)
    job = runner.submit("router-distill-orphan", dataset.id, background=False)
    record_process(store, job_dir(studio_env, job.id), job.id, _ended_pid())

    state.jobs()

    orphan = runner.get(job.id)  # get() reads the record as it is, without reconciling
    assert (orphan.status, orphan.failure_message) == (JobStatus.FAILED, INTERRUPTED)


def _wait_until_finished(runner: JobRunner, job_id: str) -> Job:
    deadline = time.monotonic() + WORKER_DEADLINE_S
    job = runner.get(job_id)
    while not job.finished:
        if time.monotonic() > deadline:
            raise AssertionError(f"the worker did not finish in time; its log ends:\n{runner.log_text(job_id)[-2000:]}")
        time.sleep(0.05)  # polling the store a worker process writes; there is nothing to wait on instead
        job = runner.get(job_id)
    return job


def _end_worker(runner: JobRunner) -> None:
    """Leave no worker behind, whatever the assertions did."""
    for job in runner.list():
        if job.active and job.pid and job.pid != os.getpid():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(job.pid, signal.SIGKILL)


def _ended_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_on_bedrock_the_teachers_students_are_offered_and_nothing_crashes_without_credentials(studio_env, store):
    (studio_env / "settings.json").write_text(json.dumps({"backend": "bedrock"}), encoding="utf-8")
    save_dataset(store, studio_env)

    at = open_page(run_app(), "distillation.py")

    assert not at.exception, [e.value for e in at.exception]
    [note] = [caption.value for caption in at.caption if caption.value.startswith("On Amazon Bedrock")]
    assert "Amazon Nova Premier distils into Amazon Nova Micro, Amazon Nova Lite, Amazon Nova Pro" in note
    assert at.selectbox(key="distill_student").options == [
        "Amazon Nova Micro on Amazon Bedrock",
        "Amazon Nova Lite on Amazon Bedrock",
        "Amazon Nova Pro on Amazon Bedrock",
        "Local compact student (hashed n-grams)",
    ]
    assert any(body.startswith("No AWS credentials found") for body in alerts(at))


# ---- what the form shows is what runs (issue 8, point 14) -----------------------------------------------------


@pytest.mark.parametrize(
    ("key", "typed", "reason"),
    [
        (EPOCHS_KEY, "5000", "Epochs must be a whole number from 1 to 1,000; the box holds '5000'."),
        (EPOCHS_KEY, "2.5", "Epochs must be a whole number from 1 to 1,000; the box holds '2.5'."),
        (EPOCHS_KEY, "", "Epochs is empty: type a whole number from 1 to 1,000."),
        (LEARNING_RATE_KEY, "-1", "Learning rate must be a number above 0 and at most 10; the box holds '-1'."),
        (LEARNING_RATE_KEY, "0", "Learning rate must be a number above 0 and at most 10; the box holds '0'."),
        (LEARNING_RATE_KEY, "nan", "Learning rate must be a number above 0 and at most 10; the box holds 'nan'."),
        (SEED_KEY, "-3", "Seed must be a whole number, 0 or more; the box holds '-3'."),
    ],
)
def test_bad_input_a_setting_out_of_range_turns_start_off_with_the_reason_beside_it(
    app, store, runner, studio_env, key, typed, reason
):
    save_dataset(store, studio_env)
    at = open_page(app, "distillation.py")
    as_drawn = at.button(key="distill_start")
    assert not as_drawn.disabled

    at.text_input(key=key).input(typed)
    at = as_drawn.click().run()  # a click that reaches the same run as the edit

    assert not at.exception
    assert at.button(key="distill_start").disabled
    assert reasons(at) == [plain_markdown(reason).join((":red[:material/block: ", "]"))]
    assert runner.list() == []  # nothing started with the last valid value instead


@pytest.fixture
def records_only(monkeypatch):
    """Start-ups record the job without starting its worker (what is checked here is what the job was given)."""
    submit = JobRunner.submit
    monkeypatch.setattr(
        JobRunner,
        "submit",
        lambda self, name, dataset_id, params=None, confirm=False, background=True: submit(
            self, name, dataset_id, params, confirm=confirm, background=False
        ),
    )


def test_bad_input_a_job_runs_with_exactly_the_settings_the_form_shows(app, store, runner, studio_env, records_only):
    dataset = save_dataset(store, studio_env)
    at = open_page(app, "distillation.py")
    at.text_input(key=EPOCHS_KEY).input("4")
    at.text_input(key=LEARNING_RATE_KEY).input("0.02")
    at.text_input(key=SEED_KEY).input("1,234")
    at.slider(key="distill_heldout_ratio").set_value(0.25)
    at.text_input(key=NAME_KEY).input("router-distill-exact")
    at = at.run()
    assert not reasons(at)

    at.button(key="distill_start").click().run()
    [job] = runner.list()
    assert job.dataset_id == dataset.id and job.name == "router-distill-exact"
    assert (job.params["epochs"], job.params["learning_rate"], job.params["seed"]) == (4, 0.02, 1234)
    assert job.params["heldout_ratio"] == 0.25


# ---- the held-out part of a split is offered as held-out (issue 8, point 15, the page's half) ------------------


def split_in_two(store, studio_env):
    from core.datasets.library import DatasetLibrary

    whole = save_dataset(store, studio_env, "whole", total=200)
    return DatasetLibrary(store, studio_env).split(whole.id, 0.2, 7)


def test_fault_after_a_split_the_training_part_is_the_default_and_the_held_out_part_is_offered_as_held_out(
    app, store, studio_env
):
    train, heldout = split_in_two(store, studio_env)  # the held-out part is the newest dataset

    at = open_page(app, "distillation.py")

    assert not at.exception
    assert at.selectbox(key="distill_dataset").value == train.id
    assert at.selectbox(key="distill_dataset").options[-1].startswith("whole-heldout")  # offered last
    held = at.selectbox(key="distill_heldout_set")
    assert held.options[1].startswith("whole-heldout") and "held-out part of a split" in held.options[1]


def test_fault_a_job_scored_on_the_held_out_part_trains_on_the_whole_training_part(
    app, store, runner, studio_env, records_only
):
    train, heldout = split_in_two(store, studio_env)
    at = open_page(app, "distillation.py")
    at = at.selectbox(key="distill_heldout_set").set_value(heldout.id).run()
    assert not [s for s in at.slider if s.key == "distill_heldout_ratio"]  # no share: all of it trains
    assert "none: all of it trains" in texts(at)

    at.button(key="distill_start").click().run()

    [job] = runner.list()
    assert job.dataset_id == train.id
    assert job.params["heldout_dataset_id"] == heldout.id and job.params["heldout_ratio"] == 0.0


def test_fault_training_on_a_held_out_part_or_keeping_nothing_back_says_what_it_costs(app, store, studio_env):
    train, heldout = split_in_two(store, studio_env)
    at = open_page(app, "distillation.py")
    at = at.selectbox(key="distill_dataset").set_value(heldout.id).run()
    assert any("This is the held-out part of a split" in body for body in alerts(at))

    at = at.selectbox(key="distill_dataset").set_value(train.id).run()
    at = at.slider(key="distill_heldout_ratio").set_value(0.0).run()
    assert any("the model will have no held-out figures" in body for body in alerts(at))
    assert not at.button(key="distill_start").disabled  # said, not refused
