"""`distill`: distil a local student in the foreground, through the same pipeline as the job worker."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.cli.common import (
    UserFacingError,
    check_not_a_registered_model,
    check_outside_studio,
    check_writable_file,
    confirm_billable,
    first_error_line,
    open_backend,
    progress_bar,
)
from core.distill.jobs import JobPhase


def add_command(commands) -> None:
    distill = commands.add_parser("distill", help="distil a local student from a dataset (foreground)")
    distill.add_argument("--train", type=Path, required=True, metavar="F.jsonl", help="labelled, or prompts only")
    distill.add_argument("--heldout", type=Path, metavar="F.jsonl", help="labelled held-out set to score on")
    distill.add_argument(
        "--heldout-share", type=float, default=0.0, help="share of the training set to hold out when no --heldout"
    )
    distill.add_argument("--epochs", type=int, help="maximum epochs (early stopping may end sooner)")
    distill.add_argument("--learning-rate", type=float)
    distill.add_argument("--seed", type=int, default=0)
    distill.add_argument("--out", type=Path, required=True, metavar="DIR", help="where the model artifact goes")
    distill.add_argument("--json", action="store_true", help="print the held-out figures as JSON")
    distill.add_argument("--yes", action="store_true", help="confirm labelling prompts with a billable teacher")
    distill.set_defaults(handler=run)


class ProgressBarReporter:
    """The pipeline's reporter on a terminal: one progress bar per phase; a command line run never stops itself."""

    def __init__(self) -> None:
        self.phase: JobPhase | None = None

    def enter(self, phase: JobPhase, progress: float) -> None:
        self.phase = phase

    def progress(self, value: float) -> None:
        if self.phase is not None:
            progress_bar(round(value * 100), 100, label=self.phase.value)

    def add_metrics(self, step: int, epoch: int | None, values: dict[str, float | None]) -> None:
        return None

    def stop_requested(self) -> bool:
        return False


def run(args: argparse.Namespace) -> int:
    from core.distill.artifact import StudentArtifactError
    from core.distill.jobs import heldout_note, parse_params
    from core.distill.pipeline import DatasetSource, PipelineFailure, run_distillation

    check_artifact_folder(args.out)
    backend = open_backend()
    check_not_a_registered_model(backend, args.out)
    check_outside_studio(args.out)
    overrides = {"epochs": args.epochs, "learning_rate": args.learning_rate, "seed": args.seed}
    try:
        params = parse_params(
            {"heldout_ratio": args.heldout_share, **{k: v for k, v in overrides.items() if v is not None}}
        )
    except ValueError as exc:
        raise UserFacingError(first_error_line(exc)) from exc
    train = DatasetSource(args.train.name, args.train)
    heldout = DatasetSource(args.heldout.name, args.heldout) if args.heldout else None
    note = heldout_note(params.heldout_ratio, str(args.heldout) if args.heldout else None)
    if note:
        print(f"note: {note[0].lower()}{note[1:]}", file=sys.stderr)

    def labelling_teacher(n_queries: int):
        teacher = backend.teacher()
        confirm_billable({backend.teacher_name: teacher}, n_queries, args, "labelling")
        return teacher

    try:
        made = run_distillation(
            train,
            params,
            args.out,
            ProgressBarReporter(),
            heldout=heldout,
            teacher=labelling_teacher,
            teacher_name=backend.teacher_name,
        )
    except (PipelineFailure, StudentArtifactError) as exc:
        raise UserFacingError(str(exc)) from exc
    except ValueError as exc:
        raise UserFacingError(f"training failed: {exc}") from exc
    training = made.model.manifest.training_metrics
    heldout_entry = made.model.manifest.heldout_metrics
    figures: dict[str, object] = {"train": str(args.train), "n_train": made.n_train, "out": str(args.out)}
    figures["training"] = training
    if heldout_entry is not None:
        figures["heldout"] = {"file": str(args.heldout) if args.heldout else None, **heldout_entry}
    if args.json:
        print(json.dumps(figures))
        return 0
    print(
        f"trained on {made.n_train:,} examples in {training['seconds']:.1f} s "
        f"({training['epochs_run']} epochs, best {training['best_epoch']}); saved to {args.out}",
        file=sys.stdout,
    )
    if heldout_entry is not None:
        print(
            f"held-out {heldout_entry['n']:,}: dominant agreement {heldout_entry['dominant_accuracy']:.1%}, "
            f"mean absolute weight error {heldout_entry['mae']:.3f}, rubric {heldout_entry['rubric_mean']:.2f}/5"
        )
    return 0


def check_artifact_folder(path: Path) -> None:
    from core.distill.artifact import ARTIFACT_FILES

    if path.exists() and not path.is_dir():
        raise UserFacingError(f"{path} is a file; --out names the folder the model goes in")
    if path.is_dir() and any(child.name not in ARTIFACT_FILES for child in path.iterdir()):
        raise UserFacingError(f"{path} holds other files; give an empty or new folder (or an earlier model's)")
    check_writable_file(path / "model.json" if path.is_dir() else path)
