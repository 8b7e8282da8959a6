"""The Deployments page in a real browser at 1024 px: a model deployed from the page turns Active, its endpoint
process is killed and the page shows it Failed ("stopped unexpectedly") by itself, and Restart brings it back.

The model is made by a real distillation job in this test process, written into the module's studio server's data
directory (as the Distillation page would); every endpoint started is deleted at the end.
"""

from __future__ import annotations

import os
import re
import signal

import pytest

from core.deploy.service import LocalDeploymentService
from core.deployments import DeploymentStatus
from core.distill.jobs import JobRunner
from core.settings import Settings
from core.store import Store
from tests.app.helpers import finished_job, save_dataset
from tests.e2e.browser import BROWSER_TEST_MARKS, screenshot_whole_page
from tests.e2e.ui import FIRST_LOAD_MS, STEP_MS, exceptions, main_area, shown, wait_until_drawn

pytestmark = BROWSER_TEST_MARKS
NAME = "router-browser"
# Starting an endpoint process (imports, model load, self-test), and noticing one is gone, take seconds.
ENDPOINT_MS = 60_000


def status_badge(area, status: str):
    """A deployment's status badge (its text follows the badge's icon)."""
    return area.get_by_text(re.compile(rf"(^|\s){re.escape(status)}\s*$")).filter(visible=True)


@pytest.fixture
def deployments(studio):
    store = Store(Settings(data_dir=studio.data_dir).store_path)
    service = LocalDeploymentService(store, studio.data_dir)
    yield store, service
    for deployment in service.list():  # no endpoint process outlives the test
        service.delete(deployment.name)


def test_deploy_kill_see_it_failed_restart_see_it_active(studio, browser, deployments, artifacts):
    from playwright.sync_api import expect

    store, service = deployments
    finished_job(JobRunner(store, studio.data_dir), save_dataset(store, studio.data_dir), "router-distill-browser")
    context = browser.new_context(viewport={"width": 1024, "height": 900})
    page = context.new_page()
    try:
        page.goto(f"{studio.url}/deployments")
        main = main_area(page)
        expect(main.get_by_role("heading", name="Deployments").first).to_be_visible(timeout=FIRST_LOAD_MS)
        expect(shown(main, "No deployments yet", exact=False)).to_be_visible(timeout=STEP_MS)
        name = main.get_by_role("textbox", name="Deployment name")
        name.fill("router browser")
        name.press("Enter")
        wait_until_drawn(page, STEP_MS)  # a redraw keeps the old button beside the new one until it ends
        expect(shown(main, "cannot contain a space", exact=False).first).to_be_visible(timeout=STEP_MS)
        expect(main.get_by_role("button", name="Deploy", exact=True)).to_be_disabled()
        name.fill(NAME)
        name.press("Enter")
        wait_until_drawn(page, STEP_MS)
        deploy = main.get_by_role("button", name="Deploy", exact=True)
        expect(deploy).to_be_enabled(timeout=STEP_MS)

        deploy.click()
        expect(status_badge(main, "Active")).to_be_visible(timeout=ENDPOINT_MS)
        deployment = service.get(NAME)
        assert deployment.status == DeploymentStatus.ACTIVE and deployment.endpoint.startswith("http://127.0.0.1:")
        expect(shown(main, deployment.endpoint, exact=True)).to_be_visible()
        expect(exceptions(page)).to_have_count(0)
        screenshot_whole_page(page, artifacts / "deployments-active-1024.png")
        page.set_viewport_size({"width": 1024, "height": 900})

        pid = int(store.query_one("SELECT pid FROM deployments WHERE id = ?", (deployment.id,))["pid"])
        os.kill(pid, signal.SIGKILL)
        expect(status_badge(main, "Failed (stopped unexpectedly)")).to_be_visible(timeout=ENDPOINT_MS)
        expect(shown(main, "The endpoint process stopped unexpectedly", exact=False)).to_be_visible()
        screenshot_whole_page(page, artifacts / "deployments-failed-1024.png")
        page.set_viewport_size({"width": 1024, "height": 900})

        main.get_by_role("button", name="Restart").click()
        expect(status_badge(main, "Active")).to_be_visible(timeout=ENDPOINT_MS)
        again = service.get(NAME)
        assert again.status == DeploymentStatus.ACTIVE and again.endpoint == deployment.endpoint
        assert int(store.query_one("SELECT pid FROM deployments WHERE id = ?", (deployment.id,))["pid"]) != pid
        expect(exceptions(page)).to_have_count(0)
    finally:
        context.close()
