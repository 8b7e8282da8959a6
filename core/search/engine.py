"""A catalog's search index: its four channels and the combined baseline index, one query at a time.

`SearchIndex.build` makes the local channels (core.search.channels); a production deployment would pass
its own Channel objects instead. `search` runs only the channels a router's weights do not skip, fuses
their hits and returns the ranked segments with each channel's contribution. `route_weights` turns any
router's result into weights: an invalid reply falls back to uniform weights, and says so.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from core.schema import MODALITIES, RouteResult
from core.search.catalog import Catalog, Segment
from core.search.channels import DEFAULT_DEPTH, BM25Channel, Channel, ChannelHits, CharNgrams, LocalTextSimilarity
from core.search.fusion import DEFAULT_FUSION, active_channels, fuse, skipped_channels

DEFAULT_K = 10
MAX_K = 100
UNIFORM_WEIGHTS: dict[str, float] = dict.fromkeys(MODALITIES, 0.25)
COMBINED = "combined"


@dataclass(frozen=True)
class SearchHit:
    rank: int
    segment: Segment
    score: float
    contributions: dict[str, float]  # per queried channel, summing to the score

    def to_json_dict(self) -> dict[str, object]:
        segment = self.segment
        return {
            "rank": self.rank,
            "segment_id": segment.id,
            "video_id": segment.video_id,
            "title": segment.title,
            "start_s": segment.start_s,
            "end_s": segment.end_s,
            "caption": segment.caption,
            "people": list(segment.people),
            "score": round(self.score, 6),
            "contributions": {m: round(v, 6) for m, v in self.contributions.items()},
        }


@dataclass(frozen=True)
class SearchResult:
    query: str
    weights: dict[str, float]
    fusion: str
    searched: list[str]  # channels queried
    skipped: list[str]  # channels under the skip threshold
    hits: list[SearchHit]
    search_ms: float


@dataclass(frozen=True)
class RoutedWeights:
    weights: dict[str, float]
    fallback: bool  # the router gave no valid decision, so uniform weights were used
    reason: str | None = None


def route_weights(result: RouteResult) -> RoutedWeights:
    """A router's weights for search, or uniform weights (flagged) when its reply was not valid."""
    if result.valid and result.decision is not None:
        return RoutedWeights(result.decision.weights(), fallback=False)
    reason = "; ".join(result.errors) or "the router gave no decision"
    return RoutedWeights(dict(UNIFORM_WEIGHTS), fallback=True, reason=reason)


class SearchIndex:
    def __init__(self, catalog: Catalog, channels: Mapping[str, Channel], combined: Channel):
        missing = [m for m in MODALITIES if m not in channels]
        if missing:
            raise ValueError(f"a search index needs every channel; missing {', '.join(missing)}")
        self.catalog = catalog
        self.channels = dict(channels)
        self.combined = combined

    @classmethod
    def build(cls, catalog: Catalog) -> SearchIndex:
        """The offline index: local similarity for visual, audio and transcription, BM25 for metadata."""
        segments = catalog.segments
        fields = {
            "visual": [s.caption for s in segments],
            "audio": [s.audio_description for s in segments],
            "transcription": [s.transcript for s in segments],
        }
        metadata = [s.metadata_text() for s in segments]
        ngrams = CharNgrams(text for texts in (*fields.values(), metadata) for text in texts)
        words = {name: ngrams.word_counts(texts) for name, texts in fields.items()}
        channels: dict[str, Channel] = {
            name: LocalTextSimilarity.from_counts(name, ngrams, ngrams.ngram_counts(words[name])) for name in fields
        }
        channels["metadata"] = BM25Channel("metadata", metadata)
        # Segment.combined_text joins the fields with spaces, so its words are the fields' words together.
        combined_words = words["visual"] + words["audio"] + words["transcription"] + ngrams.word_counts(metadata)
        combined = LocalTextSimilarity.from_counts(COMBINED, ngrams, ngrams.ngram_counts(combined_words))
        return cls(catalog, channels, combined)

    def channel_hits(self, query: str, channels: Iterable[str], depth: int = DEFAULT_DEPTH) -> dict[str, ChannelHits]:
        return {name: self.channels[name].search(query, depth) for name in channels}

    def channel_hits_many(self, queries: Sequence[str], depth: int = DEFAULT_DEPTH) -> list[dict[str, ChannelHits]]:
        """Every channel's hits for each query, each channel answering the whole batch at once."""
        answers = {name: channel.search_many(queries, depth) for name, channel in self.channels.items()}
        return [{name: answers[name][i] for name in MODALITIES} for i in range(len(queries))]

    def search(
        self,
        query: str,
        weights: Mapping[str, float],
        *,
        k: int = DEFAULT_K,
        fusion: str = DEFAULT_FUSION,
        depth: int = DEFAULT_DEPTH,
    ) -> SearchResult:
        started = time.perf_counter()
        searched = active_channels(weights)
        ranking = fuse(self.channel_hits(query, searched, depth), weights, fusion)
        hits = [
            SearchHit(
                rank=rank,
                segment=self.catalog.segments[int(row)],
                score=float(ranking.scores[rank - 1]),
                contributions={m: float(part[rank - 1]) for m, part in ranking.contributions.items()},
            )
            for rank, row in enumerate(ranking.rows[:k], start=1)
        ]
        elapsed = (time.perf_counter() - started) * 1000.0
        return SearchResult(query, dict(weights), fusion, searched, skipped_channels(weights), hits, elapsed)
