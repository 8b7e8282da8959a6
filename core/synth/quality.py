"""Quality figures for a set of queries: duplicates, diversity, shares against targets, vocabulary coverage."""

from __future__ import annotations

import re
import statistics
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

_WORD = re.compile(r"[^\W_]+")
_NOT_WORD = re.compile(r"[\W_]+")

# Words that change neither what a query asks for nor which channel serves it: articles, search-box
# fillers and "video"/"clip" words. Two queries differing only in these (or in word order) are near
# duplicates.
_FILLER_WORDS = frozenset(
    {
        "a", "an", "the", "of", "to", "for", "and", "or", "me", "my", "i", "im", "please", "some", "any",
        "show", "find", "search", "looking", "want", "need", "video", "videos", "clip", "clips", "footage",
    }
)  # fmt: skip

TAG_GROUPS: tuple[str, ...] = ("focus", "difficulty", "domain")

# A plain string or anything with a `.query` string (SynthQuery).
Item = TypeVar("Item")


def words(text: str) -> list[str]:
    """Lower-cased word tokens: runs of letters and digits (punctuation and apostrophes split words)."""
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


def normalise_for_dedup(text: str) -> str:
    """Fold case, Unicode compatibility forms, punctuation and spacing: "Dog  barking!" -> "dog barking"."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(_NOT_WORD.sub(" ", folded).split())


def near_duplicate_key(text: str) -> str:
    """The sorted set of a query's content words: equal for queries that differ only in case, punctuation,
    spacing, word order, repeated words or filler words ("video of a dog barking" ~ "dog barking clip")."""
    normalised = normalise_for_dedup(text)
    content = sorted({word for word in normalised.split() if word not in _FILLER_WORDS})
    return " ".join(content) if content else normalised


def _text(item: Any) -> str:
    return item if isinstance(item, str) else item.query


def deduplicate(queries: Iterable[Item]) -> tuple[list[Item], int]:
    """Drop exact and near duplicates (see `near_duplicate_key`), keeping the first of each in order.

    Works on plain strings or on anything with a `.query` string (SynthQuery). Returns (kept, removed).
    """
    kept: list[Item] = []
    seen: set[str] = set()
    removed = 0
    for item in queries:
        key = near_duplicate_key(_text(item))
        if key in seen:
            removed += 1
            continue
        seen.add(key)
        kept.append(item)
    return kept, removed


def diversity(queries: Iterable[Any]) -> dict[str, float | int]:
    """How varied a set of queries is.

    distinct: distinct queries after folding case, punctuation and spacing; distinct_openings: distinct
    first two words; length figures in characters and words (population standard deviation);
    vocabulary_size: distinct lower-cased words.
    """
    texts = [_text(item) for item in queries]
    token_lists = [words(text) for text in texts]
    char_lengths = [len(text) for text in texts]
    word_lengths = [len(tokens) for tokens in token_lists]
    return {
        "queries": len(texts),
        "distinct": len({normalise_for_dedup(text) for text in texts}),
        "distinct_openings": len({" ".join(tokens[:2]) for tokens in token_lists}),
        "mean_chars": statistics.fmean(char_lengths) if texts else 0.0,
        "std_chars": statistics.pstdev(char_lengths) if texts else 0.0,
        "mean_words": statistics.fmean(word_lengths) if texts else 0.0,
        "std_words": statistics.pstdev(word_lengths) if texts else 0.0,
        "vocabulary_size": len({word for tokens in token_lists for word in tokens}),
    }


def count_tags(queries: Iterable[Any]) -> dict[str, dict[str, int]]:
    """Counts per focus, difficulty and domain of tagged queries (SynthQuery or the sidecar's dicts)."""
    counters: dict[str, Counter[str]] = {group: Counter() for group in TAG_GROUPS}
    for item in queries:
        for group in TAG_GROUPS:
            counters[group][item[group] if isinstance(item, Mapping) else getattr(item, group)] += 1
    return {group: dict(counter) for group, counter in counters.items()}


def share_report(actual_counts: Mapping[str, int], target_shares: Mapping[str, float]) -> list[dict[str, Any]]:
    """One row per key: target share, actual count and share, and actual minus target (shares are 0-1).

    Target keys come first in their order, then keys that only occur in the actual counts.
    """
    total = sum(actual_counts.values())
    keys = list(target_shares) + [key for key in actual_counts if key not in target_shares]
    rows = []
    for key in keys:
        count = int(actual_counts.get(key, 0))
        actual = count / total if total else 0.0
        target = float(target_shares.get(key, 0.0))
        rows.append({"key": key, "target": target, "actual": actual, "count": count, "difference": actual - target})
    return rows


def _vocabulary(texts: Iterable[str]) -> set[str]:
    return {word for text in texts for word in words(text)}


def vocabulary_coverage(queries: Sequence[str], generated: Iterable[str]) -> float:
    """Share of the distinct words of `queries` that occur anywhere in `generated` (1.0 when there are none).

    Distinct words, not occurrences, so a frequent word ("the") counts once and the figure says how much of
    the vocabulary people use a model trained on `generated` has seen.
    """
    wanted = _vocabulary(queries)
    if not wanted:
        return 1.0
    return len(wanted & _vocabulary(generated)) / len(wanted)


def uncovered_words(queries: Sequence[str], generated: Iterable[str]) -> list[str]:
    """The distinct words of `queries` that never occur in `generated`, sorted."""
    return sorted(_vocabulary(queries) - _vocabulary(generated))
