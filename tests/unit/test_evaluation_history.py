"""Evaluation runs kept in the store (history, a pinned baseline, deltas, comparison) and their exports."""

from __future__ import annotations

import csv
import io
import json

import pytest

from core.evaluate.engine import run_evaluation
from core.evaluate.exports import leaderboard_csv, records_csv, run_json
from core.evaluate.history import EvaluationHistory, EvaluationHistoryError
from core.evaluate.sets import EvaluationSet, load_labelled_file
from core.routers.reference import ReferenceTeacher
from core.routers.uniform import UniformRouter
from core.store import Store
from tests.unit.evaluation_helpers import Scripted, reply, weights


@pytest.fixture
def store(studio_env):
    return Store(studio_env / "studio.db")


@pytest.fixture
def heldout_file(tmp_path):
    from core.datasets.files import write_dataset
    from core.synth import DataMix
    from core.synth.pipeline import synthesise

    made = synthesise(DataMix(total=120, seed=11), ReferenceTeacher(), teacher_id="Local reference teacher")
    path = tmp_path / "heldout.jsonl"
    write_dataset(path, made.records, made.tags, made.manifest_fields)
    return path


# --------------------------------------------------------------------------------------------------


def test_runs_are_kept_whole_and_read_back_with_every_record(store, heldout_file):
    history = EvaluationHistory(store)
    run = run_evaluation(load_labelled_file(heldout_file), {"teacher": ReferenceTeacher(), "uniform": UniformRouter()})
    history.save(run)
    again = history.get(run.id)
    assert again.figures() == json.loads(json.dumps(run.figures()))
    assert again.records("uniform") == run.records("uniform")
    assert [s.id for s in history.list()] == [run.id]
    history.delete(run.id)
    with pytest.raises(EvaluationHistoryError, match="no evaluation run"):
        history.get(run.id)


def test_a_pinned_baseline_gives_deltas_and_two_runs_compare(store, heldout_file):
    history = EvaluationHistory(store)
    evaluation_set = load_labelled_file(heldout_file)
    first = run_evaluation(evaluation_set, {"uniform": UniformRouter(), "teacher": ReferenceTeacher()})
    every_other = {q: "garbage" for q in evaluation_set.queries[::2]}
    half_right = Scripted(every_other, default=reply(weights(0.25, 0.25, 0.25, 0.25)), router_id="uniform")
    second = run_evaluation(evaluation_set, {"uniform": half_right})
    history.save(first)
    history.save(second)

    assert history.against_baseline(second.id) is None
    history.pin(first.id)
    assert history.baseline(evaluation_set.key).id == first.id
    comparison = history.against_baseline(second.id)
    assert comparison.same_set and comparison.only_in_base == ["teacher"]
    delta = comparison.deltas()["uniform"]
    assert delta["validity"] == pytest.approx(second.figures()["uniform"]["validity"] - 1.0)
    assert delta["validity"] < 0
    assert history.against_baseline(first.id) is None
    history.pin(second.id)
    assert history.baseline(evaluation_set.key).id == second.id
    assert not history.summary(first.id).pinned

    other_set = EvaluationSet(kind="heldout", name="x", source="x", queries=["q"], references=[weights(1, 0, 0, 0)])
    third = run_evaluation(other_set, {"uniform": UniformRouter()})
    history.save(third)
    assert not history.compare(first.id, third.id).same_set


def test_exports_hold_the_leaderboard_and_every_record(heldout_file):
    evaluation_set = load_labelled_file(heldout_file)
    run = run_evaluation(evaluation_set, {"teacher": ReferenceTeacher(), "uniform": UniformRouter()})
    board = list(csv.DictReader(io.StringIO(leaderboard_csv(run))))
    assert [row["router"] for row in board] == ["teacher", "uniform"]
    assert float(board[0]["rubric_mean"]) == 5.0
    rows = list(csv.DictReader(io.StringIO(records_csv(run))))
    assert len(rows) == 2 * evaluation_set.n
    assert {row["router"] for row in rows} == {"teacher", "uniform"}
    assert json.loads(run_json(run))["routers"]["uniform"]["figures"]["n"] == evaluation_set.n


def test_a_query_that_looks_like_a_formula_stays_text_in_the_csv():
    evaluation_set = EvaluationSet(
        kind="heldout", name="x", source="x", queries=["=HYPERLINK(1)"], references=[weights(1, 0, 0, 0)]
    )
    run = run_evaluation(evaluation_set, {"uniform": UniformRouter()})
    (row,) = csv.DictReader(io.StringIO(records_csv(run)))
    assert row["query"] == "'=HYPERLINK(1)"
