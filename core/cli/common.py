"""What the commands share: one-line errors, the backend, query input, billing confirmation, progress."""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import select
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from core.files import open_regular
from core.routers.base import Router

BAR_WIDTH = 20
# A query is a line of text; a longer line means the file is not one query per line.
MAX_QUERY_LINE_BYTES = 65_536
STDIN_READ_BYTES = 1 << 16
# Core's errors whose message is already a sentence for the user, by (module, class): such an error exists only
# once its module is loaded, and importing them all here would slow every command's start.
EXPLAINED_ERRORS = (
    ("core.store", "StoreError"),
    ("core.settings", "SettingsError"),
    ("core.backends", "BackendUnavailable"),
    ("core.distill.artifact", "StudentArtifactError"),
    ("core.distill.jobs", "JobError"),
    ("core.distill.pipeline", "PipelineFailure"),
    ("core.datasets.library", "DatasetLibraryError"),
    ("core.model_registry", "ModelRegistryError"),
    ("core.aws.errors", "StudioAwsError"),
)
_SURROGATE = re.compile("[\ud800-\udfff]")


class UserFacingError(Exception):
    """A problem the user can fix; printed as one line, no traceback."""


def explained_error(exc: BaseException) -> bool:
    """Whether core raised this error with a sentence for the user."""
    for module_name, class_name in EXPLAINED_ERRORS:
        module = sys.modules.get(module_name)
        if module is not None and isinstance(exc, getattr(module, class_name)):
            return True
    return False


def check_text_arguments(args: argparse.Namespace) -> None:
    """Refuse text arguments that are not UTF-8 (the shell hands them over as bytes; paths may be any bytes)."""
    for dest, value in vars(args).items():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str) and _SURROGATE.search(item):
                shown = item.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
                option = "QUERY" if dest == "queries" else f"--{dest.replace('_', '-')}"
                raise UserFacingError(f"{option} is not valid UTF-8 text ({shown!r}); give it as UTF-8")


def open_backend():
    from core.backends import make_backend
    from core.settings import load_settings
    from core.store import Store, StoreError

    settings = load_settings()
    try:
        return make_backend(settings, Store(settings.store_path))
    except StoreError as exc:
        raise UserFacingError(str(exc)) from exc


def router_id_help() -> str:
    """The router ids the configured backend resolves (falls back to the local forms if settings are bad)."""
    from core.backends import LocalBackend, backend_class
    from core.routers.registry import router_id_help as forms_help
    from core.settings import load_settings

    try:
        forms = backend_class(load_settings()).router_id_forms
    except Exception:  # a bad VSRS_* value: the command itself will say so; the help still reads
        forms = LocalBackend.router_id_forms
    return forms_help(forms)


def resolve_routers(backend, router_ids: Sequence[str]) -> dict[str, Router]:
    """Each distinct router id resolved by the backend, or one line saying which cannot be."""
    from core.backends import BackendUnavailable

    try:
        return {router_id: backend.router(router_id) for router_id in dict.fromkeys(router_ids)}
    except BackendUnavailable as exc:
        raise UserFacingError(str(exc)) from exc


def confirm_billable(routers: dict[str, Router], n_queries: int | None, args: argparse.Namespace, doing: str) -> None:
    """Refuse to route through anything billable without --yes, quoting what it would cost (None: not known yet)."""
    billable = [router_id for router_id, router in routers.items() if router.billable]
    if billable and not args.yes:
        through = ", ".join(billable)
        if n_queries is None:
            per_1k = sum(routers[r].estimate_batch_cost_usd(1000) for r in billable)
            raise UserFacingError(
                f"{doing} queries from standard input through {through} bills your AWS account (about "
                f"${per_1k:,.4f} per 1,000 queries); run again with --yes to confirm"
            )
        estimate = sum(routers[r].estimate_batch_cost_usd(n_queries) for r in billable)
        raise UserFacingError(
            f"{doing} {n_queries:,} queries through {through} bills your AWS account "
            f"(about ${estimate:,.4f}); run again with --yes to confirm"
        )


@dataclass(frozen=True)
class QueryLine:
    """One query to route: its text, or the reason it cannot be read (then `shown` is what the line held)."""

    text: str | None
    shown: str
    problem: str | None = None


def iter_queries(args: argparse.Namespace) -> Iterator[QueryLine | None]:
    """The QUERY arguments, then the lines of --file, read as they are needed (never all at once).

    None marks a pause: the input has no more lines ready yet (a pipe whose writer is slow), so whatever was
    read can be answered now.
    """
    for query in args.queries:
        yield QueryLine(query, query)
    if args.file is not None:
        yield from read_query_lines(args.file)


def read_query_lines(file: Path) -> Iterator[QueryLine | None]:
    """One query per line ending in '\\n' (a '\\r' before it is dropped); blank lines are skipped.

    Only '\\n' ends a line: a form feed, '\\x85' or U+2028 inside a query is part of it. A regular file or
    standard input ('-') only; a line longer than MAX_QUERY_LINE_BYTES stops the run with a sentence.
    """
    stdin = str(file) == "-"
    where = "standard input" if stdin else str(file)
    try:
        with contextlib.ExitStack() as stack:
            raw_lines = _stdin_lines() if stdin else _file_lines(stack.enter_context(open_regular(file)))
            number = 0
            for raw in raw_lines:
                if raw is None:
                    yield None
                    continue
                number += 1
                if len(raw) > MAX_QUERY_LINE_BYTES and not raw.endswith(b"\n"):
                    longest = f"{MAX_QUERY_LINE_BYTES:,} bytes"
                    raise UserFacingError(f"line {number} of {where} is longer than {longest}; give one query per line")
                raw = raw.removesuffix(b"\n").removesuffix(b"\r")
                if not raw.strip():
                    continue
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    problem = f"line {number} is not valid UTF-8 (byte {exc.start + 1}); save the file as UTF-8"
                    yield QueryLine(None, raw.decode("utf-8", errors="replace"), problem)
                    continue
                yield QueryLine(text, text)
    except OSError as exc:
        raise UserFacingError(f"cannot read {where}: {exc.strerror or exc}") from exc


def _file_lines(handle: BinaryIO) -> Iterator[bytes]:
    """Lines of at most MAX_QUERY_LINE_BYTES + 1 bytes (a longer one comes out cut, without its '\\n')."""
    return iter(lambda: handle.readline(MAX_QUERY_LINE_BYTES + 1), b"")


def _stdin_lines() -> Iterator[bytes | None]:
    """Standard input's lines as they arrive, with None whenever no further line is ready yet."""
    try:
        fd = sys.stdin.buffer.fileno()
    except (AttributeError, OSError, ValueError):  # not a real stream (an embedding program's stand-in)
        yield from _file_lines(sys.stdin.buffer)
        return
    pending = b""
    while True:
        if not select.select([fd], [], [], 0)[0]:
            yield None  # everything complete so far is handed out; the next read may wait for the writer
        data = os.read(fd, STDIN_READ_BYTES)
        if not data:
            break
        *complete, pending = (pending + data).split(b"\n")
        for line in complete:
            yield line + b"\n"
        if len(pending) > MAX_QUERY_LINE_BYTES:
            yield pending[: MAX_QUERY_LINE_BYTES + 1]
            return
    if pending:
        yield pending


def count_queries(args: argparse.Namespace) -> int | None:
    """How many queries a run will route, or None when they come from standard input (read only once)."""
    if args.file is not None and str(args.file) == "-":
        return None
    return sum(1 for line in iter_queries(args) if line is not None)


def add_query_input(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("queries", nargs="*", metavar="QUERY")
    parser.add_argument("--file", type=Path, help="read queries from a file, one per line ('-' for stdin)")


def check_writable_file(path: Path) -> None:
    """Refuse an output path that cannot be written before any work (or money) is spent on it."""
    folder = path.resolve().parent
    if path.is_dir():
        raise UserFacingError(f"{path} is a folder; give a file name ending in .jsonl")
    if folder.exists() and not folder.is_dir():
        raise UserFacingError(f"{folder} is a file, not a folder")
    if not folder.is_dir():
        raise UserFacingError(f"the folder {folder} does not exist; create it first")
    if not os.access(folder, os.W_OK):
        raise UserFacingError(f"cannot write in {folder}; check its permissions")


def check_outside_studio(path: Path) -> None:
    """Refuse an output among the files the studio manages itself (its dataset library, models and jobs)."""
    from core.datasets.library import DATASETS_DIR
    from core.distill.jobs import JOBS_FOLDER
    from core.model_registry import MODELS_FOLDER
    from core.settings import load_settings

    data_dir = load_settings().data_dir.resolve()
    target = path.resolve()
    for folder in (DATASETS_DIR, MODELS_FOLDER, JOBS_FOLDER):
        managed = data_dir / folder
        if target == managed or managed in target.parents:
            raise UserFacingError(
                f"{path} is inside the studio's data directory ({managed}), whose files the studio manages itself: "
                "write elsewhere (and import a dataset on the Data Mix page); nothing was written"
            )


def check_not_a_registered_model(backend, folder: Path) -> None:
    """Refuse to write over the files of a model the registry lists (wherever they are)."""
    target = folder.resolve()
    for model in backend.models().list():
        if model.path is not None and model.path.resolve() == target:
            raise UserFacingError(
                f"{folder} is the folder of registered model {model.name!r} ({model.id}): its files belong to the "
                "model registry; give another --out (delete the model first to reuse the folder)"
            )


def progress_bar(done: int, total: int, label: str = "labelling") -> None:
    if not sys.stderr.isatty():
        return
    filled = round(BAR_WIDTH * done / total) if total else BAR_WIDTH
    end = "\n" if done >= total else ""
    print(f"\r{label} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done:,}/{total:,}", end=end, file=sys.stderr)


def first_error_line(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        try:
            first = errors()[0]
            field = ".".join(str(part) for part in first.get("loc", ()))
            message = str(first.get("msg", exc)).removeprefix("Value error, ")
            return f"{field}: {message}" if field and field != "__root__" else message
        except (IndexError, TypeError, AttributeError):
            pass
    return str(exc).splitlines()[0]
