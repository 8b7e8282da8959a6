"""Distillation jobs on Amazon Bedrock: the jobs capability of the Bedrock backend (a core.distill.jobs.JobService).

A Bedrock student (Nova Micro, Lite or Pro, taught by Nova Premier or Nova Pro: core.aws.models
DISTILLATION_PAIRS) is a model customization job of type DISTILLATION. Every name and ARN is checked
before any call, the job is estimated and confirmed first, and its `clientRequestToken` is derived from the
request, so a double click (or a retry after a lost answer) submits it once. The job's record lives in the
store like a local job's (backend "bedrock", the job ARN in `remote_arn`); its sub-phases, metrics CSV
and custom model come from Bedrock. The local compact student is offered too: those jobs go to a JobRunner
whose teacher is the Bedrock teacher, so Nova Premier's labels give an on-box router.
"""

from __future__ import annotations

import builtins
import csv
import dataclasses
import functools
import hashlib
import io
import json
import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.aws.backoff import call_with_backoff
from core.aws.errors import StudioAwsError, explain_aws_error, trimmed_aws_message
from core.aws.models import DEFAULT_TEACHER, DISTILLATION_PAIRS, MODELS, BedrockModel
from core.aws.names import (
    check_custom_model_name,
    check_job_name,
    check_kms_key_id,
    check_log_filter,
    check_model_identifier,
    check_role_arn,
    check_s3_uri,
    check_tags,
    check_vpc,
)
from core.aws.session import Clients
from core.aws.timestamps import age_s, now_stamp, stamp
from core.distill.jobs import (
    ACTIVE_SQL,
    LOCAL_STUDENTS,
    Job,
    JobError,
    JobPhase,
    JobRunner,
    JobService,
    JobStatus,
    StudentKind,
    job_making_model,
    load_job,
)
from core.estimates import ConfirmationRequired, CostEstimate, CostItem, require_confirmation, token_cost_item
from core.pricing import TYPICAL_REPLY_TOKENS, PriceTable, billing_rate, estimate_tokens
from core.prompts import DEFAULT_TEACHER_PROMPT
from core.store import NOW_SQL, Store

if TYPE_CHECKING:
    from core.datasets.library import DatasetInfo

BEDROCK_BACKEND = "bedrock"
STUDENT_PREFIX = "bedrock:"
DISTILLATION_REGION = "us-east-1"
# The value of the published run; the teacher's answers for a router are far shorter.
DEFAULT_MAX_RESPONSE_LENGTH = 1000
JOB_OUTPUT_ROOT = "video-search-router/jobs"
LIST_PAGE_SIZE = 100
# Bedrock's job list is read newest first, this many at most (older studio jobs are read one by one).
LISTED_JOBS_LIMIT = 200
REFRESH_INTERVAL_S = 10.0
# A job row without an ARN this old was lost between the request and its answer: look it up by name.
SUBMIT_GRACE_S = 120
METRICS_SUFFIX = "training_artifacts/step_wise_training_metrics.csv"
METRICS_LISTING_PAGES = 10
# Share of the progress bar each phase fills: the teacher's labelling and the training take the time.
PHASE_WEIGHTS: dict[str, float] = {"Validation": 0.05, "DataProcessing": 0.35, "Training": 0.60}
DETAIL_KEYS: dict[str, str] = {
    "Validation": "validationDetails",
    "DataProcessing": "dataProcessingDetails",
    "Training": "trainingDetails",
}
MIN_RECORDS, MAX_RECORDS = 100, 15_000
_ARN_ID = re.compile(r"/([a-z0-9]{12})$")
LOCAL_SETTINGS = frozenset({"heldout_ratio", "seed", "teacher", "student", "heldout_dataset_id", "model_name"})

FINISHED_WORDS = frozenset(status.value for status in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.STOPPED))

TrainingData = Literal["dataset", "invocation-logs"]


class JobConfirmationRequired(JobError, ConfirmationRequired):
    """A billable job submitted without confirm=True: the message quotes the estimate."""


class BedrockDistillParams(BaseModel):
    """What a Bedrock distillation job is asked to do: the launch form's fields, exactly what is sent.

    `role_arn` and `output_s3_uri` default to the service role and bucket saved in Settings.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    student: str = f"{STUDENT_PREFIX}nova-micro"
    # The teacher by its name, key or model id; the default teacher when empty.
    teacher: str | None = None
    role_arn: str | None = None
    output_s3_uri: str | None = None
    training_data: TrainingData = "dataset"
    invocation_logs_s3_uri: str | None = None
    # Request-metadata key=value pairs a logged call must carry (all of them) to be training data.
    log_filter: dict[str, str] = Field(default_factory=dict)
    # Train on the logged responses as written instead of asking the teacher again.
    use_prompt_response: bool = False
    max_response_length: int = Field(default=DEFAULT_MAX_RESPONSE_LENGTH, ge=1)
    subnet_ids: list[str] = Field(default_factory=list)
    security_group_ids: list[str] = Field(default_factory=list)
    kms_key_id: str | None = None
    job_tags: dict[str, str] = Field(default_factory=dict)
    model_tags: dict[str, str] = Field(default_factory=dict)
    model_name: str | None = None


@dataclasses.dataclass(frozen=True)
class JobPlan:
    """A checked Bedrock job: the exact create request, its idempotency token and what it needs."""

    name: str
    teacher: BedrockModel
    student: BedrockModel
    params: BedrockDistillParams
    request: dict[str, Any]
    token: str
    dataset_id: str | None
    output_s3_uri: str


def bedrock_students(teacher_key: str | None = None) -> list[StudentKind]:
    """The Bedrock students of a teacher (every teacher's when None), as the launch form offers them."""
    keys = DISTILLATION_PAIRS.get(teacher_key, ()) if teacher_key else _all_students()
    return [StudentKind(f"{STUDENT_PREFIX}{key}", f"{MODELS[key].name} on Amazon Bedrock") for key in keys]


def pairs_sentence() -> str:
    return "; ".join(
        f"{MODELS[teacher].name} distils into {', '.join(MODELS[s].name for s in students)}"
        for teacher, students in DISTILLATION_PAIRS.items()
    )


def request_token(request: Mapping[str, Any]) -> str:
    """The clientRequestToken of a create request: the same request always gets the same token."""
    digest = hashlib.sha256(json.dumps(request, sort_keys=True, separators=(",", ":")).encode("utf-8")).hexdigest()
    return f"vsrs-{digest[:48]}"


def phase_progress(phase_statuses: Mapping[str, str], status: str) -> float:
    """0-1 progress from the sub-phases: a finished phase counts in full, a running one half."""
    if status == JobStatus.COMPLETED:
        return 1.0
    done = 0.0
    for phase, weight in PHASE_WEIGHTS.items():
        state = phase_statuses.get(phase, "NotStarted")
        done += weight if state == "Completed" else weight / 2 if state in ("InProgress", "Stopping") else 0.0
    return round(done, 4)


def current_phase(phase_statuses: Mapping[str, str]) -> str:
    """The last phase that has started (Validation before any)."""
    started = [phase for phase in PHASE_WEIGHTS if phase_statuses.get(phase, "NotStarted") != "NotStarted"]
    return started[-1] if started else JobPhase.VALIDATION.value


def parse_metrics_csv(text: str) -> list[dict[str, object]]:
    """step_wise_training_metrics.csv as metric rows like a local job's: training_loss is `train_loss`."""
    rows: list[dict[str, object]] = []
    for line in csv.DictReader(io.StringIO(text)):
        try:
            step = int(float(line["step_number"]))
            epoch = int(float(line["epoch_number"])) if line.get("epoch_number") not in (None, "") else None
        except (KeyError, TypeError, ValueError):
            continue
        for column, name in (("training_loss", "train_loss"), ("perplexity", "perplexity")):
            try:
                rows.append({"step": step, "epoch": epoch, "name": name, "value": float(line[column])})
            except (KeyError, TypeError, ValueError):
                continue
    return rows


class BedrockJobService(JobService):
    """Bedrock distillation jobs, and local compact students taught by the Bedrock teacher."""

    def __init__(
        self,
        store: Store,
        data_dir: Path,
        *,
        clients: Clients,
        prices: PriceTable,
        teacher_name: str,
        role_arn: str | None = None,
        bucket: str | None = None,
        refresh_interval_s: float = REFRESH_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.store = store
        self.data_dir = Path(data_dir)
        self.clients = clients
        self.prices = prices
        self.teacher_name = teacher_name
        self.default_role_arn = role_arn
        self.default_bucket = bucket
        self.refresh_interval_s = refresh_interval_s
        self._clock = clock
        self._sleep = sleep
        self.runner = JobRunner(store, data_dir, teacher_name=teacher_name)
        self.description = (
            f"On Amazon Bedrock, {pairs_sentence()} (in {DISTILLATION_REGION}, billed to your AWS account: teacher "
            f"tokens, training and model storage). The local compact student trains on this machine from "
            f"{teacher_name}'s labels and costs nothing per query once deployed."
        )
        self._lock = threading.RLock()
        self._refreshed: dict[str, float] = {}
        self._metrics_read: dict[str, float] = {}
        self._listed_at: float | None = None
        self._foreign: list[Job] = []
        self._notice: str | None = None

    # ---- what a job can be ------------------------------------------------------------------------------

    def teachers(self) -> builtins.list[str]:
        return [MODELS[key].name for key in DISTILLATION_PAIRS]

    def students(self, teacher: str | None = None) -> builtins.list[StudentKind]:
        key = _teacher_key(teacher) if teacher else None
        local = list(LOCAL_STUDENTS) if key in (None, DEFAULT_TEACHER) else []
        return [*bedrock_students(key), *local]

    def notice(self) -> str | None:
        return self._notice

    def settings_model(self, student: str) -> type[BaseModel]:
        return super().settings_model(student) if _is_local({"student": student}) else BedrockDistillParams

    def launch_defaults(self, name: str) -> dict[str, object]:
        defaults: dict[str, object] = {"max_response_length": DEFAULT_MAX_RESPONSE_LENGTH}
        if self.default_role_arn:
            defaults["role_arn"] = self.default_role_arn
        output = self._default_output((name or "").strip() or "<job name>")
        if output:
            defaults["output_s3_uri"] = output
        return defaults

    def problem(self, name: str, dataset_id: str, params: Mapping[str, object] | None = None) -> str | None:
        """The first thing plan() refuses (names and ARNs against the API's patterns, the dataset's upload and
        size), with no call to AWS."""
        values = dict(params or {})
        if _is_local(values):
            return None
        try:
            self.plan(name, dataset_id, values)
        except JobError as exc:
            return str(exc)
        return None

    def teacher_for(self, dataset: DatasetInfo, params: Mapping[str, object] | None = None) -> str:
        """A Bedrock student's job records the teacher of its pair (chosen or the default); the local student's
        the labeller of its dataset."""
        values = dict(params or {})
        if _is_local(values) or "student" not in values:
            return super().teacher_for(dataset, values)
        try:
            return MODELS[_teacher_key(str(values.get("teacher") or "") or None)].name
        except JobError:
            return super().teacher_for(dataset, values)

    # ---- estimate and submit ----------------------------------------------------------------------------

    def estimate(self, dataset_id: str, params: Mapping[str, object] | None = None) -> CostEstimate:
        """What the job would cost: needs only the pair, the training data and the response length (no role,
        output or upload yet), so the form can show it while it is being filled in."""
        values = dict(params or {})
        if _is_local(values):
            return self._local_estimate(dataset_id)
        settings = _parse(values)
        teacher = MODELS[_teacher_key(settings.teacher)]
        student = _student_model(settings.student, teacher)
        dataset = self._dataset(dataset_id) if settings.training_data == "dataset" else None
        return self._estimate(teacher, student, settings, dataset)

    def plan(self, name: str, dataset_id: str, params: Mapping[str, object] | None = None) -> JobPlan:
        """Check everything a Bedrock job needs and build its exact request; JobError says what is wrong."""
        settings = _parse(params)
        name = (name or "").strip()
        problem = check_job_name(name)
        if problem:
            raise JobError(problem)
        teacher = MODELS[_teacher_key(settings.teacher)]
        student = _student_model(settings.student, teacher)
        model_name = (settings.model_name or "").strip() or _model_name_for(name)
        self._check_model_name(model_name)
        role_arn = (settings.role_arn or self.default_role_arn or "").strip()
        if not role_arn:
            raise JobError(
                "Give the IAM service role the job runs as (it must trust bedrock.amazonaws.com): save it in "
                "Settings or pass role_arn."
            )
        output = (settings.output_s3_uri or self._default_output(name) or "").strip()
        if not output:
            raise JobError(
                "Give the S3 URI the job writes its output to: save a bucket in Settings or pass output_s3_uri."
            )
        for problem in (
            check_role_arn(role_arn),
            check_s3_uri(output),
            check_model_identifier(teacher.invoke_id, "teacher"),
            check_model_identifier(student.customization_id, "base-model"),
            check_kms_key_id(settings.kms_key_id) if settings.kms_key_id else None,
            check_vpc(settings.subnet_ids, settings.security_group_ids),
            check_tags(settings.job_tags, "job tags"),
            check_tags(settings.model_tags, "model tags"),
        ):
            if problem:
                raise JobError(problem)
        training, used_dataset = self._training_data(settings, dataset_id)
        request: dict[str, Any] = {
            "jobName": name,
            "customModelName": model_name,
            "roleArn": role_arn,
            "baseModelIdentifier": student.customization_id,
            "customizationType": "DISTILLATION",
            "trainingDataConfig": training,
            "outputDataConfig": {"s3Uri": output},
            "customizationConfig": {
                "distillationConfig": {
                    "teacherModelConfig": {
                        "teacherModelIdentifier": teacher.invoke_id,
                        "maxResponseLengthForInference": settings.max_response_length,
                    }
                }
            },
        }
        if settings.subnet_ids:
            request["vpcConfig"] = {"subnetIds": settings.subnet_ids, "securityGroupIds": settings.security_group_ids}
        if settings.kms_key_id:
            request["customModelKmsKeyId"] = settings.kms_key_id
        if settings.job_tags:
            request["jobTags"] = [{"key": k, "value": v} for k, v in settings.job_tags.items()]
        if settings.model_tags:
            request["customModelTags"] = [{"key": k, "value": v} for k, v in settings.model_tags.items()]
        resolved = settings.model_copy(
            update={"teacher": teacher.name, "role_arn": role_arn, "output_s3_uri": output, "model_name": model_name}
        )
        return JobPlan(name, teacher, student, resolved, request, request_token(request), used_dataset, output)

    def submit(
        self, name: str, dataset_id: str, params: Mapping[str, object] | None = None, *, confirm: bool = False
    ) -> Job:
        values = dict(params or {})
        if _is_local(values):
            return self._submit_local(name, dataset_id, values, confirm)
        plan = self.plan(name, dataset_id, values)
        existing = self._job_with_token(plan.token)
        if existing is not None:
            return existing  # the same request again (a double click, a retry): it was submitted once
        estimate = self._estimate_plan(plan)
        try:
            require_confirmation(f"Distilling {plan.student.name} from {plan.teacher.name}", estimate, confirm)
        except ConfirmationRequired as exc:
            raise JobConfirmationRequired(exc.doing, exc.estimate) from None
        job_id, created = self._record(plan, estimate)
        if not created:
            return self._stored(job_id)
        try:
            client = self.clients.get("bedrock")
            answer = call_with_backoff(
                lambda: client.create_model_customization_job(**plan.request, clientRequestToken=plan.token),
                sleep=self._sleep,
            )
        except Exception as exc:
            # Nothing was started: forget the record, so the same request can be sent again.
            self.store.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
            raise JobError(str(explain_aws_error(exc))) from exc
        self.store.execute(
            f"UPDATE jobs SET remote_arn = ?, started_at = {NOW_SQL}, updated_at = {NOW_SQL} WHERE id = ?",
            (answer["jobArn"], job_id),
        )
        return self._stored(job_id)

    # ---- watch, stop, delete ------------------------------------------------------------------------------

    def get(self, job_id: str) -> Job:
        if _is_arn(job_id) and self._row_by_arn(job_id) is None:
            return self._foreign_job(self._describe(job_id))
        stored_id = self._row_by_arn(job_id) if _is_arn(job_id) else job_id
        job = self._stored(stored_id or job_id)
        if job.backend == BEDROCK_BACKEND and job.active and self._due(job.id):
            self._quietly(lambda: self._refresh_one(job))
            job = self._stored(job.id)
        return job

    def list(self) -> builtins.list[Job]:
        # One paginated listing refreshes every studio job it holds (at most every refresh interval).
        self.runner.reconcile()
        self._quietly(self._refresh_listing)
        stored = [self._enriched(job) for job in self.runner.list()]
        known = {job.remote_arn for job in stored if job.remote_arn}
        foreign = [job for job in self._foreign if job.remote_arn not in known]
        return sorted([*stored, *foreign], key=lambda job: job.created_at, reverse=True)

    def stop(self, job_id: str) -> Job:
        stored_id = self._row_by_arn(job_id) if _is_arn(job_id) else job_id
        job = self._stored(stored_id) if stored_id else None
        if job is not None and job.backend != BEDROCK_BACKEND:
            return self.runner.stop(job.id)
        if job is not None and job.finished:
            raise JobError(f"Job {job.name!r} has already ended ({job.status}); there is nothing to stop.")
        arn = job.remote_arn if job is not None else job_id
        if not arn:
            raise JobError(f"Job {job_id!r} has not reached Amazon Bedrock yet: wait a moment, then stop it.")
        client = self.clients.get("bedrock", self._region(job))
        try:
            call_with_backoff(lambda: client.stop_model_customization_job(jobIdentifier=arn), sleep=self._sleep)
        except Exception as exc:
            raise JobError(str(explain_aws_error(exc))) from exc
        if job is None:
            return self.get(arn)
        self.store.execute(
            f"UPDATE jobs SET status = ?, stop_requested = 1, updated_at = {NOW_SQL} "
            f"WHERE id = ? AND status IN {ACTIVE_SQL}",
            (JobStatus.STOPPING.value, job.id),
        )
        self._refreshed.pop(job.id, None)
        return self._stored(job.id)

    def reconcile(self) -> builtins.list[str]:
        ended = self.runner.reconcile()
        for job in self._active_bedrock_rows():
            before = job.status
            self._quietly(functools.partial(self._refresh_one, job))
            if self._stored(job.id).status != before and self._stored(job.id).finished:
                ended.append(job.id)
        return ended

    def delete(self, job_id: str) -> None:
        if _is_arn(job_id) and self._row_by_arn(job_id) is None:
            raise JobError("That job was not started from this studio, so there is no record here to delete.")
        self.runner.delete(job_id)

    def metrics(self, job_id: str) -> builtins.list[dict[str, object]]:
        job = self.get(job_id)
        if job.backend != BEDROCK_BACKEND:
            return self.runner.metrics(job_id)
        stored = self.runner.metrics(job.id) if not _is_arn(job.id) else []
        if stored and job.finished:
            return stored
        if job.phase_statuses.get("Training", "NotStarted") == "NotStarted" or not job.remote_arn:
            return stored
        last = self._metrics_read.get(job.id)
        if last is not None and self._clock() - last < self.refresh_interval_s:
            return stored  # read again at most every refresh interval
        self._metrics_read[job.id] = self._clock()
        output = self._output_uri(job)
        rows: builtins.list[dict[str, object]] | None = None

        def read() -> None:
            nonlocal rows
            rows = self._read_metrics(output, job)

        self._quietly(read)
        if rows is None:
            return stored
        if not _is_arn(job.id) and rows:
            with self.store.transaction() as conn:
                conn.execute("DELETE FROM job_metrics WHERE job_id = ?", (job.id,))
                conn.executemany(
                    "INSERT INTO job_metrics (job_id, step, epoch, name, value, recorded_at) "
                    f"VALUES (?, ?, ?, ?, ?, {NOW_SQL})",
                    [(job.id, row["step"], row["epoch"], row["name"], row["value"]) for row in rows],
                )
        return rows

    def log_text(self, job_id: str, max_chars: int = 20_000) -> str:
        job = self.get(job_id)
        if job.backend != BEDROCK_BACKEND:
            return self.runner.log_text(job_id, max_chars)
        lines = [f"Amazon Bedrock job {job.remote_arn or '(not submitted yet)'}", f"status: {job.status}"]
        lines += [f"{phase}: {state}" for phase, state in job.phases()]
        if job.failure_message:
            lines.append(f"failure: {job.failure_message}")
        row = self.store.query_one("SELECT request_json, region FROM bedrock_jobs WHERE job_id = ?", (job.id,))
        if row is not None:
            lines += [f"region: {row['region']}", "request:", json.dumps(json.loads(row["request_json"]), indent=2)]
        return "\n".join(lines)[-max_chars:]

    # ---- local students taught by the Bedrock teacher --------------------------------------------------------

    def _submit_local(self, name: str, dataset_id: str, values: dict[str, object], confirm: bool) -> Job:
        unknown = sorted(set(values) - LOCAL_SETTINGS - _training_settings())
        if unknown:
            raise JobError(f"Job setting {unknown[0]!r} is for Bedrock students: the local student does not take it.")
        teacher = values.get("teacher")
        if teacher not in (None, "", self.teacher_name) and _teacher_key(str(teacher)) != DEFAULT_TEACHER:
            raise JobError(
                f"The local student learns from {self.teacher_name}'s labels: choose that teacher, "
                "or a Bedrock student."
            )
        estimate = self._local_estimate(dataset_id)
        try:
            require_confirmation(f"Labelling the prompts with {self.teacher_name}", estimate, confirm)
        except ConfirmationRequired as exc:
            raise JobConfirmationRequired(exc.doing, exc.estimate) from None
        values = {key: value for key, value in values.items() if key != "teacher"}
        return self.runner.submit(name, dataset_id, values, confirm=confirm)

    def _local_estimate(self, dataset_id: str) -> CostEstimate:
        info = self._dataset(dataset_id)
        if info.kind == "labelled":
            return CostEstimate(
                (CostItem("Training on this machine", 0.0, "the dataset is labelled already: no teacher calls"),)
            )
        queries = _dataset_queries(info.path)
        teacher = MODELS[DEFAULT_TEACHER]
        item = token_cost_item(
            f"Labelling with {teacher.name}", queries, teacher.key, self.prices, DEFAULT_TEACHER_PROMPT.render
        )
        return CostEstimate((item, CostItem("Training on this machine", 0.0)))

    # ---- planning ---------------------------------------------------------------------------------------------

    def _training_data(self, settings: BedrockDistillParams, dataset_id: str) -> tuple[dict[str, Any], str | None]:
        if settings.training_data == "invocation-logs":
            logs = (settings.invocation_logs_s3_uri or "").strip()
            problem = check_s3_uri(logs) if logs else "Give the S3 URI of the invocation logs to train from."
            problem = problem or check_log_filter(settings.log_filter)
            if problem:
                raise JobError(problem)
            config: dict[str, Any] = {
                "usePromptResponse": settings.use_prompt_response,
                "invocationLogSource": {"s3Uri": logs},
                "requestMetadataFilters": log_filters(settings.log_filter),
            }
            return {"invocationLogsConfig": config}, None
        info = self._dataset(dataset_id)
        if not info.s3_uri:
            raise JobError(
                f"Dataset {info.name!r} is not in S3 yet: upload it to your bucket first, since Bedrock jobs read "
                "their training data from there."
            )
        if not MIN_RECORDS <= info.records <= MAX_RECORDS:
            raise JobError(
                f"Dataset {info.name!r} has {info.records:,} records: a Bedrock distillation job takes "
                f"{MIN_RECORDS:,} to {MAX_RECORDS:,}."
            )
        return {"s3Uri": info.s3_uri}, info.id

    def _estimate_plan(self, plan: JobPlan) -> CostEstimate:
        dataset = self._dataset(plan.dataset_id) if plan.dataset_id is not None else None
        return self._estimate(plan.teacher, plan.student, plan.params, dataset)

    def _estimate(
        self, teacher: BedrockModel, student: BedrockModel, params: BedrockDistillParams, info
    ) -> CostEstimate:
        items: list[CostItem] = []
        notes: list[str] = []
        student_key = student.key
        training_tokens: int | None = None
        if info is not None:
            texts = _dataset_inputs(info.path)
            if info.kind == "prompt-only":
                item = token_cost_item(f"Teacher answers ({teacher.name})", texts, teacher.key, self.prices, str)
                most = token_cost_item(
                    "", texts, teacher.key, self.prices, str, output_tokens_each=params.max_response_length
                )
                items.append(item)
                if most.usd is not None:
                    notes.append(
                        f"At most {most.shown_usd()} for the teacher if every answer used all "
                        f"{params.max_response_length:,} tokens of maxResponseLengthForInference."
                    )
            else:
                notes.append("Your prompt-response pairs are used as written; Bedrock may still call the teacher.")
            notes.append("Bedrock may also write extra prompts from yours, billed at the teacher's token price.")
            training_tokens = sum(estimate_tokens(text) + TYPICAL_REPLY_TOKENS for text in texts)
        else:
            if not params.use_prompt_response:
                items.append(
                    CostItem(
                        f"Teacher answers ({teacher.name})",
                        None,
                        "one call per logged prompt the filter selects",
                        advice="count the matching calls in your invocation logs",
                    )
                )
            notes.append("Training data comes from your invocation logs: their size sets the cost.")
        rate = billing_rate(self.store, "training_per_million_tokens", student_key)
        training_usd = rate * training_tokens / 1e6 if rate is not None and training_tokens is not None else None
        detail = f"about {training_tokens:,} tokens a pass; Bedrock chooses the passes" if training_tokens else ""
        items.append(
            CostItem(f"Training {student.name}", training_usd, detail, advice="enter the training price in Settings")
        )
        storage = billing_rate(self.store, "storage_per_month", student_key)
        items.append(
            CostItem(
                "custom model storage", storage, recurring="per month", advice="enter the storage price in Settings"
            )
        )
        return CostEstimate(tuple(items), tuple(notes))

    def _check_model_name(self, model_name: str) -> None:
        from core.model_registry import ModelRegistry

        problem = check_custom_model_name(model_name)
        if problem:
            raise JobError(problem)
        if ModelRegistry(self.store, self.data_dir).name_taken(model_name):
            raise JobError(f"A model named {model_name!r} already exists; choose another model name.")

    def _default_output(self, name: str) -> str | None:
        return f"s3://{self.default_bucket}/{JOB_OUTPUT_ROOT}/{name}/" if self.default_bucket else None

    def _dataset(self, dataset_id: str):
        from core.datasets.library import DatasetLibrary

        found = DatasetLibrary(self.store, self.data_dir).find(dataset_id or "")
        if found is None:
            raise JobError(f"The training dataset {dataset_id!r} is not in the library; import or generate it first.")
        return found

    # ---- records ------------------------------------------------------------------------------------------------

    def _record(self, plan: JobPlan, estimate: CostEstimate) -> tuple[str, bool]:
        """The job's record, made before the call; (id, False) when the same request was recorded meanwhile."""
        job_id = "job-" + uuid.uuid4().hex[:12]
        try:
            with self.store.transaction() as conn:
                maker = job_making_model(conn, plan.params.model_name or "")
                if maker is not None:
                    raise JobError(
                        f"Job {maker!r} is already making a model named {plan.params.model_name!r}; "
                        "choose another model name."
                    )
                conn.execute(
                    "INSERT INTO jobs (id, name, backend, status, phase, progress, dataset_id, teacher, student, "
                    f"params_json, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?, ?, {NOW_SQL}, {NOW_SQL})",
                    (
                        job_id,
                        plan.name,
                        BEDROCK_BACKEND,
                        JobStatus.IN_PROGRESS.value,
                        JobPhase.VALIDATION.value,
                        plan.dataset_id,
                        plan.teacher.name,
                        plan.params.student,
                        json.dumps(plan.params.model_dump()),
                    ),
                )
                conn.execute(
                    "INSERT INTO bedrock_jobs (job_id, client_request_token, region, request_json, output_s3_uri, "
                    "estimate_json) VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        job_id,
                        plan.token,
                        self.clients.region,
                        json.dumps(plan.request),
                        plan.output_s3_uri,
                        json.dumps(estimate.to_json_dict()),
                    ),
                )
        except sqlite3.IntegrityError as exc:
            existing = self._job_with_token(plan.token)
            if existing is not None:
                return existing.id, False
            raise JobError(f"A job named {plan.name!r} already exists; choose another name.") from exc
        return job_id, True

    def _job_with_token(self, token: str) -> Job | None:
        row = self.store.query_one("SELECT job_id FROM bedrock_jobs WHERE client_request_token = ?", (token,))
        return self._stored(row["job_id"]) if row else None

    def _row_by_arn(self, arn: str) -> str | None:
        row = self.store.query_one("SELECT id FROM jobs WHERE remote_arn = ?", (arn,))
        return row["id"] if row else None

    def _stored(self, job_id: str) -> Job:
        return self._enriched(load_job(self.store, job_id))

    def _enriched(self, job: Job) -> Job:
        if job.backend != BEDROCK_BACKEND:
            return job
        row = self.store.query_one("SELECT status_details_json FROM bedrock_jobs WHERE job_id = ?", (job.id,))
        details = json.loads(row["status_details_json"]) if row else {}
        return dataclasses.replace(job, phase_statuses=details) if details else job

    def _active_bedrock_rows(self) -> builtins.list[Job]:
        rows = self.store.query(f"SELECT id FROM jobs WHERE backend = ? AND status IN {ACTIVE_SQL}", (BEDROCK_BACKEND,))
        return [self._stored(row["id"]) for row in rows]

    def _region(self, job: Job | None) -> str | None:
        if job is None:
            return None
        row = self.store.query_one("SELECT region FROM bedrock_jobs WHERE job_id = ?", (job.id,))
        return row["region"] if row else None

    def _output_uri(self, job: Job) -> str:
        row = self.store.query_one("SELECT output_s3_uri FROM bedrock_jobs WHERE job_id = ?", (job.id,))
        if row is not None:
            return row["output_s3_uri"]
        return str(job.params.get("output_s3_uri") or "")

    # ---- refreshing from Bedrock ------------------------------------------------------------------------------

    def _due(self, job_id: str) -> bool:
        last = self._refreshed.get(job_id)
        return last is None or self._clock() - last >= self.refresh_interval_s

    def _quietly(self, work: Callable[[], object]) -> None:
        """Run a read from AWS; a failure becomes the notice (the stored state is shown meanwhile)."""
        try:
            with self._lock:
                work()
        except (StudioAwsError, JobError) as exc:
            self._notice = f"Amazon Bedrock could not be read just now, so jobs show their last known state: {exc}"
        except Exception as exc:  # anything botocore raises, explained once
            self._notice = (
                "Amazon Bedrock could not be read just now, so jobs show their last known state: "
                f"{explain_aws_error(exc)}"
            )
        else:
            self._notice = None

    def _describe(self, arn_or_name: str, job_id: str | None = None) -> dict[str, Any]:
        region = self._region(self._stored(job_id)) if job_id else None
        client = self.clients.get("bedrock", region)
        try:
            return call_with_backoff(
                lambda: client.get_model_customization_job(jobIdentifier=arn_or_name), sleep=self._sleep
            )
        except Exception as exc:
            raise explain_aws_error(exc) from exc

    def _refresh_one(self, job: Job) -> None:
        if not self._due(job.id):
            return
        if job.remote_arn:
            self._apply(job, self._describe(job.remote_arn, job.id))
        elif age_s(job.created_at) > SUBMIT_GRACE_S:
            self._find_lost_submit(job)

    def _find_lost_submit(self, job: Job) -> None:
        """A row whose create call never answered: Bedrock knows the job by name, or it never started."""
        try:
            found = self._describe(job.name, job.id)
        except StudioAwsError as exc:
            if exc.kind != "not-found":
                raise
            self.store.execute(
                f"UPDATE jobs SET status = ?, failure_message = ?, ended_at = {NOW_SQL}, updated_at = {NOW_SQL} "
                f"WHERE id = ? AND status IN {ACTIVE_SQL}",
                (
                    JobStatus.FAILED.value,
                    "The job never reached Amazon Bedrock (the studio stopped before it answered): start it again.",
                    job.id,
                ),
            )
            return
        self.store.execute("UPDATE jobs SET remote_arn = ? WHERE id = ?", (found["jobArn"], job.id))
        self._apply(self._stored(job.id), found)

    def _refresh_listing(self) -> None:
        if self._listed_at is not None and self._clock() - self._listed_at < self.refresh_interval_s:
            return
        client = self.clients.get("bedrock")
        seen: set[str] = set()
        foreign: list[Job] = []
        token: str | None = None
        while len(seen) < LISTED_JOBS_LIMIT:
            request: dict[str, Any] = {
                "sortBy": "CreationTime",
                "sortOrder": "Descending",
                "maxResults": LIST_PAGE_SIZE,
            }
            if token:
                request["nextToken"] = token
            try:
                page = call_with_backoff(
                    functools.partial(client.list_model_customization_jobs, **request), sleep=self._sleep
                )
            except Exception as exc:
                raise explain_aws_error(exc) from exc
            for summary in page.get("modelCustomizationJobSummaries", []):
                seen.add(summary["jobArn"])
                row = self._row_by_arn(summary["jobArn"])
                if row is not None:
                    self._apply(self._stored(row), summary)
                elif summary.get("customizationType") == "DISTILLATION":
                    foreign.append(self._foreign_job(summary))
            token = page.get("nextToken")
            if not token:
                break
        self._foreign = foreign
        self._listed_at = self._clock()
        for job in self._active_bedrock_rows():
            if job.remote_arn not in seen:
                self._refresh_one(job)

    def _apply(self, job: Job, answer: Mapping[str, Any]) -> None:
        """Write what Bedrock says about a job (a get answer or a list summary) to its record."""
        details = answer.get("statusDetails") or {}
        phases = {
            phase: str((details.get(key) or {}).get("status"))
            for phase, key in DETAIL_KEYS.items()
            if (details.get(key) or {}).get("status")
        }
        status = str(answer.get("status") or job.status)
        failure = answer.get("failureMessage")
        if status == JobStatus.FAILED and not failure and "failureMessage" not in answer and job.remote_arn:
            failure = self._describe(job.remote_arn, job.id).get("failureMessage")  # summaries carry no message
        model_id = job.model_id
        model_arn = answer.get("outputModelArn") or answer.get("customModelArn")
        if status == JobStatus.COMPLETED and model_arn and model_id is None:
            name = answer.get("outputModelName") or answer.get("customModelName") or job.params.get("model_name")
            loss = (answer.get("trainingMetrics") or {}).get("trainingLoss")
            model_id = self._register_model(job, str(name or job.name), str(model_arn), loss)
        finished = status in FINISHED_WORDS
        ended = (stamp(answer.get("endTime")) or now_stamp()) if finished else None
        self.store.execute(
            "UPDATE jobs SET status = ?, phase = ?, progress = ?, failure_message = COALESCE(?, failure_message), "
            f"model_id = ?, started_at = COALESCE(started_at, ?), ended_at = COALESCE(?, ended_at), "
            f"updated_at = {NOW_SQL} WHERE id = ?",
            (
                status,
                current_phase(phases),
                phase_progress(phases, status),
                trimmed_aws_message(str(failure), 400) + "." if failure else None,
                model_id,
                stamp(answer.get("creationTime")),
                ended,
                job.id,
            ),
        )
        self.store.execute(
            f"UPDATE bedrock_jobs SET status_details_json = ?, output_model_arn = COALESCE(?, output_model_arn), "
            f"refreshed_at = {NOW_SQL} WHERE job_id = ?",
            (json.dumps(phases), model_arn, job.id),
        )
        self._refreshed[job.id] = self._clock()

    def _register_model(self, job: Job, name: str, arn: str, loss: object) -> str:
        """The distilled model in the registry, with its lineage: the job, its dataset, its teacher."""
        from core.model_registry import ModelRegistry, ModelRegistryError

        registry = ModelRegistry(self.store, self.data_dir)
        existing = self.store.query_one("SELECT id FROM models WHERE arn = ?", (arn,))
        if existing is not None:
            return existing["id"]
        metrics = {"training_loss": float(loss)} if isinstance(loss, (int, float)) else {}
        candidate, number = name, 2
        while True:
            try:
                return registry.register(candidate, job.id, job.dataset_id, None, metrics, arn=arn).id
            except ModelRegistryError:
                if not registry.name_taken(candidate):
                    raise
                candidate, number = f"{name[:56]}-{number}", number + 1

    def _foreign_job(self, answer: Mapping[str, Any]) -> Job:
        """A distillation job started outside the studio (the console, another tool): shown, not recorded."""
        details = answer.get("statusDetails") or {}
        phases = {
            phase: str((details.get(key) or {}).get("status"))
            for phase, key in DETAIL_KEYS.items()
            if (details.get(key) or {}).get("status")
        }
        status = str(answer.get("status", JobStatus.IN_PROGRESS.value))
        created = stamp(answer.get("creationTime")) or now_stamp()
        base = str(answer.get("baseModelArn", "")).rsplit("/", 1)[-1]
        failure = answer.get("failureMessage")
        return Job(
            id=str(answer["jobArn"]),
            name=str(answer.get("jobName", "")),
            backend=BEDROCK_BACKEND,
            status=status,
            phase=current_phase(phases),
            progress=phase_progress(phases, status),
            dataset_id=None,
            teacher=None,
            student=base or None,
            pid=None,
            stop_requested=False,
            failure_message=trimmed_aws_message(str(failure), 400) + "." if failure else None,
            model_id=None,
            remote_arn=str(answer["jobArn"]),
            created_at=created,
            started_at=created,
            ended_at=stamp(answer.get("endTime")),
            updated_at=stamp(answer.get("lastModifiedTime")) or created,
            params={
                "origin": "started outside the studio",
                "output_s3_uri": (answer.get("outputDataConfig") or {}).get("s3Uri"),
            },
            phase_statuses=phases,
        )

    def _read_metrics(self, output_uri: str, job: Job) -> builtins.list[dict[str, object]]:
        """The job's step_wise_training_metrics.csv from its output prefix ([] while it is not there yet)."""
        from core.aws.s3 import parse_s3_uri

        bucket, prefix = parse_s3_uri(output_uri)
        found = _ARN_ID.search(job.remote_arn or "")
        job_key = found.group(1) if found else None
        s3 = self.clients.get("s3", self._region(job) if not _is_arn(job.id) else None)
        candidates: list[str] = []
        token: str | None = None
        for _ in range(METRICS_LISTING_PAGES):
            request: dict[str, Any] = {"Bucket": bucket, "Prefix": f"{prefix}/" if prefix else ""}
            if token:
                request["ContinuationToken"] = token
            try:
                page = s3.list_objects_v2(**request)
            except Exception as exc:
                raise explain_aws_error(exc) from exc
            candidates += [item["Key"] for item in page.get("Contents", []) if item["Key"].endswith(METRICS_SUFFIX)]
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                break
        mine = [key for key in candidates if job_key and job_key in key] or (candidates if len(candidates) == 1 else [])
        if not mine:
            return []
        try:
            body = s3.get_object(Bucket=bucket, Key=mine[0])["Body"].read()
        except Exception as exc:
            raise explain_aws_error(exc) from exc
        return parse_metrics_csv(body.decode("utf-8", errors="replace"))


def log_filters(pairs: Mapping[str, str]) -> dict[str, Any]:
    """requestMetadataFilters for key=value pairs a logged call must all carry."""
    equals = [{"equals": {key: value}} for key, value in pairs.items()]
    return equals[0] if len(equals) == 1 else {"andAll": equals}


def _parse(params: Mapping[str, object] | None) -> BedrockDistillParams:
    try:
        return BedrockDistillParams.model_validate(dict(params or {}))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = str(first["loc"][0]) if first["loc"] else "params"
        if first["type"] == "extra_forbidden":
            raise JobError(
                f"Job setting {where!r} is not one a Bedrock student takes: Bedrock chooses its own training settings."
            ) from exc
        raise JobError(f"Job setting {where!r} is not valid: {first['msg']}.") from exc


def _is_local(values: Mapping[str, object]) -> bool:
    return values.get("student") in {student.key for student in LOCAL_STUDENTS}


def _training_settings() -> set[str]:
    from core.distill.trainer import TrainingConfig

    return set(TrainingConfig.model_fields)


def _all_students() -> tuple[str, ...]:
    return tuple(dict.fromkeys(key for students in DISTILLATION_PAIRS.values() for key in students))


def _teacher_key(teacher: str | None) -> str:
    """A teacher of the distillation pairs by key, name or model id; JobError names the ones there are."""
    if not teacher:
        return DEFAULT_TEACHER
    wanted = teacher.strip()
    for key in DISTILLATION_PAIRS:
        model = MODELS[key]
        if wanted in (key, model.name, model.invoke_id, model.customization_id):
            return key
    names = " or ".join(MODELS[key].name for key in DISTILLATION_PAIRS)
    raise JobError(f"{wanted!r} cannot teach a Bedrock distillation job: choose {names}.")


def _student_model(student: str, teacher: BedrockModel) -> BedrockModel:
    key = student.removeprefix(STUDENT_PREFIX)
    allowed = DISTILLATION_PAIRS[teacher.key]
    if key not in allowed:
        names = ", ".join(MODELS[k].name for k in allowed)
        raise JobError(f"{teacher.name} cannot distil into {student!r} on Amazon Bedrock: choose one of {names}.")
    return MODELS[key]


def _model_name_for(job_name: str) -> str:
    """A custom model name from a job name: job names may hold '.' and '+', model names may not."""
    return re.sub(r"[^0-9A-Za-z]+", "-", job_name).strip("-")[:63] or "router-student"


def _dataset_queries(path: Path) -> builtins.list[str]:
    stat = path.stat()
    return list(_cached_queries(str(path), stat.st_mtime_ns, stat.st_size))


@functools.lru_cache(maxsize=8)
def _cached_queries(path: str, mtime_ns: int, size: int) -> tuple[str, ...]:
    from core.datasets.files import read_dataset

    loaded = read_dataset(Path(path), min_records=1, max_records=10**6)
    return tuple(query or "" for query in loaded.queries)


def _dataset_inputs(path: Path) -> builtins.list[str]:
    """What the teacher reads for each record of a dataset: its system text and its prompt (read once per version
    of the file: the launch form estimates again as each setting is typed)."""
    stat = path.stat()
    return list(_cached_inputs(str(path), stat.st_mtime_ns, stat.st_size))


@functools.lru_cache(maxsize=8)
def _cached_inputs(path: str, mtime_ns: int, size: int) -> tuple[str, ...]:
    return tuple(_read_inputs(Path(path)))


def _read_inputs(path: Path) -> builtins.list[str]:
    from core.datasets.files import read_dataset

    loaded = read_dataset(path, min_records=1, max_records=10**6)
    texts = []
    for record, query in zip(loaded.records, loaded.queries, strict=True):
        system = " ".join(block.get("text", "") for block in record.get("system") or [] if isinstance(block, dict))
        texts.append(f"{system}\n{query or ''}")
    return texts


def _is_arn(value: str) -> bool:
    return value.startswith("arn:aws")
