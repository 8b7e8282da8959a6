"""Every page renders on the local backend without an exception."""

import pytest

from tests.app.helpers import ROOT, open_page

# Every script in pages/, so a page added later is smoke-tested (and must be in the navigation) at once.
PAGES = sorted(path.name for path in (ROOT / "pages").glob("*.py"))


@pytest.mark.parametrize("script", PAGES)
def test_page_renders_without_exception(app, script):
    assert not app.exception
    at = open_page(app, script)
    assert not at.exception, [e.value for e in at.exception]
    assert at.title, f"{script} shows no title"


def test_sidebar_shows_the_local_backend_its_teacher_and_data_directory(studio_env, app):
    sidebar_texts = [t.value for t in app.sidebar.text]

    assert "Local" in [m.value.strip("*") for m in app.sidebar.markdown]
    assert "Local reference teacher" in sidebar_texts
    assert str(studio_env) in [code.value for code in app.sidebar.code]  # a path scrolls, never breaks a word
    assert not app.sidebar.warning
