"""The Evaluation page in a real browser at 1024 px: evaluate the teacher and uniform weights on a saved dataset,
see every chart, pin the run as the baseline, run again and read the changes against it, and open the queries
of a confusion cell."""

import re

from core.settings import Settings
from core.store import Store
from tests.app.helpers import save_dataset
from tests.e2e.browser import BROWSER_TEST_MARKS, screenshot_whole_page
from tests.e2e.ui import STEP_MS, charts, exceptions, grid_cells, open_from_sidebar, shown, tables

pytestmark = BROWSER_TEST_MARKS
NARROW = {"width": 1024, "height": 900}
RECORDS = 120
# Quality, latency, cost, cost against quality, the rubric histogram, latency per query, two per channel, the
# confusion heatmap, a slice and the cascade's two curves.
CHART_COUNT = 12


def test_evaluate_pin_run_again_and_drill_into_a_confusion_cell_at_1024_px(studio, browser, artifacts):
    from playwright.sync_api import expect

    save_dataset(Store(Settings(data_dir=studio.data_dir).store_path), studio.data_dir, total=RECORDS)
    context = browser.new_context(viewport=NARROW)
    page = context.new_page()
    main = open_from_sidebar(page, studio.url, "Evaluation", "Evaluation")
    evaluate = main.get_by_role("button", name=f"Evaluate 2 routers on {RECORDS} queries")

    evaluate.click()
    expect(charts(main)).to_have_count(CHART_COUNT, timeout=STEP_MS)
    expect(page).to_have_url(re.compile(r"[?&]run=[0-9a-f]{12}"))
    expect(grid_cells(main, "leader right").filter(has_text="Uniform weights")).to_have_count(1)
    expect(shown(main, "No baseline pinned for this set", exact=False)).to_be_visible()

    main.get_by_role("button", name="Pin as the set's baseline").click()
    expect(shown(main, "This run is the pinned baseline of its set.")).to_be_visible(timeout=STEP_MS)
    first_run = page.url

    evaluate.click()
    expect(shown(main, "Change against the pinned baseline", exact=False)).to_be_visible(timeout=STEP_MS)
    assert page.url != first_run
    deltas = tables(main).filter(has_text="this run").first
    expect(deltas.locator("td[role=gridcell]").filter(has_text="+0.000").first).to_be_attached()

    # The heatmap's first cell is visual (reference) against visual (router): a click opens its queries.
    heatmap = charts(main).filter(has_text="the router's leader")
    heatmap.locator("g.mark-rect path").first.click()
    expect(main.get_by_role("combobox", name="See the queries of a cell")).to_have_value(
        re.compile(r"^reference visual leads, router: visual leads"), timeout=STEP_MS
    )
    records = tables(main).filter(has_text="router's weights")
    expect(records).to_have_count(1, timeout=STEP_MS)
    expect(records.locator("td[role=gridcell]").first).to_be_attached()
    assert main.evaluate("main => main.scrollWidth <= main.clientWidth"), "the page scrolls sideways at 1024 px"
    expect(exceptions(page)).to_have_count(0)
    screenshot_whole_page(page, artifacts / "evaluation-1024.png")
    context.close()
