"""What the service commands share (preflight, label, batch-label, write-queries, job, models): a service's
refusal as one `error:` line, billable work shown with its estimate and run only with --yes, key=value
options, and progress on a terminal."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from core.cli.common import UserFacingError
from core.estimates import ConfirmationRequired, CostEstimate

if TYPE_CHECKING:
    from core.labelling import LabelFailure

T = TypeVar("T")
FAILURES_SUFFIX = ".failures.jsonl"


@contextmanager
def one_line_errors() -> Iterator[None]:
    """Every refusal of a core service (a sentence already) becomes the command's one error line."""
    from core.aws.batch import BatchError
    from core.aws.errors import StudioAwsError
    from core.backends import BackendUnavailable
    from core.distill.jobs import JobError
    from core.model_registry import ModelRegistryError

    try:
        yield
    except ConfirmationRequired:
        raise
    except (BackendUnavailable, StudioAwsError, JobError, BatchError, ModelRegistryError) as exc:
        raise UserFacingError(str(exc).rstrip(".")) from exc


def confirmed(work: Callable[[bool], T], args: argparse.Namespace) -> T:
    """Run billable work with the user's --yes; without it, print the estimate and stop with one line."""
    try:
        with one_line_errors():
            return work(bool(args.yes))
    except ConfirmationRequired as exc:
        show_estimate(exc.estimate)
        raise UserFacingError(
            f"{exc.doing} bills your AWS account ({exc.estimate.sentence().rstrip('.')}); "
            "run again with --yes to confirm"
        ) from exc


def show_estimate(estimate: CostEstimate) -> None:
    if not estimate.billable:
        return
    print("estimate:", file=sys.stderr)
    for line in estimate.lines():
        print(f"  {line}", file=sys.stderr)


def key_values(pairs: Sequence[str], what: str) -> dict[str, str]:
    """`k=v` options into a dict; a pair without '=' is one error line."""
    from core.key_values import parse_key_values

    for pair in pairs:
        if not pair.strip():
            raise UserFacingError(f"{what} {pair!r} is not key=value")
    try:
        return parse_key_values(pairs)
    except ValueError as exc:
        raise UserFacingError(f"{what} {exc}") from exc


def status_line(text: str) -> None:
    """A progress line rewritten in place on a terminal (nothing when output goes to a file)."""
    if sys.stderr.isatty():
        print(f"\r{text[:160]:<160}", end="", file=sys.stderr, flush=True)


def end_status_line() -> None:
    if sys.stderr.isatty():
        print(file=sys.stderr)


def write_failures(out: Path, failures: Sequence[LabelFailure]) -> Path | None:
    """The failed records beside the output: query, reasons and the model's raw reply, one JSON line each."""
    from core.files import atomic_write_text

    path = out.with_name(out.name.removesuffix(".jsonl") + FAILURES_SUFFIX)
    if not failures:
        path.unlink(missing_ok=True)
        return None
    lines = [
        json.dumps(
            {"index": f.index, "query": f.query, "errors": list(f.errors), "raw_text": f.raw_text}, ensure_ascii=False
        )
        for f in failures
    ]
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path
