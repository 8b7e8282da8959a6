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
