"""The plain router a user would build instead of distilling: TF-IDF over words and character n-grams and a
logistic regression, trained on the teacher's leading channel (argmax), with scikit-learn.

It is the yardstick `bench` sets beside the distilled student (same teacher labels, same queries): if the
student is not ahead of it on quality while at least as fast, the distillation machinery is not earning
its keep. Its weights are the regression's class probabilities.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.pricing import PriceTable
from core.routers.base import Router, RouterReply
from core.schema import MODALITIES, RoutingDecision

WORD_NGRAMS = (1, 2)
CHAR_NGRAMS = (2, 4)
MAX_ITERATIONS = 1000
REGULARISATION_C = 10.0
PEER_REASONING = "TF-IDF logistic-regression peer (words and character n-grams): {channel} is most likely."


class PeerRouter(Router):
    router_id = "peer"

    def __init__(self, pipeline, prices: PriceTable | None = None, router_id: str | None = None):
        super().__init__(prices, router_id)
        self.pipeline = pipeline
        classes = list(pipeline.classes_)
        # Columns of predict_proba in MODALITIES order (a channel the labels never had gets 0).
        self._order = [classes.index(m) if m in classes else -1 for m in MODALITIES]

    def predict_proba(self, queries: Sequence[str]) -> np.ndarray:
        raw = self.pipeline.predict_proba(list(queries))
        out = np.zeros((len(queries), len(MODALITIES)))
        for column, source in enumerate(self._order):
            if source >= 0:
                out[:, column] = raw[:, source]
        return out

    def route_many(self, queries: Sequence[str]) -> list[RouterReply]:
        replies = []
        for row in self.predict_proba(queries):
            weights = dict(zip(MODALITIES, (float(v) for v in row), strict=True))
            channel = max(weights, key=weights.__getitem__)
            decision = RoutingDecision(**weights, reasoning=PEER_REASONING.format(channel=channel))
            replies.append(RouterReply(text="", decision=decision))
        return replies


def train_peer(queries: Sequence[str], leaders: Sequence[str], seed: int = 0) -> PeerRouter:
    """Fit the peer on queries and the teacher's leading channel of each."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline, make_union

    features = make_union(
        TfidfVectorizer(analyzer="word", ngram_range=WORD_NGRAMS, sublinear_tf=True),
        TfidfVectorizer(analyzer="char_wb", ngram_range=CHAR_NGRAMS, sublinear_tf=True),
    )
    model = LogisticRegression(C=REGULARISATION_C, max_iter=MAX_ITERATIONS, random_state=seed)
    pipeline = make_pipeline(features, model)
    pipeline.fit(list(queries), list(leaders))
    return PeerRouter(pipeline)
