"""Entry point: `streamlit run dashboard/app.py` from the repository root. Only a router and the sidebar frame."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Streamlit puts dashboard/ first on sys.path; the repository root must win so `core` and `dashboard` import
# as packages (a second import of a module would make a second cache).
if sys.path[0] != str(ROOT):
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from dashboard import components, state  # noqa: E402

# (menu section, page script in pages/, title, icon). Adding a page is one line here; the first is the landing page.
PAGES = (
    ("Studio", "overview.py", "Overview", ":material/dashboard:"),
    ("Studio", "data_mix.py", "Data Mix", ":material/tune:"),
    ("Studio", "distillation.py", "Distillation", ":material/school:"),
    ("Studio", "models.py", "Models", ":material/deployed_code:"),
    ("Studio", "deployments.py", "Deployments", ":material/rocket_launch:"),
    ("Studio", "playground.py", "Playground", ":material/compare_arrows:"),
    ("Studio", "search.py", "Search", ":material/manage_search:"),
    ("Studio", "evaluation.py", "Evaluation", ":material/leaderboard:"),
    ("Setup", "settings.py", "Settings", ":material/settings:"),
)

ASSETS = ROOT / "dashboard" / "assets"
# A file shipped with the app: a Material icon as the page icon is fetched from a font server by the browser.
PAGE_ICON = ASSETS / "icon.svg"
# Narrower than Streamlit's 300 px, so a 1024 px screen leaves the pages room.
SIDEBAR_WIDTH_PX = 240

st.set_page_config(
    page_title="Video Search Router Studio", page_icon=PAGE_ICON, layout="wide", initial_sidebar_state=SIDEBAR_WIDTH_PX
)
st.html(ASSETS / "studio.css")

menu: dict[str, list] = {}
pages_by_file = {}
for index, (section, script, title, icon) in enumerate(PAGES):
    page = st.Page(state.PAGES_DIR / script, title=title, icon=icon, default=index == 0)
    menu.setdefault(section, []).append(page)
    pages_by_file[script] = page

selected = st.navigation(menu)
try:
    state.studio()
    # Once per process: marks jobs whose worker died while the app was down as interrupted.
    state.reconcile_at_start()
except Exception as exc:  # an unusable data directory: say so instead of failing on every page
    components.show_error(exc)
    st.info("The data directory is chosen with the VSRS_DATA_DIR environment variable before the app starts.")
    st.stop()
status = state.backend_status()
components.backend_sidebar(status, pages_by_file["settings.py"])
components.not_ready_banner(
    status, pages_by_file["settings.py"], on_settings=selected.url_path == pages_by_file["settings.py"].url_path
)
selected.run()
