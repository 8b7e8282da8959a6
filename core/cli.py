"""`python -m core ...`: the command line beside the dashboard. It calls the same core functions as the pages."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from core.labelling import BEDROCK_BATCH_SIZE
from core.schema import MODALITIES, RouteResult

BAR_WIDTH = 20


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except UserFacingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {exc.filename or 'a file'}: {exc.strerror or exc}", file=sys.stderr)
        return 2


class UserFacingError(Exception):
    """A problem the user can fix; printed as one line, no traceback."""


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core", description="Video Search Router Studio command line.")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    route = commands.add_parser("route", help="route queries and print the four channel weights")
    route.add_argument("queries", nargs="*", metavar="QUERY")
    route.add_argument("--router", default="teacher", help="router id: teacher, uniform, student, student:DIR ...")
    route.add_argument("--json", action="store_true", help="one JSON object per query and line")
    route.add_argument("--file", type=Path, help="read queries from a file, one per line ('-' for stdin)")
    route.add_argument("--yes", action="store_true", help="confirm routing through a billable model")
    route.set_defaults(handler=_route)

    synth = commands.add_parser("synth", help="synthesise (and label) a distillation dataset from a data mix")
    synth.add_argument("--n", type=int, required=True, help="number of queries (total), 100 to 15,000")
    synth.add_argument("--seed", type=int, required=True)
    synth.add_argument("--mix", default="", help="shares, e.g. visual=.25,audio=.25,transcription=.25,metadata=.25")
    synth.add_argument("--custom", action="append", default=[], help="a custom-domain term (repeatable)")
    synth.add_argument("--label", choices=("teacher", "none"), default="teacher")
    synth.add_argument("--out", type=Path, required=True, metavar="F.jsonl")
    synth.add_argument("--yes", action="store_true", help="confirm a billable labelling run")
    synth.set_defaults(handler=_synth)

    validate = commands.add_parser("validate", help="check a bedrock-conversation-2024 JSONL file, line by line")
    validate.add_argument("file", type=Path, metavar="F.jsonl")
    validate.add_argument("--json", action="store_true", help="print the report as JSON")
    validate.set_defaults(handler=_validate)

    distill = commands.add_parser("distill", help="distil a local student from a labelled dataset (foreground)")
    distill.add_argument("--train", type=Path, required=True, metavar="F.jsonl")
    distill.add_argument("--heldout", type=Path, metavar="F.jsonl", help="labelled held-out set to score on")
    distill.add_argument("--epochs", type=int, help="maximum epochs (early stopping may end sooner)")
    distill.add_argument("--learning-rate", type=float)
    distill.add_argument("--seed", type=int, default=0)
    distill.add_argument("--out", type=Path, required=True, metavar="DIR", help="where the model artifact goes")
    distill.add_argument("--json", action="store_true", help="print the held-out figures as JSON")
    distill.set_defaults(handler=_distill)

    evaluate = commands.add_parser("evaluate", help="score routers against a labelled held-out set")
    evaluate.add_argument("--heldout", type=Path, required=True, metavar="F.jsonl")
    evaluate.add_argument("--router", action="append", required=True, metavar="ID", help="router id (repeatable)")
    evaluate.add_argument("--json", action="store_true", help="print the figures as JSON")
    evaluate.add_argument("--yes", action="store_true", help="confirm routing through billable models")
    evaluate.set_defaults(handler=_evaluate)

    bench = commands.add_parser("bench", help="measure the performance figures of DESIGN.md section 5")
    bench.add_argument("--json", action="store_true", help="print {'figures': [...]} as JSON")
    bench.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="GROUP",
        help="run only the figure groups whose name contains this: router_latency, "
        "synthesis_and_export, distillation, page_runs (repeatable)",
    )
    bench.set_defaults(handler=_bench)
    return parser


def _open_backend():
    from core.backends import make_backend
    from core.settings import load_settings
    from core.store import Store, StoreError

    settings = load_settings()
    try:
        return make_backend(settings, Store(settings.store_path))
    except StoreError as exc:
        raise UserFacingError(str(exc)) from exc


def _read_queries(args: argparse.Namespace) -> list[str]:
    queries = list(args.queries)
    if args.file is not None:
        if str(args.file) == "-":
            text = sys.stdin.read()
        else:
            try:
                text = args.file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise UserFacingError(f"cannot read {args.file}: {exc}") from exc
        queries.extend(line for line in text.splitlines() if line.strip())
    if not queries:
        raise UserFacingError("give at least one QUERY or --file F")
    return queries


def _route(args: argparse.Namespace) -> int:
    from core.backends import BackendUnavailable

    queries = _read_queries(args)
    backend = _open_backend()
    try:
        router = backend.router(args.router)
    except BackendUnavailable as exc:
        raise UserFacingError(str(exc)) from exc
    if router.billable and not args.yes:
        raise UserFacingError(
            f"routing {len(queries):,} queries through {args.router} bills your AWS account "
            f"(about ${router.estimate_batch_cost_usd(len(queries)):,.4f}); run again with --yes to confirm"
        )
    # A remote router answers slowly: print each small batch as it finishes rather than all at the end.
    step = BEDROCK_BATCH_SIZE if router.remote else len(queries)
    for start in range(0, len(queries), step):
        for result in router.route_batch(queries[start : start + step]):
            print(
                json.dumps(result.to_cli_dict(), ensure_ascii=False) if args.json else format_result(result), flush=True
            )
    return 0


def format_result(result: RouteResult) -> str:
    """A person-readable block for one routed query."""
    lines = [f"{result.query.strip() or '(empty query)'}  [{result.router_id}, {result.latency_ms:.2f} ms]"]
    if result.decision is None:
        lines += [f"  invalid: {error}" for error in result.errors]
        if result.raw_text:
            lines.append(f"  raw reply: {result.raw_text[:300]}")
        return "\n".join(lines)
    weights = result.decision.weights()
    for modality in MODALITIES:
        bar = "#" * round(weights[modality] * BAR_WIDTH)
        lines.append(f"  {modality:<13} {weights[modality]:.2f} {bar}")
    lines.append(f"  reasoning: {result.decision.reasoning}")
    lines += [f"  note: {warning}" for warning in result.warnings]
    return "\n".join(lines)


def _synth(args: argparse.Namespace) -> int:
    from core.backends import BackendUnavailable
    from core.synth import DataMix
    from core.synth.pipeline import synthesise, write_synthesis

    if args.out.suffix != ".jsonl":
        raise UserFacingError("--out must name a .jsonl file")
    _check_writable_file(args.out)
    try:
        mix = DataMix.from_cli(args.mix, args.n, args.seed, args.custom)
    except ValueError as exc:
        raise UserFacingError(_first_error_line(exc)) from exc
    teacher, teacher_name, checkpoint_dir = None, None, None
    if args.label == "teacher":
        backend = _open_backend()
        try:
            teacher = backend.teacher()
        except BackendUnavailable as exc:
            raise UserFacingError(str(exc)) from exc
        teacher_name = backend.teacher_name
        if teacher.billable and not args.yes:
            raise UserFacingError(
                f"labelling {mix.total:,} queries with {teacher_name} bills your AWS account "
                f"(about ${teacher.estimate_batch_cost_usd(mix.total):,.2f}); run again with --yes to confirm"
            )
        checkpoint_dir = backend.settings.data_dir
    synthesis = synthesise(
        mix,
        teacher,
        teacher_id=teacher_name,
        name=args.out.stem,
        on_progress=_progress_bar,
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


def _check_writable_file(path: Path) -> None:
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


def _check_artifact_folder(path: Path) -> None:
    from core.distill.artifact import ARTIFACT_FILES

    if path.exists() and not path.is_dir():
        raise UserFacingError(f"{path} is a file; --out names the folder the model goes in")
    if path.is_dir() and any(child.name not in ARTIFACT_FILES for child in path.iterdir()):
        raise UserFacingError(f"{path} holds other files; give an empty or new folder (or an earlier model's)")
    _check_writable_file(path / "model.json" if path.is_dir() else path)


def _progress_bar(done: int, total: int, label: str = "labelling") -> None:
    if not sys.stderr.isatty():
        return
    filled = round(BAR_WIDTH * done / total) if total else BAR_WIDTH
    end = "\n" if done >= total else ""
    print(f"\r{label} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done:,}/{total:,}", end=end, file=sys.stderr)


def _first_error_line(exc: Exception) -> str:
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


def _validate(args: argparse.Namespace) -> int:
    from core.datasets.validation import validate_file

    report = validate_file(args.file)
    if args.json:
        print(report.model_dump_json())
    else:
        for line in report.lines() + [f"warning: {w}" for w in report.warning_lines()]:
            print(line)
        print(report.verdict)
    return 0 if report.ok else 1


def _load_labelled(path: Path, role: str, min_records: int):
    from core.datasets.files import read_dataset

    loaded = read_dataset(path, min_records=min_records)
    if not loaded.report.ok:
        for line in loaded.report.lines():
            print(line, file=sys.stderr)
        raise UserFacingError(f"the {role} file is not valid: {loaded.report.verdict}")
    if any(decision is None for decision in loaded.decisions):
        raise UserFacingError(
            f"the {role} file has no labels: make it with 'synth --label teacher' (or distil it on the Distillation "
            "page, which labels prompt-only data with the teacher)"
        )
    return loaded


def _distill(args: argparse.Namespace) -> int:

    from core.distill.artifact import StudentArtifactError, save_student
    from core.distill.student_model import Provenance
    from core.distill.trainer import EpochReport, TrainingConfig, decision_targets, train_student
    from core.evaluate import score_pairs
    from core.routers.student import StudentRouter

    _check_artifact_folder(args.out)
    train = _load_labelled(args.train, "training", min_records=1)
    heldout = _load_labelled(args.heldout, "held-out", min_records=1) if args.heldout else None
    overrides = {"epochs": args.epochs, "learning_rate": args.learning_rate, "seed": args.seed}
    try:
        config = TrainingConfig(**{k: v for k, v in overrides.items() if v is not None})
    except ValueError as exc:
        raise UserFacingError(_first_error_line(exc)) from exc

    def on_epoch(report: EpochReport) -> None:
        _progress_bar(report.epoch, report.max_epochs, label="training")

    targets = decision_targets(train.decisions)
    provenance = Provenance(
        dataset_sha256=train.report.sha256,
        teacher_id=train.manifest.teacher_id if train.manifest else None,
        prompt_version=train.manifest.prompt_version if train.manifest else None,
    )
    try:
        model = train_student(train.queries, targets, config, on_epoch=on_epoch, provenance=provenance)
    except ValueError as exc:
        raise UserFacingError(f"training failed: {exc}") from exc
    figures: dict[str, object] = {
        "train": str(args.train),
        "n_train": len(train.queries),
        "out": str(args.out),
        "training": model.manifest.training_metrics,
    }
    if heldout is not None:
        scores = score_pairs(StudentRouter(model).route_batch(heldout.queries), heldout.decisions)
        figures["heldout"] = {"file": str(args.heldout), **scores}
        model.manifest = model.manifest.model_copy(update={"heldout_metrics": scores})
    try:
        save_student(model, args.out)
    except StudentArtifactError as exc:
        raise UserFacingError(str(exc)) from exc
    if args.json:
        print(json.dumps(figures))
        return 0
    training = model.manifest.training_metrics
    print(
        f"trained on {len(train.queries):,} examples in {training['seconds']:.1f} s "
        f"({training['epochs_run']} epochs, best {training['best_epoch']}); saved to {args.out}"
    )
    if heldout is not None:
        held = figures["heldout"]
        print(
            f"held-out {held['n']:,}: dominant agreement {held['dominant_accuracy']:.1%}, "
            f"mean absolute weight error {held['mae']:.3f}, rubric {held['rubric_mean']:.2f}/5"
        )
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from core.backends import BackendUnavailable
    from core.evaluate import score_pairs

    heldout = _load_labelled(args.heldout, "held-out", min_records=1)
    backend = _open_backend()
    try:
        routers = {router_id: backend.router(router_id) for router_id in dict.fromkeys(args.router)}
    except BackendUnavailable as exc:
        raise UserFacingError(str(exc)) from exc
    billable = [router_id for router_id, router in routers.items() if router.billable]
    if billable and not args.yes:
        estimate = sum(routers[r].estimate_batch_cost_usd(len(heldout.queries)) for r in billable)
        raise UserFacingError(
            f"scoring {', '.join(billable)} on {len(heldout.queries):,} queries bills your AWS account "
            f"(about ${estimate:,.4f}); run again with --yes to confirm"
        )
    figures = {
        router_id: score_pairs(router.route_batch(heldout.queries), heldout.decisions)
        for router_id, router in routers.items()
    }
    if args.json:
        print(json.dumps({"heldout": str(args.heldout), "n": len(heldout.queries), "routers": figures}))
        return 0
    print(f"{len(heldout.queries):,} held-out queries from {args.heldout}")
    print(f"{'router':<28} {'valid':>6} {'rubric':>7} {'mae':>6} {'dominant':>9} {'p50 ms':>8} {'$/1k':>9}")
    for router_id, f in figures.items():
        mae = f"{f['mae']:.3f}" if f["mae"] is not None else "-"
        print(
            f"{router_id:<28} {f['validity']:>6.1%} {f['rubric_mean']:>7.2f} {mae:>6} "
            f"{f['dominant_accuracy']:>9.1%} {f['latency_p50_ms']:>8.3f} {f['cost_per_1k_usd']:>9.4f}"
        )
    return 0


def _bench(args: argparse.Namespace) -> int:
    from core.bench import format_figures, run_bench

    try:
        figures = run_bench(only=args.only)
    except ValueError as exc:
        raise UserFacingError(str(exc)) from exc
    if args.json:
        print(json.dumps({"figures": [f.to_json_dict() for f in figures]}))
    else:
        print(format_figures(figures))
    return 0 if all(f.ok for f in figures) else 1
