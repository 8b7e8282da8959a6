"""Distillation and Models in a real browser: empty states, a live job, a failed one, and a whole run
from launch to routing a query with the model it made.

The studio server is this module's own (the `studio` fixture); datasets and job records are written into its
data directory by the test, as the Data Mix page and a worker would.
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

import pytest

from core.datasets.library import DatasetLibrary
from core.distill import worker
from core.distill.jobs import JobPhase, JobRunner, JobStatus, job_dir, record_process
from core.model_registry import ModelRegistry
from core.routers.reference import ReferenceTeacher
from core.routers.student import StudentRouter
from core.settings import Settings
from core.store import Store
from core.synth import DataMix
from core.synth.pipeline import synthesise
from dashboard.widgets.formatting import weights_text
from tests.e2e.browser import BROWSER_TEST_MARKS, screenshot_whole_page
from tests.e2e.ui import FIRST_LOAD_MS, JOB_MS, STEP_MS, charts, exceptions, main_area, shown, sidebar, tables

pytestmark = BROWSER_TEST_MARKS
DATASET_RECORDS = 200
QUERY = "dog barking loudly"


@pytest.fixture(scope="module")
def studio_store(studio) -> Store:
    return Store(Settings(data_dir=studio.data_dir).store_path)


@pytest.fixture(scope="module")
def runner(studio, studio_store) -> JobRunner:
    runner = JobRunner(studio_store, studio.data_dir)
    yield runner
    # Leave no worker behind (the browser started them through the server).
    for job in runner.list():
        if job.active and job.pid and job.pid != os.getpid():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(job.pid, signal.SIGKILL)


def save_labelled_dataset(store: Store, data_dir: Path, name: str):
    made = synthesise(DataMix(total=DATASET_RECORDS, seed=11), ReferenceTeacher(), teacher_id="Local reference teacher")
    return DatasetLibrary(store, data_dir).save(name, made.records, made.tags, made.manifest_fields)


def test_empty_states_point_to_the_previous_step(studio, page, artifacts):
    from playwright.sync_api import expect

    page.goto(f"{studio.url}/distillation")
    main = main_area(page)
    expect(main.get_by_role("heading", name="Distillation")).to_be_visible(timeout=FIRST_LOAD_MS)
    expect(main.get_by_text("No datasets yet", exact=False)).to_be_visible(timeout=STEP_MS)
    expect(main.get_by_role("link", name="Open Data Mix")).to_be_visible()
    expect(main.get_by_text("No jobs yet", exact=False)).to_be_visible()
    screenshot_whole_page(page, artifacts / "distillation-empty.png")

    sidebar(page).get_by_role("link", name="Models").click()
    expect(main.get_by_text("No models yet: run a distillation", exact=False)).to_be_visible(timeout=STEP_MS)
    expect(main.get_by_role("link", name="Open Distillation")).to_be_visible()
    expect(exceptions(page)).to_have_count(0)


def test_a_running_job_updates_live_and_a_failed_one_says_why(studio, studio_store, runner, page, artifacts):
    from playwright.sync_api import expect

    dataset = save_labelled_dataset(studio_store, studio.data_dir, "states-dataset")
    failed = runner.submit("router-distill-failed", dataset.id, background=False)
    worker.JobReporter(studio_store, failed.id).finish(
        JobStatus.FAILED, failure_message="The training dataset 'states-dataset' could not be read (disk error)."
    )
    live = runner.submit("router-distill-live", dataset.id, {"epochs": 10}, background=False)
    # This test process stands in for the worker: alive, so the job stays InProgress until the test ends it.
    record_process(studio_store, job_dir(studio.data_dir, live.id), live.id, os.getpid())
    reporter = worker.JobReporter(studio_store, live.id)
    try:
        reporter.start()
        reporter.enter(JobPhase.DATA_PROCESSING, 0.05)
        reporter.enter(JobPhase.TRAINING, 0.25)
        for epoch, loss in enumerate((1.3, 1.2, 1.12), start=1):
            reporter.add_metrics(
                epoch, epoch, {"train_loss": loss, "validation_loss": loss + 0.08, "validation_agreement": 0.2 * epoch}
            )
        reporter.progress(0.4)
        reporter.flush()

        page.goto(f"{studio.url}/distillation?job={live.id}")
        main = main_area(page)
        expect(shown(main, "Training: InProgress")).to_be_visible(timeout=FIRST_LOAD_MS)
        expect(shown(main, "Training: 40%")).to_be_visible(timeout=STEP_MS)
        expect(charts(main)).to_have_count(2)

        # The job view polls the store: new progress shows without a click or a reload.
        reporter.progress(0.7)
        reporter.flush()
        expect(shown(main, "Training: 70%")).to_be_visible(timeout=STEP_MS)
        screenshot_whole_page(page, artifacts / "distillation-running.png")

        main.get_by_role("button", name="Stop job").click()
        expect(shown(main, "Stop this job?", exact=False)).to_be_visible(timeout=STEP_MS)
        main.get_by_role("button", name="Stop the job").click()
        expect(shown(main, "Stopping: the worker ends at its next check.")).to_be_visible(timeout=STEP_MS)
        assert runner.get(live.id).status == JobStatus.STOPPING
    finally:
        reporter.finish(JobStatus.STOPPED)
    expect(shown(main, "Stopped on request", exact=False)).to_be_visible(timeout=STEP_MS)

    page.goto(f"{studio.url}/distillation?job={failed.id}")
    expect(shown(main, "The job failed.")).to_be_visible(timeout=FIRST_LOAD_MS)
    expect(shown(main, "could not be read (disk error)", exact=False)).to_be_visible()
    expect(shown(main, "Validation: Failed")).to_be_visible()
    expect(main.get_by_role("button", name="Start distillation")).to_be_visible()
    expect(tables(main)).to_be_visible()
    expect(exceptions(page)).to_have_count(0)
    screenshot_whole_page(page, artifacts / "distillation-failed.png")


def test_launch_a_job_watch_it_finish_and_route_with_its_model(studio, studio_store, runner, page, artifacts):
    from playwright.sync_api import expect

    dataset = save_labelled_dataset(studio_store, studio.data_dir, "router-train-small")
    page.goto(f"{studio.url}/distillation")
    main = main_area(page)
    expect(main.get_by_role("button", name="Start distillation")).to_be_visible(timeout=FIRST_LOAD_MS)
    main.get_by_role("combobox", name="Dataset").click()
    page.get_by_role("option", name="router-train-small", exact=False).click()
    epochs = main.get_by_role("textbox", name="Epochs")
    epochs.fill("8")
    epochs.press("Enter")
    name = main.get_by_role("textbox", name="Job name")
    name.fill("router_distill")
    expect(main.get_by_text("cannot contain '_'", exact=False)).to_be_visible(timeout=STEP_MS)
    expect(main.get_by_role("button", name="Start distillation")).to_be_disabled()
    name.fill("router-distill-browser")
    expect(main.get_by_role("button", name="Start distillation")).to_be_enabled(timeout=STEP_MS)

    main.get_by_role("button", name="Start distillation").click()
    expect(shown(main, "Completed: the student is registered", exact=False)).to_be_visible(timeout=JOB_MS)
    [job] = [job for job in runner.list() if job.name == "router-distill-browser"]
    assert job.status == JobStatus.COMPLETED and job.dataset_id == dataset.id and job.params["epochs"] == 8
    assert f"job={job.id}" in page.url
    expect(shown(main, "Training: Completed")).to_be_visible()
    expect(charts(main)).to_have_count(2)
    expect(exceptions(page)).to_have_count(0)
    screenshot_whole_page(page, artifacts / "distillation.png")

    main.get_by_role("link", name="Open it on the Models page").click()
    expect(main.get_by_role("heading", name="Models")).to_be_visible(timeout=STEP_MS)
    model = ModelRegistry(studio_store, studio.data_dir).get(job.model_id)
    assert f"model={model.id}" in page.url
    expect(main.get_by_text(model.name, exact=True).first).to_be_visible()
    query = main.get_by_label("Search query")
    query.fill(QUERY)
    main.get_by_role("button", name="Route with this model").click()
    expected = StudentRouter.from_directory(model.path).route(QUERY).decision
    expect(main.get_by_text(weights_text(expected.weights()), exact=True)).to_be_visible(timeout=STEP_MS)
    expect(main.get_by_text(expected.reasoning, exact=True)).to_be_visible()
    expect(exceptions(page)).to_have_count(0)
    screenshot_whole_page(page, artifacts / "models.png")


def test_bad_input_settings_out_of_range_turn_start_off_with_the_reason_beside_it(studio, studio_store, page):
    from playwright.sync_api import expect

    save_labelled_dataset(studio_store, studio.data_dir, "range-dataset")
    page.goto(f"{studio.url}/distillation")
    main = main_area(page)
    start = main.get_by_role("button", name="Start distillation")
    expect(start).to_be_enabled(timeout=FIRST_LOAD_MS)

    # Streamlit's number box turned red here and kept 30 and 0.01, and Start ran the job with those.
    epochs = main.get_by_role("textbox", name="Epochs")
    epochs.fill("5000")
    epochs.press("Enter")
    expect(start).to_be_disabled(timeout=STEP_MS)
    expect(shown(main, "Epochs must be a whole number from 1 to 1,000; the box holds '5000'.")).to_be_visible()
    rate = main.get_by_role("textbox", name="Learning rate")
    rate.fill("-1")
    rate.press("Enter")
    expect(shown(main, "Learning rate must be a number above 0 and at most 10", exact=False)).to_be_visible(
        timeout=STEP_MS
    )

    epochs.fill("12")
    epochs.press("Enter")
    rate.fill("0.02")
    rate.press("Enter")
    expect(start).to_be_enabled(timeout=STEP_MS)
    expect(shown(main, "must be a", exact=False)).to_have_count(0)
    expect(exceptions(page)).to_have_count(0)
