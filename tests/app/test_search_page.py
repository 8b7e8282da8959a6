"""The Search page: a catalog picked, made or imported; a query through routers side by side with each hit's
channel contributions; the fusion switch; agreement with the teacher; the figures on judged queries beside the
baselines, with the published figures kept apart; and what it says when something is missing or broken.

Most tests use a small sample catalog kept in the studio (fast to index and score); the first uses the built-in
one, as a visitor finds it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest
from streamlit.testing.v1 import AppTest

from core.routers.base import RouterReply
from core.routers.reference import ReferenceTeacher
from core.routers.uniform import UniformRouter
from core.schema import MODALITIES
from core.search.engine import SearchIndex
from core.search.evaluation import PUBLISHED_RETRIEVAL, evaluate_search
from core.search.fusion import active_channels
from core.search.library import SAMPLE_NAME, CatalogLibrary
from core.search.metrics import overlap_at_k, rank_correlation
from core.search.sample import CatalogSpec
from dashboard.components import plain_markdown
from dashboard.search_catalog_views import CATALOG_KEY, IMPORT_KEY, IMPORT_NAME_KEY
from dashboard.search_figure_views import METRIC_LABELS, SCORE_KEY
from dashboard.search_views import FUSION_KEY, ROUTERS_KEY, TRY_KEY, hit_markdown
from tests.app.helpers import APP, RUN_TIMEOUT_S, BillableRouter, alerts, chart_rows, open_page

SMALL = "small"
SMALL_SPEC = CatalogSpec(seed=11, segments=300, queries=40)
QUERY_KEY = f"{TRY_KEY}_query"
SEARCH_KEY = f"{TRY_KEY}_route"


@pytest.fixture
def library(store, studio_env) -> CatalogLibrary:
    return CatalogLibrary(store, studio_env)


@pytest.fixture
def small(library):
    """A small sample catalog kept in the studio, opened, with its index."""
    library.generate(SMALL, SMALL_SPEC)
    opened = library.open(SMALL)
    return opened, SearchIndex.build(opened.catalog)


def search_page(**params: str | list[str]) -> AppTest:
    """The app opened on the Search page with these query parameters in the address."""
    at = AppTest.from_file(str(APP), default_timeout=RUN_TIMEOUT_S)
    for name, value in params.items():
        at.query_params[name] = value
    return open_page(at.run(), "search.py")


def search(at: AppTest, query: str) -> AppTest:
    at.text_input(key=QUERY_KEY).input(query)
    return at.button(key=SEARCH_KEY).click().run()


def shown_hits(at: AppTest) -> list[str]:
    """Every hit's text as the lists show it, router after router."""
    return [m.value for m in at.markdown if m.value.startswith("**") and m.value[2:3].isdigit()]


def contribution_charts(at: AppTest) -> list[list[dict]]:
    charts = [chart_rows(chart) for chart in at.get("vega_lite_chart")]
    return [rows for rows in charts if rows and "contribution" in rows[0]]


def expected_hits(index: SearchIndex, query: str, router, fusion: str = "minmax"):
    return index.search(query, router.route(query).decision.weights(), fusion=fusion).hits


def metric(at: AppTest, label: str) -> list[str]:
    return [m.value for m in at.metric if m.label == label]


# ---- the catalog -----------------------------------------------------------------------------------------------


def test_opens_on_the_built_in_sample_with_sample_queries_and_keeps_the_view_in_the_address(app):
    at = open_page(app, "search.py")

    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key=CATALOG_KEY).value == SAMPLE_NAME
    assert metric(at, "Segments") == ["2,000"] and metric(at, "Judged queries") == ["1,000"]
    assert at.multiselect(key=ROUTERS_KEY).value == ["teacher", "uniform"]
    samples = [b for b in at.button if b.key and b.key.startswith(f"{TRY_KEY}_example_")]
    assert len(samples) == 5  # one judged query per focus: four channels and mixed

    samples[1].click().run()

    assert not at.exception
    assert len(contribution_charts(at)) == 2
    assert dict(at.query_params) == {
        "catalog": SAMPLE_NAME,
        "router": ["teacher", "uniform"],
        "fusion": "minmax",
        "q": samples[1].label,
    }


def test_a_query_through_two_routers_shows_each_list_with_every_hits_channel_contributions(small):
    opened, index = small
    query = opened.judgements[0].query

    at = search(search_page(catalog=SMALL), query)

    assert not at.exception, [e.value for e in at.exception]
    teacher, uniform = (expected_hits(index, query, router) for router in (ReferenceTeacher(), UniformRouter()))
    assert shown_hits(at) == [hit_markdown(hit) for hit in [*teacher, *uniform]]
    for rows, hits in zip(contribution_charts(at), (teacher, uniform), strict=True):
        for hit in hits:
            parts = {row["channel"]: row["contribution"] for row in rows if row["rank"] == hit.rank}
            assert parts == pytest.approx(hit.contributions)
            assert sum(parts.values()) == pytest.approx(hit.score)
    # Uniform weights search every channel; a channel the teacher weighs under 0.05 is not searched.
    teacher_channels = active_channels(ReferenceTeacher().route(query).decision.weights())
    assert {row["channel"] for row in contribution_charts(at)[0]} == set(teacher_channels)
    assert {row["channel"] for row in contribution_charts(at)[1]} == set(MODALITIES)
    assert "visual 0.25   audio 0.25   transcription 0.25   metadata 0.25" in [t.value for t in at.text]


def test_overlap_and_rank_correlation_compare_each_list_with_the_teachers(small):
    opened, index = small
    query = opened.judgements[0].query

    at = search(search_page(catalog=SMALL), query)

    teacher, uniform = (
        [h.segment.id for h in expected_hits(index, query, r)] for r in (ReferenceTeacher(), UniformRouter())
    )
    assert metric(at, "Overlap@10") == [f"{overlap_at_k(teacher, uniform, 10):.0%}"]
    assert metric(at, "Rank correlation") == [f"{rank_correlation(teacher, uniform, 10):+.2f}"]


def test_the_fusion_switch_changes_the_ranking_and_the_address(small):
    opened, index = small
    teacher = ReferenceTeacher()
    query = next(
        q.query
        for q in opened.judgements
        if [h.segment.id for h in expected_hits(index, q.query, teacher, "minmax")]
        != [h.segment.id for h in expected_hits(index, q.query, teacher, "rrf")]
    )
    at = search(search_page(catalog=SMALL, router="teacher"), query)
    before = shown_hits(at)

    at.radio(key=FUSION_KEY).set_value("rrf").run()

    assert not at.exception
    assert before == [hit_markdown(hit) for hit in expected_hits(index, query, teacher, "minmax")]
    assert shown_hits(at) == [hit_markdown(hit) for hit in expected_hits(index, query, teacher, "rrf")]
    assert shown_hits(at) != before
    assert at.query_params["fusion"] == "rrf"


def test_a_link_reproduces_the_view(small):
    opened, index = small
    query = opened.judgements[3].query

    at = search_page(catalog=SMALL, q=query, router=["uniform", "teacher"], fusion="zscore")

    assert not at.exception
    assert at.multiselect(key=ROUTERS_KEY).value == ["uniform", "teacher"]
    assert at.radio(key=FUSION_KEY).value == "zscore"
    hits = [
        *expected_hits(index, query, UniformRouter(), "zscore"),
        *expected_hits(index, query, ReferenceTeacher(), "zscore"),
    ]
    assert shown_hits(at) == [hit_markdown(hit) for hit in hits]


# ---- the figures -----------------------------------------------------------------------------------------------


def test_the_figures_panel_shows_ours_per_router_and_focus_and_the_published_ones_apart(small):
    opened, index = small
    figures = evaluate_search(index, opened.judgements, {"teacher": ReferenceTeacher(), "uniform": UniformRouter()})

    at = search_page(catalog=SMALL)

    assert not at.exception, [e.value for e in at.exception]
    table, per_focus, published = (frame.value for frame in at.dataframe)
    ours = {row["name"]: row for row in table.to_dict("records")}
    teacher = figures["routers"]["teacher"]
    assert ours["Local reference teacher"]["Recall@5"] == f"{teacher['recall_at_5']:.1%}"
    assert ours["Local reference teacher"]["NDCG@10"] == f"{teacher['ndcg_at_10']:.1%}"
    assert ours["combined index"]["kind"] == "baseline"
    assert ours["combined index"]["MRR"] == f"{figures['baselines']['combined_index']['mrr']:.1%}"
    assert not any("published" in name or "routed hybrid" in name for name in ours)
    assert list(published["name"]) == list(PUBLISHED_RETRIEVAL)
    assert list(published["Recall@5"]) == ["90%", "51%"]
    visual = next(column for column in per_focus.columns if column.startswith("visual"))
    focus_rows = {row["name"]: row for row in per_focus.to_dict("records")}
    assert focus_rows["Local reference teacher"][visual] == f"{teacher['by_focus']['visual']['recall_at_5']:.1%}"
    gain = (teacher["recall_at_5"] - figures["baselines"]["uniform"]["recall_at_5"]) * 100
    assert f"{gain:+.1f} pts vs uniform" in [m.delta for m in at.metric]

    # The figures chart: our bars in one layer, the published figures as tick marks in another, never mixed.
    [spec] = [spec for spec in map(chart_spec, at.get("vega_lite_chart")) if "layer" in spec]
    bars, marks = spec["layer"]
    assert (_mark(bars), _mark(marks)) == ("bar", "tick")
    assert {row["series"] for row in bars["data"]["values"]} == {
        "Local reference teacher",
        "Uniform weights",
        "combined index (baseline)",
    }
    assert all(set(row) == {"metric", "series", "value"} for row in bars["data"]["values"])
    assert all(set(row) == {"metric", "reference", "value"} for row in marks["data"]["values"])
    routed = PUBLISHED_RETRIEVAL["routed hybrid search"]
    assert {row["metric"]: row["value"] for row in marks["data"]["values"] if "routed" in row["reference"]} == {
        METRIC_LABELS[name]: value for name, value in routed.items()
    }
    assert "Reference, not measured here" in marks["encoding"]["color"]["legend"]["title"]


def chart_spec(chart) -> dict:
    return json.loads(chart.proto.spec)


def _mark(layer: dict) -> str:
    mark = layer["mark"]
    return mark if isinstance(mark, str) else mark["type"]


def test_the_per_focus_table_follows_the_chosen_figure(small):
    opened, index = small
    figures = evaluate_search(index, opened.judgements, {"teacher": ReferenceTeacher()})
    at = search_page(catalog=SMALL, router="teacher")

    at.selectbox(key="search_focus_metric").set_value("mrr").run()

    rows = {row["name"]: row for row in at.dataframe[1].value.to_dict("records")}
    visual = next(column for column in at.dataframe[1].value.columns if column.startswith("visual"))
    assert (
        rows["Local reference teacher"][visual] == f"{figures['routers']['teacher']['by_focus']['visual']['mrr']:.1%}"
    )


def test_a_billable_router_is_estimated_and_confirmed_before_it_searches_or_is_scored(small, teacher_is):
    opened, _ = small
    billable = teacher_is(BillableRouter)
    at = search(search_page(catalog=SMALL, router="teacher"), "dog barking loudly")

    assert billable.calls == 0
    assert any("AWS bills it" in body for body in alerts(at))
    at.button(key=f"{TRY_KEY}_pending_confirm").click().run()
    assert billable.calls == 1
    assert len(contribution_charts(at)) == 1

    assert not [frame for frame in at.dataframe if "Local reference teacher" in set(frame.value.get("name", []))]
    at.button(key=f"{SCORE_KEY}_ask").click().run()
    assert billable.calls == 1 and any("judged queries" in body and "AWS bills it" in body for body in alerts(at))
    at.button(key=f"{SCORE_KEY}_confirm").click().run()

    assert not at.exception, [e.value for e in at.exception]
    assert billable.calls == 1 + len(opened.judgements)
    assert list(at.dataframe[0].value["name"])[0] == "Local reference teacher"
    at.radio(key=FUSION_KEY).set_value("zscore").run()
    assert billable.calls == 1 + len(opened.judgements)  # another fusion method re-scores the same weights


# ---- empty and error states ------------------------------------------------------------------------------------


class _ProseRouter(UniformRouter):
    """Answers in prose: every reply is invalid."""

    def route_many(self, queries: Sequence[str]) -> list[RouterReply]:
        return [RouterReply(text="Visual matters most here.") for _ in queries]


def test_an_invalid_reply_searches_with_uniform_weights_and_says_so(small, teacher_is):
    teacher_is(_ProseRouter)

    at = search(search_page(catalog=SMALL, router="teacher"), "dog barking loudly")

    assert not at.exception
    assert "This router's reply was not valid, so its list uses uniform weights." in alerts(at)
    assert "invalid replies were searched with uniform weights" in " ".join(c.value for c in at.caption)


def test_no_router_chosen_asks_for_one(small):
    at = search_page(catalog=SMALL)

    at.multiselect(key=ROUTERS_KEY).set_value([]).run()

    assert not at.exception
    assert "Choose at least one router above to search with." in alerts(at)


def test_a_router_in_the_address_that_is_gone_is_left_out_with_a_warning(small):
    at = search_page(catalog=SMALL, router=["student:deleted-model", "teacher"])

    assert not at.exception
    assert at.multiselect(key=ROUTERS_KEY).value == ["teacher"]
    assert any(plain_markdown("student:deleted-model") in body for body in alerts(at))


def test_a_catalog_in_the_address_that_is_gone_falls_back_with_a_warning(app):
    at = search_page(catalog="deleted-catalog")

    assert not at.exception
    assert at.selectbox(key=CATALOG_KEY).value == SAMPLE_NAME
    assert any("is gone" in body for body in alerts(at))


def segment_line(number: int, **changes) -> str:
    record = {
        "id": f"s{number}",
        "video_id": "v1",
        "start_s": 10.0 * number,
        "end_s": 10.0 * number + 8,
        "caption": "A red car driving along the coast road.",
        "audio_description": "Engine noise and gulls.",
        "transcript": "What a view from up here.",
        "title": "Coast Roads",
        "people": ["Ana Lopes"],
        "genre": "travel",
        "upload_date": "2021-03-14",
        "channel": "Road Trips",
    }
    record.update(changes)
    return json.dumps(record)


def upload(at: AppTest, segments: str, judgements: str | None = None) -> AppTest:
    at.file_uploader[0].upload("team-catalog.jsonl", segments.encode())
    if judgements is not None:
        at.file_uploader[1].upload("team-judgements.jsonl", judgements.encode())
    return at.run()


def test_an_imported_catalog_with_broken_lines_shows_their_numbers_and_imports_nothing(app, library):
    broken = "\n".join([segment_line(1), "{not json", segment_line(3), segment_line(4, start_s=-5)]) + "\n"

    at = upload(open_page(app, "search.py"), broken)

    assert not at.exception
    assert any(body.startswith("Invalid: 2 problems on 2 lines") for body in alerts(at))
    problems = at.dataframe[0].value
    assert list(problems["where"]) == ["line 2", "line 4"]
    assert not [b for b in at.button if b.key == IMPORT_KEY]
    assert [info.name for info in library.list()] == [SAMPLE_NAME]


def test_a_clean_import_is_kept_selected_and_searched_and_says_it_cannot_be_scored_without_judgements(app, library):
    segments = "\n".join(segment_line(n) for n in range(1, 6)) + "\n"
    at = upload(open_page(app, "search.py"), segments)
    assert any(body.startswith("Valid: 5 segments") for body in alerts(at))

    at.text_input(key=IMPORT_NAME_KEY).input("team-catalog")
    at.button(key=IMPORT_KEY).click().run()

    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key=CATALOG_KEY).value == "team-catalog"
    assert [info.name for info in library.list()] == [SAMPLE_NAME, "team-catalog"]
    assert any("Imported team-catalog: 5 segments" in body for body in alerts(at))
    assert any("has no judged queries, so its search cannot be scored" in body for body in alerts(at))
    at = search(at, "red car driving")
    assert shown_hits(at)[0].startswith("**1. Coast Roads**")


def test_judgements_naming_unknown_segments_show_their_line_numbers(app, library):
    segments = "\n".join(segment_line(n) for n in range(1, 4)) + "\n"
    judgements = (
        json.dumps({"query": "red car", "relevant": {"s1": 2}})
        + "\n"
        + json.dumps({"query": "gulls", "relevant": {"s9": 2}})
        + "\n"
    )

    at = upload(open_page(app, "search.py"), segments, judgements)

    assert not at.exception
    assert list(at.dataframe[0].value["where"]) == ["line 2"]
    assert "s9" in at.dataframe[0].value["problem"][0]
    assert not [b for b in at.button if b.key == IMPORT_KEY]


def test_generate_a_sample_of_a_chosen_size_and_seed(app, library):
    at = open_page(app, "search.py")
    at.text_input(key="search_generate_name").input("seed-3")
    at.number_input(key="search_generate_seed").set_value(3)
    at.number_input(key="search_generate_segments").set_value(200)
    at.number_input(key="search_generate_queries").set_value(20)
    at.button(key="FormSubmitter:search_generate-Generate").click().run()

    assert not at.exception, [e.value for e in at.exception]
    made = library.get("seed-3")
    assert (made.segments, made.queries, made.spec.seed) == (200, 20, 3)
    assert at.selectbox(key=CATALOG_KEY).value == "seed-3"
    assert metric(at, "Segments") == ["200"]


def test_a_name_already_taken_is_one_sentence_and_makes_nothing(app, library):
    at = open_page(app, "search.py")
    at.text_input(key="search_generate_name").input(SAMPLE_NAME)
    at.button(key="FormSubmitter:search_generate-Generate").click().run()

    assert not at.exception
    assert any("already exists" in body for body in alerts(at))
    assert [info.name for info in library.list()] == [SAMPLE_NAME]


def test_a_stored_catalog_whose_file_was_broken_shows_the_line_and_can_be_deleted(small, library):
    info = library.get(SMALL)
    path = info.folder / "segments.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[6] = '{"id": "broken"}'
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    at = search_page(catalog=SMALL)

    assert not at.exception
    assert any("The stored catalog 'small' cannot be used" in body for body in alerts(at))
    assert list(at.dataframe[0].value["where"]) == ["line 7"]
    assert not [chart for chart in at.get("vega_lite_chart")]
    at.button(key="search_delete").click().run()
    at.button(key="search_delete_confirm").click().run()

    assert not at.exception
    assert [i.name for i in library.list()] == [SAMPLE_NAME]
    assert any("Deleted the search catalog small." in body for body in alerts(at))
