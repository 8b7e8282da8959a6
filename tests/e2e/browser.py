"""What every browser test shares: Debian's Chromium, its flags, the marks that skip without it, screenshots."""

from pathlib import Path

import pytest

from tests.e2e.ui import main_area

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
BROWSER_TEST_MARKS = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"browser tests need Debian's Chromium at {CHROMIUM} (apt-get install chromium)"
    ),
]
SCREENSHOT_MARGIN_PX = 120


def screenshot_whole_page(page, path: Path) -> None:
    """Streamlit scrolls inside its main area, so grow the window to the content before the screenshot."""
    height = main_area(page).evaluate("main => main.scrollHeight")
    page.set_viewport_size({"width": page.viewport_size["width"], "height": height + SCREENSHOT_MARGIN_PX})
    page.screenshot(path=str(path), full_page=True)
