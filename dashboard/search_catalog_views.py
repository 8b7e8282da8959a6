"""The Search page's catalog pieces: pick a catalog (the address names it), open it with its search index, make a
sample one from a seed and size, import a team's own JSONL checked line by line, and delete a stored one.

A catalog's index is built once per version of the catalog and kept (st.cache_resource). Catalog text is
rendered with st.text or st.dataframe, never as markdown; inside an alert box it is escaped first.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from core.search.catalog import DEFAULT_SEGMENTS, MAX_SEGMENTS, Catalog
from core.search.engine import SearchIndex
from core.search.importing import (
    MAX_CATALOG_BYTES,
    MAX_JUDGED_QUERIES,
    MAX_JUDGEMENT_BYTES,
    ImportReport,
    check_catalog,
    check_judgements,
)
from core.search.judgements import JudgedQuery
from core.search.library import JUDGEMENTS_FILE, MAX_CATALOG_NAME, SEGMENTS_FILE, CatalogImportError, CatalogInfo
from core.search.sample import DEFAULT_QUERIES, DEFAULT_SEED, MAX_QUERIES, CatalogSpec
from dashboard import components
from dashboard.widgets import confirm, notices, picker
from dashboard.widgets.formatting import format_size, format_time

if TYPE_CHECKING:
    from core.search.library import CatalogLibrary

CATALOG_PARAM = "catalog"
CATALOG_KEY = "search_catalog"
DELETE_KEY = "search_delete"
GENERATE_FORM = "search_generate"
GENERATE_NAME_KEY = "search_generate_name"
GENERATE_SEED_KEY = "search_generate_seed"
GENERATE_SEGMENTS_KEY = "search_generate_segments"
GENERATE_QUERIES_KEY = "search_generate_queries"
IMPORT_NAME_KEY = "search_import_name"
IMPORT_KEY = "search_import"
UPLOAD_GENERATION_KEY = "search_upload_generation"
SEGMENTS_UPLOAD_KEY = "search_upload_segments"
JUDGEMENTS_UPLOAD_KEY = "search_upload_judgements"
CHECKS_KEY = "search_import_checks"
CATALOG_PLACE = "search_catalog"
ADD_PLACE = "search_add"


@dataclass(frozen=True)
class SearchableCatalog:
    """An opened catalog with its search index; `key` names this version of it for the caches."""

    info: CatalogInfo
    catalog: Catalog
    judgements: Sequence[JudgedQuery]
    index: SearchIndex
    key: str


@dataclass(frozen=True)
class _Listed:
    """A catalog as the picker lists it: its name is its id."""

    info: CatalogInfo

    @property
    def id(self) -> str:
        return self.info.name

    @property
    def name(self) -> str:
        return self.info.describe()


def pick_catalog(library: CatalogLibrary) -> CatalogInfo | None:
    """The catalog named in the address, else the newest (the built-in sample when there is no other)."""
    notices.show(CATALOG_PLACE)
    try:
        infos = library.list()
    except Exception as exc:  # e.g. a locked database: the page says so and stops
        components.show_error(exc)
        return None
    stored = sorted((info for info in infos if info.created_at), key=lambda info: info.created_at or "", reverse=True)
    listed = [_Listed(info) for info in [*stored, *(info for info in infos if not info.created_at)]]
    return picker.pick(listed, param=CATALOG_PARAM, key=CATALOG_KEY, label="Catalog").info


def catalog_facts(info: CatalogInfo) -> None:
    with st.container(horizontal=True, wrap=True, gap="large"):
        st.metric("Segments", f"{info.segments:,}", width="content")
        st.metric("Videos", f"{info.videos:,}", width="content")
        st.metric("Judged queries", f"{info.queries:,}", width="content")
    if info.folder is None:
        made = f"Built in: made from seed {info.spec.seed if info.spec else ''} whenever it is opened, never stored."
    elif info.spec is not None:
        made = f"A sample catalog made from seed {info.spec.seed}, kept since {format_time(info.created_at)}."
    else:
        made = f"Imported {format_time(info.created_at)}."
    st.caption(made)


def open_catalog(library: CatalogLibrary, info: CatalogInfo) -> SearchableCatalog | None:
    """The catalog and its index (built once per version of the catalog), or None with the reason shown."""
    try:
        with st.spinner(f"Opening {info.name} and building its search index…"):
            return _searchable(_catalog_key(info), library, info.name)
    except CatalogImportError as exc:
        components.show_error(exc)  # its sentence holds the verdict
        problems_view(exc.report)
    except Exception as exc:  # a missing folder, an unreadable file: one sentence, and the other catalogs stay usable
        components.show_error(exc)
    return None


def _catalog_key(info: CatalogInfo) -> str:
    """Changes whenever the catalog's files do (a new import under the same name, a hand-edited file)."""
    spec = info.spec.model_dump_json() if info.spec else ""
    stamps = [_stamp(info.folder / name) for name in (SEGMENTS_FILE, JUDGEMENTS_FILE)] if info.folder else []
    return "|".join((info.name, info.source, str(info.folder or ""), info.created_at or "", spec, *map(str, stamps)))


def _stamp(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return -1


@st.cache_resource(max_entries=2, show_spinner=False)
def _searchable(key: str, _library: CatalogLibrary, name: str) -> SearchableCatalog:
    opened = _library.open(name)
    return SearchableCatalog(opened.info, opened.catalog, opened.judgements, SearchIndex.build(opened.catalog), key)


def delete_control(library: CatalogLibrary, info: CatalogInfo) -> None:
    """Delete a stored catalog behind a confirmation (the built-in sample is made from its seed and stays)."""
    if info.folder is None:
        return
    if confirm.waiting(DELETE_KEY) != info.name:
        st.button(
            "Delete this catalog",
            key=DELETE_KEY,
            icon=":material/delete:",
            on_click=confirm.ask,
            args=(DELETE_KEY, info.name),
        )
        return
    confirm.confirm_box(
        DELETE_KEY,
        "Delete this catalog and its files? This cannot be undone.",
        detail=info.describe(),
        confirm="Delete for good",
        icon=":material/delete_forever:",
        confirm_icon=":material/delete_forever:",
        on_confirm=lambda name: _delete(library, name),
    )


def _delete(library: CatalogLibrary, name: str) -> None:
    if notices.attempt(CATALOG_PLACE, lambda: library.delete(name)) is not None:
        notices.success(CATALOG_PLACE, f"Deleted the search catalog {name}.")
        picker.choose(CATALOG_PARAM, None)


def add_catalog(library: CatalogLibrary) -> None:
    """Make a sample catalog from a seed and size, or import a team's own JSONL, checked line by line."""
    notices.show(ADD_PLACE)
    with st.expander("Add a catalog", icon=":material/library_add:"):
        generate_tab, import_tab = st.tabs(["Generate a sample", "Import your own"])
        with generate_tab:
            _generate_form(library)
        with import_tab:
            _import_section(library)


def _generate_form(library: CatalogLibrary) -> None:
    st.caption(
        "Videos in the data mix's domains, cut into 5-15 s segments, with judged queries written from the catalog "
        "alone. The same seed and size always make the same catalog."
    )
    with st.form(GENERATE_FORM, border=False):
        name_column, seed_column, segments_column, queries_column = st.columns([2, 1, 1, 1])
        name_column.text_input("Name", key=GENERATE_NAME_KEY, max_chars=MAX_CATALOG_NAME, placeholder="e.g. sample-5k")
        seed_column.number_input("Seed", min_value=0, value=DEFAULT_SEED, step=1, key=GENERATE_SEED_KEY)
        segments_column.number_input(
            "Segments",
            min_value=50,
            max_value=MAX_SEGMENTS,
            value=DEFAULT_SEGMENTS,
            step=500,
            key=GENERATE_SEGMENTS_KEY,
        )
        queries_column.number_input(
            "Judged queries",
            min_value=10,
            max_value=MAX_QUERIES,
            value=DEFAULT_QUERIES,
            step=100,
            key=GENERATE_QUERIES_KEY,
        )
        submitted = st.form_submit_button("Generate", type="primary", icon=":material/auto_awesome:")
    if not submitted:
        return
    with st.spinner("Generating the catalog and its judged queries…"):
        done = notices.attempt(
            ADD_PLACE,
            lambda: library.generate(
                st.session_state[GENERATE_NAME_KEY],
                CatalogSpec(
                    seed=int(st.session_state[GENERATE_SEED_KEY]),
                    segments=int(st.session_state[GENERATE_SEGMENTS_KEY]),
                    queries=int(st.session_state[GENERATE_QUERIES_KEY]),
                ),
            ),
        )
    if done is not None:
        notices.success(CATALOG_PLACE, f"Made {done.result.describe()}; it is selected.")
        picker.choose(CATALOG_PARAM, done.result.name)
    st.rerun()


def _import_section(library: CatalogLibrary) -> None:
    st.caption(
        "One segment per line with id, video_id, start_s, end_s, caption, audio_description, transcript, title, "
        f"people, genre, upload_date and channel (at most {MAX_SEGMENTS:,} segments, {_megabytes(MAX_CATALOG_BYTES)}). "
        'Judged queries, optional: one {"query": ..., "relevant": {segment id: 1 or 2}} per line '
        f"(at most {MAX_JUDGED_QUERIES:,}, {_megabytes(MAX_JUDGEMENT_BYTES)}); without them the catalog can be "
        "searched but not scored."
    )
    generation = st.session_state.get(UPLOAD_GENERATION_KEY, 0)
    segments_file = st.file_uploader("Segments (JSONL)", type=["jsonl"], key=f"{SEGMENTS_UPLOAD_KEY}_{generation}")
    judgements_file = st.file_uploader(
        "Judged queries (JSONL, optional)", type=["jsonl"], key=f"{JUDGEMENTS_UPLOAD_KEY}_{generation}"
    )
    if segments_file is None:
        return
    segments = segments_file.getvalue()
    checked = _checked_catalog(segments_file.name, segments)
    st.markdown("**Segments**")
    import_report_view(checked.report)
    judgements: bytes | None = None
    judgements_ok = True
    if judgements_file is not None:
        judgements = judgements_file.getvalue()
        st.markdown("**Judged queries**")
        if checked.catalog is None:
            st.caption("The judged queries are checked once the segments file is valid (they name its segment ids).")
            judgements_ok = False
        else:
            report = _checked_judgements(judgements_file.name, judgements, segments, checked.catalog)
            import_report_view(report)
            judgements_ok = report.ok
    if checked.catalog is None or not judgements_ok:
        return
    st.session_state.setdefault(IMPORT_NAME_KEY, _suggested_name(segments_file.name))
    with st.container(horizontal=True, vertical_alignment="bottom"):
        st.text_input("Import as", key=IMPORT_NAME_KEY, max_chars=MAX_CATALOG_NAME)
        st.button(
            "Import",
            key=IMPORT_KEY,
            type="primary",
            icon=":material/upload:",
            on_click=_import,
            args=(library, segments_file.name, segments, judgements_file.name if judgements_file else None, judgements),
        )


@dataclass(frozen=True)
class _CatalogCheck:
    report: ImportReport
    catalog: Catalog | None


def _checked_catalog(name: str, data: bytes) -> _CatalogCheck:
    """The check of these bytes, kept per content so a rerun does not check the same file again."""
    key = f"segments|{name}|{hashlib.sha256(data).hexdigest()}"
    checks = _checks("segments|", key)
    if key not in checks:
        with st.spinner("Checking the segments line by line…"):
            found = check_catalog(_named_stream(name, data))
        checks[key] = _CatalogCheck(found.report, found.catalog)
    return checks[key]


def _checked_judgements(name: str, data: bytes, segments: bytes, catalog: Catalog) -> ImportReport:
    digest = hashlib.sha256(data + b"\0" + hashlib.sha256(segments).digest()).hexdigest()
    key = f"judgements|{name}|{digest}"
    checks = _checks("judgements|", key)
    if key not in checks:
        with st.spinner("Checking the judged queries line by line…"):
            checks[key] = check_judgements(_named_stream(name, data), catalog).report
    return checks[key]


def _megabytes(limit: int) -> str:
    # The limits are decimal megabytes, as docs/ARCHITECTURE.md states them.
    return f"{limit / 1_000_000:,.0f} MB"


def _checks(kind: str, key: str) -> dict:
    """The session's file checks, holding only the latest file of each kind."""
    checks = st.session_state.setdefault(CHECKS_KEY, {})
    for stale in [k for k in checks if k.startswith(kind) and k != key]:
        del checks[stale]
    return checks


def _named_stream(name: str, data: bytes) -> io.BytesIO:
    stream = io.BytesIO(data)
    stream.name = name
    return stream


def _suggested_name(file_name: str) -> str:
    stem = "".join(c if c.isalnum() or c in "._-" else "-" for c in Path(file_name).stem).strip("._-")
    return stem[:MAX_CATALOG_NAME] or "imported"


def _import(
    library: CatalogLibrary, segments_name: str, segments: bytes, judgements_name: str | None, judgements: bytes | None
) -> None:
    judged = _named_stream(judgements_name, judgements) if judgements_name and judgements is not None else None
    name = st.session_state.get(IMPORT_NAME_KEY, "")
    done = notices.attempt(
        ADD_PLACE, lambda: library.import_files(name, _named_stream(segments_name, segments), judged)
    )
    if done is None:
        return
    notices.success(CATALOG_PLACE, f"Imported {done.result.describe()}; it is selected.")
    picker.choose(CATALOG_PARAM, done.result.name)
    # New uploader keys: the imported files leave the form, which is ready for the next catalog.
    st.session_state[UPLOAD_GENERATION_KEY] = st.session_state.get(UPLOAD_GENERATION_KEY, 0) + 1
    st.session_state.pop(IMPORT_NAME_KEY, None)
    st.session_state.pop(CHECKS_KEY, None)


def import_report_view(report: ImportReport) -> None:
    """The verdict, then every problem with its line number."""
    if report.ok:
        st.success(report.verdict, icon=":material/check_circle:")
    else:
        st.error(report.verdict, icon=":material/error:")
    problems_view(report)


def problems_view(report: ImportReport) -> None:
    """How much was read, and every problem with its line number."""
    st.caption(f"{report.records:,} lines read, {format_size(report.size_bytes)}.")
    if not report.problems:
        return
    rows = [
        {"where": f"line {p.line}" if p.line is not None else "whole file", "problem": p.message}
        for p in report.problems
    ]
    st.dataframe(
        pd.DataFrame(rows, columns=["where", "problem"]),
        hide_index=True,
        width="stretch",
        column_config={
            "where": st.column_config.TextColumn("Where", width="small"),
            "problem": st.column_config.TextColumn("Problem", width="large"),
        },
    )
    hidden = report.problem_count - len(report.problems)
    if hidden > 0:
        st.caption(f"… and {hidden:,} more problems not listed.")
