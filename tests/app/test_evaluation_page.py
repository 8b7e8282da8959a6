"""The Evaluation page: pick a set and routers, run, every chart, a pinned baseline and the deltas of the next
run, the records behind a confusion cell, bad files with their line numbers, the cascade's threshold, the judge."""

from __future__ import annotations

import json
from urllib.parse import unquote

import pytest

from core.distill.jobs import JobRunner
from core.evaluate.history import EvaluationHistory
from core.routers.reference import ReferenceTeacher
from core.synth import DataMix
from core.synth.pipeline import synthesise
from dashboard import evaluation_more_views as more
from dashboard import evaluation_result_views as results
from dashboard import evaluation_run_views as runs
from dashboard import evaluation_set_views as sets
from dashboard.widgets.formatting import format_usd
from tests.app.helpers import BillableRouter, alerts, chart_rows, finished_job, open_page, run_app, save_dataset, texts

PAGE = "evaluation.py"


@pytest.fixture
def trained(store, studio_env):
    """A labelled dataset and a student distilled from it by a real job: (dataset, student router id)."""
    dataset = save_dataset(store, studio_env)
    job = finished_job(JobRunner(store, studio_env), dataset)
    return dataset, f"student:{job.model_id}"


def _run(at):
    at.button(key=f"{runs.RUN_KEY}_start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _chart_titles(at) -> list[str]:
    return [m.value for m in at.markdown if m.value.startswith("**")]


def test_with_no_dataset_the_page_says_where_to_make_one_and_that_nothing_ran_yet(app):
    at = open_page(app, PAGE)

    assert not at.exception and not at.error
    assert at.radio(key=sets.SOURCE_KEY).value == "dataset"
    assert any("No labelled dataset yet" in body for body in alerts(at))
    assert any("No evaluation yet" in body for body in alerts(at))
    assert not [b for b in at.button if b.key == f"{runs.RUN_KEY}_start"]


def test_run_pin_run_again_see_deltas_and_drill_into_a_confusion_cell(app, trained, store):
    dataset, student = trained
    at = open_page(app, PAGE)
    assert at.selectbox(key=sets.DATASET_KEY).value == dataset.id
    assert at.multiselect(key=runs.ROUTERS_KEY).value == ["teacher", "uniform", student]

    _run(at)
    history = EvaluationHistory(store)
    [first] = history.list()
    assert at.query_params[results.RUN_PARAM] == first.id
    board = at.dataframe[0].value
    assert list(board["router"]) == ["Local reference teacher", "Uniform weights", "router-distill-done"]
    assert list(board["rubric"])[:2] == ["5.00", f"{first.figures['uniform']['rubric_mean']:.2f}"]
    charts = at.get("vega_lite_chart")
    # quality, latency, cost, cost against quality, the histogram, latency per query, two per channel, the
    # confusion heatmap, a slice and the cascade's two curves
    assert len(charts) == 12
    # Ours are bars in one layer, the published figures tick marks in another, never mixed.
    bars, marks = json.loads(charts[0].proto.spec)["layer"]
    assert {row["series"] for row in bars["data"]["values"]} == set(board["router"])
    assert {row["reference"] for row in marks["data"]["values"]} == {
        "published: distilled Nova Micro",
        "published: Claude Haiku 4.5",
    }
    histogram = chart_rows(charts[4])
    assert sum(r["queries"] for r in histogram if r["series"] == "Uniform weights") == dataset.records
    for title in ("**Quality per router**", "**Latency per router**", "**Rubric scores per router**"):
        assert title in _chart_titles(at)
    assert any("No baseline pinned" in c.value for c in at.caption)

    at.button(key="evaluation_pin").click().run()
    assert history.baseline(first.set_key).id == first.id
    assert any("This run is the pinned baseline" in c.value for c in at.caption)

    _run(at)
    second = history.list()[0]
    assert second.id != first.id and at.query_params[results.RUN_PARAM] == second.id
    # The first table of changes is against the baseline; the history's comparison of two runs is the second.
    deltas, compared = [frame.value for frame in at.dataframe if "change" in frame.value.columns]
    rubric = deltas[deltas["figure"] == "rubric"]
    assert list(rubric["router"]) == list(board["router"]) and set(rubric["change"]) == {"+0.000"}
    assert set(compared[compared["figure"] == "rubric"]["change"]) == {"+0.000"}

    at.selectbox(key=results.CONFUSION_ROUTER_KEY).set_value("uniform").run()
    cell = next(o for o in at.selectbox(key=results.CELL_KEY).options if o.startswith("reference visual"))
    at.selectbox(key=results.CELL_KEY).select(cell).run()
    reference, candidate = at.session_state[results.CELL_KEY].split("|")
    expected = history.get(second.id).records("uniform", cell=(reference, candidate))
    [drilled] = [frame.value for frame in at.dataframe if "router's weights" in frame.value.columns]
    assert list(drilled["query"]) == [r.query for r in expected] and expected


def test_the_cascade_curve_names_the_threshold_and_its_router_id(app, trained):
    _, student = trained
    at = _run(open_page(app, PAGE))

    assert at.selectbox(key=more.STUDENT_KEY).value == student
    assert at.selectbox(key=more.TEACHER_KEY).value == "teacher"
    [named] = [s.value for s in at.success if "recovers" in s.value]
    assert named.startswith("Threshold ") and "of the teacher's quality at the least cost" in named
    [code] = [c.value for c in at.code if c.value.startswith("cascade:")]
    assert code == f"cascade:{student}|teacher@{named.split()[1]}"
    [link] = [link.proto for link in at.main.get("page_link") if link.proto.label == "Try it in the Playground"]
    assert link.page == "playground" and f"router={code}" in unquote(link.query_string)

    at.button(key="evaluation_use_cascade").click().run()
    assert at.text_input(key=runs.EXTRA_KEY).value == code
    _run(at)
    assert code in at.dataframe[0].value["router"].tolist()


def _labelled_lines(total: int) -> list[str]:
    made = synthesise(DataMix(total=100, seed=5), ReferenceTeacher())
    return [json.dumps(record) for record in made.records[:total]]


def test_a_broken_labelled_file_lists_its_line_numbers_and_a_good_one_evaluates(app):
    at = open_page(app, PAGE)
    at.radio(key=sets.SOURCE_KEY).set_value("upload").run()
    good = _labelled_lines(8)
    broken = [*good[:2], "{not json", *good[2:]]
    at.file_uploader(key=sets.UPLOAD_KEY).upload("mine.jsonl", "\n".join(broken).encode()).run()

    assert not at.exception
    assert any("mine.jsonl is not a valid dataset" in e.value for e in at.error)
    assert "line 3" in at.code[0].value
    assert not [b for b in at.button if b.key == f"{runs.RUN_KEY}_start"]

    at.file_uploader(key=sets.UPLOAD_KEY).upload("mine.jsonl", "\n".join(good).encode()).run()
    _run(at)
    assert at.dataframe[0].value["router"].tolist()[:2] == ["Local reference teacher", "Uniform weights"]


def test_an_imported_expectation_file_with_a_broken_line_names_that_line(app):
    at = open_page(app, PAGE)
    at.radio(key=sets.SOURCE_KEY).set_value("expectations").run()
    at.radio(key=sets.EXPECTATIONS_KEY).set_value(sets.IMPORTED_SET).run()
    rows = ['{"query": "dog barking", "expected": "audio"}', '{"query": "a red car", "expected": "colour"}']
    at.file_uploader(key=sets.EXPECTATION_UPLOAD_KEY).upload("mine.jsonl", "\n".join(rows).encode()).run()

    assert not at.exception
    assert at.error and "line 2" in at.code[0].value


def test_the_judge_on_the_local_backend_says_why_not_and_a_bad_volume_says_what_to_type(app, trained):
    at = _run(open_page(app, PAGE))

    assert any(body.startswith("The LLM judge runs on Amazon Bedrock") for body in alerts(at))
    assert not [b for b in at.button if b.key == f"{more.JUDGE_KEY}_ask"]

    at.text_input(key=results.VOLUME_KEY).input("lots").run()
    assert not at.exception
    assert any("Give the monthly query volume as a number of queries" in e.value for e in at.error)
    at.text_input(key=results.VOLUME_KEY).input("2,000,000").run()
    [projection] = [frame.value for frame in at.dataframe if "cost a month" in frame.value.columns]
    assert len(projection) == 3 and set(projection["cost a month"]) == {"$0"}


def test_a_billable_router_routes_only_after_its_estimate_is_confirmed(trained, teacher_is, store):
    router = teacher_is(BillableRouter)
    at = open_page(run_app(), PAGE)
    at.multiselect(key=runs.ROUTERS_KEY).set_value(["teacher", "uniform"]).run()
    at.button(key=f"{runs.RUN_KEY}_start").click().run()

    assert router.calls == 0, alerts(at)
    assert any("bills your AWS account" in w.value for w in at.warning)
    at.button(key=f"{runs.RUN_KEY}_confirm").click().run()
    assert not at.exception
    assert router.calls == trained[0].records
    [run] = EvaluationHistory(store).list()
    spent = results.run_cost_usd(EvaluationHistory(store).get(run.id))
    assert spent > 0 and format_usd(spent) in texts(at)


def test_a_judge_is_estimated_and_confirmed_before_it_grades_the_run(trained, monkeypatch, store):
    from core.backends import LocalBackend
    from tests.unit.evaluation_helpers import RubricJudge

    judge = RubricJudge()
    monkeypatch.setattr(LocalBackend, "judge", lambda self, model=None: judge)
    at = _run(open_page(run_app(), PAGE))
    at.selectbox(key=more.JUDGE_QUERIES_KEY).set_value(20).run()
    at.button(key=f"{more.JUDGE_KEY}_ask").click().run()

    assert judge.calls == 0
    assert any("Judging 20 queries with Rubric judge makes 22 calls" in w.value for w in at.warning)
    at.button(key=f"{more.JUDGE_KEY}_confirm").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert judge.calls == 22
    assert "judge" in at.dataframe[0].value.columns
    assert list(at.dataframe[0].value["judge"])[0] == "5.00"
    [run] = EvaluationHistory(store).list()
    assert run.figures["teacher"]["judge_mean"] == 5.0
    assert any("agrees with the rubric 100% exactly" in m.value for m in at.markdown)
