"""The trained student: a small neural network over hashed query features, and how it explains itself.

Each feature column has an embedding; a query's embeddings are summed, passed through tanh (one hidden
layer) and mapped to the four modality logits, then a softmax. The sum lets cues add up like evidence,
tanh lets a pile of cues saturate and lets cues interact ("talking about" a car is not a car on screen).
Several networks trained from different seeds and data folds are stored as one wider network: averaging
their logits is exactly a hidden layer of their units side by side with the output weights divided by
their number. Its on-disk form lives in core.distill.artifact.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, reduce
from itertools import pairwise
from typing import Any

import numpy as np
import scipy.sparse as sp
from pydantic import BaseModel, Field

from core.distill.features import FEATURE_DTYPE, FeatureConfig, QueryFeatures, QueryFeaturizer, split_query
from core.schema import MODALITIES, RoutingDecision

# A part must move a weight by at least this much to be named in the reasoning.
MIN_PUSH = 0.02
# Words whose summed embedding routing remembers, for one query and for batches (two caches, each cleared when full).
WORD_VECTOR_CACHE = 50_000
DEFAULT_TOP_K = 3
# Parts whose pushes are worked out at once (a buffer of PART_CHUNK x hidden units that stays in cache).
PART_CHUNK = 4096
NO_DRIVER_REASONING = "Student: no single word stood out; these are close to its usual weights."


class Provenance(BaseModel):
    """Where the training data came from (recorded in the manifest so a run can be traced and repeated)."""

    dataset_sha256: str | None = None
    teacher_id: str | None = None
    prompt_version: str | None = None


class StudentManifest(Provenance):
    """How a student was made: data, teacher, seed, hyperparameters and the metrics it reached."""

    seed: int = 0
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    training_metrics: dict[str, Any] = Field(default_factory=dict)
    heldout_metrics: dict[str, Any] | None = None
    created_at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))


@dataclass(frozen=True)
class StudentExplanation:
    """Why the student weighted a query as it did: for each modality, the query's words that raised it most."""

    query: str
    weights: dict[str, float]
    pushes: dict[str, list[tuple[str, float]]]
    reasoning: str


class StudentModel:
    """A one-hidden-layer network over the hashed features, kept as the embeddings of the columns it uses."""

    labels: tuple[str, ...] = MODALITIES

    def __init__(
        self,
        rows: np.ndarray,
        embeddings: np.ndarray,
        hidden_bias: np.ndarray,
        output_weights: np.ndarray,
        output_bias: np.ndarray,
        features: FeatureConfig,
        manifest: StudentManifest | None = None,
    ):
        rows = np.asarray(rows, dtype=np.int64)
        # Embeddings are held at half precision, as the artifact stores them: the rounding (under a
        # thousandth of each value) is far below what moves a weight by one 0.05 step, and it halves the
        # model on disk. Holding them so in memory too keeps a saved and reloaded model exactly the same.
        with np.errstate(over="ignore"):
            embeddings = np.asarray(embeddings, dtype=np.float16).astype(FEATURE_DTYPE)
        if not np.all(np.isfinite(embeddings)):
            raise ValueError("embeddings must be finite numbers within half-precision range")
        hidden = embeddings.shape[1] if embeddings.ndim == 2 else -1
        expected = {
            "rows": (rows.shape, (len(rows),)),
            "embeddings": (embeddings.shape, (len(rows), hidden)),
            "hidden_bias": (np.shape(hidden_bias), (hidden,)),
            "output_weights": (np.shape(output_weights), (hidden, len(MODALITIES))),
            "output_bias": (np.shape(output_bias), (len(MODALITIES),)),
        }
        for name, (shape, wanted) in expected.items():
            if shape != wanted or hidden < 1:
                raise ValueError(f"{name} must have shape {wanted}, got {shape}")
        if rows.size and (rows[0] < 0 or rows[-1] >= features.n_columns or np.any(np.diff(rows) <= 0)):
            raise ValueError(f"rows must be sorted, unique column numbers below {features.n_columns}")
        self.rows = rows
        self.embeddings = embeddings
        self.hidden_bias = np.asarray(hidden_bias, dtype=FEATURE_DTYPE)
        self.output_weights = np.asarray(output_weights, dtype=FEATURE_DTYPE)
        self.output_bias = np.asarray(output_bias, dtype=FEATURE_DTYPE)
        self.features = features
        self.manifest = manifest or StudentManifest()
        self.featurizer = QueryFeaturizer(features)
        # Column number -> embedding row (-1: a column training never saw, whose embedding is zero).
        self._row_of = np.full(features.n_columns, -1, dtype=np.int32)
        self._row_of[rows] = np.arange(len(rows), dtype=np.int32)
        self._word_vectors: dict[str, np.ndarray] = {}
        self._batch_word_vectors: dict[str, np.ndarray] = {}
        # The weights for an empty query, from which each part alone pushes (the same for every query).
        self._empty_weights = softmax(self._logits(self.hidden_bias[None, :]))

    @property
    def hidden_units(self) -> int:
        return self.embeddings.shape[1]

    def predict_proba(self, queries: Sequence[str]) -> np.ndarray:
        """Weights over MODALITIES for each query, shape (n, 4), each row summing to 1."""
        features = self.featurizer.features(queries)
        with one_blas_thread():
            hidden_input, _ = self._hidden_input(features)
            return softmax(self._logits(hidden_input))

    def predict_with_reasoning(
        self, queries: Sequence[str], top_k: int = DEFAULT_TOP_K
    ) -> tuple[np.ndarray, list[str]]:
        """Probabilities and, per query, a sentence naming the words that drove them (vectorised for batches)."""
        if len(queries) == 1:
            return self._predict_one(queries[0], top_k)
        features = self.featurizer.features(queries)
        with one_blas_thread():
            probabilities, pushes = self._probabilities_and_pushes(features)
        return probabilities, _reasoning_sentences(
            len(queries), features.part_query, features.part_names, pushes, top_k
        )

    def decisions(self, queries: Sequence[str]) -> list[RoutingDecision]:
        probabilities, reasonings = self.predict_with_reasoning(queries)
        return [
            RoutingDecision(visual=row[0], audio=row[1], transcription=row[2], metadata=row[3], reasoning=reasoning)
            for row, reasoning in zip(probabilities.tolist(), reasonings, strict=True)
        ]

    def explain(self, query: str, top_k: int = DEFAULT_TOP_K) -> StudentExplanation:
        features = self.featurizer.features([query])
        probabilities, pushes = self._probabilities_and_pushes(features)
        names = features.part_names
        by_modality: dict[str, list[tuple[str, float]]] = {}
        for column, modality in enumerate(MODALITIES):
            order = np.argsort(-pushes[:, column], kind="stable")[:top_k]
            by_modality[modality] = [
                (names[i], float(pushes[i, column])) for i in order if pushes[i, column] >= MIN_PUSH
            ]
        reasoning = _reasoning_sentences(1, features.part_query, names, pushes, top_k)[0]
        return StudentExplanation(
            query=query,
            weights=dict(zip(MODALITIES, map(float, probabilities[0]), strict=True)),
            pushes=by_modality,
            reasoning=reasoning,
        )

    def _known_columns(self, matrix: sp.csr_matrix) -> sp.csr_matrix:
        """The matrix over embedding rows instead of hashed columns, unseen columns dropped."""
        matrix = matrix.tocsr()
        rows = self._row_of[matrix.indices]
        known = rows >= 0
        row_of_entry = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
        indptr = np.zeros(matrix.shape[0] + 1, dtype=np.int64)
        np.cumsum(np.bincount(row_of_entry[known], minlength=matrix.shape[0]), out=indptr[1:])
        return sp.csr_matrix((matrix.data[known], rows[known], indptr), shape=(matrix.shape[0], len(self.rows)))

    def _hidden_input(self, features: QueryFeatures) -> tuple[np.ndarray, np.ndarray]:
        """Each query's hidden-layer input, and each part's share of it (its summed embeddings)."""
        word_embeddings = self._word_embeddings(features)
        part_embeddings = np.asarray(self._known_columns(features.part_extra) @ self.embeddings)
        part_embeddings += word_embeddings[features.part_word]
        hidden_input = features.query_sum() @ part_embeddings
        hidden_input += self._known_columns(features.query_extra) @ self.embeddings
        hidden_input += self.hidden_bias
        return hidden_input, part_embeddings

    def _word_embeddings(self, features: QueryFeatures) -> np.ndarray:
        """Each word's summed embedding (a row of word_matrix times the embeddings), and one extra zero row, which
        part_word -1 (a number or a quotation: no word) picks. Sums are remembered between batches: a row of
        the sparse product is worked out from that row alone, so a remembered one is bit for bit a new one."""
        found = self._batch_word_vectors
        words = features.words
        missing = [i for i, word in enumerate(words) if word not in found]
        if len(found) + len(missing) > WORD_VECTOR_CACHE:
            found.clear()
            missing = list(range(len(words)))
        if missing:
            sums = self._known_columns(features.word_rows(missing)) @ self.embeddings
            found.update(zip([words[i] for i in missing], sums, strict=True))
        word_embeddings = np.zeros((len(words) + 1, self.hidden_units), dtype=FEATURE_DTYPE)
        if words:
            word_embeddings[:-1] = [found[word] for word in words]
        return word_embeddings

    def _logits(self, hidden_input: np.ndarray) -> np.ndarray:
        hidden = np.tanh(hidden_input)
        return (hidden @ self.output_weights + self.output_bias).astype(np.float64)

    # ---- one query without sparse matrices: the same sums, in a few dense steps -----------------------------

    def _predict_one(self, query: str, top_k: int = DEFAULT_TOP_K) -> tuple[np.ndarray, list[str]]:
        """What predict_with_reasoning gives for one query, without building sparse matrices (whose set-up
        costs more than a single query's arithmetic): each part's embedding sum is read row by row."""
        split = split_query(query)
        featurizer = self.featurizer
        config = featurizer.config
        row_of = self._row_of
        embeddings = self.embeddings
        parts = np.zeros((len(split.names), self.hidden_units), dtype=FEATURE_DTYPE)
        for part, word in enumerate(split.words):
            if word is not None:
                parts[part] = self._word_vector(word)
        for part, shape in zip(split.shape_parts, split.shapes, strict=True):
            row = row_of[featurizer.column(shape)]
            if row >= 0:
                parts[part] += embeddings[row]
        if config.pair_weight > 0:
            words = split.words
            pairs: set[tuple[int, int]] = set()
            for first, second in pairwise(split.sequence):
                if first < 0 or second < 0:
                    continue  # a number breaks a pair
                first_word, second_word = words[first], words[second]
                if first_word is not None and second_word is not None:
                    pairs.add((second, featurizer.pair_column(first_word, second_word)))
            for part, column in pairs:
                row = row_of[column]
                if row >= 0:
                    parts[part] += config.pair_weight * embeddings[row]
        hidden_input = parts.sum(axis=0, keepdims=True)
        for shape in split.whole:
            row = row_of[featurizer.column(shape)]
            if row >= 0:
                hidden_input[0] += embeddings[row]
        hidden_input += self.hidden_bias
        part_query = np.zeros(len(split.names), dtype=np.int64)
        probabilities, pushes = self._pushes(hidden_input, parts, part_query)
        return probabilities, _reasoning_sentences(1, part_query, split.names, pushes, top_k)

    def _word_vector(self, word: str) -> np.ndarray:
        """A word's summed embedding (its own column and character n-grams), remembered between queries."""
        found = self._word_vectors.get(word)
        if found is None:
            if len(self._word_vectors) >= WORD_VECTOR_CACHE:
                self._word_vectors.clear()
            columns, values = self.featurizer.word_columns(word)
            rows = self._row_of[columns]
            known = rows >= 0
            found = self._word_vectors[word] = values[known] @ self.embeddings[rows[known]]
        return found

    def _probabilities_and_pushes(self, features: QueryFeatures) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities, and how much each part raised each modality's weight (one row per part).

        A part's push averages two views: how the weights move when the part is taken out of its query
        (which sees context, like "about" turning a car into a topic) and how the part alone moves them
        from the student's weights for an empty query (which still credits a word that its neighbours
        repeat). With two players this average is exactly their Shapley value. Pushes are in weight
        units: positive means "this part raised this weight", and each row sums to zero.
        """
        # The sums of _hidden_input and the logits of _part_logits, worked through whole queries of about
        # PART_CHUNK parts at a time: no part x hidden array of the whole batch is ever made (those are far
        # larger than the processor's cache). Row by row the arithmetic is theirs, in the same order.
        n_queries, part_query, hidden = features.n_queries, features.part_query, self.hidden_units
        word_embeddings = self._word_embeddings(features)
        part_extra = self._known_columns(features.part_extra)
        query_extra = self._known_columns(features.query_extra) @ self.embeddings
        query_starts = np.searchsorted(part_query, np.arange(n_queries + 1))
        n_parts = len(part_query)
        hidden_input = np.empty((n_queries, hidden), dtype=FEATURE_DTYPE)
        without = np.empty((n_parts, len(MODALITIES)), dtype=FEATURE_DTYPE)
        alone = np.empty_like(without)
        longest = int(np.diff(query_starts).max()) if n_queries else 0
        parts_buffer = np.empty((max(PART_CHUNK, longest), hidden), dtype=FEATURE_DTYPE)
        buffer = np.empty_like(parts_buffer)
        first = 0
        while first < n_queries:
            # Whole queries, as many as fit in a chunk (at least one, however many parts it has).
            last = max(first + 1, int(np.searchsorted(query_starts, query_starts[first] + PART_CHUNK, "right")) - 1)
            start, end = int(query_starts[first]), int(query_starts[last])
            parts, chunk = parts_buffer[: end - start], buffer[: end - start]
            # mode="wrap": the same rows for these valid indices (-1 is the zero row), without the copy through
            # a buffer that numpy makes for out= under the default mode.
            np.take(word_embeddings, features.part_word[start:end], axis=0, out=parts, mode="wrap")
            parts += part_extra[start:end] @ self.embeddings
            local = part_query[start:end] - first
            ones = np.ones(end - start, dtype=FEATURE_DTYPE)
            indptr = query_starts[first : last + 1] - start
            sums = sp.csr_matrix((ones, np.arange(end - start), indptr), shape=(last - first, end - start))
            query_hidden = hidden_input[first:last]
            query_hidden[:] = sums @ parts
            query_hidden += query_extra[first:last]
            query_hidden += self.hidden_bias
            np.take(query_hidden, local, axis=0, out=chunk, mode="wrap")
            chunk -= parts
            np.tanh(chunk, out=chunk)
            np.matmul(chunk, self.output_weights, out=without[start:end])
            np.add(parts, self.hidden_bias, out=chunk)
            np.tanh(chunk, out=chunk)
            np.matmul(chunk, self.output_weights, out=alone[start:end])
            first = last
        without += self.output_bias
        alone += self.output_bias
        return self._combine(hidden_input, without.astype(np.float64), alone.astype(np.float64), part_query)

    def _pushes(
        self, hidden_input: np.ndarray, part_embeddings: np.ndarray, part_query: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        without, alone = self._part_logits(hidden_input, part_embeddings, part_query)
        return self._combine(hidden_input, without, alone, part_query)

    def _combine(
        self, hidden_input: np.ndarray, without: np.ndarray, alone: np.ndarray, part_query: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities and pushes from the logits; `without` and `alone` (the callers' own) are overwritten."""
        probabilities = softmax(self._logits(hidden_input), overwrite=True)
        pushes = probabilities[part_query]
        pushes -= softmax(without, overwrite=True)
        pushes += softmax(alone, overwrite=True)
        pushes -= self._empty_weights
        pushes *= 0.5
        return probabilities, pushes

    def _part_logits(
        self, hidden_input: np.ndarray, part_embeddings: np.ndarray, part_query: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The logits of each query without each of its parts, and of each part alone.

        Worked through PART_CHUNK parts at a time in one reused buffer: the part x hidden arrays of a whole
        batch are far larger than the processor's cache, and each step over them would read them from
        memory again. Row by row the arithmetic is the one of _logits.
        """
        n_parts = len(part_query)
        without = np.empty((n_parts, len(MODALITIES)), dtype=FEATURE_DTYPE)
        alone = np.empty_like(without)
        buffer = np.empty((min(n_parts, PART_CHUNK), self.hidden_units), dtype=FEATURE_DTYPE)
        for start in range(0, n_parts, PART_CHUNK):
            end = min(n_parts, start + PART_CHUNK)
            chunk, parts = buffer[: end - start], part_embeddings[start:end]
            np.take(hidden_input, part_query[start:end], axis=0, out=chunk, mode="wrap")  # as above
            chunk -= parts
            np.tanh(chunk, out=chunk)
            np.matmul(chunk, self.output_weights, out=without[start:end])
            np.add(parts, self.hidden_bias, out=chunk)
            np.tanh(chunk, out=chunk)
            np.matmul(chunk, self.output_weights, out=alone[start:end])
        without += self.output_bias
        alone += self.output_bias
        return without.astype(np.float64), alone.astype(np.float64)


def one_blas_thread() -> AbstractContextManager[object]:
    """BLAS held to one thread while the student multiplies: its products (a few thousand rows by the
    hidden units by four channels) are too small to share, and on a machine whose other core is busy
    OpenBLAS's threads wait for each other (a 10,000 batch's pushes took two to three times as long)."""
    return _blas_threads().limit(limits=1, user_api="blas")


@cache
def _blas_threads() -> Any:
    from threadpoolctl import ThreadpoolController  # here: finding the loaded BLAS takes a few milliseconds

    return ThreadpoolController()


def softmax(logits: np.ndarray, *, overwrite: bool = False) -> np.ndarray:
    """Row-wise softmax; with overwrite, worked in the logits' own array (a batch's part arrays are megabytes,
    and a new one costs more than the arithmetic on it)."""
    shifted = logits if overwrite else logits.copy()
    shifted -= row_max(shifted)[:, None]
    np.exp(shifted, out=shifted)
    shifted /= reduce(np.add, shifted.T)[:, None]  # column after column: the order (and rounding) of sum(axis=1)
    return shifted


def row_max(rows: np.ndarray) -> np.ndarray:
    """rows.max(axis=1), column against column: numpy reduces a short last axis row by row, over ten times slower."""
    return reduce(np.maximum, rows.T)


def _reasoning_sentences(
    n_queries: int, query_ids: np.ndarray, names: list[str], pushes: np.ndarray, top_k: int
) -> list[str]:
    """One sentence per query naming its strongest parts and the modality each pushed (a part per row of
    `pushes`, grouped by query: `query_ids` and `names` give its query and its name)."""
    sentences = [NO_DRIVER_REASONING] * n_queries
    if not len(names):
        return sentences
    if n_queries == 1:
        return [_one_query_sentence(names, pushes, top_k)]
    best_push = row_max(pushes)
    strong = np.flatnonzero(best_push >= MIN_PUSH)
    if not strong.size:
        return sentences
    # Group by query, strongest first, with one stable sort on a single key (several times faster than
    # lexsort here): pushes lie in [MIN_PUSH, top], so a stride of top + 1 keeps the queries apart.
    stride = float(best_push[strong].max()) + 1.0
    ranked = strong[np.argsort(query_ids[strong] * stride - best_push[strong], kind="stable")]
    # Each query's top_k strongest only (a part's rank: how far it is from its query's first): the others are
    # never named, so their names are never written.
    grouped = query_ids[ranked]
    order = ranked[np.arange(len(ranked)) - np.searchsorted(grouped, grouped) < top_k]
    starts = np.searchsorted(query_ids[order], np.arange(n_queries + 1)).tolist()
    # Plain lists from here: indexing them in the per-query loop is far cheaper than indexing arrays.
    chosen_names = [names[i] for i in order.tolist()]
    chosen_modalities = [MODALITIES[i] for i in pushes[order].argmax(axis=1).tolist()]
    return [
        _sentence_template(tuple(chosen_modalities[start:end])).format(*chosen_names[start:end])
        if end > start
        else NO_DRIVER_REASONING
        for start, end in zip(starts, starts[1:], strict=False)
    ]


def _one_query_sentence(names: list[str], pushes: np.ndarray, top_k: int) -> str:
    """_reasoning_sentences for one query in plain Python, where its array steps cost more than the work on a
    few parts: the parts whose strongest push is at least MIN_PUSH, strongest first (ties in query order)."""
    rows = pushes.tolist()
    best = row_max(pushes).tolist()  # as the batch path takes it (a NaN push is never named)
    ranked = sorted((i for i, push in enumerate(best) if push >= MIN_PUSH), key=best.__getitem__, reverse=True)
    if not ranked or top_k < 1:
        return NO_DRIVER_REASONING
    chosen = ranked[:top_k]
    modalities = tuple(MODALITIES[rows[i].index(best[i])] for i in chosen)
    return _sentence_template(modalities).format(*[names[i] for i in chosen])


@cache
def _sentence_template(modalities: tuple[str, ...]) -> str:
    """The sentence for parts that pushed these modalities, {0}, {1}... where their names go (in quotes): a
    batch has a few dozen such patterns, and filling one in is cheaper than grouping the parts again."""
    return _sentence([f"'{{{i}}}'" for i in range(len(modalities))], list(modalities))


def _sentence(quoted: list[str], modalities: list[str]) -> str:
    """The reasoning naming these parts (already in quotes), grouped by the modality each pushed."""
    first = modalities[0]
    if modalities.count(first) == len(modalities):  # one modality (the usual case): no grouping needed
        return f"Student: {_and_join(quoted)} pushed {first}."
    grouped: dict[str, list[str]] = {}
    for part, modality in zip(quoted, modalities, strict=True):
        grouped.setdefault(modality, []).append(part)
    parts = [f"{_and_join(items)} pushed {modality}" for modality, items in grouped.items()]
    return "Student: " + "; ".join(parts) + "."


def _and_join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
