"""Fusing the channels' hits by the router's weights, and the 0.05 skip threshold.

A channel weighted under SKIP_THRESHOLD is not queried at all (in production that saves an embedding call
and its latency). Three ways to fuse what the others return, over the union of their hits:

- `minmax` (the system's own choice): each channel's scores scaled to 0-1 over its hits (all 1 when they tie),
  then the weighted sum `w_visual*visual + w_audio*audio + w_transcription*transcription + w_metadata*bm25`.
  A segment a channel did not return gets 0 from it. The weights then amplify a channel, which rank fusion
  cannot do as strongly.
- `rrf`: weighted reciprocal-rank fusion, each channel adding `w / (RRF_K + rank)` (rank from 1).
- `zscore`: each channel's scores standardised over its hits (0 when they do not spread), then the weighted
  sum; a segment a channel did not return gets that channel's lowest standardised score.

A segment's contribution from a channel is that channel's term of the sum; its fused score is their total.
Ranks break ties by catalog row, so the same hits always give the same order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from core.schema import MODALITIES
from core.search.channels import ChannelHits

SKIP_THRESHOLD = 0.05
RRF_K = 60
FUSION_METHODS: tuple[str, ...] = ("minmax", "rrf", "zscore")
DEFAULT_FUSION = "minmax"


@dataclass(frozen=True)
class FusedRanking:
    """Rows best first, their fused scores, and each queried channel's contribution to them."""

    rows: np.ndarray
    scores: np.ndarray
    contributions: dict[str, np.ndarray]  # every queried channel -> its contribution per ranked row

    def __len__(self) -> int:
        return len(self.rows)


def active_channels(weights: Mapping[str, float]) -> list[str]:
    """The channels a search runs: those weighted at or above the skip threshold, in MODALITIES order."""
    return [m for m in MODALITIES if weights.get(m, 0.0) >= SKIP_THRESHOLD]


def skipped_channels(weights: Mapping[str, float]) -> list[str]:
    return [m for m in MODALITIES if weights.get(m, 0.0) < SKIP_THRESHOLD]


def normalise_minmax(scores: np.ndarray) -> np.ndarray:
    """Scores scaled to 0-1 (best 1, worst 0); all 1 when every score is the same."""
    if not len(scores):
        return np.zeros(0)
    low, high = float(scores.min()), float(scores.max())
    if high - low <= 0.0:
        return np.ones(len(scores))
    return (scores - low) / (high - low)


def normalise_zscore(scores: np.ndarray) -> np.ndarray:
    """Scores standardised to mean 0 and (population) standard deviation 1; all 0 when they do not spread."""
    if not len(scores):
        return np.zeros(0)
    spread = float(scores.std())
    if spread <= 0.0:
        return np.zeros(len(scores))
    return (scores - float(scores.mean())) / spread


def reciprocal_ranks(count: int, k: int = RRF_K) -> np.ndarray:
    """1 / (k + rank) for ranks 1..count."""
    return 1.0 / (k + np.arange(1, count + 1, dtype=np.float64))


def fuse(hits: Mapping[str, ChannelHits], weights: Mapping[str, float], method: str = DEFAULT_FUSION) -> FusedRanking:
    """One ranking from the channels' hits; channels under the skip threshold (or not given) add nothing."""
    if method not in FUSION_METHODS:
        raise ValueError(f"unknown fusion {method!r}; use {', '.join(FUSION_METHODS)}")
    used = [m for m in active_channels(weights) if m in hits]
    union = np.unique(np.concatenate([hits[m].rows for m in used])) if used else np.zeros(0, dtype=np.int64)
    if not len(union):
        return FusedRanking(union, np.zeros(0), dict.fromkeys(used, np.zeros(0)))
    parts: dict[str, np.ndarray] = {}
    for m in used:
        channel = hits[m]
        values, floor = _normalised(channel, method)
        column = np.full(len(union), floor, dtype=np.float64)
        column[np.searchsorted(union, channel.rows)] = values
        parts[m] = float(weights[m]) * column
    total = np.sum(list(parts.values()), axis=0)
    order = np.lexsort((union, -total))
    return FusedRanking(union[order], total[order], {m: part[order] for m, part in parts.items()})


def _normalised(channel: ChannelHits, method: str) -> tuple[np.ndarray, float]:
    """The channel's normalised hit scores, and what a row it did not return gets."""
    if method == "minmax":
        return normalise_minmax(channel.scores), 0.0
    if method == "zscore":
        values = normalise_zscore(channel.scores)
        return values, float(values.min()) if len(values) else 0.0
    return reciprocal_ranks(len(channel)), 0.0
