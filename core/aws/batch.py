"""Teacher labelling as Amazon Bedrock batch inference, for large sets at about half the on-demand price.

`create_model_invocation_job` with Converse-format records (`modelInvocationType="Converse"`): each
record is `{"recordId", "modelInput"}` where modelInput is the teacher's Converse body, exactly what an
on-demand call sends (core.routers.bedrock BedrockRouter.model_input). The input JSONL goes to S3 under
`<prefix>/<run id>/input.jsonl` (and stays in the data directory, so results can be joined), the output
comes back under `<prefix>/<run id>/output/`. Results arrive in any order: they are joined on recordId,
a record Bedrock could not answer (an `error` instead of `modelOutput`) or left out is listed as failed,
and every answer goes through the same parsing, rounding and pricing as an on-demand one.
"""

from __future__ import annotations

import builtins
import collections
import hashlib
import json
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.aws.backoff import call_with_backoff
from core.aws.errors import explain_aws_error, trimmed_aws_message
from core.aws.names import check_bucket_name, check_invocation_job_name, check_role_arn, check_s3_uri, check_tags
from core.aws.runtime import read_converse
from core.aws.session import Clients
from core.aws.timestamps import stamp
from core.estimates import CostEstimate, require_confirmation, router_labelling_estimate
from core.files import atomic_write_bytes, path_inside
from core.labelling import DatasetLabelling, LabelRun, label_queries
from core.pricing import BATCH_PRICE_FACTOR, ModelPrice, PriceTable
from core.routers.base import Router, RouterReply
from core.routers.bedrock import BedrockRouter, router_reply
from core.store import NOW_SQL, Store

MIN_BATCH_RECORDS = 100
MAX_BATCH_RECORDS = 50_000
BATCH_ROOT = "video-search-router/batch"
BATCH_FOLDER = "batch"
INPUT_FILE = "input.jsonl"
# The queries in record order (record i is queries[i]), kept beside the input to join the results on.
QUERIES_FILE = "queries.json"
OUTPUT_SUFFIX = ".jsonl.out"
MANIFEST_KEY = "manifest.json.out"
STATUSES = (
    "Submitted",
    "Validating",
    "Scheduled",
    "InProgress",
    "Completed",
    "PartiallyCompleted",
    "Failed",
    "Stopping",
    "Stopped",
    "Expired",
)
ACTIVE_STATUSES = frozenset({"Submitted", "Validating", "Scheduled", "InProgress", "Stopping"})
# The statuses whose output can be read: every record, or those Bedrock got to before it ended.
RESULT_STATUSES = frozenset({"Completed", "PartiallyCompleted", "Stopped", "Expired"})
OUTPUT_LISTING_PAGES = 20
MISSING_RESULT = "Amazon Bedrock returned no result for this record: label it again on demand."


class BatchError(Exception):
    """A batch request that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class BatchRun:
    id: str
    name: str
    status: str
    message: str | None
    model_id: str
    job_arn: str | None
    records: int
    input_s3_uri: str
    output_s3_uri: str
    created_at: str
    updated_at: str
    ended_at: str | None
    counts: dict[str, int] = field(default_factory=dict)
    estimate: dict[str, Any] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def has_results(self) -> bool:
        return self.status in RESULT_STATUSES

    def to_json_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "status": self.status,
            "message": self.message,
            "model_id": self.model_id,
            "job_arn": self.job_arn,
            "records": self.records,
            "input_s3_uri": self.input_s3_uri,
            "output_s3_uri": self.output_s3_uri,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "ended_at": self.ended_at,
            "counts": dict(self.counts),
            "estimate": dict(self.estimate),
            "source": dict(self.source),
        }


def record_id(index: int) -> str:
    """An 11-character alphanumeric record id, as Bedrock's batch examples use."""
    return f"r{index:010d}"


def batch_records(router: BedrockRouter, queries: Sequence[str]) -> list[dict[str, Any]]:
    """Converse-format batch records: the same body an on-demand call of this router sends."""
    return [{"recordId": record_id(i), "modelInput": router.model_input(query)} for i, query in enumerate(queries)]


def invocation_token(request: dict[str, Any], body: bytes) -> str:
    """The clientRequestToken of a batch: the same request on the same records always gets the same token."""
    digest = hashlib.sha256(json.dumps(request, sort_keys=True).encode("utf-8") + body).hexdigest()
    return f"vsrs{digest[:48]}"


class BatchInference:
    """Batch runs of a Bedrock teacher: estimate, start, watch, stop, and the labels joined back on recordId."""

    def __init__(
        self,
        store: Store,
        data_dir: Path,
        clients: Clients,
        *,
        role_arn: str | None = None,
        bucket: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.store = store
        self.data_dir = Path(data_dir)
        self.clients = clients
        self.default_role_arn = role_arn
        self.default_bucket = bucket
        self._sleep = sleep

    def estimate(self, router: Router, queries: Sequence[str]) -> CostEstimate:
        """The teacher's tokens at the batch price (about half of on demand)."""
        return router_labelling_estimate(router, queries, batch=True)

    def start(
        self,
        name: str,
        router: Router,
        queries: Sequence[str],
        *,
        source: dict[str, Any] | None = None,
        bucket: str | None = None,
        prefix: str = BATCH_ROOT,
        role_arn: str | None = None,
        timeout_hours: int | None = None,
        tags: dict[str, str] | None = None,
        confirm: bool = False,
    ) -> BatchRun:
        """Upload the records and create the batch job (once per request: a repeat returns the same run)."""
        if not isinstance(router, BedrockRouter):
            raise BatchError("Batch inference runs a model on Amazon Bedrock: choose a Bedrock teacher.")
        name = (name or "").strip()
        bucket = (bucket or self.default_bucket or "").strip()
        role_arn = (role_arn or self.default_role_arn or "").strip()
        queries = [query.strip() for query in queries]
        for problem in (
            check_invocation_job_name(name),
            check_bucket_name(bucket)
            if bucket
            else "Give the S3 bucket the batch reads and writes: save it in Settings.",
            check_role_arn(role_arn)
            if role_arn
            else "Give the IAM service role the batch runs as: save it in Settings.",
            check_tags(tags or {}, "tags"),
            "Every record needs a query: remove the empty lines first." if not all(queries) else None,
            _count_problem(len(queries)),
            None if timeout_hours is None or 24 <= timeout_hours <= 168 else "The timeout must be 24 to 168 hours.",
        ):
            if problem:
                raise BatchError(problem)
        # From the name (unique among batches), so a repeated request maps to the same paths and token.
        run_id = "batch-" + hashlib.sha256(name.encode("utf-8")).hexdigest()[:12]
        base = f"{prefix.strip('/')}/{run_id}" if prefix.strip("/") else run_id
        input_uri, output_uri = f"s3://{bucket}/{base}/{INPUT_FILE}", f"s3://{bucket}/{base}/output/"
        for problem in (check_s3_uri(input_uri), check_s3_uri(output_uri)):
            if problem:
                raise BatchError(problem)
        body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in batch_records(router, queries)).encode()
        request: dict[str, Any] = {
            "jobName": name,
            "roleArn": role_arn,
            "modelId": router.model_id,
            "inputDataConfig": {"s3InputDataConfig": {"s3InputFormat": "JSONL", "s3Uri": input_uri}},
            "outputDataConfig": {"s3OutputDataConfig": {"s3Uri": output_uri}},
            "modelInvocationType": "Converse",
        }
        if timeout_hours is not None:
            request["timeoutDurationInHours"] = timeout_hours
        if tags:
            request["tags"] = [{"key": key, "value": value} for key, value in tags.items()]
        token = invocation_token(request, body)
        existing = self.store.query_one("SELECT id FROM batch_runs WHERE client_request_token = ?", (token,))
        if existing is not None:
            return self._stored(existing["id"])
        estimate = self.estimate(router, queries)
        require_confirmation(f"Labelling {len(queries):,} prompts as a batch with {router.model_id}", estimate, confirm)
        self._record(run_id, name, token, router, queries, input_uri, output_uri, estimate, source or {}, body)
        try:
            s3 = self.clients.get("s3")
            key = f"{base}/{INPUT_FILE}"
            s3.put_object(
                Bucket=bucket, Key=key, Body=body, ContentType="application/jsonl", ServerSideEncryption="AES256"
            )
            client = self.clients.get("bedrock")
            answer = call_with_backoff(
                lambda: client.create_model_invocation_job(**request, clientRequestToken=token), sleep=self._sleep
            )
        except Exception as exc:
            self.store.execute("DELETE FROM batch_runs WHERE id = ?", (run_id,))
            raise BatchError(str(explain_aws_error(exc))) from exc
        self.store.execute(
            f"UPDATE batch_runs SET job_arn = ?, updated_at = {NOW_SQL} WHERE id = ?", (answer["jobArn"], run_id)
        )
        return self._stored(run_id)

    def get(self, run_id: str) -> BatchRun:
        """The run as Bedrock reports it now (a finished one as it ended)."""
        run = self._stored(run_id)
        if run.job_arn is None or not run.active:
            return run
        client = self.clients.get("bedrock")
        try:
            answer = call_with_backoff(
                lambda: client.get_model_invocation_job(jobIdentifier=run.job_arn), sleep=self._sleep
            )
        except Exception as exc:
            raise BatchError(str(explain_aws_error(exc))) from exc
        counts = {
            key: int(answer[key])
            for key in ("totalRecordCount", "processedRecordCount", "successRecordCount", "errorRecordCount")
            if key in answer
        }
        message = trimmed_aws_message(str(answer["message"]), 400) + "." if answer.get("message") else None
        self.store.execute(
            "UPDATE batch_runs SET status = ?, message = ?, counts_json = ?, ended_at = COALESCE(?, ended_at), "
            f"updated_at = {NOW_SQL} WHERE id = ?",
            (answer["status"], message, json.dumps(counts), stamp(answer.get("endTime")), run_id),
        )
        return self._stored(run_id)

    def list(self) -> builtins.list[BatchRun]:
        rows = self.store.query("SELECT id FROM batch_runs ORDER BY created_at DESC, rowid DESC")
        return [self._stored(row["id"]) for row in rows]

    def wait(
        self,
        run_id: str,
        *,
        interval_s: float = 60.0,
        on_poll: Callable[[BatchRun], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> BatchRun:
        """Poll until the run ends (or `should_stop`); batch jobs take minutes to hours."""
        while True:
            run = self.get(run_id)
            if on_poll is not None:
                on_poll(run)
            if not run.active or (should_stop is not None and should_stop()):
                return run
            self._sleep(interval_s)

    def stop(self, run_id: str) -> BatchRun:
        run = self.get(run_id)
        if not run.active:
            raise BatchError(f"Batch {run.name!r} has already ended ({run.status}); there is nothing to stop.")
        if run.job_arn is None:
            raise BatchError(f"Batch {run.name!r} has not reached Amazon Bedrock yet: wait a moment, then stop it.")
        client = self.clients.get("bedrock")
        try:
            call_with_backoff(lambda: client.stop_model_invocation_job(jobIdentifier=run.job_arn), sleep=self._sleep)
        except Exception as exc:
            raise BatchError(str(explain_aws_error(exc))) from exc
        self.store.execute(f"UPDATE batch_runs SET status = 'Stopping', updated_at = {NOW_SQL} WHERE id = ?", (run_id,))
        return self._stored(run_id)

    def results(self, run_id: str, router: BedrockRouter) -> LabelRun:
        """The run's labels in query order, joined on recordId; missing and refused records are failures."""
        run = self.get(run_id)
        if not run.has_results:
            raise BatchError(f"Batch {run.name!r} is {run.status}: its results can be read once it has finished.")
        queries = self.queries(run_id)
        answers, manifest = self._read_output(run)
        replies: dict[str, collections.deque[RouterReply]] = collections.defaultdict(collections.deque)
        for index, query in enumerate(queries):
            replies[query].append(answers.get(record_id(index)) or RouterReply(text="", error=MISSING_RESULT))
        if manifest:
            self.store.execute(
                "UPDATE batch_runs SET counts_json = ? WHERE id = ?", (json.dumps({**run.counts, **manifest}), run_id)
            )
        return label_queries(_Recorded(router, replies), queries)

    def labelled_dataset(self, run_id: str, router: BedrockRouter) -> DatasetLabelling:
        """A finished batch's labels as a labelled dataset: the source file's tags and provenance when the file is
        unchanged since the start (same sha256), the records without a label listed as the run's failures."""
        from core.datasets.files import DatasetTags, ManifestFields, read_dataset
        from core.labelling import DatasetLabelling, build_dataset_rows
        from core.synth import SynthQuery

        run = self.get(run_id)
        labels = self.results(run_id, router)
        queries = self.queries(run_id)
        tags = [DatasetTags()] * len(queries)
        source_file = Path(str(run.source.get("file", "")))
        inherited: dict[str, Any] = {}
        if run.source.get("file") and source_file.is_file():
            source = read_dataset(source_file, min_records=1, max_records=50_000)
            if source.report.sha256 == run.source.get("sha256") and len(source.tags) == len(queries):
                tags = source.tags
                if source.manifest is not None:
                    inherited = source.manifest.model_dump(include={"seed", "mix", "generator_version"})
        items = [SynthQuery(q, t.focus, t.difficulty, t.domain) for q, t in zip(queries, tags, strict=True)]
        records, kept_tags = build_dataset_rows(items, labels)
        fields = ManifestFields.model_validate(
            {
                **inherited,
                **labels.manifest_fields(str(run.source.get("teacher") or labels.router_id)),
                "notes": {"labelled_by_batch": run.name, "batch_job_arn": run.job_arn or ""},
            }
        )
        return DatasetLabelling(labels, records, kept_tags, fields)

    def queries(self, run_id: str) -> builtins.list[str]:
        """The queries of a run, in record order, as kept in the data directory when it started."""
        path = self._folder(run_id) / QUERIES_FILE
        try:
            queries = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise BatchError(
                f"The queries of batch {run_id!r} are missing from {path.parent}: start the batch again."
            ) from exc
        return [str(query) for query in queries]

    # ---- internals --------------------------------------------------------------------------------------------

    def _read_output(self, run: BatchRun) -> tuple[dict[str, RouterReply], dict[str, int]]:
        from core.aws.s3 import parse_s3_uri

        bucket, prefix = parse_s3_uri(run.output_s3_uri)
        s3 = self.clients.get("s3")
        keys: builtins.list[str] = []
        token: str | None = None
        for _ in range(OUTPUT_LISTING_PAGES):
            request: dict[str, Any] = {"Bucket": bucket, "Prefix": f"{prefix}/"}
            if token:
                request["ContinuationToken"] = token
            try:
                page = s3.list_objects_v2(**request)
            except Exception as exc:
                raise BatchError(str(explain_aws_error(exc))) from exc
            keys += [item["Key"] for item in page.get("Contents", [])]
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                break
        answers: dict[str, RouterReply] = {}
        manifest: dict[str, int] = {}
        for key in keys:
            if not (key.endswith(OUTPUT_SUFFIX) or key.endswith(MANIFEST_KEY)):
                continue
            try:
                text = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8", errors="replace")
            except Exception as exc:
                raise BatchError(str(explain_aws_error(exc))) from exc
            if key.endswith(MANIFEST_KEY):
                manifest = _manifest_counts(text)
                continue
            for line in text.splitlines():
                parsed = _output_line(line)
                if parsed is not None:
                    answers[parsed[0]] = parsed[1]
        return answers, manifest

    def _record(
        self,
        run_id: str,
        name: str,
        token: str,
        router: BedrockRouter,
        queries: Sequence[str],
        input_uri: str,
        output_uri: str,
        estimate: CostEstimate,
        source: dict[str, Any],
        body: bytes,
    ) -> None:
        folder = self._folder(run_id)
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(folder / INPUT_FILE, body)
        atomic_write_bytes(folder / QUERIES_FILE, json.dumps(list(queries), ensure_ascii=False).encode("utf-8"))
        details = {
            **source,
            "router_id": router.router_id,
            "prompt_version": router.prompt.version,
            "mode": router.mode,
        }
        try:
            self.store.execute(
                "INSERT INTO batch_runs (id, name, client_request_token, region, model_id, status, records, "
                "input_s3_uri, output_s3_uri, source_json, estimate_json, created_at, updated_at) "
                f"VALUES (?, ?, ?, ?, ?, 'Submitted', ?, ?, ?, ?, ?, {NOW_SQL}, {NOW_SQL})",
                (
                    run_id,
                    name,
                    token,
                    self.clients.region,
                    router.model_id,
                    len(queries),
                    input_uri,
                    output_uri,
                    json.dumps(details),
                    json.dumps(estimate.to_json_dict()),
                ),
            )
        except sqlite3.IntegrityError as exc:
            raise BatchError(f"A batch named {name!r} already exists: choose another name.") from exc

    def _folder(self, run_id: str) -> Path:
        return path_inside(self.data_dir, BATCH_FOLDER, run_id)

    def _stored(self, run_id: str) -> BatchRun:
        row = self.store.query_one("SELECT * FROM batch_runs WHERE id = ?", (run_id,))
        if row is None:
            raise BatchError(f"There is no batch {run_id!r}; it may have been started in another data directory.")
        return BatchRun(
            id=row["id"],
            name=row["name"],
            status=row["status"],
            message=row["message"],
            model_id=row["model_id"],
            job_arn=row["job_arn"],
            records=int(row["records"]),
            input_s3_uri=row["input_s3_uri"],
            output_s3_uri=row["output_s3_uri"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            ended_at=row["ended_at"],
            counts=json.loads(row["counts_json"] or "{}"),
            estimate=json.loads(row["estimate_json"] or "{}"),
            source=json.loads(row["source_json"] or "{}"),
        )


class _Recorded(Router):
    """The answers a batch returned, replayed through the shared post-processing at the batch price."""

    def __init__(self, teacher: BedrockRouter, replies: dict[str, collections.deque[RouterReply]]):
        batch_prices = {
            price.model_key: ModelPrice(
                price.model_key,
                price.input_per_million * BATCH_PRICE_FACTOR,
                price.output_per_million * BATCH_PRICE_FACTOR,
            )
            for price in teacher.prices.all()
        }
        super().__init__(PriceTable(batch_prices), teacher.router_id)
        self.price_key = teacher.price_key
        self.prompt = teacher.prompt
        self.model_id = teacher.model_id
        self._teacher = teacher
        self._replies = replies

    def input_text(self, query: str) -> str:
        return self._teacher.input_text(query)

    def route_many(self, queries: Sequence[str]) -> builtins.list[RouterReply]:
        return [self._replies[query].popleft() for query in queries]


def _output_line(line: str) -> tuple[str, RouterReply] | None:
    """One line of a `.jsonl.out` file: the record id and its answer (or why Bedrock gave none)."""
    try:
        item = json.loads(line)
    except ValueError:
        return None
    if not isinstance(item, dict) or not isinstance(item.get("recordId"), str):
        return None
    if isinstance(item.get("modelOutput"), dict):
        return item["recordId"], router_reply(read_converse(item["modelOutput"]))
    found = item.get("error")
    error: dict[str, Any] = found if isinstance(found, dict) else {}
    code = error.get("errorCode", "an error")
    message = trimmed_aws_message(str(error.get("errorMessage", "")))
    text = json.dumps(error, ensure_ascii=False) if error else line
    return item["recordId"], RouterReply(
        text=text, error=f"Amazon Bedrock could not answer this record ({code}{': ' + message if message else ''})."
    )


def _manifest_counts(text: str) -> dict[str, int]:
    try:
        manifest = json.loads(text)
    except ValueError:
        return {}
    return {key: int(value) for key, value in manifest.items() if isinstance(value, (int, float))}


def _count_problem(count: int) -> str | None:
    if count < MIN_BATCH_RECORDS:
        return (
            f"A batch needs at least {MIN_BATCH_RECORDS} records and this one has {count}: label it on demand instead."
        )
    if count > MAX_BATCH_RECORDS:
        return f"A batch takes at most {MAX_BATCH_RECORDS:,} records and this one has {count:,}: split it first."
    return None
