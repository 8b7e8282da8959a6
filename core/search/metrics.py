"""Retrieval metrics of one ranked list against one judged query (fractions 0-1).

- Recall@k: the truly matching (grade-2) segments in the top k, over min(k, how many there are), so a
  query that a whole video matches can still reach 1 at k = 5.
- MRR: 1 / the rank of the first truly matching segment, 0 when none was returned.
- NDCG@k: graded, gain 2^grade - 1 (3 for a full match, 1 for a partial one), discount log2(rank + 1),
  over the best order the judgements allow.

And, to compare two routers' rankings of one query: overlap@k and Spearman's rank correlation of the top k.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Hashable, Mapping, Sequence
from typing import TypeVar

from core.search.judgements import FULL_MATCH

# A segment as a ranking names it: its id, or its row in the catalog.
Item = TypeVar("Item", bound=Hashable)


def recall_at_k(ranked: Sequence[Item], truly_matching: Collection[Item], k: int) -> float:
    if not truly_matching:
        return 0.0
    found = sum(1 for item in ranked[:k] if item in truly_matching)
    return found / min(k, len(truly_matching))


def reciprocal_rank(ranked: Sequence[Item], truly_matching: Collection[Item]) -> float:
    for rank, item in enumerate(ranked, start=1):
        if item in truly_matching:
            return 1.0 / rank
    return 0.0


def dcg(grades: Sequence[int]) -> float:
    return math.fsum((2**grade - 1) / math.log2(rank + 1) for rank, grade in enumerate(grades, start=1))


def ndcg_at_k(ranked: Sequence[Item], grades: Mapping[Item, int], k: int) -> float:
    ideal = dcg(sorted(grades.values(), reverse=True)[:k])
    if ideal <= 0.0:
        return 0.0
    return dcg([grades.get(item, 0) for item in ranked[:k]]) / ideal


def query_metrics(ranked: Sequence[Item], grades: Mapping[Item, int]) -> dict[str, float]:
    """The four figures of one query's ranking (segments best first) against its graded judgements."""
    truly = {item for item, grade in grades.items() if grade == FULL_MATCH}
    return {
        "recall_at_5": recall_at_k(ranked, truly, 5),
        "recall_at_10": recall_at_k(ranked, truly, 10),
        "mrr": reciprocal_rank(ranked, truly),
        "ndcg_at_10": ndcg_at_k(ranked, grades, 10),
    }


METRIC_NAMES: tuple[str, ...] = ("recall_at_5", "recall_at_10", "mrr", "ndcg_at_10")


def mean_metrics(per_query: Sequence[Mapping[str, float]]) -> dict[str, float]:
    if not per_query:
        return dict.fromkeys(METRIC_NAMES, 0.0)
    return {name: math.fsum(q[name] for q in per_query) / len(per_query) for name in METRIC_NAMES}


def overlap_at_k(first: Sequence[Item], second: Sequence[Item], k: int) -> float:
    """Share of the top k the two rankings have in common (1 when they hold the same segments)."""
    if k <= 0:
        return 0.0
    return len(set(first[:k]) & set(second[:k])) / k


def rank_correlation(first: Sequence[Item], second: Sequence[Item], k: int) -> float:
    """Spearman's rho of two top-k lists over the segments either holds; a segment one list lacks ranks k + 1.

    1 for the same order, -1 for the reverse; 0 when there is nothing to compare.
    """
    items = list(dict.fromkeys([*first[:k], *second[:k]]))
    if len(items) < 2:
        return 1.0 if items and list(first[:k]) == list(second[:k]) else 0.0
    rank_a = {item: rank for rank, item in enumerate(first[:k], start=1)}
    rank_b = {item: rank for rank, item in enumerate(second[:k], start=1)}
    a = [rank_a.get(item, k + 1) for item in items]
    b = [rank_b.get(item, k + 1) for item in items]
    mean_a, mean_b = math.fsum(a) / len(a), math.fsum(b) / len(b)
    cov = math.fsum((x - mean_a) * (y - mean_b) for x, y in zip(a, b, strict=True))
    spread = math.sqrt(math.fsum((x - mean_a) ** 2 for x in a) * math.fsum((y - mean_b) ** 2 for y in b))
    return cov / spread if spread > 0 else 0.0
