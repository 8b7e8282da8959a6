"""Deploy, then the Playground, in a real browser at 1024 px: a trained local student is deployed and made the active
student on the Deployments page, then the teacher and the student side by side on one query (screenshot
test-artifacts/playground-1024.png), then a batch compared and filtered to where they disagree."""

from __future__ import annotations

import pytest

from core.backends import LocalBackend
from core.compare import compare_batch
from core.distill.artifact import save_student
from core.distill.trainer import TrainingConfig, decision_targets, train_student
from core.model_registry import ModelRegistry
from core.routers.reference import ReferenceTeacher
from core.settings import Settings
from core.store import Store
from core.synth import DataMix, generate
from tests.e2e.browser import BROWSER_TEST_MARKS, screenshot_whole_page
from tests.e2e.ui import (
    FIRST_LOAD_MS,
    STEP_MS,
    charts,
    exceptions,
    main_area,
    open_from_sidebar,
    shown,
    tables,
    wait_until_drawn,
)

pytestmark = BROWSER_TEST_MARKS
NARROW = {"width": 1024, "height": 900}
# Starting an endpoint process (imports, model load, self-test) takes seconds.
ENDPOINT_MS = 60_000
QUERY = "dog barking loudly"
BATCH = [
    "dog barking loudly",
    "sunset over mountains",
    "CEO discussing quarterly earnings",
    "red car driving",
    "Olivia talking about growing up in poverty",
    "the spice road season 1, episode 14",
]


@pytest.fixture(scope="module")
def deployed(studio):
    """A student trained and registered in the studio's data directory (the page deploys it); every deployment is
    deleted at the end."""
    store = Store(studio.data_dir / "studio.db")
    queries = [q.query for q in generate(DataMix(total=300, seed=5))]
    decisions = [r.decision for r in ReferenceTeacher().route_batch(queries)]
    registry = ModelRegistry(store, studio.data_dir)
    student = train_student(queries, decision_targets(decisions), TrainingConfig(epochs=3, validation_ratio=0.0))
    registry.register("student-one", None, None, save_student(student, registry.model_dir("m1")), {})
    backend = LocalBackend(Settings(data_dir=studio.data_dir), store)
    service = backend.deployments()
    yield backend
    for deployment in service.list():  # no endpoint process outlives the test
        service.delete(deployment.name)


def test_teacher_and_student_side_by_side_then_a_batch_filtered_to_disagreements(studio, deployed, browser, artifacts):
    from playwright.sync_api import expect

    context = browser.new_context(viewport=NARROW)
    page = context.new_page()
    page.goto(f"{studio.url}/deployments")
    main = main_area(page)
    expect(main.get_by_role("heading", name="Deployments").first).to_be_visible(timeout=FIRST_LOAD_MS)
    name = main.get_by_role("textbox", name="Deployment name")
    name.fill("live")
    name.press("Enter")
    wait_until_drawn(page, STEP_MS)
    main.get_by_role("button", name="Deploy", exact=True).click()
    expect(main.get_by_role("button", name="Set as active student")).to_be_visible(timeout=ENDPOINT_MS)
    main.get_by_role("button", name="Set as active student").click()
    expect(shown(main, "live is the active student", exact=False).first).to_be_visible(timeout=STEP_MS)

    main = open_from_sidebar(page, studio.url, "Playground", "Playground")
    expect(shown(main, "Active student (live)").first).to_be_visible(timeout=STEP_MS)

    query = main.get_by_label("Search query")
    query.fill(QUERY)
    query.press("Enter")

    expect(charts(main)).to_have_count(2, timeout=STEP_MS)
    expect(shown(main, "Agreement: the reference", exact=False)).to_be_visible()
    expect(shown(main, "L1 distance:", exact=False)).to_be_visible()
    assert main.evaluate("main => main.scrollWidth <= main.clientWidth"), "the page scrolls sideways at 1024 px"
    page.wait_for_timeout(500)  # the charts lay out after the run ends
    screenshot_whole_page(page, artifacts / "playground-1024.png")
    page.set_viewport_size(NARROW)

    expected = compare_batch(deployed.router, BATCH, ["teacher", "student"])
    main.get_by_label("Queries, one a line", exact=False).fill("\n".join(BATCH))
    page.keyboard.press("Control+Enter")
    main.get_by_role("button", name=f"Compare {len(BATCH)} queries").click()
    expect(shown(main, f"{len(BATCH)} of {len(BATCH)} queries, one line per router", exact=False)).to_be_visible(
        timeout=STEP_MS
    )
    main.get_by_text("Only where they disagree", exact=True).click()

    n = len(expected.disagreements)
    expect(shown(main, f"{n} of {len(BATCH)} queries, one line per router", exact=False)).to_be_visible(timeout=STEP_MS)
    expect(tables(main).filter(has_text="Weights").first).to_be_visible()
    expect(exceptions(page)).to_have_count(0)
    assert main_area(page).evaluate("main => main.scrollWidth <= main.clientWidth")
    context.close()
