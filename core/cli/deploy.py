"""`deploy`: create, list, swap, test, restart, activate and delete deployments (the Deployments page's calls).

On the local backend a deployment is an endpoint process on 127.0.0.1; on Amazon Bedrock an on-demand custom
model deployment, or with --provisioned a provisioned throughput, which bills by the hour and needs --yes
after its estimate is shown. --json prints the deployment objects of docs/ARCHITECTURE.md (command line).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable

from core.cli.common import UserFacingError, open_backend
from core.cli.route import format_result
from core.deployments import SELF_TEST_QUERY, BillingNotConfirmed, Deployment, DeploymentError, parse_tag_pairs

WAIT_HELP = "return at once instead of waiting until the deployment is Active (or Failed)"


def add_command(commands) -> None:
    deploy = commands.add_parser("deploy", help="create, list, swap, test and delete deployments")
    actions = deploy.add_subparsers(title="actions", metavar="ACTION")

    create = actions.add_parser("create", help="deploy a model under a new name")
    create.add_argument("name", help="1-63 letters and digits, each optionally followed by one '_' or '-'")
    create.add_argument("--model", required=True, help="the model's id or name (or a custom model ARN on Bedrock)")
    create.add_argument("--description", default="")
    create.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE", help="a tag (repeatable)")
    create.add_argument(
        "--provisioned", action="store_true", help="provisioned throughput on Amazon Bedrock (bills by the hour)"
    )
    create.add_argument("--model-units", type=int, default=1, help="provisioned throughput model units")
    create.add_argument("--commitment", choices=("OneMonth", "SixMonths"), help="provisioned throughput term")
    create.add_argument("--yes", action="store_true", help="confirm the hourly billing of provisioned throughput")
    _add_wait(create)
    create.set_defaults(handler=run_create)

    listing = actions.add_parser("list", help="every deployment with its status, model and endpoint")
    listing.add_argument("--json", action="store_true", help="a JSON list of deployment objects")
    listing.set_defaults(handler=run_list)

    update = actions.add_parser("update", help="swap the model behind a deployment, without a gap")
    update.add_argument("name")
    update.add_argument("--model", required=True, help="the model to serve from now on")
    _add_wait(update)
    update.set_defaults(handler=run_update)

    test = actions.add_parser("test", help="route queries through a deployment's endpoint (a self-test)")
    test.add_argument("name")
    test.add_argument("queries", nargs="*", metavar="QUERY", help=f"default: {SELF_TEST_QUERY!r}")
    test.add_argument("--json", action="store_true", help="one `route --json` line per query")
    test.set_defaults(handler=run_test)

    restart = actions.add_parser("restart", help="bring a Failed deployment back")
    restart.add_argument("name")
    _add_wait(restart)
    restart.set_defaults(handler=run_restart)

    activate = actions.add_parser("activate", help="make a deployment the active student (router id 'student')")
    activate.add_argument("name")
    activate.add_argument("--json", action="store_true")
    activate.set_defaults(handler=run_activate)

    snippets = actions.add_parser("snippets", help="copy-ready curl and Python calls of a deployment's endpoint")
    snippets.add_argument("name")
    snippets.set_defaults(handler=run_snippets)

    delete = actions.add_parser("delete", help="stop a deployment (and its billing) and forget it")
    delete.add_argument("name")
    delete.set_defaults(handler=run_delete)

    deploy.set_defaults(handler=lambda args: _usage(deploy))


def _add_wait(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-wait", action="store_true", help=WAIT_HELP)
    parser.add_argument(
        "--timeout", type=float, help="seconds to wait at most (default: 120 locally, 1800 on Amazon Bedrock)"
    )
    parser.add_argument("--json", action="store_true", help="print the deployment as a JSON object")


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def service():
    from core.backends import BackendUnavailable

    try:
        return open_backend().deployments()
    except BackendUnavailable as exc:
        raise UserFacingError(str(exc)) from exc


def run_create(args: argparse.Namespace) -> int:
    deployments = service()
    tags = tags_of(args.tag)
    try:
        if args.provisioned:
            try:
                deployment = deployments.create_provisioned(
                    args.name,
                    args.model,
                    model_units=args.model_units,
                    commitment=args.commitment,
                    confirm_hourly_billing=args.yes,
                    tags=tags,
                )
            except BillingNotConfirmed as exc:
                raise UserFacingError(f"{exc.estimate.warning()} Run again with --yes to confirm") from exc
        else:
            deployment = deployments.create(args.name, args.model, description=args.description, tags=tags)
        return _settled(deployments, deployment, args)
    except DeploymentError as exc:
        raise UserFacingError(str(exc)) from exc


def run_update(args: argparse.Namespace) -> int:
    deployments = service()
    try:
        deployment = deployments.update(args.name, args.model)
        code = _settled(deployments, deployment, args)
    except DeploymentError as exc:
        raise UserFacingError(str(exc)) from exc
    return code


def run_restart(args: argparse.Namespace) -> int:
    deployments = service()
    try:
        return _settled(deployments, deployments.restart(args.name), args)
    except DeploymentError as exc:
        raise UserFacingError(str(exc)) from exc


def run_list(args: argparse.Namespace) -> int:
    try:
        found = service().list()
    except DeploymentError as exc:
        raise UserFacingError(str(exc)) from exc
    if args.json:
        print(json.dumps([d.to_json_dict() for d in found]))
        return 0
    if not found:
        print("no deployments yet: create one with 'python -m core deploy create NAME --model MODEL'")
        return 0
    for deployment in found:
        print(format_deployment(deployment))
    return 0


def run_test(args: argparse.Namespace) -> int:
    deployments = service()
    queries = list(args.queries) or [SELF_TEST_QUERY]
    try:
        router = deployments.router(args.name)
    except DeploymentError as exc:
        raise UserFacingError(str(exc)) from exc
    results = [router.route(query) for query in queries]  # one round trip each: the latency a caller sees
    for result in results:
        print(json.dumps(result.to_cli_dict(), ensure_ascii=False) if args.json else format_result(result))
    return 0 if all(result.valid for result in results) else 1


def run_activate(args: argparse.Namespace) -> int:
    try:
        deployment = service().set_active_student(args.name)
    except DeploymentError as exc:
        raise UserFacingError(str(exc)) from exc
    print(json.dumps(deployment.to_json_dict()) if args.json else f"{deployment.name} is now the active student")
    return 0


def run_snippets(args: argparse.Namespace) -> int:
    deployments = service()
    try:
        snippets = deployments.snippets(deployments.get(args.name))
    except DeploymentError as exc:
        raise UserFacingError(str(exc)) from exc
    print(f"# curl\n{snippets.curl}\n\n# Python\n{snippets.python}")
    return 0


def run_delete(args: argparse.Namespace) -> int:
    deployments = service()
    try:
        deployment = deployments.get(args.name)
        deployments.delete(args.name)
    except DeploymentError as exc:
        raise UserFacingError(str(exc)) from exc
    stopped = "; its hourly billing has stopped" if deployment.bills_while_idle else ""
    print(f"deleted {deployment.name}{stopped}")
    return 0


def _settled(deployments, deployment: Deployment, args: argparse.Namespace) -> int:
    """Wait (unless --no-wait) until the deployment settles; exit 1 when it failed or the swap did not happen."""
    wanted = deployment.model_id
    if not args.no_wait:
        deployment = deployments.wait_until_settled(deployment.name, timeout_s=args.timeout)
    print(json.dumps(deployment.to_json_dict()) if args.json else format_deployment(deployment))
    if args.no_wait:
        return 0
    return 0 if deployment.ready and deployment.serving_model_id == wanted and deployment.settled else 1


def format_deployment(deployment: Deployment) -> str:
    lines = [f"{deployment.name}  [{deployment.status}, {deployment.kind}]"]
    model = deployment.serving_model_id or deployment.model_id
    swap = f" (swapping to {deployment.model_id})" if deployment.swapping else ""
    lines.append(f"  model     {model}{swap}")
    lines.append(f"  endpoint  {deployment.endpoint or '(not yet known)'}")
    if deployment.lineage is not None:
        lines.append(f"  lineage   {deployment.lineage.describe()}")
    lines.append(f"  served    {deployment.requests_served:,} queries; created {deployment.created_at}")
    if deployment.active_student:
        lines.append("  the active student (router id 'student')")
    if deployment.failure_message:
        lines.append(f"  note      {deployment.failure_message}")
    if deployment.billing is not None:
        lines.append(f"  billing   {deployment.billing.describe()}")
    return "\n".join(lines)


def tags_of(pairs: Iterable[str]) -> dict[str, str]:
    """`key=value` texts (--tag) as a tag mapping."""
    try:
        return parse_tag_pairs(pairs)
    except DeploymentError as exc:
        raise UserFacingError(str(exc)) from exc
