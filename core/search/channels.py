"""Search channels: each one answers a query with its best segments and their raw scores.

`Channel` is the seam where a production index plugs in (docs/ARCHITECTURE.md, search): an OpenSearch
k-NN query over real multimodal embeddings of the video, its audio and its speech, or OpenSearch's own
BM25 over the metadata fields, implements `search` and returns catalog rows with scores. Fusion
(core.search.fusion) only ever sees those hits, so it does not change when the index does.

Here, offline, the three embedding channels are a **local stand-in for multimodal embeddings**: TF-IDF over
character n-grams of the segment's own text (its caption, audio description or transcript), compared by
cosine similarity. It matches words and near-spellings, not meaning, so "dog barking" finds "a dog barks"
but not "a hound howls"; real embeddings would. The metadata channel is real BM25 (bm25s) over the
title, people, genre, upload date and channel, as in the system it models.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import bm25s
import numpy as np
import scipy.sparse as sp

# How many hits each channel hands to fusion (an OpenSearch sub-query's k plays this part).
DEFAULT_DEPTH = 100
CHAR_NGRAMS = (3, 5)
STOPWORDS = "en"
LOCAL_SIMILARITY_LABEL = "local stand-in for multimodal embeddings (character n-gram TF-IDF, cosine)"
BM25_LABEL = "BM25 (bm25s) over title, people, genre, upload date and channel"


@dataclass(frozen=True)
class ChannelHits:
    """A channel's answer: catalog rows, best first, with their raw scores (all above zero)."""

    channel: str
    rows: np.ndarray  # int64
    scores: np.ndarray  # float64

    def __len__(self) -> int:
        return len(self.rows)

    @classmethod
    def empty(cls, channel: str) -> ChannelHits:
        return cls(channel, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64))


class Channel(ABC):
    """One search channel over one catalog's segments (rows in catalog order)."""

    # The modality this channel serves ("visual", "audio", "transcription", "metadata"), or "combined".
    name: str
    # What the channel is, in words a person reads next to its results.
    label: str

    @abstractmethod
    def search(self, query: str, depth: int = DEFAULT_DEPTH) -> ChannelHits:
        """At most `depth` rows with a score above zero, best first (ties: lower row first)."""

    def search_many(self, queries: Sequence[str], depth: int = DEFAULT_DEPTH) -> list[ChannelHits]:
        """`search` for each query; an index that answers batches faster (OpenSearch's msearch) overrides it."""
        return [self.search(query, depth) for query in queries]


def top_hits(channel: str, scores: np.ndarray, depth: int) -> ChannelHits:
    """The `depth` best positive scores of a dense score array, best first, ties to the lower row."""
    positive = np.flatnonzero(scores > 0)
    if len(positive) > depth:
        # Everything at or above the depth-th best score, so a tie at the cut is settled by row, not by chance.
        cut = np.partition(scores[positive], len(positive) - depth)[len(positive) - depth]
        positive = positive[scores[positive] >= cut]
    order = np.lexsort((positive, -scores[positive]))[:depth]
    rows = positive[order].astype(np.int64)
    return ChannelHits(channel, rows, scores[rows].astype(np.float64))


class CharNgrams:
    """Character n-grams inside words (padded with a space each side), counted through the words.

    The n-grams of a text are the n-grams of its words, so each distinct word is cut up once and a text's
    counts are its word counts times a words-by-n-grams matrix; and the counts of fields joined by spaces are
    the sum of the fields' counts. That keeps building the index of 10,000 segments to a few seconds.
    """

    def __init__(self, texts: Iterable[str]):
        words: dict[str, int] = {}
        for text in texts:
            for word in text.lower().split():
                words.setdefault(word, len(words))
        self._words = words
        self.vocabulary: dict[str, int] = {}
        rows: list[int] = []
        columns: list[int] = []
        for word, row in words.items():
            for gram in word_ngrams(word):
                rows.append(row)
                columns.append(self.vocabulary.setdefault(gram, len(self.vocabulary)))
        shape = (len(words), len(self.vocabulary))
        self._grams_of_words = sp.csr_matrix((np.ones(len(rows)), (rows, columns)), shape=shape)

    @property
    def size(self) -> int:
        return len(self.vocabulary)

    def count(self, texts: Sequence[str]) -> sp.csr_matrix:
        """texts x n-grams counts; every word of the texts must be one this object was made from."""
        return self.ngram_counts(self.word_counts(texts))

    def word_counts(self, texts: Sequence[str]) -> sp.csr_matrix:
        """texts x words counts (add those of several fields to count the fields joined)."""
        indptr = [0]
        indices: list[int] = []
        for text in texts:
            indices.extend(self._words[word] for word in text.lower().split())
            indptr.append(len(indices))
        counts = sp.csr_matrix(
            (np.ones(len(indices)), indices, indptr), shape=(len(texts), len(self._words)), dtype=np.float64
        )
        counts.sum_duplicates()
        return counts

    def ngram_counts(self, word_counts: sp.csr_matrix) -> sp.csr_matrix:
        return (word_counts @ self._grams_of_words).tocsr()

    def count_query(self, text: str) -> dict[int, int]:
        """n-gram number -> count for any text; n-grams the index never saw are left out."""
        counts: dict[int, int] = {}
        for word in text.lower().split():
            for gram in word_ngrams(word):
                column = self.vocabulary.get(gram)
                if column is not None:
                    counts[column] = counts.get(column, 0) + 1
        return counts


def word_ngrams(word: str) -> list[str]:
    """The character n-grams of one word padded with spaces; a padded word shorter than n counts once, whole."""
    padded = f" {word} "
    grams: list[str] = []
    for n in range(CHAR_NGRAMS[0], CHAR_NGRAMS[1] + 1):
        if len(padded) <= n:
            grams.append(padded)
            break
        grams.extend(padded[i : i + n] for i in range(len(padded) - n + 1))
    return grams


class LocalTextSimilarity(Channel):
    """Cosine similarity of character n-gram TF-IDF vectors: the offline stand-in for an embedding index."""

    label = LOCAL_SIMILARITY_LABEL

    def __init__(self, name: str, texts: Sequence[str], ngrams: CharNgrams | None = None):
        """Index `texts`; `ngrams` may be shared with other channels over the same catalog (it must know every
        word of these texts)."""
        ngrams = ngrams or CharNgrams(texts)
        self._init(name, ngrams, ngrams.count(texts))

    @classmethod
    def from_counts(cls, name: str, ngrams: CharNgrams, counts: sp.csr_matrix) -> LocalTextSimilarity:
        channel = cls.__new__(cls)
        channel._init(name, ngrams, counts)
        return channel

    def _init(self, name: str, ngrams: CharNgrams, counts: sp.csr_matrix) -> None:
        # Imported here, not at the top: every command of the CLI loads this module, and sklearn takes seconds.
        from sklearn.feature_extraction.text import TfidfTransformer

        self.name = name
        self._ngrams = ngrams

        weighting = TfidfTransformer(sublinear_tf=True)
        # Rows are unit length, so a dot product with the (unit) query vector is the cosine. Kept transposed
        # (n-grams x rows): a query touches only the rows of its own n-grams.
        self._by_term = weighting.fit_transform(counts).astype(np.float32).T.tocsr()
        self._idf = weighting.idf_.astype(np.float64)

    def query_vector(self, query: str) -> tuple[np.ndarray, np.ndarray]:
        """The query's TF-IDF vector as (n-gram numbers, unit-length weights), weighted like the rows."""
        counts = self._ngrams.count_query(query)
        terms = np.fromiter(counts, dtype=np.int64, count=len(counts))
        tf = 1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64, count=len(counts)))
        weights = tf * self._idf[terms]
        norm = float(np.sqrt(weights @ weights)) if len(weights) else 0.0
        return terms, (weights / norm if norm > 0 else weights)

    def search(self, query: str, depth: int = DEFAULT_DEPTH) -> ChannelHits:
        terms, weights = self.query_vector(query)
        if not len(terms):
            return ChannelHits.empty(self.name)
        # The query's own n-gram rows, weighted and summed: a dense score per segment.
        scores = np.asarray(self._by_term[terms].T @ weights, dtype=np.float64)
        return top_hits(self.name, scores, depth)


class BM25Channel(Channel):
    """BM25 (Lucene's variant, via bm25s) over one text per row."""

    label = BM25_LABEL

    def __init__(self, name: str, texts: Sequence[str]):
        self.name = name
        self._retriever = bm25s.BM25(method="lucene")
        tokens = bm25s.tokenize(list(texts), stopwords=STOPWORDS, return_ids=False, show_progress=False)
        self._retriever.index(tokens, show_progress=False)
        self._vocabulary = self._retriever.vocab_dict

    def search(self, query: str, depth: int = DEFAULT_DEPTH) -> ChannelHits:
        (tokens,) = bm25s.tokenize([query], stopwords=STOPWORDS, return_ids=False, show_progress=False)
        known = [token for token in tokens if token in self._vocabulary]
        if not known:
            return ChannelHits.empty(self.name)
        scores = np.asarray(self._retriever.get_scores(known), dtype=np.float64)
        return top_hits(self.name, scores, depth)
