"""`synth`: synthesise (and label) a distillation dataset from a data mix."""

from __future__ import annotations

import argparse
from pathlib import Path

from core.cli.common import (
    UserFacingError,
    check_writable_file,
    confirm_billable,
    first_error_line,
    open_backend,
    progress_bar,
)


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
    from core.synth import DataMix
    from core.synth.pipeline import synthesise, write_synthesis

    if args.out.suffix != ".jsonl":
        raise UserFacingError("--out must name a .jsonl file")
    check_writable_file(args.out)
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
    manifest = write_synthesis(synthesis, args.out)
    print(f"wrote {manifest.record_count:,} {manifest.kind} records to {args.out} (sha256 {manifest.sha256[:12]})")
    if synthesis.duplicates_removed:
        print(f"removed {synthesis.duplicates_removed:,} near-duplicate queries")
    if synthesis.run is not None and synthesis.run.failures:
        print(
            f"{synthesis.run.failed:,} queries could not be labelled and were left out; first: "
            f"{synthesis.run.failures[0].query!r}: {'; '.join(synthesis.run.failures[0].errors)}"
        )
    return 0
