"""Distil a teacher into the local student: softmax regression on soft targets, trained with Adam.

The student learns the teacher's whole weight distribution (cross-entropy against the four target
weights), not just its top modality, so "audio 0.6, visual 0.4" comes back as about 0.6/0.4.
Training runs on the columns the data actually uses: untouched hashed columns have zero gradient and
stay zero under L2 from a zero start, so this is the same optimisation, only much faster.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict, Field

from core.distill.artifact import Provenance, StudentManifest, StudentModel, softmax
from core.distill.features import FEATURE_DTYPE, FeatureConfig, QueryFeaturizer
from core.evaluate import rubric_score
from core.parsing import round_weights
from core.schema import MODALITIES, TIE_TOLERANCE, RoutingDecision

# Target rows may be off 1.0 by this much (rounded teacher labels); they are renormalised.
TARGET_SUM_TOLERANCE = 0.01
# should_stop may read a database, so between mini-batches it is asked at most this often.
STOP_CHECK_INTERVAL_S = 0.1
ADAM_BETAS = (0.9, 0.999)
ADAM_EPSILON = 1e-8
LOG_FLOOR = 1e-12


class TrainingConfig(BaseModel):
    """Hyperparameters of a local distillation run (saved in the model's manifest)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    epochs: int = Field(default=40, ge=1, le=1000)
    learning_rate: float = Field(default=0.01, gt=0.0, le=10.0)
    batch_size: int = Field(default=128, ge=1, le=1_000_000)
    l2: float = Field(default=1e-6, ge=0.0, le=1.0)
    # Share of the training data held back for early stopping; 0 trains on everything for all epochs.
    validation_ratio: float = Field(default=0.1, ge=0.0, le=0.5)
    patience: int = Field(default=3, ge=1, le=1000)
    # A validation loss must drop by more than this to count as an improvement.
    min_improvement: float = Field(default=1e-4, ge=0.0)
    seed: int = Field(default=0, ge=0)
    n_features: int = Field(default=FeatureConfig().n_features, ge=2**8, le=2**22)

    def feature_config(self) -> FeatureConfig:
        return FeatureConfig(n_features=self.n_features)


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


@dataclass
class _Split:
    features: sp.csr_matrix
    targets: np.ndarray


class _Adam:
    def __init__(self, *shapes: tuple[int, ...], learning_rate: float):
        self.learning_rate = learning_rate
        self.first = [np.zeros(shape) for shape in shapes]
        self.second = [np.zeros(shape) for shape in shapes]
        self.steps = 0

    def step(self, parameters: list[np.ndarray], gradients: list[np.ndarray]) -> None:
        beta1, beta2 = ADAM_BETAS
        self.steps += 1
        rate = self.learning_rate * math.sqrt(1 - beta2**self.steps) / (1 - beta1**self.steps)
        for parameter, gradient, first, second in zip(parameters, gradients, self.first, self.second, strict=True):
            first *= beta1
            first += (1 - beta1) * gradient
            second *= beta2
            second += (1 - beta2) * np.square(gradient)
            parameter -= rate * first / (np.sqrt(second) + ADAM_EPSILON)


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

    Deterministic for a given config (seed included). A validation split drawn from the training data
    drives early stopping and the best epoch's weights are kept. `heldout` (queries, targets) is only
    measured, never trained on. Raises ValueError for unusable data and TrainingStopped when
    `should_stop()` returns True.
    """
    config = config or TrainingConfig()
    started = time.perf_counter()
    queries = list(queries)
    target_weights = checked_targets(queries, targets)
    stop_gate = _StopGate(should_stop)
    featurizer = QueryFeaturizer(config.feature_config())
    used_columns, matrix = _compact_columns(featurizer.transform(queries))

    rng = np.random.default_rng(config.seed)
    order = rng.permutation(len(queries))
    n_validation = int(round(len(queries) * config.validation_ratio))
    if n_validation >= len(queries):
        n_validation = 0
    validation_rows, train_rows = np.sort(order[:n_validation]), np.sort(order[n_validation:])
    train = _Split(matrix[train_rows], target_weights[train_rows])
    validation = _Split(matrix[validation_rows], target_weights[validation_rows]) if n_validation else None

    weights = np.zeros((len(used_columns), len(MODALITIES)))
    prior = np.log(np.maximum(train.targets.mean(axis=0), LOG_FLOOR))
    bias = prior - prior.mean()
    optimiser = _Adam(weights.shape, bias.shape, learning_rate=config.learning_rate)
    best = (math.inf, weights.copy(), bias.copy(), 0)
    epochs_without_gain = 0
    epoch = 0
    for epoch in range(1, config.epochs + 1):
        stop_gate.check(epoch - 1, force=True)
        shuffled = rng.permutation(train.features.shape[0])
        for start in range(0, len(shuffled), config.batch_size):
            stop_gate.check(epoch - 1)
            batch = shuffled[start: start + config.batch_size]
            features, batch_targets = train.features[batch], train.targets[batch]
            residual = (softmax(_logits(features, weights, bias)) - batch_targets) / len(batch)
            gradient = np.asarray(features.T @ residual) + config.l2 * weights
            optimiser.step([weights, bias], [gradient, residual.sum(axis=0)])

        report = _epoch_report(epoch, config.epochs, train, validation, weights, bias, started)
        if on_epoch is not None:
            on_epoch(report)
        if validation is None:
            best = (report.train_loss, weights, bias, epoch)
            continue
        if not math.isfinite(report.validation_loss):
            raise ValueError("training diverged (the loss is not a finite number); lower the learning rate")
        if report.validation_loss < best[0] - config.min_improvement:
            best = (report.validation_loss, weights.copy(), bias.copy(), epoch)
            epochs_without_gain = 0
        else:
            epochs_without_gain += 1
            if epochs_without_gain >= config.patience:
                break

    _, kept_weights, kept_bias, best_epoch = best
    if not (np.all(np.isfinite(kept_weights)) and np.all(np.isfinite(kept_bias))):
        raise ValueError("training diverged (the weights are not finite numbers); lower the learning rate")
    full_weights = np.zeros((featurizer.n_columns, len(MODALITIES)), dtype=FEATURE_DTYPE)
    full_weights[used_columns] = kept_weights
    model = StudentModel(full_weights, kept_bias, featurizer.config)
    best_report = _epoch_report(best_epoch, config.epochs, train, validation, kept_weights, kept_bias, started)
    model.manifest = StudentManifest(
        **(provenance or Provenance()).model_dump(),
        seed=config.seed,
        hyperparameters=config.model_dump(),
        training_metrics={
            "n_train": int(train.targets.shape[0]),
            "n_validation": int(n_validation),
            "epochs_run": epoch,
            "best_epoch": best_epoch,
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


def heldout_metrics(model: StudentModel, queries: Sequence[str], targets: np.ndarray) -> dict[str, float | int]:
    """How the student does on examples it never saw, on its raw and its 0.05-rounded (served) weights."""
    queries = list(queries)
    reference = checked_targets(queries, targets)
    probabilities = model.predict_proba(queries)
    rubric = [
        rubric_score(
            RoutingDecision(**round_weights(dict(zip(MODALITIES, row, strict=True)))),
            RoutingDecision(**dict(zip(MODALITIES, ref, strict=True))),
        )
        for row, ref in zip(probabilities.tolist(), reference.tolist(), strict=True)
    ]
    return {
        "n": len(queries),
        "loss": soft_cross_entropy(probabilities, reference),
        "dominant_accuracy": dominant_agreement(probabilities, reference),
        "mae": float(np.abs(probabilities - reference).mean()),
        "rubric_mean": float(np.mean(rubric)),
    }


def soft_cross_entropy(probabilities: np.ndarray, targets: np.ndarray) -> float:
    return float(-(targets * np.log(np.maximum(probabilities, LOG_FLOOR))).sum(axis=1).mean())


def dominant_agreement(probabilities: np.ndarray, targets: np.ndarray) -> float:
    """Share of rows whose top predicted modality is one of the target's top (tied) modalities."""
    picked = targets[np.arange(len(targets)), probabilities.argmax(axis=1)]
    return float(np.mean(picked >= targets.max(axis=1) - TIE_TOLERANCE))


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


def _compact_columns(matrix: sp.csr_matrix) -> tuple[np.ndarray, sp.csr_matrix]:
    """The hashed columns the data uses, and the matrix re-indexed onto just those."""
    used = np.unique(matrix.indices)
    compact = sp.csr_matrix(
        (matrix.data, np.searchsorted(used, matrix.indices), matrix.indptr), shape=(matrix.shape[0], len(used)),
    )
    return used, compact


def _logits(features: sp.csr_matrix, weights: np.ndarray, bias: np.ndarray) -> np.ndarray:
    return np.asarray(features @ weights) + bias


def _epoch_report(
    epoch: int, max_epochs: int, train: _Split, validation: _Split | None,
    weights: np.ndarray, bias: np.ndarray, started: float,
) -> EpochReport:
    train_loss = soft_cross_entropy(softmax(_logits(train.features, weights, bias)), train.targets)
    if validation is None:
        return EpochReport(epoch, max_epochs, train_loss, None, None, None, time.perf_counter() - started)
    predicted = softmax(_logits(validation.features, weights, bias))
    return EpochReport(
        epoch, max_epochs, train_loss,
        validation_loss=soft_cross_entropy(predicted, validation.targets),
        validation_agreement=dominant_agreement(predicted, validation.targets),
        validation_mae=float(np.abs(predicted - validation.targets).mean()),
        elapsed_seconds=time.perf_counter() - started,
    )
