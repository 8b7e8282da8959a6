"""The studio in a real browser: navigation, routing a query on Overview, and Bedrock without credentials."""

from pathlib import Path

from core.backends import LocalBackend
from core.settings import Settings
from core.store import Store
from dashboard.widgets.formatting import weights_text
from tests.e2e.browser import BROWSER_TEST_MARKS, screenshot_whole_page
from tests.e2e.ui import FIRST_LOAD_MS, STEP_MS, charts, exceptions, main_area, sidebar

pytestmark = BROWSER_TEST_MARKS


def test_navigate_and_route_a_query(studio, page, artifacts):
    from playwright.sync_api import expect

    page.goto(studio.url)
    main = main_area(page)
    expect(main.get_by_role("heading", name="Video Search Router Studio")).to_be_visible(timeout=FIRST_LOAD_MS)
    expect(sidebar(page).get_by_text("Local", exact=True)).to_be_visible(timeout=STEP_MS)

    sidebar(page).get_by_role("link", name="Settings").click()
    expect(main.get_by_role("heading", name="Settings")).to_be_visible(timeout=STEP_MS)
    expect(main.get_by_text(str(studio.data_dir), exact=True)).to_be_visible(timeout=STEP_MS)
    sidebar(page).get_by_role("link", name="Overview").click()
    expect(main.get_by_role("heading", name="Try the router")).to_be_visible(timeout=STEP_MS)

    query = main.get_by_label("Search query")
    query.fill("dog barking loudly")
    query.press("Enter")
    chart = charts(main)
    expect(chart).to_be_visible(timeout=STEP_MS)
    expect(main.get_by_text("Reasoning", exact=True)).to_be_visible()
    expected = _local_teacher(studio.data_dir).route("dog barking loudly").decision
    expect(main.get_by_text(weights_text(expected.weights()), exact=True)).to_be_visible()
    expect(main.get_by_text(expected.reasoning, exact=True)).to_be_visible()
    screenshot_whole_page(page, artifacts / "overview.png")


def test_settings_on_bedrock_without_credentials(bedrock_studio, page, artifacts):
    from playwright.sync_api import expect

    page.goto(bedrock_studio.url)
    expect(sidebar(page).get_by_text("No AWS credentials found", exact=False)).to_be_visible(timeout=FIRST_LOAD_MS)
    sidebar(page).get_by_role("link", name="Fix it in Settings").click()
    main = main_area(page)
    expect(main.get_by_role("heading", name="Settings")).to_be_visible(timeout=STEP_MS)
    main.get_by_role("button", name="Check credentials").click()
    expect(main.get_by_text("No AWS credentials found", exact=False)).to_be_visible(timeout=STEP_MS)
    expect(exceptions(page)).to_have_count(0)
    screenshot_whole_page(page, artifacts / "settings-bedrock-no-credentials.png")


def _local_teacher(data_dir: Path):
    settings = Settings(data_dir=data_dir)
    return LocalBackend(settings, Store(settings.store_path)).teacher()
