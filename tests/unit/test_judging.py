"""The LLM judge's side that needs no AWS: its prompt, strict reply parsing, the plan of calls with random
candidate order, confirmation before any call, calibration against the rubric and a gold set, and spread."""

from __future__ import annotations

import json

import pytest

from core.evaluate.engine import run_evaluation
from core.evaluate.judging import (
    OVERALL_QUALITY,
    JudgeConfirmationRequired,
    agreement,
    judge_prompt,
    parse_judge_reply,
    plan_judging,
    run_judging,
    spread,
)
from core.evaluate.sets import EvaluationSet
from core.routers.reference import ReferenceTeacher
from core.routers.uniform import UniformRouter
from core.synth import DataMix, generate
from tests.unit.evaluation_helpers import RubricJudge, Scripted, reply, weights

GOOD = {"A": {"score": 4, "reason": "close"}, "B": {"score": 1, "reason": "no JSON"}}

PARSE_TABLE = {
    "clean JSON": (json.dumps(GOOD), {"A": 4, "B": 1}),
    "surrounding whitespace is fine": ("\n  " + json.dumps(GOOD) + "\n", {"A": 4, "B": 1}),
    "code fences are not one JSON object": ("```json\n" + json.dumps(GOOD) + "\n```", None),
    "prose around the JSON": ("Here are my grades: " + json.dumps(GOOD), None),
    "a label missing": (json.dumps({"A": GOOD["A"]}), None),
    "a label too many": (json.dumps({**GOOD, "C": {"score": 3, "reason": "x"}}), None),
    "a score out of range": (json.dumps({**GOOD, "A": {"score": 6, "reason": "x"}}), None),
    "a score as text": (json.dumps({**GOOD, "A": {"score": "4", "reason": "x"}}), None),
    "a fractional score": (json.dumps({**GOOD, "A": {"score": 4.5, "reason": "x"}}), None),
    "a boolean score": (json.dumps({**GOOD, "A": {"score": True, "reason": "x"}}), None),
    "no reason": (json.dumps({**GOOD, "A": {"score": 4}}), None),
    "an extra key": (json.dumps({**GOOD, "A": {"score": 4, "reason": "x", "confidence": 0.9}}), None),
    "a bare score": (json.dumps({**GOOD, "A": 4}), None),
    "a list": (json.dumps([GOOD]), None),
    "empty": ("", None),
    "truncated": (json.dumps(GOOD)[:-5], None),
}


@pytest.mark.parametrize(("text", "scores"), PARSE_TABLE.values(), ids=PARSE_TABLE.keys())
def test_judge_replies_are_parsed_strictly(text, scores):
    parsed = parse_judge_reply(text, ["A", "B"])
    assert parsed.scores == scores
    assert (parsed.error is None) == (scores is not None)


def test_the_prompt_holds_the_full_rubric_the_query_the_reference_and_every_candidate():
    prompt = judge_prompt("dog barking", '{"visual":0.3}', [("A", "first reply"), ("B", "x" * 5000)])
    for description in OVERALL_QUALITY.values():
        assert description in prompt
    assert "reasoning" in prompt and "Query: dog barking" in prompt and 'Reference reply: {"visual":0.3}' in prompt
    assert "Candidate A: first reply" in prompt and "[cut]" in prompt
    assert prompt.index("Query:") > prompt.index("1: ")  # the rubric comes before what is graded


@pytest.fixture(scope="module")
def run():
    queries = [q.query for q in generate(DataMix(total=100, seed=5))][:40]
    references = [r.decision for r in ReferenceTeacher().route_batch(queries)]
    evaluation_set = EvaluationSet(kind="heldout", name="h", source="h", queries=queries, references=references)
    half = Scripted({q: "garbage" for q in queries[::2]}, default=reply(weights(0.7, 0.1, 0.1, 0.1)), router_id="half")
    return evaluation_set, run_evaluation(
        evaluation_set, {"teacher": ReferenceTeacher(), "uniform": UniformRouter(), "half": half}
    )


def test_the_plan_draws_a_random_candidate_order_per_query_reproducibly(run):
    _, evaluation = run
    plan = plan_judging(evaluation, max_queries=30, rejudge_share=0.1, seed=3)
    first = [c for c in plan.calls if not c.rejudge]
    again = [c for c in plan.calls if c.rejudge]
    assert len(first) == 30 and len(again) == 3
    assert {c.index for c in again} <= {c.index for c in first}
    assert len({c.order for c in first}) > 1  # not the same order every time
    assert {c.order[0] for c in first} == {"teacher", "uniform", "half"}
    assert plan_judging(evaluation, max_queries=30, rejudge_share=0.1, seed=3) == plan


def test_nothing_is_sent_before_the_estimate_is_confirmed(run):
    _, evaluation = run
    judge = RubricJudge()
    plan = plan_judging(evaluation, max_queries=10, rejudge_share=0.0)
    with pytest.raises(JudgeConfirmationRequired) as caught:
        run_judging(evaluation.model_copy(deep=True), judge, plan, confirmed=False)
    assert judge.calls == 0
    estimate = caught.value.estimate
    assert estimate.calls == 10 and estimate.cost_usd > 0
    assert "Judging 10 queries with Rubric judge makes 10 calls" in str(caught.value)


def test_judge_scores_land_on_the_right_router_whatever_the_order(run):
    _, evaluation = run
    evaluation = evaluation.model_copy(deep=True)
    plan = plan_judging(evaluation, max_queries=None, rejudge_share=0.25, seed=1)
    report = run_judging(evaluation, RubricJudge(), plan, confirmed=True)

    assert report["queries"] == 40 and report["unparseable"] == 0
    # This judge is the rubric itself: if any label were mapped to the wrong router, agreement would drop.
    assert report["calibration"]["vs_rubric"] == {"n": 120, "exact": 1.0, "within_1": 1.0, "mean_difference": 0.0}
    assert report["spread"] == {"n": 30, "changed": 0.0, "mean_abs_change": 0.0}
    for router_id in ("teacher", "uniform", "half"):
        figures = evaluation.figures()[router_id]
        assert figures["judge_mean"] == pytest.approx(figures["rubric_mean"])
        assert all(r.judge == r.rubric for r in evaluation.records(router_id))
    assert report["calibration"]["vs_gold"] is None


def test_unparseable_judge_replies_are_counted_never_guessed(run):
    _, evaluation = run
    evaluation = evaluation.model_copy(deep=True)
    plan = plan_judging(evaluation, max_queries=20, rejudge_share=0.0, seed=2)
    report = run_judging(evaluation, RubricJudge(broken_every=4), plan, confirmed=True)

    assert report["unparseable"] == 5
    assert report["unparseable_replies"][0]["error"] == "the reply is not one JSON object"
    assert report["unparseable_replies"][0]["reply"] == "I think A is best."
    assert evaluation.figures()["teacher"]["judge_unparseable"] == 5
    judged = [r for r in evaluation.records("teacher") if r.judge is not None]
    assert len(judged) == 15
    assert report["calibration"]["vs_rubric"]["n"] == 45


def test_calibration_against_a_gold_set_matches_queries_by_text(run):
    evaluation_set, evaluation = run
    evaluation = evaluation.model_copy(deep=True)
    # People disagree with the teacher: they put everything on metadata.
    gold = EvaluationSet(
        kind="gold",
        name="people",
        source="people",
        queries=evaluation_set.queries[:10],
        references=[weights(0.0, 0.0, 0.0, 1.0)] * 10,
    )
    plan = plan_judging(evaluation, router_ids=["teacher"], max_queries=None, rejudge_share=0.0)
    report = run_judging(evaluation, RubricJudge(), plan, confirmed=True, gold=gold)
    assert report["calibration"]["vs_rubric"]["exact"] == 1.0
    vs_gold = report["calibration"]["vs_gold"]
    assert vs_gold["n"] == 10 and vs_gold["exact"] < 1.0 and vs_gold["mean_difference"] > 0


def test_agreement_and_spread_by_hand():
    assert agreement([(5, 5), (4, 5), (2, 5), (1, 1)]) == {
        "n": 4,
        "exact": 0.5,
        "within_1": 0.75,
        "mean_difference": -1.0,
    }
    assert agreement([])["exact"] is None
    assert spread({(0, "a"): 4, (1, "a"): 2}, {(0, "a"): 5, (1, "a"): 2, (9, "a"): 1}) == {
        "n": 2,
        "changed": 0.5,
        "mean_abs_change": 0.5,
    }


def test_an_expectation_set_cannot_be_judged():
    evaluation_set = EvaluationSet(kind="expectations", name="e", source="e", queries=["q"], expected=["audio"])
    evaluation = run_evaluation(evaluation_set, {"uniform": UniformRouter()})
    with pytest.raises(ValueError, match="needs reference weights"):
        plan_judging(evaluation)
