"""Deployments on Amazon Bedrock: on-demand custom model deployments and provisioned throughput.

An on-demand deployment (create/get/list/update/delete_custom_model_deployment) bills per token and nothing
while idle; it is Creating, then Active or Failed, and is invoked by passing its ARN to Converse. Provisioned
throughput (create/get/update/delete_provisioned_model_throughput) bills by the hour whether used or not:
creating one needs an explicit confirmation, and while it exists its record carries a running cost meter
(hours so far x the hourly rate the user entered in Settings, or "price unknown").

Names and tags are checked against the API's patterns before any call; each create sends a
clientRequestToken derived from the request, and the store claims the name first, so a double submit makes
one resource. Every AWS failure becomes one sentence (core.aws.errors).
"""

from __future__ import annotations

import builtins
import json
import re
import shlex
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from core.aws.errors import StudioAwsError, explain_aws_error
from core.aws.models import MODELS
from core.aws.names import check_custom_model_arn, check_provisioned_model_name, check_tags
from core.aws.session import make_client
from core.deployments import (
    SELF_TEST_QUERY,
    BillingEstimate,
    BillingNotConfirmed,
    Deployment,
    DeploymentError,
    DeploymentKind,
    DeploymentService,
    DeploymentStatus,
    EndpointSnippets,
    check_new_deployment,
    hourly_rate,
    parse_store_time,
    request_token,
)
from core.pricing import PriceTable
from core.prompts import STUDENT_SYSTEM_TEXT
from core.routers.base import Router, RouterReply
from core.routers.bedrock import MAX_OUTPUT_TOKENS, BedrockRouter
from core.store import Store

if TYPE_CHECKING:
    from core.model_registry import CustomModel

# On-demand deployment of custom models is offered in these regions only.
ON_DEMAND_REGIONS = ("us-east-1", "us-west-2")
COMMITMENTS = ("OneMonth", "SixMonths")
# A row the studio made but Bedrock does not list is called gone only after this long (lists lag behind).
LIST_GRACE_S = 300.0
GONE = (
    "It no longer exists on Amazon Bedrock (deleted outside the studio?): delete it here to forget it, or create "
    "it again."
)
FOUND_ON_BEDROCK = "found on Amazon Bedrock (made outside the studio)"
_CUSTOM_MODEL_BASE = re.compile(r":custom-model/([^/]+)/")
_ARN_REGION = re.compile(r"^arn:aws[^:]*:bedrock:([a-z0-9-]+):")


class AwsDeploymentError(DeploymentError):
    """A deployment call that AWS refused; `kind` is the StudioAwsError kind (e.g. "not-found")."""

    def __init__(self, error: StudioAwsError):
        super().__init__(str(error))
        self.kind = error.kind


def base_model_key(model_arn: str) -> str | None:
    """The catalog key of the base model a custom model was made from (its per-token and hourly prices)."""
    found = _CUSTOM_MODEL_BASE.search(model_arn or "")
    if found is None:
        return None
    base = found.group(1)
    for entry in MODELS.values():
        if base in (entry.customization_id, entry.invoke_id) or base.startswith(entry.invoke_id):
            return entry.key
    return None


class DeploymentRouter(BedrockRouter):
    """A deployed student through Converse (the training system text and the bare query), counting its queries."""

    def __init__(self, *args: Any, on_routed: Callable[[int], None], price_key: str | None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        # A deployment ARN names no catalog model: it bills at its base model's token price (None: by the hour).
        self.price_key = price_key
        self._on_routed = on_routed

    def route_many(self, queries: Sequence[str]) -> list[RouterReply]:
        replies = super().route_many(queries)
        self._on_routed(sum(reply.error is None for reply in replies))
        return replies


class BedrockDeploymentService(DeploymentService):
    backend = "bedrock"
    provisioned_available = True
    # A deployment takes minutes to become Active; polling Bedrock more often only spends its request quota.
    settle_poll_s = 10.0
    settle_timeout_s = 1800.0
    description = (
        "An on-demand deployment on Amazon Bedrock bills per token and nothing while idle; provisioned "
        "throughput bills by the hour whether it is used or not."
    )

    def __init__(
        self,
        store: Store,
        data_dir: Path,
        session_factory: Callable[[], Any],
        prices: PriceTable | None = None,
        *,
        client: Any = None,
        runtime_client: Any = None,
    ):
        super().__init__(store)
        self.data_dir = Path(data_dir)
        self._session_factory = session_factory
        self.prices = prices
        self._client = client
        self._runtime_client = runtime_client
        self._session_cache: Any = None

    # ---- on-demand deployments ----------------------------------------------------------------------------

    def create(
        self, name: str, model_id: str, *, description: str = "", tags: Mapping[str, str] | None = None
    ) -> Deployment:
        name, description, tag_dict = check_new_deployment(name, description, tags)
        region = self._session().region_name
        if region not in ON_DEMAND_REGIONS:
            raise DeploymentError(
                f"On-demand deployment of custom models is offered only in {' and '.join(ON_DEMAND_REGIONS)}, not "
                f"{region}: choose one of them in Settings."
            )
        model_ref, model_arn, price_key = self._custom_model(model_id)
        token = request_token(
            "create_custom_model_deployment", name, model_arn, description, tag_dict, self.records.generation(name)
        )
        row, made = self.records.claim(
            name=name,
            kind=DeploymentKind.ON_DEMAND.value,
            model_id=model_ref,
            description=description,
            tags=tag_dict,
            token=token,
            price_key=price_key,
        )
        if not made:  # the same request again (a double submit): the deployment it already made
            return self.records.to_deployment(row)
        params: dict[str, Any] = {"modelDeploymentName": name, "modelArn": model_arn, "clientRequestToken": token}
        if description:
            params["description"] = description
        if tag_dict:
            params["tags"] = _tag_list(tag_dict)
        try:
            answer = self._call("create_custom_model_deployment", **params)
        except DeploymentError:
            self.records.forget(row["id"])
            raise
        self.records.update(row["id"], endpoint=answer["customModelDeploymentArn"], serving_model_id=model_ref)
        return self.get(name)

    def update(self, name: str, model_id: str) -> Deployment:
        row = self.records.row(name)
        model_ref, model_arn, _ = self._custom_model(model_id)
        if not row["endpoint"]:
            raise DeploymentError(f"Deployment {name!r} is still being created: wait until it is Active, then swap.")
        if row["kind"] == DeploymentKind.PROVISIONED.value:
            self._call(
                "update_provisioned_model_throughput", provisionedModelId=row["endpoint"], desiredModelId=model_arn
            )
        else:
            self._call(
                "update_custom_model_deployment", customModelDeploymentIdentifier=row["endpoint"], modelArn=model_arn
            )
        self.records.update(row["id"], model_id=model_ref, failure_message=None)
        return self.get(name)

    def delete(self, name: str) -> None:
        row = self.records.row(name)
        if row["endpoint"]:
            try:
                if row["kind"] == DeploymentKind.PROVISIONED.value:
                    self._call("delete_provisioned_model_throughput", provisionedModelId=row["endpoint"])
                else:
                    self._call("delete_custom_model_deployment", customModelDeploymentIdentifier=row["endpoint"])
            except AwsDeploymentError as exc:
                if exc.kind != "not-found":  # already gone is what deleting wants
                    raise
        self.records.mark_deleted(row["id"])

    def restart(self, name: str) -> Deployment:
        row = self.records.row(name)
        if row["status"] != DeploymentStatus.FAILED.value:
            raise DeploymentError(f"Deployment {name!r} is {row['status']}: only a Failed deployment is restarted.")
        if row["kind"] == DeploymentKind.PROVISIONED.value:
            raise DeploymentError(
                "A Failed provisioned throughput is not restarted from here (a new one bills by the hour): delete "
                "it and create a new one."
            )
        # Bedrock cannot restart a failed deployment: make it again under the same name, with the same model.
        tags = json.loads(row["tags_json"] or "{}")
        self.delete(name)
        return self.create(name, row["model_id"], description=row["description"], tags=tags)

    def router(self, name: str, router_id: str | None = None) -> Router:
        row = self._ready_row(name)
        return DeploymentRouter(
            self._session(),
            row["endpoint"],
            self.prices,
            router_id=router_id or f"deployment:{row['name']}",
            mode="student",
            client=self._runtime(),
            on_routed=lambda n: self.records.count_requests(row["id"], n),
            price_key=row["price_key"] if row["kind"] == DeploymentKind.ON_DEMAND.value else None,
        )

    def snippets(self, deployment: Deployment) -> EndpointSnippets:
        arn = deployment.endpoint or "DEPLOYMENT_ARN"
        found = _ARN_REGION.match(arn)
        region = found.group(1) if found else "us-east-1"
        body = {
            "system": [{"text": STUDENT_SYSTEM_TEXT}],
            "messages": [{"role": "user", "content": [{"text": SELF_TEST_QUERY}]}],
            "inferenceConfig": {"maxTokens": MAX_OUTPUT_TOKENS, "temperature": 0},
        }
        url = f"https://bedrock-runtime.{region}.amazonaws.com/model/{quote(arn, safe='')}/converse"
        curl = (
            f'curl -s --aws-sigv4 "aws:amz:{region}:bedrock" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \\\n'
            '  -H "x-amz-security-token: $AWS_SESSION_TOKEN" -H "Content-Type: application/json" \\\n'
            f"  {shlex.quote(url)} \\\n"
            f"  -d {shlex.quote(json.dumps(body))}"
        )
        python = (
            "import boto3\n\n"
            f"client = boto3.client('bedrock-runtime', region_name={region!r})\n"
            "response = client.converse(\n"
            f"    modelId={arn!r},\n"
            f"    system=[{{'text': {STUDENT_SYSTEM_TEXT!r}}}],\n"
            f"    messages=[{{'role': 'user', 'content': [{{'text': {SELF_TEST_QUERY!r}}}]}}],\n"
            f"    inferenceConfig={{'maxTokens': {MAX_OUTPUT_TOKENS}, 'temperature': 0}},\n"
            ")\n"
            "print(response['output']['message']['content'][0]['text'], response['metrics']['latencyMs'])\n"
        )
        return EndpointSnippets(curl=curl, python=python)

    def deployable(self, model: CustomModel) -> bool:
        return model.arn is not None

    # ---- provisioned throughput ---------------------------------------------------------------------------

    def provisioned_estimate(
        self, model_id: str, model_units: int = 1, commitment: str | None = None
    ) -> BillingEstimate:
        _check_units_and_commitment(model_units, commitment)
        _, _, price_key = self._custom_model(model_id)
        return BillingEstimate(price_key, model_units, hourly_rate(self.store, price_key, model_units), commitment)

    def create_provisioned(
        self,
        name: str,
        model_id: str,
        *,
        model_units: int = 1,
        commitment: str | None = None,
        confirm_hourly_billing: bool = False,
        tags: Mapping[str, str] | None = None,
    ) -> Deployment:
        name = (name or "").strip()
        problem = check_provisioned_model_name(name) or check_tags(dict(tags or {}))
        if problem:
            raise DeploymentError(problem)
        estimate = self.provisioned_estimate(model_id, model_units, commitment)
        if not confirm_hourly_billing:
            raise BillingNotConfirmed(estimate)
        model_ref, model_arn, price_key = self._custom_model(model_id)
        tag_dict = dict(tags or {})
        token = request_token(
            "create_provisioned_model_throughput",
            name,
            model_arn,
            model_units,
            commitment,
            tag_dict,
            self.records.generation(name),
        )
        row, made = self.records.claim(
            name=name,
            kind=DeploymentKind.PROVISIONED.value,
            model_id=model_ref,
            tags=tag_dict,
            token=token,
            model_units=model_units,
            commitment=commitment,
            price_key=price_key,
        )
        if not made:
            return self.records.to_deployment(row)
        params: dict[str, Any] = {
            "clientRequestToken": token,
            "modelUnits": model_units,
            "provisionedModelName": name,
            "modelId": model_arn,
        }
        if commitment:
            params["commitmentDuration"] = commitment
        if tag_dict:
            params["tags"] = _tag_list(tag_dict)
        try:
            answer = self._call("create_provisioned_model_throughput", **params)
        except DeploymentError:
            self.records.forget(row["id"])
            raise
        # Billing starts now; the meter takes Bedrock's creation time once it is known.
        self.records.update(row["id"], endpoint=answer["provisionedModelArn"], serving_model_id=model_ref)
        self.store.execute(
            "UPDATE deployments SET billing_started_at = created_at WHERE id = ? AND billing_started_at IS NULL",
            (row["id"],),
        )
        return self.get(name)

    # ---- status -------------------------------------------------------------------------------------------

    def get(self, name: str) -> Deployment:
        """The deployment, its status asked of Bedrock (polling this is how Creating turns Active or Failed)."""
        row = self.records.row(name)
        if row["endpoint"]:
            try:
                if row["kind"] == DeploymentKind.PROVISIONED.value:
                    answer = self._call("get_provisioned_model_throughput", provisionedModelId=row["endpoint"])
                    self._apply_provisioned(row, answer)
                else:
                    answer = self._call("get_custom_model_deployment", customModelDeploymentIdentifier=row["endpoint"])
                    self._apply_on_demand(row, answer)
            except AwsDeploymentError as exc:
                if exc.kind != "not-found":
                    raise
                self.records.update(row["id"], status=DeploymentStatus.FAILED.value, failure_message=GONE)
        return self.records.to_deployment(self.records.row(name))

    def reconcile(self) -> builtins.list[str]:
        """List both kinds on Bedrock: update the records, note the ones gone, and adopt ones made elsewhere."""
        on_demand = self._paginate("list_custom_model_deployments", "modelDeploymentSummaries")
        provisioned = self._paginate("list_provisioned_model_throughputs", "provisionedModelSummaries")
        listed = {item["customModelDeploymentArn"]: (DeploymentKind.ON_DEMAND, item) for item in on_demand}
        listed.update({item["provisionedModelArn"]: (DeploymentKind.PROVISIONED, item) for item in provisioned})
        changed = []
        known = set()
        for row in self.records.rows():
            if not row["endpoint"]:
                continue
            known.add(row["endpoint"])
            before = (row["status"], row["failure_message"])
            if row["endpoint"] in listed:
                kind, item = listed[row["endpoint"]]
                if kind is DeploymentKind.PROVISIONED:
                    self._apply_provisioned(row, item)
                elif row["serving_model_id"] != row["model_id"]:
                    self.get(row["name"])  # only get tells how a swap is going
                else:
                    self._apply_on_demand(row, item)
            elif _age_s(row["created_at"]) > LIST_GRACE_S:
                self.records.update(row["id"], status=DeploymentStatus.FAILED.value, failure_message=GONE)
            after = self.records.row_by_id(row["id"])
            if after is not None and (after["status"], after["failure_message"]) != before:
                changed.append(row["name"])
        for arn, (kind, item) in listed.items():
            if arn not in known and self._adopt(kind, item):
                changed.append(_listed_name(kind, item))
        return changed

    def _apply_on_demand(self, row: Any, answer: Mapping[str, Any]) -> None:
        update = answer.get("updateDetails") or {}
        values: dict[str, Any] = {"status": answer["status"], "failure_message": answer.get("failureMessage")}
        serving = self._model_ref(answer["modelArn"])
        if update.get("updateStatus") == "UpdateCompleted":
            serving = self._model_ref(update["modelArn"])
        elif update.get("updateStatus") == "UpdateFailed":
            target = self._model_ref(update["modelArn"])
            values["model_id"] = serving
            values["failure_message"] = answer.get("failureMessage") or (
                f"The swap to model {target} failed; it still serves {serving}."
            )
        values["serving_model_id"] = serving
        self.records.update(row["id"], **values)

    def _apply_provisioned(self, row: Any, answer: Mapping[str, Any]) -> None:
        values: dict[str, Any] = {
            "status": answer["status"],
            "failure_message": answer.get("failureMessage"),
            "serving_model_id": self._model_ref(answer["modelArn"]),
            "model_units": answer["modelUnits"],
            "commitment": answer.get("commitmentDuration"),
        }
        created = answer.get("creationTime")
        if isinstance(created, datetime):
            values["billing_started_at"] = created.isoformat()
        self.records.update(row["id"], **values)

    def _adopt(self, kind: DeploymentKind, item: Mapping[str, Any]) -> bool:
        """Record a deployment made outside the studio, so that it is listed, metered and can be deleted."""
        name = _listed_name(kind, item)
        arn = item["customModelDeploymentArn"] if kind is DeploymentKind.ON_DEMAND else item["provisionedModelArn"]
        model_ref = self._model_ref(item["modelArn"])
        try:
            row, made = self.records.claim(
                name=name,
                kind=kind.value,
                model_id=model_ref,
                description=FOUND_ON_BEDROCK,
                token=request_token("adopted", arn),
                model_units=item.get("modelUnits"),
                commitment=item.get("commitmentDuration"),
                price_key=base_model_key(item["modelArn"]),
                status=item["status"],
            )
        except DeploymentError:
            return False  # a studio deployment of that name exists; the other one is listed on Bedrock only
        if not made:
            return False
        self.records.update(row["id"], endpoint=arn, serving_model_id=model_ref)
        if kind is DeploymentKind.PROVISIONED:
            self._apply_provisioned(self.records.row_by_id(row["id"]), item)
        return True

    # ---- AWS ----------------------------------------------------------------------------------------------

    def _session(self) -> Any:
        if self._session_cache is None:
            from core.backends import BackendUnavailable

            try:
                self._session_cache = self._session_factory()
            except BackendUnavailable as exc:
                raise DeploymentError(str(exc)) from exc
        return self._session_cache

    def _bedrock(self) -> Any:
        if self._client is None:
            self._client = self._made_client("bedrock")
        return self._client

    def _runtime(self) -> Any:
        if self._runtime_client is None:
            self._runtime_client = self._made_client("bedrock-runtime")
        return self._runtime_client

    def _made_client(self, service: str) -> Any:
        try:
            return make_client(self._session(), service)
        except StudioAwsError as exc:
            raise AwsDeploymentError(exc) from exc

    def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        client = self._bedrock()
        try:
            return getattr(client, operation)(**params)
        except Exception as exc:  # every AWS failure is one sentence; the traceback goes to the log
            raise AwsDeploymentError(explain_aws_error(exc, profile=self._profile())) from exc

    def _paginate(self, operation: str, key: str) -> builtins.list[dict[str, Any]]:
        client = self._bedrock()
        items: builtins.list[dict[str, Any]] = []
        try:
            for page in client.get_paginator(operation).paginate():
                items.extend(page.get(key) or [])
        except Exception as exc:
            raise AwsDeploymentError(explain_aws_error(exc, profile=self._profile())) from exc
        return items

    def _profile(self) -> str | None:
        profile = getattr(self._session_cache, "profile_name", None)
        return profile if profile != "default" else None

    # ---- models -------------------------------------------------------------------------------------------

    def _custom_model(self, reference: str) -> tuple[str, str, str | None]:
        """(what the record calls the model, its ARN, its base model's price key) for a model id, name or ARN."""
        from core.model_registry import ModelNotFoundError, ModelRegistry

        reference = (reference or "").strip()
        registry = ModelRegistry(self.store, self.data_dir)
        model: CustomModel | None
        try:
            model = registry.get(reference)
        except ModelNotFoundError:
            model = next((m for m in registry.list() if reference in (m.name, m.arn)), None)
        if model is not None:
            if not model.arn:
                raise DeploymentError(
                    f"Model {model.name!r} is a local student: deploy it on the local backend (choose Local in "
                    "Settings), or distil a model on Amazon Bedrock."
                )
            arn, ref = model.arn, model.id
        else:
            arn, ref = reference, reference
        problem = check_custom_model_arn(arn)
        if problem:
            raise DeploymentError(problem)
        return ref, arn, base_model_key(arn)

    def _model_ref(self, model_arn: str) -> str:
        """The registered model id for an ARN when the studio knows it, else the ARN itself."""
        row = self.store.query_one("SELECT id FROM models WHERE arn = ?", (model_arn,))
        return row["id"] if row else model_arn


def _tag_list(tags: Mapping[str, str]) -> builtins.list[dict[str, str]]:
    return [{"key": key, "value": value} for key, value in sorted(tags.items())]


def _listed_name(kind: DeploymentKind, item: Mapping[str, Any]) -> str:
    return item["customModelDeploymentName"] if kind is DeploymentKind.ON_DEMAND else item["provisionedModelName"]


def _check_units_and_commitment(model_units: int, commitment: str | None) -> None:
    if not isinstance(model_units, int) or isinstance(model_units, bool) or model_units < 1:
        raise DeploymentError("The number of model units must be a whole number of at least 1.")
    if commitment is not None and commitment not in COMMITMENTS:
        raise DeploymentError(
            f"The commitment {commitment!r} is not one Bedrock offers: use {' or '.join(COMMITMENTS)}, or none "
            "(no commitment, billed by the hour)."
        )


def _age_s(created_at: str | None) -> float:
    created = parse_store_time(created_at)
    return (datetime.now(UTC) - created).total_seconds() if created else 0.0
