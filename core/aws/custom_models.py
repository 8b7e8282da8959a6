"""Custom models on Amazon Bedrock beside the studio's own: the model registry of the Bedrock backend.

The Models page and `python -m core models` ask the backend's registry; on Bedrock it lists the local
models, the Bedrock models the studio's jobs made (registered with their job and dataset) and the
account's other custom models (`list_custom_models`, paginated), reads a model's lineage from
`get_custom_model` (base model, teacher, training data, job), and deletes one only when confirmed and no
deployment uses it. A model made outside the studio has its ARN as its id. AWS failures leave the local
view in place and say why in `notice()`.
"""

from __future__ import annotations

import builtins
import dataclasses
import functools
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from core.aws.backoff import call_with_backoff
from core.aws.errors import StudioAwsError, explain_aws_error
from core.aws.names import check_custom_model_arn
from core.aws.session import Clients
from core.aws.timestamps import stamp
from core.model_registry import (
    CustomModel,
    InUseBy,
    ModelInUseError,
    ModelNotFoundError,
    ModelRegistry,
    ModelRegistryError,
)
from core.store import Store

LIST_PAGE_SIZE = 100
LISTED_MODELS_LIMIT = 200
REFRESH_INTERVAL_S = 30.0
BEDROCK = "bedrock"


def lineage_of(answer: Mapping[str, Any]) -> dict[str, object]:
    """Where a Bedrock custom model came from, as get_custom_model (or a list summary) tells it."""
    distillation = ((answer.get("customizationConfig") or {}).get("distillationConfig") or {}).get(
        "teacherModelConfig"
    ) or {}
    training = answer.get("trainingDataConfig") or {}
    logs = (training.get("invocationLogsConfig") or {}).get("invocationLogSource") or {}
    found: dict[str, object] = {
        "base_model": answer.get("baseModelArn") or answer.get("baseModelName"),
        "customization": answer.get("customizationType"),
        "status": answer.get("modelStatus"),
        "teacher": distillation.get("teacherModelIdentifier"),
        "max_response_length": distillation.get("maxResponseLengthForInference"),
        "training_data": training.get("s3Uri")
        or (f"invocation logs at {logs['s3Uri']}" if logs.get("s3Uri") else None),
        "output": (answer.get("outputDataConfig") or {}).get("s3Uri"),
        "job_name": answer.get("jobName"),
        "job_arn": answer.get("jobArn"),
        "training_loss": (answer.get("trainingMetrics") or {}).get("trainingLoss"),
        "kms_key": answer.get("modelKmsKeyArn"),
        "failure": answer.get("failureMessage"),
        "owner_account": answer.get("ownerAccountId"),
    }
    return {key: value for key, value in found.items() if value is not None}


class DeleteNeedsConfirmation(ModelRegistryError):
    """Deleting a model on Bedrock was asked for without confirm=True: it cannot be undone."""


class BedrockModelRegistry(ModelRegistry):
    """The studio's models and the account's Bedrock custom models, in one registry."""

    def __init__(
        self,
        store: Store,
        data_dir: Path,
        clients: Clients,
        *,
        refresh_interval_s: float = REFRESH_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        super().__init__(store, data_dir)
        self.clients = clients
        self.refresh_interval_s = refresh_interval_s
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._remote: list[dict[str, Any]] = []
        self._listed_at: float | None = None
        self._notice: str | None = None

    def notice(self) -> str | None:
        """Why the Bedrock part of the list could not be read just now, or None."""
        return self._notice

    def list(self) -> builtins.list[CustomModel]:
        local = super().list()
        summaries = self._summaries()
        by_arn = {summary["modelArn"]: summary for summary in summaries}
        known = {model.arn for model in local if model.arn}
        shown = [_with_lineage(model, by_arn[model.arn]) if model.arn in by_arn else model for model in local]
        shown += [self._outside_model(summary) for summary in summaries if summary["modelArn"] not in known]
        return sorted(shown, key=lambda model: model.created_at, reverse=True)

    def get(self, model_id: str) -> CustomModel:
        """A model by the studio's id, or a Bedrock custom model by its ARN, with its lineage read from Bedrock."""
        if model_id.startswith("arn:aws"):
            local = self._by_arn(model_id)
            if local is None:
                return self._outside_model(self._describe(model_id))
            model = local
        else:
            model = super().get(model_id)
        if model.arn is None:
            return model
        try:
            return _with_lineage(model, self._describe(model.arn))
        except ModelNotFoundError:
            return dataclasses.replace(model, lineage={**model.lineage, "status": "deleted on Bedrock"})
        except ModelRegistryError as exc:
            self._notice = str(exc)
            return model

    def delete(self, model_id: str, in_use_by: InUseBy | None = None, *, confirm: bool = False) -> CustomModel:
        """Delete a model; one on Bedrock only with confirm=True (it cannot be undone) and while nothing uses it."""
        local = self._by_arn(model_id) if model_id.startswith("arn:aws") else super().get(model_id)
        if local is not None and local.arn is None:
            return super().delete(local.id, in_use_by)
        model = local if local is not None else self.get(model_id)
        arn = model.arn or model_id
        # Without `in_use_by`, every live deployment of the store, by the model's id or ARN (as the base registry).
        found = in_use_by(model.id) + in_use_by(arn) if in_use_by else self._deployments_using(model)
        users = sorted(set(found))
        if users:
            raise ModelInUseError(
                f"Model {model.name!r} is used by deployment(s) {', '.join(users)}: "
                "delete those deployments or point them at another model first."
            )
        if not confirm:
            raise DeleteNeedsConfirmation(
                f"Deleting {model.name!r} from Amazon Bedrock cannot be undone (its storage stops billing): "
                "confirm to delete it."
            )
        problem = check_custom_model_arn(arn)
        if problem:
            raise ModelRegistryError(problem)
        client = self.clients.get(BEDROCK)
        try:
            call_with_backoff(lambda: client.delete_custom_model(modelIdentifier=arn), sleep=self._sleep)
        except Exception as exc:
            explained = explain_aws_error(exc)
            if explained.kind != "not-found":  # already gone on Bedrock: forget it here too
                if explained.code in ("ConflictException", "ResourceInUseException"):
                    raise ModelInUseError(
                        f"Amazon Bedrock will not delete {model.name!r} while a deployment or provisioned throughput "
                        "uses it: delete those first."
                    ) from exc
                raise ModelRegistryError(str(explained)) from exc
        self._listed_at = None
        if local is not None:
            super().delete(local.id)
        return model

    # ---- reading Bedrock -----------------------------------------------------------------------------------

    def _summaries(self) -> builtins.list[dict[str, Any]]:
        with self._lock:
            if self._listed_at is not None and self._clock() - self._listed_at < self.refresh_interval_s:
                return self._remote
            try:
                self._remote = self._list_remote()
                self._notice = None
            except StudioAwsError as exc:
                self._notice = (
                    f"Custom models on Amazon Bedrock could not be listed, so only this studio's are shown: {exc}"
                )
            self._listed_at = self._clock()
            return self._remote

    def _list_remote(self) -> builtins.list[dict[str, Any]]:
        client = self.clients.get(BEDROCK)
        found: builtins.list[dict[str, Any]] = []
        token: str | None = None
        while len(found) < LISTED_MODELS_LIMIT:
            request: dict[str, Any] = {
                "sortBy": "CreationTime",
                "sortOrder": "Descending",
                "maxResults": LIST_PAGE_SIZE,
            }
            if token:
                request["nextToken"] = token
            try:
                page = call_with_backoff(functools.partial(client.list_custom_models, **request), sleep=self._sleep)
            except Exception as exc:
                raise explain_aws_error(exc) from exc
            found += page.get("modelSummaries", [])
            token = page.get("nextToken")
            if not token:
                break
        return found

    def _describe(self, arn: str) -> dict[str, Any]:
        client = self.clients.get(BEDROCK)
        try:
            return call_with_backoff(lambda: client.get_custom_model(modelIdentifier=arn), sleep=self._sleep)
        except Exception as exc:
            explained = explain_aws_error(exc)
            if explained.kind == "not-found":
                raise ModelNotFoundError(
                    f"Amazon Bedrock has no custom model {arn!r} in this region: it may have been deleted."
                ) from exc
            raise ModelRegistryError(str(explained)) from exc

    def _by_arn(self, arn: str) -> CustomModel | None:
        row = self.store.query_one("SELECT id FROM models WHERE arn = ?", (arn,))
        return super().get(row["id"]) if row else None

    def _outside_model(self, answer: Mapping[str, Any]) -> CustomModel:
        """A custom model this studio did not make: shown by its ARN, with the lineage Bedrock gives."""
        return CustomModel(
            id=str(answer["modelArn"]),
            name=str(answer.get("modelName", "")),
            backend=BEDROCK,
            job_id=None,
            dataset_id=None,
            path=None,
            arn=str(answer["modelArn"]),
            size_bytes=0,
            created_at=stamp(answer.get("creationTime")) or "",
            metrics={},
            lineage={"origin": "made outside the studio", **lineage_of(answer)},
        )


def _with_lineage(model: CustomModel, answer: Mapping[str, Any]) -> CustomModel:
    return dataclasses.replace(model, lineage={**model.lineage, **lineage_of(answer)})
