"""`job`: distillation jobs of the configured backend (start, list, get, stop), through its job service.

On Amazon Bedrock a Bedrock student is a model customization job (billable: --yes, with the estimate
shown first); the local compact student trains on this machine on either backend.
"""

from __future__ import annotations

import argparse
import json

from core.cli.common import open_backend
from core.cli.services import confirmed, key_values, one_line_errors, show_estimate


def add_command(commands) -> None:
    job = commands.add_parser("job", help="distillation jobs: start, list, get, stop")
    actions = job.add_subparsers(title="actions", metavar="ACTION", required=True)

    start = actions.add_parser("start", help="start a distillation job (billable on Bedrock: --yes)")
    start.add_argument("name", help="job name: 1-63 letters, digits, '-', '+' or '.'")
    start.add_argument("--dataset", default="", help="training dataset id or name (not needed with invocation logs)")
    start.add_argument("--student", help="student key, e.g. bedrock:nova-micro or hashed-ngram-softmax")
    start.add_argument("--teacher", help="teacher name or key, e.g. nova-premier")
    start.add_argument("--role-arn", help="Bedrock: service role (default: Settings)")
    start.add_argument("--output-s3-uri", help="Bedrock: where the job writes its output (default: in the bucket)")
    start.add_argument("--invocation-logs-s3-uri", help="Bedrock: train from these invocation logs instead")
    start.add_argument("--log-filter", action="append", default=[], metavar="KEY=VALUE", help="request metadata")
    start.add_argument("--use-prompt-response", action="store_true", help="Bedrock: train on the logged replies")
    start.add_argument("--max-response-length", type=int, help="Bedrock: maxResponseLengthForInference")
    start.add_argument("--subnet", action="append", default=[], help="Bedrock: VPC subnet id (repeatable)")
    start.add_argument("--security-group", action="append", default=[], help="Bedrock: security group (repeatable)")
    start.add_argument("--kms-key", help="Bedrock: KMS key for the custom model")
    start.add_argument("--job-tag", action="append", default=[], metavar="KEY=VALUE")
    start.add_argument("--model-tag", action="append", default=[], metavar="KEY=VALUE")
    start.add_argument("--model-name", help="name of the model the job makes")
    start.add_argument("--epochs", type=int, help="local student: maximum epochs")
    start.add_argument("--learning-rate", type=float, help="local student: Adam's step size")
    start.add_argument("--heldout-share", type=float, help="local student: share held out for scoring")
    start.add_argument("--seed", type=int, help="local student: seed")
    start.add_argument("--yes", action="store_true", help="confirm a billable job")
    start.add_argument("--json", action="store_true")
    start.set_defaults(handler=run_start)

    listing = actions.add_parser("list", help="every job, newest first")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=run_list)

    get = actions.add_parser("get", help="one job: status, phases, failure and metrics")
    get.add_argument("id")
    get.add_argument("--json", action="store_true")
    get.set_defaults(handler=run_get)

    stop = actions.add_parser("stop", help="stop a running job")
    stop.add_argument("id")
    stop.add_argument("--json", action="store_true")
    stop.set_defaults(handler=run_stop)


def job_params(args: argparse.Namespace) -> dict[str, object]:
    """The job settings the options give, exactly as the launch form passes them to the job service."""
    params: dict[str, object] = {}
    for option, key in (
        ("student", "student"),
        ("teacher", "teacher"),
        ("role_arn", "role_arn"),
        ("output_s3_uri", "output_s3_uri"),
        ("invocation_logs_s3_uri", "invocation_logs_s3_uri"),
        ("max_response_length", "max_response_length"),
        ("kms_key", "kms_key_id"),
        ("model_name", "model_name"),
        ("epochs", "epochs"),
        ("learning_rate", "learning_rate"),
        ("heldout_share", "heldout_ratio"),
        ("seed", "seed"),
    ):
        value = getattr(args, option)
        if value is not None:
            params[key] = value
    if args.invocation_logs_s3_uri:
        params["training_data"] = "invocation-logs"
        params["log_filter"] = key_values(args.log_filter, "--log-filter")
        params["use_prompt_response"] = args.use_prompt_response
    if args.subnet or args.security_group:
        params["subnet_ids"], params["security_group_ids"] = list(args.subnet), list(args.security_group)
    if args.job_tag:
        params["job_tags"] = key_values(args.job_tag, "--job-tag")
    if args.model_tag:
        params["model_tags"] = key_values(args.model_tag, "--model-tag")
    return params


def run_start(args: argparse.Namespace) -> int:
    with one_line_errors():
        service = open_backend().jobs()
    params = job_params(args)
    if "student" not in params:
        params["student"] = service.students()[0].key
    with one_line_errors():
        estimate = service.estimate(args.dataset, params)

    def work(confirm: bool):
        job = service.submit(args.name, args.dataset, params, confirm=confirm)
        show_estimate(estimate)
        return job

    job = confirmed(work, args)
    if args.json:
        print(json.dumps({**job_dict(job), "estimate": estimate.to_json_dict()}))
    else:
        print(f"started {job.name} ({job.id}) on {job.backend}: {job.status}, {job.phase}")
        print(f"follow it with: python -m core job get {job.id}")
    return 0


def run_list(args: argparse.Namespace) -> int:
    with one_line_errors():
        service = open_backend().jobs()
        jobs = service.list()
    if args.json:
        print(json.dumps({"jobs": [job_dict(job) for job in jobs], "notice": service.notice()}))
        return 0
    if service.notice():
        print(f"note: {service.notice()}")
    for job in jobs:
        print(f"{job.id}  {job.name:<32} {job.backend:<8} {job.status:<11} {job.phase or '':<15} {job.created_at}")
    if not jobs:
        print("no jobs yet")
    return 0


def run_get(args: argparse.Namespace) -> int:
    with one_line_errors():
        service = open_backend().jobs()
        job = service.get(args.id)
        metrics = service.metrics(job.id)
    if args.json:
        print(json.dumps({**job_dict(job), "metrics": metrics, "notice": service.notice()}))
        return 0
    print(f"{job.name} ({job.id}) on {job.backend}: {job.status}, {round(job.progress * 100)}%")
    for phase, state in job.phases():
        print(f"  {phase:<15} {state}")
    if job.failure_message:
        print(f"  failure: {job.failure_message}")
    if job.model_id:
        print(f"  model: {job.model_id}")
    losses = [row for row in metrics if row["name"] == "train_loss"]
    if losses:
        first, last = losses[0], losses[-1]
        print(
            f"  training loss: {first['value']:.4f} (step {first['step']}) -> {last['value']:.4f} (step {last['step']})"
        )
    if service.notice():
        print(f"  note: {service.notice()}")
    return 0


def run_stop(args: argparse.Namespace) -> int:
    with one_line_errors():
        job = open_backend().jobs().stop(args.id)
    if args.json:
        print(json.dumps(job_dict(job)))
    else:
        print(f"{job.name}: {job.status}")
    return 0


def job_dict(job) -> dict[str, object]:
    """The `job --json` shape (docs/ARCHITECTURE.md, command line)."""
    return {
        **job.to_row(),
        "phases": dict(job.phases()),
        "teacher": job.teacher,
        "student": job.student,
        "remote_arn": job.remote_arn,
        "params": job.params,
    }
