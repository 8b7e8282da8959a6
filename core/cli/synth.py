"""`synth`: synthesise (and label) a distillation dataset from a data mix."""

from __future__ import annotations

import argparse
from pathlib import Path

from core.cli.common import (
    UserFacingError,
    check_outside_studio,
    check_writable_file,
    confirm_billable,
    first_error_line,
    open_backend,
    progress_bar,
)
from core.wording import count


def add_command(commands) -> None:
    synth = commands.add_parser("synth", help="synthesise (and label) a distillation dataset from a data mix")
    synth.add_argument("--n", type=int, required=True, help="number of queries (total), 100 to 15,000")
    synth.add_argument("--seed", type=int, required=True)
    synth.add_argument("--mix", default="", help="shares, e.g. visual=.25,audio=.25,transcription=.25,metadata=.25")
    synth.add_argument("--custom", action="append", default=[], help="a custom-domain term (repeatable)")
    synth.add_argument("--label", choices=("teacher", "none"), default="teacher")
    synth.add_argument("--out", type=Path, required=True, metavar="F.jsonl")
    synth.add_argument("--yes", action="store_true", help="confirm a billable labelling run")
    synth.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from core.backends import BackendUnavailable
    from core.datasets.files import dataset_target_problem
    from core.synth import DataMix
    from core.synth.pipeline import synthesise, write_synthesis

    # Every output path is checked before any work: labelling on Bedrock bills before anything is written.
    check_writable_file(args.out)
    problem = dataset_target_problem(args.out)
    if problem:
        raise UserFacingError(f"--out {args.out}: {problem}; nothing was generated")
    check_outside_studio(args.out)
    try:
        mix = DataMix.from_cli(args.mix, args.n, args.seed, args.custom)
    except ValueError as exc:
        raise UserFacingError(first_error_line(exc)) from exc
    teacher, teacher_name, checkpoint_dir = None, None, None
    if args.label == "teacher":
        backend = open_backend()
        try:
            teacher = backend.teacher()
        except BackendUnavailable as exc:
            raise UserFacingError(str(exc)) from exc
        teacher_name = backend.teacher_name
        confirm_billable({teacher_name: teacher}, mix.total, args, "labelling")
        checkpoint_dir = backend.settings.data_dir
    synthesis = synthesise(
        mix,
        teacher,
        teacher_id=teacher_name,
        name=args.out.stem,
        on_progress=progress_bar,
        checkpoint_dir=checkpoint_dir,
    )
    existed = args.out.exists()
    try:
        manifest = write_synthesis(synthesis, args.out)
    except OSError as exc:
        kept = f"the previous {args.out.name} and its companions are unchanged" if existed else "nothing was written"
        again = (
            "; run it again once there is room: the labels are kept and are not paid for twice"
            if teacher is not None and teacher.billable
            else ""
        )
        raise UserFacingError(f"could not write {args.out} ({exc.strerror or exc}); {kept}{again}") from exc
    written = count(manifest.record_count, f"{manifest.kind} record")
    print(f"wrote {written} to {args.out} (sha256 {manifest.sha256[:12]})")
    if synthesis.duplicates_removed:
        print(f"removed {synthesis.duplicates_removed:,} near-duplicate queries")
    if synthesis.run is not None and synthesis.run.failures:
        print(
            f"{synthesis.run.failed:,} queries could not be labelled and were left out; first: "
            f"{synthesis.run.failures[0].query!r}: {'; '.join(synthesis.run.failures[0].errors)}"
        )
    return 0
