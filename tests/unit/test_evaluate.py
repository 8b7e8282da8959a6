"""The deterministic rubric (docs/ARCHITECTURE.md) on every boundary, and the `evaluate --json` figures."""

import pytest

from core.evaluate import EVALUATE_KEYS, rubric_score, rubric_scores, score_pairs
from core.schema import RouteResult, RoutingDecision


def decision(visual, audio, transcription, metadata):
    return RoutingDecision(visual=visual, audio=audio, transcription=transcription, metadata=metadata)


REFERENCE = decision(0.5, 0.3, 0.1, 0.1)
SKEWED = decision(0.6, 0.3, 0.1, 0.0)
TIED = decision(0.4, 0.4, 0.1, 0.1)

RUBRIC_TABLE = {
    "no candidate (unparseable reply)": (None, REFERENCE, 1),
    "identical": (REFERENCE, REFERENCE, 5),
    # 0.55 - 0.5 is 0.05000000000000004 in floats: the tolerance keeps it on the bound.
    "max error exactly 0.05": (decision(0.55, 0.25, 0.1, 0.1), REFERENCE, 5),
    "max error 0.05 + 2e-9": (decision(0.55 + 2e-9, 0.25 - 2e-9, 0.1, 0.1), REFERENCE, 4),
    "max error exactly 0.10": (decision(0.6, 0.2, 0.1, 0.1), REFERENCE, 4),
    "max error 0.10 + 2e-9, same dominant, small average": (decision(0.6 + 2e-9, 0.2 - 2e-9, 0.1, 0.1), REFERENCE, 3),
    "max error exactly 0.30 is not a failure (dominant differs)": (decision(0.2, 0.6, 0.1, 0.1), REFERENCE, 2),
    "max error 0.30 + 2e-9 fails": (decision(0.2 - 2e-9, 0.6 + 2e-9, 0.1, 0.1), REFERENCE, 1),
    "max error over 0.30 fails even with the right dominant": (decision(0.95, 0.05, 0.0, 0.0), REFERENCE, 1),
    "dominant differs despite a small average": (decision(0.38, 0.42, 0.1, 0.1), REFERENCE, 2),
    "candidate top ties with the reference top": (decision(0.25, 0.55, 0.1, 0.1), TIED, 3),
    "reference top tied, candidate picks the other tied one": (decision(0.55, 0.25, 0.1, 0.1), TIED, 3),
    "average below 0.15": (decision(0.8, 0.1, 0.1, 0.0), SKEWED, 3),
    "average exactly 0.15": (decision(0.45, 0.15, 0.25, 0.15), SKEWED, 2),
    "average 0.15 - 2e-9": (decision(0.45 + 8e-9, 0.15, 0.25, 0.15), SKEWED, 3),
    "average over 0.15, same dominant": (decision(0.35, 0.05, 0.35, 0.25), SKEWED, 2),
}


@pytest.mark.parametrize(("candidate", "reference", "expected"), RUBRIC_TABLE.values(), ids=RUBRIC_TABLE.keys())
def test_rubric_score_follows_the_rubric_in_order(candidate, reference, expected):
    assert rubric_score(candidate, reference) == expected


def result(query, weights=None, latency_ms=1.0, cost_usd=0.0, valid=True):
    chosen = decision(*weights) if weights is not None else None
    return RouteResult(
        query=query,
        router_id="r",
        decision=chosen,
        raw_text="",
        valid=valid and chosen is not None,
        latency_ms=latency_ms,
        cost_usd=cost_usd,
    )


def test_score_pairs_reports_every_contract_figure():
    references = [REFERENCE, REFERENCE, SKEWED, REFERENCE]
    candidates = [
        result("exact", (0.5, 0.3, 0.1, 0.1), latency_ms=1.0, cost_usd=0.001),
        result("off by 0.1", (0.6, 0.2, 0.1, 0.1), latency_ms=2.0, cost_usd=0.001),
        result("wrong dominant", (0.2, 0.6, 0.1, 0.1), latency_ms=3.0, cost_usd=0.001),
        result("unparseable", None, latency_ms=10.0, cost_usd=0.001),
    ]
    figures = score_pairs(candidates, references)

    assert tuple(figures) == EVALUATE_KEYS
    assert figures["n"] == 4
    assert figures["validity"] == pytest.approx(0.75)
    assert figures["rubric_mean"] == pytest.approx((5 + 4 + 1 + 1) / 4)
    # Only the three valid rows count: their mean errors are 0, 0.2/4 and (0.4 + 0.3 + 0 + 0.1)/4.
    expected_mae = (0.0 + 0.2 / 4 + (0.4 + 0.3 + 0.0 + 0.1) / 4) / 3
    assert figures["mae"] == pytest.approx(expected_mae)
    assert figures["dominant_accuracy"] == pytest.approx(2 / 4)
    assert figures["latency_p50_ms"] == pytest.approx(2.5)
    assert figures["latency_p95_ms"] == pytest.approx(8.95)
    assert figures["cost_per_1k_usd"] == pytest.approx(1.0)


def test_score_pairs_with_no_valid_row_has_no_mae():
    figures = score_pairs([result("bad", None)], [REFERENCE])
    assert figures["validity"] == 0.0
    assert figures["mae"] is None
    assert figures["rubric_mean"] == 1.0
    assert figures["dominant_accuracy"] == 0.0


def test_a_result_marked_invalid_scores_1_even_with_a_decision():
    flagged = RouteResult(query="q", router_id="r", decision=REFERENCE, raw_text="", valid=False, errors=["timeout"])
    assert rubric_scores([flagged], [REFERENCE]) == [1]


def test_score_pairs_of_nothing_is_empty_not_an_error():
    assert score_pairs([], []) == {"n": 0, **dict.fromkeys(EVALUATE_KEYS[1:])}


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError, match="2 router results but 1 references"):
        score_pairs([result("a", (0.5, 0.3, 0.1, 0.1)), result("b", None)], [REFERENCE])


def test_a_tie_counts_as_the_share_of_tied_modalities_that_lead_the_reference():
    from core.routers.base import RouterReply
    from core.routers.uniform import UniformRouter

    tie = RoutingDecision(visual=0.4, audio=0.4, transcription=0.0, metadata=0.2)
    reference = RoutingDecision(visual=0.35, audio=0.45, transcription=0.0, metadata=0.2)

    class _Tie(UniformRouter):
        def route_many(self, queries):
            return [RouterReply(text="", decision=tie) for _ in queries]

    assert rubric_score(tie, reference) == 5
    assert score_pairs(_Tie().route_batch(["q"]), [reference])["dominant_accuracy"] == 0.5
    # The uniform baseline ties all four: it is right a quarter of the time, not always.
    assert score_pairs(UniformRouter().route_batch(["q"]), [reference])["dominant_accuracy"] == 0.25


# ---- the rubric through real replies: ties, a missing channel, unparseable output ----------------------------

REPLY_TABLE = {
    # (reply text, reference, expected rubric score, expected leading-channel credit)
    "clean JSON, exact": ('{"visual": 0.5, "audio": 0.3, "transcription": 0.1, "metadata": 0.1}', REFERENCE, 5, 1.0),
    "max error exactly 0.05": (
        '{"visual": 0.45, "audio": 0.35, "transcription": 0.1, "metadata": 0.1}',
        REFERENCE,
        5,
        1.0,
    ),
    "max error exactly 0.10": (
        '{"visual": 0.4, "audio": 0.4, "transcription": 0.1, "metadata": 0.1}',
        REFERENCE,
        4,
        0.5,
    ),
    "max error exactly 0.15, leader kept, average 0.075": (
        '{"visual": 0.65, "audio": 0.15, "transcription": 0.1, "metadata": 0.1}',
        REFERENCE,
        3,
        1.0,
    ),
    "max error exactly 0.30 with the leader lost": (
        '{"visual": 0.2, "audio": 0.6, "transcription": 0.1, "metadata": 0.1}',
        REFERENCE,
        2,
        0.0,
    ),
    "a two-way tie that includes the reference leader": (
        '{"visual": 0.4, "audio": 0.4, "transcription": 0.1, "metadata": 0.1}',
        decision(0.45, 0.35, 0.1, 0.1),
        5,
        0.5,
    ),
    "a tied reference: the candidate's leader is one of its leaders": (
        '{"visual": 0.1, "audio": 0.5, "transcription": 0.2, "metadata": 0.2}',
        TIED,
        2,
        1.0,
    ),
    "a missing channel": ('{"visual": 0.6, "audio": 0.3, "transcription": 0.1}', REFERENCE, 1, 0.0),
    "prose, no JSON": ("I would weight the visual channel most.", REFERENCE, 1, 0.0),
    "empty reply": ("", REFERENCE, 1, 0.0),
}


@pytest.mark.parametrize(("text", "reference", "score", "credit"), REPLY_TABLE.values(), ids=REPLY_TABLE.keys())
def test_replies_score_on_the_rubric_and_leading_channel_credit(text, reference, score, credit):
    from core.routers.base import RouterReply
    from core.routers.uniform import UniformRouter

    class Replying(UniformRouter):
        def route_many(self, queries):
            return [RouterReply(text=text) for _ in queries]

    routed = Replying().route_batch(["a query"])
    assert rubric_scores(routed, [reference]) == [score]
    assert score_pairs(routed, [reference])["dominant_accuracy"] == pytest.approx(credit)


# ---- teacher quality recovered, by hand ------------------------------------------------------------------------

RECOVERY_TABLE = {
    # (router, uniform, teacher) -> recovered
    "two thirds of the way from uniform to the teacher": ((4.0, 2.0, 5.0), 2 / 3),
    "the teacher itself": ((5.0, 2.0, 5.0), 1.0),
    "no better than uniform": ((2.0, 2.0, 5.0), 0.0),
    "worse than uniform is negative": ((1.5, 2.0, 5.0), -1 / 6),
    "better than the teacher (a gold set) is over 1": ((4.5, 1.5, 4.0), 1.2),
    "on accuracy": ((0.85, 0.25, 1.0), 0.8),
    "teacher equal to uniform: nothing to recover": ((3.0, 2.0, 2.0), None),
    "teacher below uniform: nothing to recover": ((3.0, 2.0, 1.5), None),
    "no teacher figure": ((3.0, 2.0, None), None),
    "no router figure (an expectation set has no rubric)": ((None, 2.0, 5.0), None),
}


@pytest.mark.parametrize(("figures", "expected"), RECOVERY_TABLE.values(), ids=RECOVERY_TABLE.keys())
def test_teacher_quality_recovered_on_hand_computed_cases(figures, expected):
    from core.evaluate.recovery import quality_recovered

    recovered = quality_recovered(*figures)
    assert recovered == (pytest.approx(expected) if expected is not None else None)


def test_summarising_scored_rows_gives_the_figures_of_score_decisions():
    from core.evaluate.rubric import score_decisions, score_row, summarise_scores

    references = [REFERENCE, SKEWED, TIED, REFERENCE]
    candidates = [decision(0.55, 0.25, 0.1, 0.1), None, decision(0.25, 0.55, 0.1, 0.1), decision(0.2, 0.6, 0.1, 0.1)]
    rows = [score_row(c, r) for c, r in zip(candidates, references, strict=True)]
    assert summarise_scores(rows) == pytest.approx(score_decisions(candidates, references))
    assert [row.rubric for row in rows] == [5, 1, 3, 2]
