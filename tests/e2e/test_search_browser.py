"""The Search page in a real browser at 1024 px: the built-in catalog scored on its judged queries, one query
through the teacher and uniform weights side by side, the fusion switch, a link that reproduces the view, and
a broken catalog upload listing its problems by line."""

import json
import re
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from core.routers.reference import ReferenceTeacher
from core.routers.uniform import UniformRouter
from core.search.engine import SearchIndex
from core.search.sample import generate_catalog
from tests.e2e.browser import BROWSER_TEST_MARKS, screenshot_whole_page
from tests.e2e.ui import (
    FIRST_LOAD_MS,
    STEP_MS,
    charts,
    exceptions,
    file_input,
    grid_cells,
    main_area,
    metrics,
    open_from_sidebar,
    shown,
    tables,
)

pytestmark = BROWSER_TEST_MARKS
NARROW = {"width": 1024, "height": 900}
QUERY = "dog barking loudly"
# The channel key, one contributions chart per router, and the figures chart.
CHART_COUNT = 4


@pytest.fixture(scope="module")
def sample_index() -> SearchIndex:
    return SearchIndex.build(generate_catalog().catalog)


@pytest.fixture
def narrow_page(browser):
    context = browser.new_context(viewport=NARROW)
    yield context.new_page()
    context.close()


def top_title(index: SearchIndex, router, fusion: str) -> str:
    return index.search(QUERY, router.route(QUERY).decision.weights(), fusion=fusion).hits[0].segment.title


def test_search_one_query_side_by_side_and_switch_fusion_at_1024_px(studio, narrow_page, artifacts, sample_index):
    from playwright.sync_api import expect

    page = narrow_page
    main = open_from_sidebar(page, studio.url, "Search", "Search")
    expect(shown(main, "Does better routing find better clips?")).to_be_visible(timeout=FIRST_LOAD_MS)
    figures = tables(main).filter(has_text="combined index")
    expect(figures.first).to_be_visible(timeout=FIRST_LOAD_MS)
    expect(shown(main, "pts vs uniform", exact=False).first).to_be_visible()

    query = main.get_by_label("Search query")
    query.fill(QUERY)
    query.press("Enter")

    expect(shown(main, "Against Local reference teacher's list", exact=False)).to_be_visible(timeout=STEP_MS)
    expect(charts(main)).to_have_count(CHART_COUNT, timeout=STEP_MS)
    expect(metrics(main).filter(has_text="Overlap@10")).to_have_count(1)
    for router in (ReferenceTeacher(), UniformRouter()):
        title = top_title(sample_index, router, "minmax")
        expect(shown(main, f"1. {title}", exact=False).first).to_be_visible()
    assert main.evaluate("main => main.scrollWidth <= main.clientWidth"), "the page scrolls sideways at 1024 px"
    screenshot_whole_page(page, artifacts / "search-1024.png")

    main.get_by_text("weighted RRF (k = 60)", exact=True).click()
    expect(page).to_have_url(re.compile(r"[?&]fusion=rrf(&|$)"), timeout=STEP_MS)
    rrf_title = top_title(sample_index, ReferenceTeacher(), "rrf")
    expect(shown(main, f"1. {rrf_title}", exact=False).first).to_be_visible(timeout=STEP_MS)
    params = parse_qs(urlparse(page.url).query)
    assert params == {"catalog": ["sample"], "router": ["teacher", "uniform"], "fusion": ["rrf"], "q": [QUERY]}
    expect(exceptions(page)).to_have_count(0)


def test_a_link_reproduces_the_view(studio, narrow_page, sample_index):
    from playwright.sync_api import expect

    page = narrow_page
    page.goto(f"{studio.url}/search?catalog=sample&router=uniform&fusion=zscore&q=" + QUERY.replace(" ", "+"))
    main = main_area(page)

    expect(main.get_by_role("heading", name="Search", exact=True)).to_be_visible(timeout=FIRST_LOAD_MS)
    title = top_title(sample_index, UniformRouter(), "zscore")
    expect(shown(main, f"1. {title}", exact=False).first).to_be_visible(timeout=FIRST_LOAD_MS)
    expect(main.get_by_label("Search query")).to_have_value(QUERY)
    expect(main.get_by_role("radio", name="z-score")).to_be_checked()
    expect(exceptions(page)).to_have_count(0)


def broken_catalog(path: Path) -> Path:
    good = {
        "video_id": "v1",
        "caption": "A red car driving along the coast road.",
        "audio_description": "Engine noise and gulls.",
        "transcript": "What a view from up here.",
        "title": "Coast Roads",
        "people": ["Ana Lopes"],
        "genre": "travel",
        "upload_date": "2021-03-14",
        "channel": "Road Trips",
    }
    lines = [json.dumps({"id": f"s{n}", "start_s": 10.0 * n, "end_s": 10.0 * n + 8, **good}) for n in range(1, 6)]
    lines[1] = "{not json"
    lines[3] = lines[3].replace('"upload_date": "2021-03-14"', '"upload_date": "14/03/2021"')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_broken_catalog_upload_lists_its_problems_by_line(studio, narrow_page, artifacts, tmp_path):
    from playwright.sync_api import expect

    page = narrow_page
    main = open_from_sidebar(page, studio.url, "Search", "Search")
    main.get_by_text("Add a catalog", exact=True).click()
    main.get_by_role("tab", name="Import your own").click()
    file_input(main).first.set_input_files(broken_catalog(tmp_path / "team-catalog.jsonl"))

    expect(shown(main, "Invalid: 2 problems on 2 lines", exact=False)).to_be_visible(timeout=STEP_MS)
    problems = grid_cells(main, "Problem")
    expect(problems.filter(has_text="line 2").first).to_be_attached(timeout=STEP_MS)
    expect(problems.filter(has_text="line 4").first).to_be_attached()
    expect(main.get_by_role("button", name="Import", exact=True)).to_have_count(0)
    expect(exceptions(page)).to_have_count(0)
    screenshot_whole_page(page, artifacts / "search-import-1024.png")
