"""Distil a teacher into the local student: a small network on soft targets, trained with Adam.

The student learns the teacher's whole weight distribution (cross-entropy against the four target
weights), not just its top modality, so "audio 0.6, visual 0.4" comes back as about 0.6/0.4.

Several networks (members) are trained side by side from different seeds, each holding out its own
fold of the data: the held-out folds measure every epoch honestly and drive early stopping, while
almost every example still trains most members. Their average (stored as one wider network) is
steadier than any one of them, which matters on 10,000 examples where every word is seen only a
few times. Training runs on the columns the data actually uses, and a mini-batch updates only the
embeddings of the columns in it (Adam's moments included), so an epoch costs what the batch holds.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict, Field

from core.distill.features import FEATURE_DTYPE, FeatureConfig, QueryFeaturizer
from core.distill.student_model import Provenance, StudentManifest, StudentModel, softmax
from core.evaluate import score_decisions, score_pairs
from core.parsing import round_weights
from core.schema import MODALITIES, RoutingDecision

# Target rows may be off 1.0 by this much (rounded teacher labels); they are renormalised.
TARGET_SUM_TOLERANCE = 0.01
# should_stop may read a database, so between mini-batches it is asked at most this often.
STOP_CHECK_INTERVAL_S = 0.1
ADAM_BETAS = (0.9, 0.999)
ADAM_EPSILON = 1e-8
LOG_FLOOR = 1e-12
# Embeddings start small, so that at first every query sits near the prior and the hidden units learn apart.
EMBEDDING_INIT_SCALE = 0.03


class TrainingConfig(BaseModel):
    """Hyperparameters of a local distillation run (saved in the model's manifest)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    epochs: int = Field(default=30, ge=1, le=1000)
    # Adam's step size at the start; it decays along a half cosine to zero at the last epoch.
    learning_rate: float = Field(default=0.01, gt=0.0, le=10.0)
    batch_size: int = Field(default=128, ge=1, le=1_000_000)
    l2: float = Field(default=1e-6, ge=0.0, le=1.0)
    # Share of the data each member holds back (a different fold each) for validation and early
    # stopping; 0 trains every member on everything for all epochs.
    validation_ratio: float = Field(default=0.1, ge=0.0, le=0.5)
    patience: int = Field(default=3, ge=1, le=1000)
    # A validation loss must drop by more than this to count as an improvement.
    min_improvement: float = Field(default=1e-4, ge=0.0)
    seed: int = Field(default=0, ge=0)
    n_features: int = Field(default=FeatureConfig().n_features, ge=2**8, le=2**22)
    # Per member. 24 agree with the teacher on held-out queries as well as 64 did (0.959 against 0.957, three
    # training mixes of 10,000) at well under half the arithmetic per query.
    hidden_units: int = Field(default=24, ge=1, le=1024)
    members: int = Field(default=3, ge=1, le=16)
    # Teacher weights come rounded to 0.05, so a 0 means "under 0.025": it is trained as this much
    # rather than as an exact zero, which only infinitely negative logits could reach.
    target_floor: float = Field(default=0.0125, ge=0.0, le=0.05)
    # Character n-grams and word pairs seen in fewer training queries than this are dropped: a rare one
    # can only memorise its few queries.
    min_ngram_count: int = Field(default=10, ge=1)

    # What a word's lexicon category counts as a feature (FeatureConfig.lexicon_weight; 0 leaves it out).
    lexicon_weight: float = Field(default=1.0, ge=0.0, le=1.0)

    def feature_config(self) -> FeatureConfig:
        return FeatureConfig(n_features=self.n_features, lexicon_weight=self.lexicon_weight)


@dataclass(frozen=True)
class EpochReport:
    """Progress after one epoch (validation fields are None when no validation split was made)."""

    epoch: int
    max_epochs: int
    train_loss: float
    validation_loss: float | None
    validation_agreement: float | None
    validation_mae: float | None
    elapsed_seconds: float


class TrainingStopped(Exception):
    """`should_stop()` asked training to end; no model is produced.

    It is asked before every epoch and, between mini-batches, at most every STOP_CHECK_INTERVAL_S, so a
    request takes effect within about a tenth of a second.
    """

    def __init__(self, epochs_completed: int):
        super().__init__(f"training stopped on request after {epochs_completed} completed epoch(s)")
        self.epochs_completed = epochs_completed


class _Scratch:
    """Reusable arrays that re-index a mini-batch onto just the columns it uses, in time linear in the batch
    (sorting or hashing the batch's column numbers at every step cost more than the step's arithmetic)."""

    def __init__(self, n_columns: int):
        self.seen = np.zeros(n_columns, dtype=bool)
        self.position = np.zeros(n_columns, dtype=np.int64)

    def localised(self, features: sp.csr_matrix) -> tuple[np.ndarray, sp.csr_matrix]:
        self.seen[features.indices] = True
        columns = np.flatnonzero(self.seen)
        self.seen[columns] = False
        self.position[columns] = np.arange(len(columns))
        local = sp.csr_matrix(
            (features.data, self.position[features.indices], features.indptr), shape=(features.shape[0], len(columns))
        )
        return columns, local


class _Member:
    """One network of the ensemble with its Adam state, its training rows and its held-out fold."""

    def __init__(
        self,
        n_columns: int,
        hidden: int,
        prior: np.ndarray,
        rng: np.random.Generator,
        train_rows: np.ndarray,
        validation_rows: np.ndarray,
    ):
        self.rng = rng
        self.train_rows = train_rows
        self.validation_rows = validation_rows
        self.embeddings = rng.normal(0.0, EMBEDDING_INIT_SCALE, (n_columns, hidden)).astype(FEATURE_DTYPE)
        self.hidden_bias = np.zeros(hidden)
        self.output_weights = rng.normal(0.0, 1.0 / math.sqrt(hidden), (hidden, len(MODALITIES)))
        self.output_bias = prior.copy()
        self.embedding_moments = (np.zeros_like(self.embeddings), np.zeros_like(self.embeddings))
        self.dense_moments = [(np.zeros_like(p), np.zeros_like(p)) for p in self._dense()]

    def _dense(self) -> list[np.ndarray]:
        return [self.hidden_bias, self.output_weights, self.output_bias]

    def logits(self, features: sp.csr_matrix) -> np.ndarray:
        hidden = np.tanh(features @ self.embeddings + self.hidden_bias)
        return hidden @ self.output_weights + self.output_bias

    def snapshot(self) -> tuple[np.ndarray, ...]:
        return tuple(p.copy() for p in (self.embeddings, *self._dense()))

    def train_step(
        self,
        features: sp.csr_matrix,
        targets: np.ndarray,
        reference: np.ndarray,
        rate: float,
        step: int,
        l2: float,
        scratch: _Scratch,
    ) -> float:
        """One Adam step on a mini-batch, touching only the embedding rows of the batch's columns.

        Returns the batch's cross-entropy against `reference` (the teacher's own weights) before the step.
        """
        columns, local = scratch.localised(features)
        embeddings = self.embeddings[columns]
        hidden = np.tanh(local @ embeddings + self.hidden_bias)
        predicted = softmax(hidden @ self.output_weights + self.output_bias)
        loss = soft_cross_entropy(predicted, reference)
        residual = (predicted - targets) / features.shape[0]
        hidden_gradient = (residual @ self.output_weights.T) * (1.0 - hidden * hidden)
        dense_gradients = [
            hidden_gradient.sum(axis=0),
            hidden.T @ residual + l2 * self.output_weights,
            residual.sum(axis=0),
        ]
        embedding_gradient = np.asarray(local.T @ hidden_gradient, dtype=FEATURE_DTYPE) + l2 * embeddings

        beta1, beta2 = ADAM_BETAS
        scaled_rate = rate * math.sqrt(1 - beta2**step) / (1 - beta1**step)
        # In place on the gathered rows: this update is most of a step's time.
        first, second = self.embedding_moments
        row_first, row_second = first[columns], second[columns]
        row_first *= beta1
        row_first += (1 - beta1) * embedding_gradient
        row_second *= beta2
        embedding_gradient *= embedding_gradient
        embedding_gradient *= 1 - beta2
        row_second += embedding_gradient
        first[columns], second[columns] = row_first, row_second
        step_size = np.sqrt(row_second)
        step_size += ADAM_EPSILON
        np.divide(row_first, step_size, out=step_size)
        step_size *= scaled_rate
        embeddings -= step_size
        self.embeddings[columns] = embeddings
        for parameter, gradient, (first, second) in zip(
            self._dense(), dense_gradients, self.dense_moments, strict=True
        ):
            first *= beta1
            first += (1 - beta1) * gradient
            second *= beta2
            second += (1 - beta2) * np.square(gradient)
            parameter -= scaled_rate * first / (np.sqrt(second) + ADAM_EPSILON)
        return loss


def train_student(
    queries: Sequence[str],
    targets: np.ndarray,
    config: TrainingConfig | None = None,
    *,
    heldout: tuple[Sequence[str], np.ndarray] | None = None,
    on_epoch: Callable[[EpochReport], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    provenance: Provenance | None = None,
) -> StudentModel:
    """Train a student on teacher weights `targets` (n x 4 in MODALITIES order, rows summing to 1).

    Deterministic for a given config (seed included). Each member's held-out fold drives early
    stopping and the best epoch's weights are kept. `heldout` (queries, targets) is only measured,
    never trained on. Raises ValueError for unusable data and TrainingStopped when `should_stop()`
    returns True.
    """
    config = config or TrainingConfig()
    started = time.perf_counter()
    queries = list(queries)
    target_weights = checked_targets(queries, targets)
    trained_towards = _lifted(target_weights, config.target_floor)
    stop_gate = _StopGate(should_stop)
    featurizer = QueryFeaturizer(config.feature_config())
    used_columns, matrix = _training_columns(featurizer.transform(queries), config)

    n_validation = int(round(len(queries) * config.validation_ratio))
    if n_validation >= len(queries):
        n_validation = 0
    order = np.random.default_rng(config.seed).permutation(len(queries))
    prior = np.log(np.maximum(trained_towards.mean(axis=0), LOG_FLOOR))
    members = []
    for index in range(config.members):
        # Folds follow each other through one shuffled order (wrapping round when they outnumber the data).
        fold = np.sort(np.take(order, np.arange(index * n_validation, (index + 1) * n_validation), mode="wrap"))
        members.append(
            _Member(
                matrix.shape[1],
                config.hidden_units,
                prior - prior.mean(),
                np.random.default_rng([config.seed, index]),
                np.setdiff1d(np.arange(len(queries)), fold),
                fold,
            )
        )

    scratch = _Scratch(matrix.shape[1])
    steps_per_epoch = math.ceil(len(members[0].train_rows) / config.batch_size)
    total_steps = config.epochs * steps_per_epoch
    best: tuple[float, list[tuple[np.ndarray, ...]], EpochReport | None] = (math.inf, [], None)
    epochs_without_gain = 0
    epoch = 0
    for epoch in range(1, config.epochs + 1):
        stop_gate.check(epoch - 1, force=True)
        # The training loss is the mean of the batch losses met on the way (scoring every member on all its
        # rows again would cost a tenth of the epoch).
        batch_losses: list[float] = []
        for member in members:
            shuffled = member.rng.permutation(member.train_rows)
            for position, start in enumerate(range(0, len(shuffled), config.batch_size)):
                stop_gate.check(epoch - 1)
                step = (epoch - 1) * steps_per_epoch + position
                rate = config.learning_rate * 0.5 * (1.0 + math.cos(math.pi * step / total_steps))
                batch = shuffled[start : start + config.batch_size]
                batch_losses.append(
                    member.train_step(
                        matrix[batch], trained_towards[batch], target_weights[batch], rate, step + 1, config.l2, scratch
                    )
                    * len(batch)
                )
        train_loss = math.fsum(batch_losses) / (len(members) * len(members[0].train_rows))
        report = _epoch_report(epoch, config.epochs, train_loss, members, matrix, target_weights, started)
        if on_epoch is not None:
            on_epoch(report)
        if report.validation_loss is None:
            best = (report.train_loss, [m.snapshot() for m in members], report)
            continue
        if not math.isfinite(report.validation_loss):
            raise ValueError("training diverged (the loss is not a finite number); lower the learning rate")
        if report.validation_loss < best[0] - config.min_improvement:
            best = (report.validation_loss, [m.snapshot() for m in members], report)
            epochs_without_gain = 0
        else:
            epochs_without_gain += 1
            if epochs_without_gain >= config.patience:
                break

    _, snapshots, best_report = best
    assert best_report is not None, "at least one epoch ran"
    if not all(np.all(np.isfinite(array)) for snapshot in snapshots for array in snapshot):
        raise ValueError("training diverged (the weights are not finite numbers); lower the learning rate")
    model = _merged(snapshots, used_columns, featurizer.config)
    model.manifest = StudentManifest(
        **(provenance or Provenance()).model_dump(),
        seed=config.seed,
        hyperparameters=config.model_dump(),
        training_metrics={
            "n_train": len(queries) - n_validation,
            "n_validation": int(n_validation),
            "epochs_run": epoch,
            "best_epoch": best_report.epoch,
            "stopped_early": epoch < config.epochs,
            "train_loss": best_report.train_loss,
            "validation_loss": best_report.validation_loss,
            "validation_agreement": best_report.validation_agreement,
            "validation_mae": best_report.validation_mae,
            "feature_columns_used": int(len(used_columns)),
            "seconds": round(time.perf_counter() - started, 3),
        },
        heldout_metrics=heldout_metrics(model, *heldout) if heldout is not None else None,
    )
    return model


def decision_targets(decisions: Sequence[RoutingDecision]) -> np.ndarray:
    """The teacher's weights as the training target matrix (one row per decision, MODALITIES order)."""
    return np.array([[getattr(d, m) for m in MODALITIES] for d in decisions], dtype=np.float64)


def checked_targets(queries: Sequence[str], targets: np.ndarray) -> np.ndarray:
    """Targets as float64 rows summing to exactly 1, or a ValueError saying which row is wrong."""
    values = np.asarray(targets, dtype=np.float64)
    if values.ndim != 2 or values.shape[1] != len(MODALITIES):
        raise ValueError(f"targets must have shape (n, {len(MODALITIES)}) in the order {', '.join(MODALITIES)}")
    if values.shape[0] != len(queries):
        raise ValueError(f"{len(queries)} queries but {values.shape[0]} target rows")
    if not len(queries):
        raise ValueError("no training examples")
    bad = np.flatnonzero(~np.all(np.isfinite(values) & (values >= 0), axis=1))
    if bad.size:
        raise ValueError(f"target row {bad[0]} has a negative or non-finite weight")
    sums = values.sum(axis=1)
    off = np.flatnonzero(np.abs(sums - 1.0) > TARGET_SUM_TOLERANCE)
    if off.size:
        raise ValueError(f"target row {off[0]} sums to {sums[off[0]]:.4g}, expected 1.0")
    return values / sums[:, None]


def heldout_metrics(model: StudentModel, queries: Sequence[str], targets: np.ndarray) -> dict[str, float | int | None]:
    """How the student does on examples it never saw: the `evaluate --json` entry of the served router."""
    from core.routers.student import StudentRouter

    queries = list(queries)
    references = [_decision(row) for row in checked_targets(queries, targets).tolist()]
    return score_pairs(StudentRouter(model).route_batch(queries), references)


def soft_cross_entropy(probabilities: np.ndarray, targets: np.ndarray) -> float:
    return float(-(targets * np.log(np.maximum(probabilities, LOG_FLOOR))).sum(axis=1).mean())


class _StopGate:
    def __init__(self, should_stop: Callable[[], bool] | None):
        self._should_stop = should_stop
        self._last_check = time.perf_counter()

    def check(self, epochs_completed: int, force: bool = False) -> None:
        if self._should_stop is None:
            return
        now = time.perf_counter()
        if not force and now - self._last_check < STOP_CHECK_INTERVAL_S:
            return
        self._last_check = now
        if self._should_stop():
            raise TrainingStopped(epochs_completed)


def _lifted(targets: np.ndarray, floor: float) -> np.ndarray:
    lifted = np.maximum(targets, floor)
    return lifted / lifted.sum(axis=1, keepdims=True)


def _training_columns(matrix: sp.csr_matrix, config: TrainingConfig) -> tuple[np.ndarray, sp.csr_matrix]:
    """The hashed columns training keeps (every word and shape; character n-grams and word pairs seen often
    enough) and the matrix re-indexed onto just those."""
    matrix = matrix.tocsr()
    queries_with = np.bincount(matrix.indices, minlength=matrix.shape[1])
    in_ngram_block = np.arange(matrix.shape[1]) >= config.n_features
    kept = np.flatnonzero((queries_with > 0) & (~in_ngram_block | (queries_with >= config.min_ngram_count)))
    position = np.full(matrix.shape[1], -1, dtype=np.int64)
    position[kept] = np.arange(len(kept))
    columns = position[matrix.indices]
    keep = columns >= 0
    row_of_entry = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    indptr = np.zeros(matrix.shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(row_of_entry[keep], minlength=matrix.shape[0]), out=indptr[1:])
    compact = sp.csr_matrix((matrix.data[keep], columns[keep], indptr), shape=(matrix.shape[0], len(kept)))
    return kept, compact


def _merged(snapshots: list[tuple[np.ndarray, ...]], columns: np.ndarray, features: FeatureConfig) -> StudentModel:
    """The members as one network: hidden units side by side, output weights averaged, which is exactly
    the average of the members' logits."""
    n = len(snapshots)
    embeddings, hidden_bias, output_weights, output_bias = (list(parts) for parts in zip(*snapshots, strict=True))
    return StudentModel(
        columns,
        np.hstack(embeddings),
        np.concatenate(hidden_bias),
        np.vstack(output_weights) / n,
        np.mean(output_bias, axis=0),
        features,
    )


def _epoch_report(
    epoch: int,
    max_epochs: int,
    train_loss: float,
    members: list[_Member],
    matrix: sp.csr_matrix,
    targets: np.ndarray,
    started: float,
) -> EpochReport:
    """The epoch's figures, validation out of fold: every member scored on the fold it never trained on."""
    if not len(members[0].validation_rows):
        return EpochReport(epoch, max_epochs, train_loss, None, None, None, time.perf_counter() - started)
    predicted = np.vstack([softmax(m.logits(matrix[m.validation_rows])) for m in members])
    reference = np.vstack([targets[m.validation_rows] for m in members])
    # Agreement and error are scored as `evaluate` scores a served router: on the 0.05-rounded weights.
    served = [_decision(round_weights(dict(zip(MODALITIES, row, strict=True)))) for row in predicted.tolist()]
    quality = score_decisions(served, [_decision(row) for row in reference.tolist()])
    return EpochReport(
        epoch,
        max_epochs,
        train_loss,
        validation_loss=soft_cross_entropy(predicted, reference),
        validation_agreement=quality["dominant_accuracy"],
        validation_mae=quality["mae"],
        elapsed_seconds=time.perf_counter() - started,
    )


def _decision(weights) -> RoutingDecision:
    """Weights (a MODALITIES-ordered row or a mapping) as a decision, unchecked: they come from the model."""
    values = weights if isinstance(weights, dict) else dict(zip(MODALITIES, weights, strict=True))
    return RoutingDecision.model_construct(**values, reasoning="")
