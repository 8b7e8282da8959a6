"""Retrieval metrics on hand-computed cases."""

import math

import pytest

from core.search.metrics import (
    dcg,
    mean_metrics,
    ndcg_at_k,
    overlap_at_k,
    query_metrics,
    rank_correlation,
    recall_at_k,
    reciprocal_rank,
)


def test_recall_counts_true_matches_in_the_top_k_over_at_most_k():
    ranked = ["a", "x", "b", "y", "z", "c"]
    assert recall_at_k(ranked, {"a", "b", "c"}, 5) == pytest.approx(2 / 3)
    assert recall_at_k(ranked, {"a", "b", "c"}, 10) == 1.0
    # Twelve true matches: finding five of them in the top 5 is all that can be found there.
    many = [f"m{i}" for i in range(12)]
    assert recall_at_k(many, set(many), 5) == 1.0
    assert recall_at_k(["x"] * 5, set(many), 5) == 0.0
    assert recall_at_k(ranked, set(), 5) == 0.0


def test_reciprocal_rank_is_one_over_the_first_true_match():
    assert reciprocal_rank(["x", "y", "a", "b"], {"a", "b"}) == pytest.approx(1 / 3)
    assert reciprocal_rank(["a"], {"a"}) == 1.0
    assert reciprocal_rank(["x", "y"], {"a"}) == 0.0


def test_ndcg_uses_graded_gains_over_the_ideal_order():
    grades = {"full": 2, "part": 1}
    # Ranked: part (gain 1 at rank 1), x, full (gain 3 at rank 3). Ideal: full then part.
    actual = 1 / math.log2(2) + 3 / math.log2(4)
    ideal = 3 / math.log2(2) + 1 / math.log2(3)
    assert ndcg_at_k(["part", "x", "full"], grades, 10) == pytest.approx(actual / ideal)
    assert ndcg_at_k(["full", "part"], grades, 10) == pytest.approx(1.0)
    assert ndcg_at_k(["x"], grades, 10) == 0.0


def test_ndcg_at_k_only_looks_at_the_first_k():
    grades = {f"s{i}": 2 for i in range(12)}
    ranked = ["x"] + [f"s{i}" for i in range(12)]
    ideal = dcg([2] * 10)
    assert ndcg_at_k(ranked, grades, 10) == pytest.approx(dcg([0] + [2] * 9) / ideal)


def test_query_metrics_count_only_full_matches_for_recall_and_mrr():
    figures = query_metrics(["part", "full"], {"part": 1, "full": 2})
    assert figures["recall_at_5"] == 1.0 and figures["recall_at_10"] == 1.0
    assert figures["mrr"] == 0.5
    assert 0 < figures["ndcg_at_10"] < 1


def test_mean_metrics_average_each_figure():
    first = {"recall_at_5": 1.0, "recall_at_10": 1.0, "mrr": 1.0, "ndcg_at_10": 0.5}
    second = {"recall_at_5": 0.0, "recall_at_10": 0.5, "mrr": 0.25, "ndcg_at_10": 0.5}
    assert mean_metrics([first, second]) == {"recall_at_5": 0.5, "recall_at_10": 0.75, "mrr": 0.625, "ndcg_at_10": 0.5}
    assert mean_metrics([]) == {"recall_at_5": 0.0, "recall_at_10": 0.0, "mrr": 0.0, "ndcg_at_10": 0.0}


def test_overlap_at_k_is_the_shared_share_of_the_top_k():
    assert overlap_at_k(["a", "b", "c", "d"], ["b", "a", "x", "y"], 4) == 0.5
    assert overlap_at_k(["a", "b"], ["b", "a"], 2) == 1.0
    assert overlap_at_k(["a"], ["b"], 1) == 0.0


def test_rank_correlation_of_top_k_lists():
    assert rank_correlation(["a", "b", "c"], ["a", "b", "c"], 3) == pytest.approx(1.0)
    assert rank_correlation(["a", "b", "c"], ["c", "b", "a"], 3) == pytest.approx(-1.0)
    # Union a, b, x with ranks (1, 2, 3) and (2, 3, 1) at k = 2 (a missing one ranks 3): rho = -0.5.
    assert rank_correlation(["a", "b"], ["x", "a"], 2) == pytest.approx(-0.5)
    assert rank_correlation([], [], 10) == 0.0
    assert rank_correlation(["a"], ["a"], 10) == 1.0 and rank_correlation(["a"], [], 10) == 0.0
