"""Search: what the router's weights do to search results, one query side by side and on judged queries."""

import streamlit as st

from dashboard import search_catalog_views as catalogs
from dashboard import search_figure_views as figures
from dashboard import search_views as views
from dashboard import state
from dashboard.widgets import notices

st.title("Search")
st.caption(
    "The router exists to rank video segments: here it does. Each router's channel weights rank the same catalog; "
    "compare their lists on one query, then see on judged queries whether better routing finds better clips."
)
notices.show(notices.PAGE)
current = state.studio()
library = current.backend.search_catalogs()

st.subheader("Catalog")
info = catalogs.pick_catalog(library)
if info is not None:
    catalogs.catalog_facts(info)
catalogs.add_catalog(library)
if info is None:
    st.stop()
searchable = catalogs.open_catalog(library, info)
catalogs.delete_control(library, info)
if searchable is None:
    st.stop()

st.subheader("One query, side by side")
router_ids, labels = views.pick_routers(current.backend)
fusion = views.pick_fusion()
views.search_box(searchable, router_ids, labels, fusion)

st.subheader("Does better routing find better clips?")
figures.metrics_panel(searchable, router_ids, labels, fusion)
figures.stand_in_note()
