"""The trained student (a softmax over hashed n-grams) and its on-disk form: model.npz + model.json.

The npz holds numbers only (loaded with allow_pickle=False); the json says what they are (format
version, feature configuration, array shapes and dtypes, a sha256 of the npz) and how they were made
(the manifest). Only rows of the weight matrix that training touched are stored, so a model trained on
10,000 queries is a few hundred kilobytes although its hashed space has half a million columns.
Anything wrong with a model directory surfaces as one StudentArtifactError with a sentence to show.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.distill.features import FEATURE_DTYPE, FeatureConfig, QueryFeatures, QueryFeaturizer
from core.files import atomic_write_bytes, atomic_write_text
from core.schema import MODALITIES, RoutingDecision

FORMAT_NAME = "video-search-router-studio/student"
FORMAT_VERSION = 1
JSON_NAME = "model.json"
NPZ_NAME = "model.npz"
ARTIFACT_FILES = frozenset({JSON_NAME, NPZ_NAME})
ARRAY_DTYPES = {"rows": "int32", "weights": "float32", "bias": "float32"}
# A model.json this large is not ours; refuse before parsing it.
MAX_JSON_BYTES = 1_000_000

# An n-gram must move a logit by at least this much (after centring) to be named in the reasoning.
MIN_PUSH = 0.02
DEFAULT_TOP_K = 3
NO_DRIVER_REASONING = "Student: no single word stood out; the weights follow the query's character patterns."


class StudentArtifactError(Exception):
    """A student model directory cannot be used; the message is one sentence for the user."""


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


class _ArraySpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    shape: list[int]
    dtype: str


class _ArtifactHeader(BaseModel):
    """The schema of model.json."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["video-search-router-studio/student"]
    format_version: int
    labels: list[str]
    features: FeatureConfig
    arrays: dict[str, _ArraySpec]
    npz_sha256: str
    manifest: StudentManifest


@dataclass(frozen=True)
class StudentExplanation:
    """Why the student weighted a query as it did: for each modality, the query's n-grams that raised it most."""

    query: str
    weights: dict[str, float]
    pushes: dict[str, list[tuple[str, float]]]
    reasoning: str


class StudentModel:
    """Multinomial logistic regression over the hashed features: weights (columns x 4) and a bias."""

    labels: tuple[str, ...] = MODALITIES

    def __init__(
        self, weights: np.ndarray, bias: np.ndarray, features: FeatureConfig, manifest: StudentManifest | None = None,
    ):
        weights = np.ascontiguousarray(weights, dtype=FEATURE_DTYPE)
        bias = np.asarray(bias, dtype=FEATURE_DTYPE)
        if weights.shape != (features.n_columns, len(MODALITIES)) or bias.shape != (len(MODALITIES),):
            raise ValueError(
                f"weights must be {(features.n_columns, len(MODALITIES))} and bias {(len(MODALITIES),)}, "
                f"got {weights.shape} and {bias.shape}"
            )
        self.weights = weights
        self.bias = bias
        self.features = features
        self.manifest = manifest or StudentManifest()
        self.featurizer = QueryFeaturizer(features)
        self._word_weights = weights[: features.n_features]
        self._char_weights = weights[features.n_features:]

    def predict_proba(self, queries: Sequence[str]) -> np.ndarray:
        """Weights over MODALITIES for each query, shape (n, 4), each row summing to 1."""
        return self._probabilities(self.featurizer.features(queries))

    def predict_with_reasoning(
        self, queries: Sequence[str], top_k: int = DEFAULT_TOP_K,
    ) -> tuple[np.ndarray, list[str]]:
        """Probabilities and, per query, a sentence naming the n-grams that drove them (vectorised for batches)."""
        features = self.featurizer.features(queries)
        probabilities = self._probabilities(features)
        query_ids, ngram_ids, pushes = self._ngram_pushes(features)
        names = features.ngrams.distinct
        return probabilities, _reasoning_sentences(len(queries), query_ids, ngram_ids, names, pushes, top_k)

    def decisions(self, queries: Sequence[str]) -> list[RoutingDecision]:
        probabilities, reasonings = self.predict_with_reasoning(queries)
        return [
            RoutingDecision(visual=row[0], audio=row[1], transcription=row[2], metadata=row[3], reasoning=reasoning)
            for row, reasoning in zip(probabilities.tolist(), reasonings, strict=True)
        ]

    def explain(self, query: str, top_k: int = DEFAULT_TOP_K) -> StudentExplanation:
        features = self.featurizer.features([query])
        probabilities = self._probabilities(features)[0]
        query_ids, ngram_ids, pushes = self._ngram_pushes(features)
        names = features.ngrams.distinct
        by_modality: dict[str, list[tuple[str, float]]] = {}
        for column, modality in enumerate(MODALITIES):
            order = np.argsort(-pushes[:, column], kind="stable")[:top_k]
            by_modality[modality] = [
                (names[ngram_ids[i]], float(pushes[i, column])) for i in order if pushes[i, column] >= MIN_PUSH
            ]
        reasoning = _reasoning_sentences(1, query_ids, ngram_ids, names, pushes, top_k)[0]
        return StudentExplanation(
            query=query, weights=dict(zip(MODALITIES, map(float, probabilities), strict=True)),
            pushes=by_modality, reasoning=reasoning,
        )

    def stored_rows(self) -> np.ndarray:
        """Indices of the weight rows that are not all zero (the ones the artifact stores)."""
        return np.flatnonzero(np.any(self.weights != 0, axis=1))

    def _probabilities(self, features: QueryFeatures) -> np.ndarray:
        logits = features.word @ self._word_weights + features.char @ self._char_weights + self.bias
        return softmax(np.asarray(logits, dtype=np.float64))

    def _ngram_pushes(self, features: QueryFeatures) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """How much each query's word unigrams and bigrams raised each modality's logit.

        Hashed columns cannot be turned back into text, so we go the other way: the featuriser kept
        each query's n-grams and their columns. A unigram is credited with its word column plus its
        character n-grams, a bigram with its own column only. Pushes are centred across the modalities
        (softmax ignores a shift shared by all four), so a positive value means "raised this weight".
        Returns, per distinct (query, n-gram) pair grouped by query: the query, the n-gram's id in
        `features.ngrams.distinct`, and the four pushes.
        """
        names = features.ngrams.distinct
        if not names:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros((0, len(MODALITIES)))
        word_push = self._word_weights[features.ngram_columns].astype(np.float64)
        char_push = np.zeros_like(word_push)
        # A unigram is usually also a whitespace word whose character counts the featuriser already has;
        # only tokens cut out of a longer word ("dog" in "dog's") are hashed again.
        known_words = features.words.position
        unigram_ids = np.array([index for index, name in enumerate(names) if " " not in name], dtype=np.int64)
        if unigram_ids.size:
            word_rows = np.array([known_words.get(names[i], -1) for i in unigram_ids.tolist()], dtype=np.int64)
            found = word_rows >= 0
            known_push = np.asarray(features.word_char_counts[word_rows[found]] @ self._char_weights)
            char_push[unigram_ids[found]] = known_push
            others = [names[i] for i in unigram_ids[~found].tolist()]
            char_push[unigram_ids[~found]] = np.asarray(self.featurizer.char_counts(others) @ self._char_weights)

        pairs, counts = np.unique(
            features.ngrams.query_ids() * len(names) + features.ngrams.ids, return_counts=True,
        )
        pair_query, pair_ngram = np.divmod(pairs, len(names))
        word_scale = _inverse(features.word_norms)[pair_query] * counts
        char_scale = _inverse(features.char_norms)[pair_query] * counts
        pushes = word_push[pair_ngram] * word_scale[:, None] + char_push[pair_ngram] * char_scale[:, None]
        pushes -= pushes.mean(axis=1, keepdims=True)
        return pair_query, pair_ngram, pushes


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def _inverse(norms: np.ndarray) -> np.ndarray:
    return np.divide(1.0, norms, out=np.zeros_like(norms, dtype=np.float64), where=norms > 0)


def _reasoning_sentences(
    n_queries: int, query_ids: np.ndarray, ngram_ids: np.ndarray, names: list[str], pushes: np.ndarray, top_k: int,
) -> list[str]:
    """One sentence per query naming its strongest n-grams and the modality each pushed."""
    sentences = [NO_DRIVER_REASONING] * n_queries
    if not len(ngram_ids):
        return sentences
    best_push = pushes.max(axis=1)
    strong = np.flatnonzero(best_push >= MIN_PUSH)
    if not strong.size:
        return sentences
    # Group by query, strongest first, with one stable sort on a single key (several times faster than
    # lexsort here): pushes lie in [MIN_PUSH, top], so a stride of top + 1 keeps the queries apart.
    stride = float(best_push[strong].max()) + 1.0
    order = strong[np.argsort(query_ids[strong] * stride - best_push[strong], kind="stable")]
    starts = np.searchsorted(query_ids[order], np.arange(n_queries + 1)).tolist()
    # Plain lists from here: indexing them in the per-query loop is far cheaper than indexing arrays.
    chosen_names = [names[i] for i in ngram_ids[order].tolist()]
    chosen_modalities = [MODALITIES[i] for i in pushes[order].argmax(axis=1).tolist()]
    for query_id in range(n_queries):
        start, end = starts[query_id], min(starts[query_id + 1], starts[query_id] + top_k)
        if end > start:
            sentences[query_id] = _sentence(chosen_names[start:end], chosen_modalities[start:end])
    return sentences


def _sentence(ngrams: list[str], modalities: list[str]) -> str:
    grouped: dict[str, list[str]] = {}
    for ngram, modality in zip(ngrams, modalities, strict=True):
        grouped.setdefault(modality, []).append(f"'{ngram}'")
    parts = [f"{_and_join(quoted)} pushed {modality}" for modality, quoted in grouped.items()]
    return "Student: " + "; ".join(parts) + "."


def _and_join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def save_student(model: StudentModel, directory: Path | str) -> Path:
    """Write model.npz and model.json into a staging folder, then swap it in whole.

    An existing folder is replaced only if it holds nothing but a previous student artifact, so a
    mistyped output path never deletes someone's files.
    """
    directory = Path(directory)
    # Resolved, so that "." or a trailing ".." still names a real parent to stage beside.
    target = directory.resolve()
    _check_replaceable(target)
    rows = model.stored_rows()
    arrays = {
        "rows": rows.astype(np.int32),
        "weights": model.weights[rows].astype(np.float32),
        "bias": model.bias.astype(np.float32),
    }
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    npz_bytes = buffer.getvalue()
    header = _ArtifactHeader(
        format=FORMAT_NAME, format_version=FORMAT_VERSION, labels=list(MODALITIES), features=model.features,
        arrays={name: _ArraySpec(shape=list(a.shape), dtype=str(a.dtype)) for name, a in arrays.items()},
        npz_sha256=hashlib.sha256(npz_bytes).hexdigest(), manifest=model.manifest,
    )
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    except OSError as exc:
        raise StudentArtifactError(f"Cannot save the student to {directory}: {exc.strerror or exc}.") from exc
    try:
        atomic_write_bytes(staging / NPZ_NAME, npz_bytes)
        atomic_write_text(staging / JSON_NAME, json.dumps(header.model_dump(mode="json"), indent=2) + "\n")
        _swap_in(staging, target)
    except OSError as exc:
        # A full disk or a permission problem: nothing half-written is left, the old model stays.
        shutil.rmtree(staging, ignore_errors=True)
        raise StudentArtifactError(f"Cannot save the student to {directory}: {exc.strerror or exc}.") from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return directory


def _check_replaceable(directory: Path) -> None:
    if directory.exists() and not directory.is_dir():
        raise StudentArtifactError(f"Cannot save the student to {directory}: a file with that name is in the way.")
    if directory.is_dir() and not {entry.name for entry in directory.iterdir()} <= ARTIFACT_FILES:
        raise StudentArtifactError(
            f"Cannot save the student to {directory}: the folder holds other files; choose an empty or new folder."
        )


def _swap_in(staging: Path, directory: Path) -> None:
    retired: Path | None = None
    if directory.exists():
        retired = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", suffix=".old", dir=directory.parent))
        os.replace(directory, retired / directory.name)
    try:
        os.replace(staging, directory)
    except BaseException:
        if retired is not None:
            os.replace(retired / directory.name, directory)
        raise
    finally:
        if retired is not None:
            shutil.rmtree(retired, ignore_errors=True)


def load_student(directory: Path | str) -> StudentModel:
    """Read and check a model directory; every problem becomes one StudentArtifactError."""
    directory = Path(directory)

    def fail(problem: str) -> StudentArtifactError:
        return StudentArtifactError(f"Cannot load the student model from {directory}: {problem}.")

    if not directory.is_dir():
        raise fail("it is not a folder (a student model is a folder holding model.json and model.npz)")
    header = _read_header(directory, fail)
    npz_path = directory / NPZ_NAME
    try:
        npz_bytes = npz_path.read_bytes()
    except FileNotFoundError:
        raise fail(f"{NPZ_NAME} is missing; re-run distillation") from None
    except OSError as exc:
        raise fail(f"{NPZ_NAME} cannot be read ({exc.strerror or exc})") from None
    if hashlib.sha256(npz_bytes).hexdigest() != header.npz_sha256:
        raise fail(f"{NPZ_NAME} does not match {JSON_NAME} (truncated, damaged or replaced); re-run distillation")
    arrays = _read_arrays(npz_bytes, header, fail)
    n_columns = header.features.n_columns
    rows = arrays["rows"]
    if rows.size and (rows[0] < 0 or rows[-1] >= n_columns or np.any(np.diff(rows) <= 0)):
        raise fail(f"the stored row indices are not sorted, unique and below {n_columns}")
    weights = np.zeros((n_columns, len(MODALITIES)), dtype=FEATURE_DTYPE)
    weights[rows] = arrays["weights"]
    return StudentModel(weights, arrays["bias"], header.features, header.manifest)


def _read_header(directory: Path, fail) -> _ArtifactHeader:
    path = directory / JSON_NAME
    try:
        if path.stat().st_size > MAX_JSON_BYTES:
            raise fail(f"{JSON_NAME} is too large to be a student description")
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise fail(f"{JSON_NAME} is missing; this folder is not a trained student") from None
    except (OSError, UnicodeDecodeError, ValueError):
        raise fail(f"{JSON_NAME} is not valid JSON") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT_NAME:
        raise fail(f"{JSON_NAME} does not describe a student model (expected format {FORMAT_NAME!r})")
    if raw.get("format_version") != FORMAT_VERSION:
        raise fail(
            f"it was written in format version {raw.get('format_version')!r} and this studio reads version "
            f"{FORMAT_VERSION}; re-run distillation"
        )
    try:
        header = _ArtifactHeader.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "top level"
        raise fail(f"{JSON_NAME} is malformed at {where}: {first['msg']}") from None
    if tuple(header.labels) != MODALITIES:
        raise fail(f"its labels {header.labels} are not {list(MODALITIES)}")
    return header


def _read_arrays(npz_bytes: bytes, header: _ArtifactHeader, fail) -> dict[str, np.ndarray]:
    if set(header.arrays) != set(ARRAY_DTYPES):
        raise fail(f"{JSON_NAME} lists arrays {sorted(header.arrays)}, expected {sorted(ARRAY_DTYPES)}")
    try:
        with np.load(io.BytesIO(npz_bytes), allow_pickle=False) as npz:
            if set(npz.files) != set(ARRAY_DTYPES):
                raise fail(f"{NPZ_NAME} holds arrays {sorted(npz.files)}, expected {sorted(ARRAY_DTYPES)}")
            arrays = {name: npz[name] for name in ARRAY_DTYPES}
    except StudentArtifactError:
        raise
    except Exception:  # a damaged zip or array fails in many library-specific ways: one message for all
        raise fail(f"{NPZ_NAME} is not a readable numpy archive") from None
    if arrays["rows"].ndim != 1:
        raise fail(f"array 'rows' has shape {list(arrays['rows'].shape)}, expected one dimension")
    stored = list(arrays["rows"].shape)
    expected_shapes = {"rows": stored, "weights": [*stored, len(MODALITIES)], "bias": [len(MODALITIES)]}
    for name, array in arrays.items():
        spec = header.arrays[name]
        if list(array.shape) != spec.shape or list(array.shape) != expected_shapes[name]:
            raise fail(f"array {name!r} has shape {list(array.shape)}, expected {expected_shapes[name]}")
        if str(array.dtype) != spec.dtype or spec.dtype != ARRAY_DTYPES[name]:
            raise fail(f"array {name!r} is {array.dtype}, expected {ARRAY_DTYPES[name]}")
        if name != "rows" and not np.all(np.isfinite(array)):
            raise fail(f"array {name!r} holds values that are not finite numbers")
    return arrays
