"""How the browser tests find things on the studio's pages, and how long each step may take.

Streamlit marks its parts with data-testid attributes; these are the ones the tests rely on, in one place, so
a Streamlit upgrade that renames one is fixed here once.
"""

from __future__ import annotations

# Streamlit's first script run in a fresh server imports pandas and altair; later steps are quick.
FIRST_LOAD_MS = 60_000
# One step: a click or an edit and the rerun it starts (generating and labelling 200 queries included).
STEP_MS = 30_000
# A whole distillation job: a worker process starts, imports numpy and scipy, trains and saves.
JOB_MS = 120_000


def main_area(page):
    return page.get_by_test_id("stMain")


def sidebar(page):
    return page.get_by_test_id("stSidebar")


def navigation_links(page):
    """The links of the sidebar's page navigation, one per page in dashboard/app.py PAGES."""
    return page.get_by_test_id("stSidebarNavLink")


def running_indicator(page):
    """Shown while a script run is in progress (and gone once the page is drawn)."""
    return page.get_by_test_id("stStatusWidget")


# True once the main area has a title and no script run has been seen for QUIET_MS: a run that has not started
# yet (just after a click) or that draws in several steps does not pass for a finished page.
_DRAWN_AND_QUIET_JS = """
(quietMs) => {
  const now = performance.now();
  const busy = document.querySelector('[data-testid="stStatusWidget"]') !== null
    || document.querySelector('[data-testid="stMain"] h1') === null;
  if (busy || window.__studioQuietSince === undefined) window.__studioQuietSince = now;
  return !busy && now - window.__studioQuietSince >= quietMs;
}
"""
QUIET_MS = 1_000


def wait_until_drawn(page, timeout_ms: int = FIRST_LOAD_MS):
    """The main area, once the page's script run has finished drawing it."""
    page.evaluate("() => { delete window.__studioQuietSince; }")
    page.wait_for_function(_DRAWN_AND_QUIET_JS, arg=QUIET_MS, timeout=timeout_ms, polling=100)
    return main_area(page)


def charts(area):
    return area.get_by_test_id("stVegaLiteChart")


def tables(area):
    return area.get_by_test_id("stDataFrame")


def metrics(area):
    return area.get_by_test_id("stMetric")


def file_input(area):
    """The file uploader's input, for set_input_files."""
    return area.get_by_test_id("stFileUploaderDropzoneInput")


def exceptions(page):
    """Tracebacks on the page; every test expects none."""
    return page.get_by_test_id("stException")


def shown(area, text: str, *, exact: bool | None = None):
    """Visible matches only: the page keeps a hidden copy of what a fragment redraws."""
    return area.get_by_text(text, exact=exact).filter(visible=True)


def grid_cells(area, text: str):
    """The cells of the dataframe holding `text`; Streamlit's grid keeps an accessible table in the DOM."""
    return tables(area).filter(has_text=text).locator("td[role=gridcell]")


def open_from_sidebar(page, url: str, link: str, heading: str):
    """Load the studio, follow a sidebar link, wait for the page's heading; the main area."""
    from playwright.sync_api import expect

    page.goto(url)
    sidebar(page).get_by_role("link", name=link).click()
    main = main_area(page)
    expect(main.get_by_role("heading", name=heading)).to_be_visible(timeout=FIRST_LOAD_MS)
    return main
