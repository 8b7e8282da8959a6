"""Query features for the student: hashed word n-grams and hashed in-word character n-grams.

Two scikit-learn hashers side by side, each block l2-normalised on its own, so the student needs no
vocabulary file: the feature configuration saved in the artifact rebuilds exactly the same columns.

The character block is computed per distinct word and summed per query. `char_wb` n-grams never
cross a whitespace boundary, so this gives the same matrix as hashing every query in full, in a
fraction of the time for batches (queries share most of their words). It also makes each word's
share of the character block exact, which is what the student's explanations rest on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sklearn.feature_extraction import FeatureHasher
from sklearn.feature_extraction.text import HashingVectorizer

FEATURE_DTYPE = np.float32


class FeatureConfig(BaseModel):
    """Everything needed to rebuild the feature columns; stored in the artifact's model.json."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Columns per block (word and character); the matrix has twice as many.
    n_features: int = Field(default=2**18, ge=2**8, le=2**22)
    word_ngram_range: tuple[int, int] = (1, 2)
    char_ngram_range: tuple[int, int] = (2, 4)

    @model_validator(mode="after")
    def _ranges_are_ordered(self) -> FeatureConfig:
        for name in ("word_ngram_range", "char_ngram_range"):
            low, high = getattr(self, name)
            if not 1 <= low <= high <= 6:
                raise ValueError(f"{name} must be 1 <= min <= max <= 6, got {(low, high)}")
        return self

    @property
    def n_columns(self) -> int:
        return 2 * self.n_features


@dataclass
class Occurrences:
    """Tokens of a batch as a table: the distinct tokens, and for each query the ids of the tokens in it."""

    distinct: list[str]
    position: dict[str, int]  # token -> its index in distinct
    ids: np.ndarray  # token ids, query after query
    indptr: np.ndarray  # query i owns ids[indptr[i]:indptr[i + 1]]

    @classmethod
    def of(cls, texts: Sequence[str], tokenize: Callable[[str], list[str]]) -> Occurrences:
        # One flat list rather than a list per query: thousands of short-lived lists would wake the
        # garbage collector again and again in a process that holds many objects.
        flat: list[str] = []
        lengths: list[int] = []
        for text in texts:
            tokens = tokenize(text)
            flat.extend(tokens)
            lengths.append(len(tokens))
        distinct = list(dict.fromkeys(flat))
        position = {token: index for index, token in enumerate(distinct)}
        ids = np.fromiter(map(position.__getitem__, flat), dtype=np.int64, count=len(flat))
        indptr = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        return cls(distinct, position, ids, indptr)

    def query_ids(self) -> np.ndarray:
        return np.repeat(np.arange(len(self.indptr) - 1), np.diff(self.indptr))

    def counts(self, columns: np.ndarray, n_columns: int) -> sp.csr_matrix:
        """A query x column count matrix, given the column of each distinct token."""
        matrix = sp.csr_matrix(
            (np.ones(len(self.ids), dtype=FEATURE_DTYPE), columns[self.ids], self.indptr),
            shape=(len(self.indptr) - 1, n_columns),
        )
        matrix.sum_duplicates()
        return matrix


@dataclass
class QueryFeatures:
    """A batch of featurised queries, with the word n-grams kept beside the matrix for explanations."""

    word: sp.csr_matrix  # l2-normalised word n-gram block
    char: sp.csr_matrix  # l2-normalised character n-gram block
    word_norms: np.ndarray  # the blocks' norms before normalising (0 for an empty block)
    char_norms: np.ndarray
    ngrams: Occurrences  # each query's word unigrams then bigrams, as the word hasher saw them
    ngram_columns: np.ndarray  # word-block column of each distinct n-gram
    words: Occurrences  # each query's whitespace-separated words, as the character hasher saw them
    word_char_counts: sp.csr_matrix  # raw character n-gram counts of each distinct word

    def matrix(self) -> sp.csr_matrix:
        return sp.hstack([self.word, self.char], format="csr")


class QueryFeaturizer:
    def __init__(self, config: FeatureConfig | None = None):
        self.config = config or FeatureConfig()
        common = dict(
            n_features=self.config.n_features, lowercase=True, alternate_sign=False, norm=None,
            dtype=FEATURE_DTYPE,
        )
        self.word_vectorizer = HashingVectorizer(analyzer="word", ngram_range=self.config.word_ngram_range, **common)
        self.char_vectorizer = HashingVectorizer(analyzer="char_wb", ngram_range=self.config.char_ngram_range, **common)
        self._word_analyzer = self.word_vectorizer.build_analyzer()
        self._char_preprocessor = self.char_vectorizer.build_preprocessor()
        # The hasher HashingVectorizer builds internally, applied to each distinct n-gram of a batch once:
        # batches repeat n-grams a lot, and the explanations need each n-gram's column anyway.
        self._word_hasher = FeatureHasher(
            n_features=self.config.n_features, input_type="string", alternate_sign=False, dtype=FEATURE_DTYPE,
        )

    @property
    def n_columns(self) -> int:
        return self.config.n_columns

    def transform(self, queries: Sequence[str]) -> sp.csr_matrix:
        return self.features(queries).matrix()

    def features(self, queries: Sequence[str]) -> QueryFeatures:
        ngrams = Occurrences.of(queries, self._word_analyzer)
        ngram_columns = self.word_columns(ngrams.distinct)
        words = Occurrences.of(queries, self._whitespace_words)
        word_char_counts = self.char_counts(words.distinct)
        per_query_words = words.counts(np.arange(len(words.distinct)), len(words.distinct))
        word, word_norms = _l2_normalised(ngrams.counts(ngram_columns, self.config.n_features))
        char, char_norms = _l2_normalised((per_query_words @ word_char_counts).tocsr())
        return QueryFeatures(word, char, word_norms, char_norms, ngrams, ngram_columns, words, word_char_counts)

    def _whitespace_words(self, query: str) -> list[str]:
        return self._char_preprocessor(query).split()

    def word_columns(self, ngrams: Sequence[str]) -> np.ndarray:
        """The word-block column of each n-gram string (one hashed column each)."""
        if not ngrams:
            return np.zeros(0, dtype=np.int64)
        return self._word_hasher.transform([[ngram] for ngram in ngrams]).tocsr().indices.astype(np.int64)

    def char_counts(self, words: Sequence[str]) -> sp.csr_matrix:
        """Raw character n-gram counts of single words (the character block's columns, unnormalised)."""
        if not words:
            return sp.csr_matrix((0, self.config.n_features), dtype=FEATURE_DTYPE)
        return self.char_vectorizer.transform(list(words)).tocsr()


def _l2_normalised(counts: sp.csr_matrix) -> tuple[sp.csr_matrix, np.ndarray]:
    """Rows scaled to unit length (empty rows stay zero), and the lengths they had."""
    counts = counts.tocsr()
    norms = np.zeros(counts.shape[0])
    filled = np.flatnonzero(np.diff(counts.indptr))
    if filled.size:
        # Empty rows are skipped, so each segment below runs exactly over one filled row's entries.
        norms[filled] = np.sqrt(np.add.reduceat(np.square(counts.data, dtype=np.float64), counts.indptr[filled]))
    scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    counts.data *= np.repeat(scale, np.diff(counts.indptr)).astype(FEATURE_DTYPE)
    return counts, norms
