"""Data Mix: shape a synthetic query mix, label it with the teacher, look at it, save it, and validate files."""

import streamlit as st

from dashboard import data_mix_views as views
from dashboard import dataset_views as datasets
from dashboard import labelling_views as labelling
from dashboard import query_writing_views as queries
from dashboard import state
from dashboard.widgets.checks import Checks

st.title("Data Mix")
current = state.studio()
library = current.backend.datasets()
st.markdown(
    "A student router learns from the teacher's labels on synthetic queries. Decide how many queries to make and "
    "how they split by **focus** (which channel should lead), **difficulty** and **domain**; every group always "
    "adds up to 100%. Then generate, let the teacher label them, check the result and save it for distillation."
)

views.restore_draft()

st.subheader("Shape the mix")
form = Checks()
mix = views.mix_controls(form)
teacher, teacher_problem = views.page_teacher()
prompt = views.prompt_editor(teacher, current.backend.teacher_name, form)

st.subheader("Generate and label")
views.generate_controls(current, mix, prompt, teacher, teacher_problem, form)
queries.teacher_writes(current, library, mix)
result = views.generated_mix()
if result is None:
    st.info("Nothing generated yet: shape the mix above and press Generate.", icon=":material/science:")
else:
    views.stale_notice(result, mix, prompt, current.backend)
    views.quality_figures(result)
    views.mix_charts(result)
    views.preview_table(result)
    views.label_failures(result)
    views.save_form(library, result)

st.subheader("Saved datasets")
selected = datasets.library_section(library, current.backend)
if selected is not None:
    labelling.label_section(current, library, selected)

st.subheader("Validate a file")
datasets.validate_section(library)
views.keep_draft()
