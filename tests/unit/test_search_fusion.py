"""Fusion on hand-computed cases: min-max normalisation, weighted RRF (k = 60), z-score, the 0.05 skip threshold."""

import math

import numpy as np
import pytest

from core.schema import MODALITIES
from core.search.catalog import Catalog, Segment
from core.search.channels import Channel, ChannelHits
from core.search.engine import SearchIndex
from core.search.fusion import (
    RRF_K,
    SKIP_THRESHOLD,
    active_channels,
    fuse,
    normalise_minmax,
    normalise_zscore,
    reciprocal_ranks,
)


def hits(channel, rows, scores):
    return ChannelHits(channel, np.array(rows, dtype=np.int64), np.array(scores, dtype=np.float64))


def weights(**given):
    return {m: given.get(m, 0.0) for m in MODALITIES}


def test_minmax_scales_the_best_to_1_and_the_worst_to_0():
    assert normalise_minmax(np.array([4.0, 2.0, 1.0])).tolist() == pytest.approx([1.0, 1 / 3, 0.0])


def test_minmax_of_tied_scores_is_all_1_and_of_nothing_is_nothing():
    assert normalise_minmax(np.array([0.7, 0.7])).tolist() == [1.0, 1.0]
    assert normalise_minmax(np.array([])).tolist() == []


def test_zscore_standardises_with_the_population_deviation():
    # mean 2, population standard deviation sqrt(2/3)
    spread = math.sqrt(2 / 3)
    assert normalise_zscore(np.array([3.0, 2.0, 1.0])).tolist() == pytest.approx([1 / spread, 0.0, -1 / spread])
    assert normalise_zscore(np.array([5.0, 5.0])).tolist() == [0.0, 0.0]


def test_reciprocal_ranks_use_k_60():
    assert RRF_K == 60
    assert reciprocal_ranks(3).tolist() == pytest.approx([1 / 61, 1 / 62, 1 / 63])


def test_minmax_fusion_is_the_weighted_sum_of_normalised_scores():
    channels = {"visual": hits("visual", [0, 1, 2], [0.9, 0.5, 0.1]), "audio": hits("audio", [2, 3], [8.0, 4.0])}
    fused = fuse(channels, weights(visual=0.6, audio=0.4), "minmax")
    # visual: row0 1, row1 0.5, row2 0; audio: row2 1, row3 0 -> row0 .6, row1 .3, row2 .4, row3 0
    assert fused.rows.tolist() == [0, 2, 1, 3]
    assert fused.scores.tolist() == pytest.approx([0.6, 0.4, 0.3, 0.0])
    assert fused.contributions["visual"].tolist() == pytest.approx([0.6, 0.0, 0.3, 0.0])
    assert fused.contributions["audio"].tolist() == pytest.approx([0.0, 0.4, 0.0, 0.0])
    total = sum(fused.contributions.values())
    assert total.tolist() == pytest.approx(fused.scores.tolist())


def test_weighted_rrf_adds_weight_over_60_plus_rank():
    channels = {"visual": hits("visual", [5, 7], [0.9, 0.2]), "metadata": hits("metadata", [7, 9], [3.0, 1.0])}
    fused = fuse(channels, weights(visual=0.5, metadata=0.5), "rrf")
    expected = {5: 0.5 / 61, 7: 0.5 / 62 + 0.5 / 61, 9: 0.5 / 62}
    assert fused.rows.tolist() == [7, 5, 9]
    assert fused.scores.tolist() == pytest.approx([expected[7], expected[5], expected[9]])


def test_zscore_fusion_gives_a_row_a_channel_missed_that_channels_lowest_score():
    channels = {"visual": hits("visual", [0, 1, 2], [3.0, 2.0, 1.0]), "audio": hits("audio", [3], [1.0])}
    fused = fuse(channels, weights(visual=0.5, audio=0.5), "zscore")
    z = 1 / math.sqrt(2 / 3)
    # audio's one hit has no spread (z 0), so every row gets 0 from audio; row 3 gets visual's lowest, -z.
    by_row = dict(zip(fused.rows.tolist(), fused.scores.tolist(), strict=True))
    assert by_row == pytest.approx({0: 0.5 * z, 1: 0.0, 2: -0.5 * z, 3: -0.5 * z})
    assert fused.rows.tolist() == [0, 1, 2, 3]  # the tie between rows 2 and 3 goes to the lower row


def test_a_channel_under_the_threshold_adds_nothing():
    assert SKIP_THRESHOLD == 0.05
    channels = {"visual": hits("visual", [0], [1.0]), "audio": hits("audio", [1], [1.0])}
    fused = fuse(channels, weights(visual=0.96, audio=0.04))
    assert fused.rows.tolist() == [0] and set(fused.contributions) == {"visual"}
    assert active_channels(weights(visual=0.9, audio=0.05, transcription=0.0499)) == ["visual", "audio"]


def test_a_queried_channel_that_found_nothing_contributes_zero():
    channels = {"visual": hits("visual", [3], [0.4]), "metadata": ChannelHits.empty("metadata")}
    for method in ("minmax", "rrf", "zscore"):
        fused = fuse(channels, weights(visual=0.5, metadata=0.5), method)
        assert fused.rows.tolist() == [3] and fused.contributions["metadata"].tolist() == [0.0]
    assert len(fuse({"audio": ChannelHits.empty("audio")}, weights(audio=1.0))) == 0


def test_unknown_fusion_is_refused():
    with pytest.raises(ValueError, match="unknown fusion"):
        fuse({}, weights(visual=1.0), "borda")


class RecordingChannel(Channel):
    label = "test channel"

    def __init__(self, name):
        self.name = name
        self.queries = []

    def search(self, query, depth=100):
        self.queries.append(query)
        return hits(self.name, [0, 1], [2.0, 1.0])


def segment(number):
    return Segment(f"v1-s{number}", "v1", 0.0, 10.0, "c", "a", "t", "Title", ("Ana",), "news", "2024-01-31", "Channel")


def test_a_search_never_queries_a_skipped_channel():
    channels = {m: RecordingChannel(m) for m in MODALITIES}
    index = SearchIndex(Catalog((segment(1), segment(2))), channels, RecordingChannel("combined"))
    result = index.search("red car", {"visual": 0.9, "audio": 0.04, "transcription": 0.0, "metadata": 0.06})
    assert [m for m in MODALITIES if channels[m].queries] == ["visual", "metadata"]
    assert result.searched == ["visual", "metadata"] and result.skipped == ["audio", "transcription"]
    assert [hit.segment.id for hit in result.hits] == ["v1-s1", "v1-s2"]
    first = result.hits[0]
    assert first.contributions == pytest.approx({"visual": 0.9, "metadata": 0.06})
    assert first.score == pytest.approx(0.96)
