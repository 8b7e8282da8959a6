"""The one distillation pipeline, run by the command line (a progress bar) and the job worker (the store).

Phases as on Bedrock: Validation (each dataset file, line by line), DataProcessing (the teacher labels a
prompt-only dataset, batch by batch, resumable from a checkpoint; then the held-out split), Training
(per-epoch metrics), then the held-out figures, scored exactly as `evaluate` scores the served student
(core.evaluate), the manifest with the data's provenance, and the saved artifact. Registering the model
and recording the job are the caller's; everything else is here, once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from core.datasets.files import LoadedDataset, read_dataset, split_dataset
from core.datasets.validation import MIN_RECORDS
from core.distill.artifact import save_student
from core.distill.jobs import DistillParams, JobPhase, heldout_note
from core.distill.student_model import Provenance, StudentModel
from core.distill.trainer import EpochReport, decision_targets, train_student
from core.evaluate import score_pairs
from core.labelling import label_queries
from core.model_registry import HELDOUT_AGREEMENT, HELDOUT_MAE, HELDOUT_N, HELDOUT_RUBRIC
from core.routers.base import Router
from core.routers.student import StudentRouter
from core.schema import RoutingDecision

log = logging.getLogger(__name__)

# Where each phase ends on the run's single 0-1 progress bar.
VALIDATION_END = 0.05
DATA_PROCESSING_END = 0.25
TRAINING_END = 0.95
SHOWN_PROBLEMS = 3


class PipelineFailure(Exception):
    """A failure already worded for the user (one sentence)."""


class StopRequested(Exception):
    """The user asked the run to stop; it ends Stopped."""


class Reporter(Protocol):
    """Where a run reports: phases, a 0-1 progress, per-step metrics; and whether to stop."""

    def enter(self, phase: JobPhase, progress: float) -> None: ...

    def progress(self, value: float) -> None: ...

    def add_metrics(self, step: int, epoch: int | None, values: dict[str, float | None]) -> None: ...

    def stop_requested(self) -> bool: ...


@dataclass(frozen=True)
class DatasetSource:
    """A dataset file to distil from, with the name it is shown under."""

    name: str
    path: Path
    # The sha256 recorded when it was saved; a different file on disk is logged.
    expected_sha256: str | None = None


@dataclass
class LabelledSet:
    queries: list[str]
    decisions: list[RoutingDecision]

    def __len__(self) -> int:
        return len(self.queries)


@dataclass
class Distillation:
    """What a run made: the saved student and the figures the model registry keeps."""

    model: StudentModel
    folder: Path
    figures: dict[str, float | int | None]
    n_train: int
    n_heldout: int
    label_failures: int


def run_distillation(
    train: DatasetSource,
    params: DistillParams,
    out: Path,
    reporter: Reporter,
    *,
    heldout: DatasetSource | None = None,
    teacher: Callable[[int], Router] | None = None,
    teacher_name: str | None = None,
    label_checkpoint: Path | None = None,
) -> Distillation:
    """Validate, label, split, train, score, and save to `out`.

    A prompt-only training set is labelled by `teacher(n)`, asked for only then, with the number of queries
    to label (so a caller can refuse a billable run before it starts).

    Raises PipelineFailure with a sentence, StopRequested when the reporter asks to stop, and ValueError
    from training (a diverging run); nothing is saved unless the run completes.
    """
    reporter.enter(JobPhase.VALIDATION, 0.0)
    loaded = _validated(train, "training", MIN_RECORDS)
    heldout_loaded = _validated(heldout, "held-out", 1, labelled=True) if heldout is not None else None
    reporter.progress(VALIDATION_END)

    reporter.enter(JobPhase.DATA_PROCESSING, VALIDATION_END)
    decisions, labelled_by, failures = _labelled(train, loaded, reporter, teacher, teacher_name, label_checkpoint)
    queries = [query or "" for query in loaded.queries]
    train_set, heldout_set = _split(queries, decisions, loaded, heldout_loaded, params)
    note = heldout_note(params.heldout_ratio, heldout.name if heldout is not None else None)
    if note:
        log.warning("%s", note)
    log.info("%d training and %d held-out examples", len(train_set), len(heldout_set) if heldout_set else 0)
    reporter.progress(DATA_PROCESSING_END)

    reporter.enter(JobPhase.TRAINING, DATA_PROCESSING_END)
    provenance = Provenance(
        dataset_sha256=loaded.report.sha256,
        teacher_id=labelled_by,
        prompt_version=loaded.manifest.prompt_version if loaded.manifest else None,
    )

    def on_epoch(report: EpochReport) -> None:
        reporter.add_metrics(
            report.epoch,
            report.epoch,
            {
                "train_loss": report.train_loss,
                "validation_loss": report.validation_loss,
                "validation_agreement": report.validation_agreement,
                "validation_mae": report.validation_mae,
            },
        )
        span = TRAINING_END - DATA_PROCESSING_END
        reporter.progress(DATA_PROCESSING_END + span * report.epoch / report.max_epochs)

    model = train_student(
        train_set.queries,
        decision_targets(train_set.decisions),
        params.training_config(),
        on_epoch=on_epoch,
        should_stop=reporter.stop_requested,
        provenance=provenance,
    )
    reporter.progress(TRAINING_END)
    _check_stop(reporter)
    figures = _heldout_figures(model, heldout_set, reporter)
    _check_stop(reporter)
    save_student(model, out)
    return Distillation(model, out, figures, len(train_set), len(heldout_set) if heldout_set else 0, failures)


def _check_stop(reporter: Reporter) -> None:
    if reporter.stop_requested():
        raise StopRequested


def _validated(source: DatasetSource, role: str, min_records: int, *, labelled: bool = False) -> LoadedDataset:
    try:
        loaded = read_dataset(source.path, min_records=min_records)
    except OSError as exc:
        raise PipelineFailure(
            f"The {role} dataset {source.name!r} could not be read ({exc.strerror or exc}); import it again."
        ) from exc
    report = loaded.report
    if not report.ok:
        shown = "; ".join(report.lines()[:SHOWN_PROBLEMS])
        more = report.problem_count - min(SHOWN_PROBLEMS, len(report.problems))
        tail = f"; and {more} more problem{'s' if more != 1 else ''}" if more > 0 else ""
        raise PipelineFailure(f"The {role} dataset {source.name!r} is not valid: {shown}{tail}.")
    if source.expected_sha256 is not None and report.sha256 != source.expected_sha256:
        log.warning("dataset %s changed on disk since it was saved (sha256 %s)", source.name, report.sha256)
    if labelled and any(decision is None for decision in loaded.decisions):
        raise PipelineFailure(f"The {role} dataset {source.name!r} has no labels: label it with a teacher first.")
    return loaded


def _labelled(
    source: DatasetSource,
    loaded: LoadedDataset,
    reporter: Reporter,
    teacher: Callable[[int], Router] | None,
    teacher_name: str | None,
    checkpoint: Path | None,
) -> tuple[list[RoutingDecision | None], str | None, int]:
    """Every query's label (None where the teacher failed), who labelled them, and how many failed."""
    if all(decision is not None for decision in loaded.decisions):
        return list(loaded.decisions), loaded.manifest.teacher_id if loaded.manifest else None, 0
    if teacher is None:
        raise PipelineFailure(
            f"The training dataset {source.name!r} has no labels and no teacher was given to label it: "
            "label it first (synth --label teacher, or the Data Mix page)."
        )
    span = DATA_PROCESSING_END - VALIDATION_END
    queries = [query or "" for query in loaded.queries]
    run = label_queries(
        teacher(len(queries)),
        queries,
        checkpoint_path=checkpoint,
        on_progress=lambda done, total: reporter.progress(VALIDATION_END + span * done / max(total, 1)),
        should_stop=reporter.stop_requested,
    )
    if run.stopped:
        raise StopRequested
    if run.failures:
        log.warning("the teacher could not label %d of %d queries; they are left out", run.failed, run.total)
    if not run.labelled:
        raise PipelineFailure(f"The teacher labelled none of the {run.total} queries of {source.name!r}.")
    return list(run.decisions), teacher_name, run.failed


def _split(
    queries: list[str],
    decisions: list[RoutingDecision | None],
    loaded: LoadedDataset,
    heldout_loaded: LoadedDataset | None,
    params: DistillParams,
) -> tuple[LabelledSet, LabelledSet | None]:
    usable = [i for i, decision in enumerate(decisions) if decision is not None]
    everything = _subset(queries, decisions, usable)
    if heldout_loaded is not None:
        held_queries = [q or "" for q in heldout_loaded.queries]
        return everything, _subset(held_queries, heldout_loaded.decisions, range(len(held_queries)))
    if params.heldout_ratio <= 0:
        return everything, None
    # Split record positions (stratified by the records' focus tags) rather than the records themselves.
    positions = [{"position": i} for i in usable]
    train_part, _, held_part, _ = split_dataset(
        positions, [loaded.tags[i] for i in usable], params.heldout_ratio, params.seed
    )
    if not train_part or not held_part:
        raise PipelineFailure(
            f"{len(usable)} labelled examples are too few to hold out {params.heldout_ratio:.0%}: "
            "add data or set the held-out share to 0."
        )
    return (
        _subset(queries, decisions, [item["position"] for item in train_part]),
        _subset(queries, decisions, [item["position"] for item in held_part]),
    )


def _subset(queries: Sequence[str], decisions: Sequence[RoutingDecision | None], picked: Sequence[int]) -> LabelledSet:
    chosen = [(queries[i], decision) for i in picked if (decision := decisions[i]) is not None]
    return LabelledSet([query for query, _ in chosen], [decision for _, decision in chosen])


def _heldout_figures(
    model: StudentModel, heldout: LabelledSet | None, reporter: Reporter
) -> dict[str, float | int | None]:
    """The registry's figures; with a held-out set, the manifest's `heldout_metrics` is the `evaluate` entry."""
    training = model.manifest.training_metrics
    figures: dict[str, float | int | None] = {
        # Every example given to training, the trainer's early-stopping share included.
        "n_train": int(training.get("n_train", 0)) + int(training.get("n_validation", 0)),
        "epochs_run": training.get("epochs_run"),
        "best_epoch": training.get("best_epoch"),
        "validation_agreement": training.get("validation_agreement"),
    }
    if heldout is None:
        return figures
    # Scored through the router users deploy (0.05-rounded weights), exactly as `evaluate` scores it.
    entry = score_pairs(StudentRouter(model).route_batch(heldout.queries), heldout.decisions)
    figures.update(
        {
            HELDOUT_N: entry["n"],
            HELDOUT_AGREEMENT: entry["dominant_accuracy"],
            HELDOUT_MAE: entry["mae"],
            HELDOUT_RUBRIC: entry["rubric_mean"],
            "heldout_validity": entry["validity"],
        }
    )
    step = int(training.get("epochs_run") or 0)
    reporter.add_metrics(
        step,
        step,
        {
            HELDOUT_AGREEMENT: entry["dominant_accuracy"],
            HELDOUT_MAE: entry["mae"],
            HELDOUT_RUBRIC: entry["rubric_mean"],
        },
    )
    model.manifest = model.manifest.model_copy(update={"heldout_metrics": dict(entry)})
    return figures
