"""Every page of the navigation, in a real browser: it reads at 1024 px (a projector) and 1400 px, and a page load
fetches nothing from outside this machine and logs no console error.

The pages are read from the sidebar's navigation, so a page added later is checked with no change here. The studio
holds a dataset, a finished job and its model, so each page shows its full view rather than its empty state; Data
Mix also generates a small set first. Screenshots go to test-artifacts/layout-<page>-<width>.png.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlparse

import pytest

from core.distill.jobs import JobRunner
from core.settings import Settings
from core.store import Store
from tests.app.helpers import finished_job, save_dataset
from tests.e2e.browser import BROWSER_TEST_MARKS, screenshot_whole_page
from tests.e2e.ui import FIRST_LOAD_MS, STEP_MS, exceptions, navigation_links, sidebar, wait_until_drawn

pytestmark = BROWSER_TEST_MARKS
WIDTHS = (1024, 1400)
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}
GENERATED_TOTAL = 200
# Streamlit's own start-up, not the studio: loaded at /<page>, its client first looks for the server under that
# path (a 404), then finds it at the root.
BASE_PATH_PROBE = re.compile(r"/[^/]+/_stcore/(health|host-config)$")
# What the DOM check reports, in a page's own words: a cut text, a word broken across lines, a table too wide.
LAYOUT_PROBLEMS_JS = """
(root) => {
  const problems = [];
  const shown = (el) => {
    const box = el.getBoundingClientRect();
    return box.width > 0 && box.height > 0 && getComputedStyle(el).visibility !== "hidden";
  };
  const describe = (el) => (el.innerText || el.textContent || "").trim().replace(/\\s+/g, " ").slice(0, 80);
  // Where text may scroll or wrap anywhere by design: typed input, code, JSON, and the grids and charts (canvas).
  const free = "input, textarea, pre, code, [data-testid=stCode], [data-testid=stJson], " +
    "[data-testid=stDataFrame], [data-testid=stVegaLiteChart]";

  // 1. Cut text: an element that hides its overflow behind an ellipsis, and any button or link whose label is
  //    wider than the button itself.
  for (const el of root.querySelectorAll("*")) {
    if (!shown(el) || el.closest(free)) continue;
    const style = getComputedStyle(el);
    const clipped = style.textOverflow === "ellipsis" || style.overflow === "hidden" || style.overflowX === "hidden";
    if (clipped && el.scrollWidth > el.clientWidth + 1 && describe(el)) {
      problems.push(`cut: "${describe(el)}" (${el.scrollWidth}px of text in ${el.clientWidth}px)`);
    }
  }
  for (const button of root.querySelectorAll("button, a")) {
    if (!shown(button) || button.closest(free)) continue;
    for (const part of [button, ...button.querySelectorAll("*")]) {
      if (shown(part) && part.scrollWidth > part.clientWidth + 1 && describe(part)) {
        problems.push(`button cut: "${describe(button)}"`);
        break;
      }
    }
  }

  // 2. Words broken across lines: a run of letters and digits whose characters sit on two lines. Runs longer
  //    than a word (a hash, a path segment) may wrap.
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || !shown(parent) || parent.closest(free)) continue;
    for (const match of node.textContent.matchAll(/[\\p{L}\\p{N}]{2,40}/gu)) {
      const range = document.createRange();
      range.setStart(node, match.index);
      range.setEnd(node, match.index + match[0].length);
      const lines = new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top)));
      if (lines.size > 1) problems.push(`word broken across lines: "${match[0]}" in "${describe(parent)}"`);
    }
  }

  // 3. Tables that lose columns: a grid whose columns are wider than the grid, so some are out of view.
  for (const grid of root.querySelectorAll("[data-testid=stDataFrame] .dvn-scroller")) {
    if (shown(grid) && grid.scrollWidth > grid.clientWidth + 1) {
      const table = grid.closest("[data-testid=stDataFrame]");
      const headers = [...table.querySelectorAll("th")].map((th) => th.textContent.trim()).join(", ");
      problems.push(`table wider than its place (${grid.scrollWidth}px in ${grid.clientWidth}px): ${headers}`);
    }
  }
  return [...new Set(problems)];
}
"""


@dataclass(frozen=True)
class NavigationPage:
    index: int
    title: str
    path: str


@pytest.fixture(scope="module")
def populated(studio):
    """A dataset, a finished job and the model it registered, in the studio's own data directory."""
    store = Store(Settings(data_dir=studio.data_dir).store_path)
    dataset = save_dataset(store, studio.data_dir, "mix-1000-seed7-with-a-long-name", total=300)
    finished_job(JobRunner(store, studio.data_dir), dataset, "router-distill-20250101-120000")
    return studio


@pytest.fixture(scope="module")
def navigation(populated, browser) -> list[NavigationPage]:
    """Every page the sidebar's navigation lists (read from the app itself)."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(populated.url)
    links = navigation_links(page)
    expect(links.first).to_be_visible(timeout=FIRST_LOAD_MS)
    # A link's text is its icon's name (a ligature of the icon font), then the page's title.
    found = [
        NavigationPage(
            index, link.inner_text().strip().splitlines()[-1], urlparse(link.get_attribute("href") or "").path
        )
        for index, link in enumerate(links.all())
    ]
    context.close()
    assert len(found) >= 5, found
    return found


def open_by_navigation(page, url: str, target: NavigationPage):
    """Load the studio's first page, then follow the sidebar link: the way a user moves between pages."""
    from playwright.sync_api import expect

    page.goto(url)
    expect(navigation_links(page).first).to_be_visible(timeout=FIRST_LOAD_MS)
    wait_until_drawn(page)
    navigation_links(page).nth(target.index).click()
    expect(page).to_have_url(re.compile(rf"{re.escape(target.path)}(\?.*)?$"), timeout=STEP_MS)
    return wait_until_drawn(page)


def generate_a_small_set(main) -> None:
    from playwright.sync_api import expect

    total = main.get_by_label("Queries to generate", exact=True).and_(main.locator("input"))
    total.fill(str(GENERATED_TOTAL))
    total.press("Enter")
    main.get_by_role("button", name=f"Generate and label {GENERATED_TOTAL} queries").click()
    expect(main.get_by_text(f"the first {GENERATED_TOTAL} of {GENERATED_TOTAL}", exact=False)).to_be_visible(
        timeout=STEP_MS
    )


def run_an_evaluation(main) -> None:
    from playwright.sync_api import expect

    main.get_by_role("button", name=re.compile(r"^Evaluate \d+ routers? on")).click()
    expect(main.get_by_role("heading", name="History")).to_be_visible(timeout=STEP_MS)


# A page whose full view needs a step first: the step, by the page's title.
PREPARE = {"Data Mix": generate_a_small_set, "Evaluation": run_an_evaluation}


@pytest.mark.parametrize("width", WIDTHS)
def test_fault_every_page_reads_at_projector_and_laptop_widths(populated, browser, navigation, artifacts, width):
    problems: dict[str, list[str]] = {}
    for target in navigation:
        context = browser.new_context(viewport={"width": width, "height": 1000})
        page = context.new_page()
        main = open_by_navigation(page, populated.url, target)
        if target.title in PREPARE:
            PREPARE[target.title](main)
            main = wait_until_drawn(page)
        page.wait_for_timeout(500)  # charts and grids lay out after the script run ends
        found = main.evaluate(LAYOUT_PROBLEMS_JS) + sidebar(page).evaluate(LAYOUT_PROBLEMS_JS)
        if found:
            problems[target.title] = found
        assert exceptions(page).count() == 0, target.title
        screenshot_whole_page(page, artifacts / f"layout-{_slug(target.title)}-{width}.png")
        context.close()
    assert problems == {}, "\n".join(f"{title}: {problem}" for title, found in problems.items() for problem in found)


class PageLog:
    """What one page load asked for and complained about: requests outside this machine, console errors, and
    Streamlit's base-path probes (see BASE_PATH_PROBE)."""

    def __init__(self, page):
        self.outside: list[str] = []
        self.errors: list[tuple[str, str]] = []
        self.probes: set[str] = set()
        page.on("request", self._request)
        page.on("response", self._response)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append((f"uncaught: {error}", "")))

    def unexplained_errors(self) -> list[str]:
        return [f"{text} ({url})" for text, url in self.errors if url not in self.probes]

    def _request(self, request) -> None:
        parsed = urlparse(request.url)
        if parsed.scheme not in ("data", "blob", "about") and parsed.hostname not in LOCAL_HOSTS:
            self.outside.append(request.url)

    def _response(self, response) -> None:
        if response.status == 404 and BASE_PATH_PROBE.search(urlparse(response.url).path):
            self.probes.add(response.url)

    def _console(self, message) -> None:
        if message.type == "error":
            self.errors.append((message.text, message.location.get("url", "")))


def test_fault_a_page_load_fetches_nothing_outside_this_machine_and_logs_no_console_error(
    populated, browser, navigation
):
    for target in navigation:
        for deep_link in (False, True):
            context = browser.new_context(viewport={"width": 1024, "height": 900})
            page = context.new_page()
            log = PageLog(page)
            if deep_link:
                page.goto(f"{populated.url}{target.path}")
                wait_until_drawn(page)
            else:
                open_by_navigation(page, populated.url, target)
            page.wait_for_timeout(1000)  # late requests: icons, fonts, images
            context.close()
            where = f"{target.title} ({'loaded by its address' if deep_link else 'opened from the sidebar'})"
            assert log.outside == [], where
            assert log.unexplained_errors() == [], where


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
