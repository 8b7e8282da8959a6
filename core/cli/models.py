"""`models`: the backend's custom models (list, get with lineage, delete): local students and, on Amazon Bedrock,
the account's custom models. Deleting one on Bedrock cannot be undone: it needs --yes."""

from __future__ import annotations

import argparse
import json

from core.cli.common import UserFacingError, open_backend
from core.cli.services import one_line_errors


def add_command(commands) -> None:
    models = commands.add_parser("models", help="custom models: list, get (with lineage), delete")
    actions = models.add_subparsers(title="actions", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="every model, newest first")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=run_list)
    get = actions.add_parser("get", help="one model and where it came from")
    get.add_argument("id", help="the model id, or a Bedrock custom model ARN")
    get.add_argument("--json", action="store_true")
    get.set_defaults(handler=run_get)
    delete = actions.add_parser("delete", help="delete a model (refused while a deployment uses it)")
    delete.add_argument("id")
    delete.add_argument("--yes", action="store_true", help="confirm deleting a model on Bedrock (cannot be undone)")
    delete.set_defaults(handler=run_delete)


def model_dict(model) -> dict[str, object]:
    """The `models --json` shape (docs/ARCHITECTURE.md, command line)."""
    return {
        **model.to_row(),
        "arn": model.arn,
        "path": str(model.path) if model.path else None,
        "lineage": model.lineage,
    }


def run_list(args: argparse.Namespace) -> int:
    with one_line_errors():
        registry = open_backend().models()
        models = registry.list()
    if args.json:
        print(json.dumps({"models": [model_dict(m) for m in models], "notice": registry.notice()}))
        return 0
    if registry.notice():
        print(f"note: {registry.notice()}")
    for model in models:
        where = "Amazon Bedrock" if model.arn else "this machine"
        print(f"{model.id}  {model.name:<32} {where:<15} {model.created_at}")
    if not models:
        print("no models yet")
    return 0


def run_get(args: argparse.Namespace) -> int:
    with one_line_errors():
        model = open_backend().models().get(args.id)
    if args.json:
        print(json.dumps(model_dict(model)))
        return 0
    print(f"{model.name} ({model.id})")
    for key, value in {"job": model.job_id, "dataset": model.dataset_id, "arn": model.arn, **model.lineage}.items():
        if value is not None:
            print(f"  {key}: {value}")
    return 0


def run_delete(args: argparse.Namespace) -> int:
    from core.aws.custom_models import DeleteNeedsConfirmation

    backend = open_backend()
    try:
        with one_line_errors():
            model = backend.models().delete(args.id, confirm=args.yes)
    except UserFacingError as exc:
        if isinstance(exc.__cause__, DeleteNeedsConfirmation):
            raise UserFacingError(f"{exc}; run again with --yes to confirm") from exc
        raise
    print(f"deleted {model.name}")
    return 0
