"""One Backend interface, two implementations: the offline local studio and Amazon Bedrock.

The Backend is the one extension point pages use. It offers capabilities (routers by id, a job
service, a deployment service, dataset storage) and answers every request the same way: with the
thing asked for, or with CapabilityUnavailable whose sentence says what this backend cannot do and
what to do instead. Pages ask for a capability and show that sentence; they never ask which backend
they run on. docs/ARCHITECTURE.md describes the capabilities and the router ids.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from core.pricing import PriceTable, load_price_table
from core.prompts import RouterPrompt
from core.routers.base import Router
from core.routers.registry import RouterChoice, RouterId, parse_router_id, unknown_router_sentence
from core.settings import Settings
from core.store import Store

if TYPE_CHECKING:
    import boto3

    from core.datasets.library import DatasetLibrary
    from core.datasets.storage import DatasetStorage
    from core.deployments import DeploymentService
    from core.distill.jobs import JobService
    from core.model_registry import ModelRegistry
    from core.search.library import CatalogLibrary


class BackendUnavailable(Exception):
    """The backend cannot do this right now; the message tells the user what to do."""


class CapabilityUnavailable(BackendUnavailable):
    """This backend does not offer a capability (or not yet); the message says so in one sentence."""

    def __init__(self, capability: str, message: str):
        super().__init__(message)
        self.capability = capability


@dataclass(frozen=True)
class BackendStatus:
    kind: str
    label: str
    ready: bool
    details: dict[str, str] = field(default_factory=dict)
    message: str | None = None


class Backend(ABC):
    kind: str
    label: str
    # The router id forms this backend resolves (for help texts); the registry says what each means.
    router_id_forms: tuple[str, ...] = ("teacher", "uniform", "student:<model id or directory>")

    def __init__(self, settings: Settings, store: Store):
        self.settings = settings
        self.store = store

    def prices(self) -> PriceTable:
        return load_price_table(self.store)

    @abstractmethod
    def status(self) -> BackendStatus:
        """Whether the backend can be used, what it runs on, and what to do if it cannot."""

    def not_ready(self, message: str) -> BackendStatus:
        """This backend's status when a check could not even run: not ready, with the reason."""
        return BackendStatus(self.kind, self.label, ready=False, message=message)

    @abstractmethod
    def teacher(self, prompt: RouterPrompt | None = None) -> Router:
        """The router whose labels students learn from; one that reads a prompt gets `prompt` (None: the default)."""

    @property
    @abstractmethod
    def teacher_name(self) -> str:
        """The teacher's one name: shown in the UI and recorded in manifests, jobs and models."""

    @abstractmethod
    def aws_session(self) -> boto3.session.Session | None:
        """The AWS session this backend works in (core only), or None for a backend that needs no AWS account."""

    # ---- capabilities -------------------------------------------------------------------------------------

    def router(self, router_id: str) -> Router:
        """The router a router id names (docs/ARCHITECTURE.md, router ids), or a sentence saying why not."""
        parsed = parse_router_id(router_id)
        if parsed is None:
            raise BackendUnavailable(unknown_router_sentence(router_id, self.router_id_forms))
        return self._resolve(parsed)

    def router_choices(self) -> list[RouterChoice]:
        """Every router this backend can resolve now, for pickers: teacher, uniform and the local students."""
        choices = [
            RouterChoice("teacher", self.teacher_name, "the teacher whose labels students learn from"),
            RouterChoice("uniform", "Uniform weights", "0.25 on every channel: the no-routing baseline"),
        ]
        for model in self.models().list():
            if model.path is not None:
                choices.append(RouterChoice(f"student:{model.id}", model.name, "a distilled local student"))
        return choices

    def datasets(self) -> DatasetLibrary:
        """The library of named datasets in the data directory (every backend has one)."""
        from core.datasets.library import DatasetLibrary

        return DatasetLibrary(self.store, self.settings.data_dir)

    def models(self) -> ModelRegistry:
        """The custom models this studio knows: every student a distillation job made."""
        from core.model_registry import ModelRegistry

        return ModelRegistry(self.store, self.settings.data_dir)

    def search_catalogs(self) -> CatalogLibrary:
        """The search catalogs: the built-in sample and those generated or imported into the data directory."""
        from core.search.library import CatalogLibrary

        return CatalogLibrary(self.store, self.settings.data_dir)

    def jobs(self) -> JobService:
        """The distillation job service of this backend."""
        raise CapabilityUnavailable("jobs", f"Distillation jobs are not available on {self.label} yet.")

    def deployments(self) -> DeploymentService:
        """The deployment service of this backend (endpoints for trained models)."""
        raise CapabilityUnavailable(
            "deployments", f"Deployments are not available on {self.label} yet: no model can be deployed."
        )

    @abstractmethod
    def dataset_storage(self) -> DatasetStorage:
        """Where a dataset must live for this backend's jobs to read it."""

    def _resolve(self, parsed: RouterId) -> Router:
        from core.routers.uniform import UniformRouter

        if parsed.kind == "teacher":
            return self.teacher()
        if parsed.kind == "uniform":
            return UniformRouter(self.prices())
        if parsed.kind == "student":
            return self._active_student()
        if parsed.kind == "student:":
            return self._local_student(parsed)
        if parsed.kind == "deployment:":
            return self._deployed(lambda service: service.router(parsed.argument))
        if parsed.kind == "bedrock:":
            return self._foundation_model(parsed)
        raise BackendUnavailable(unknown_router_sentence(parsed.text, self.router_id_forms))

    def _active_student(self) -> Router:
        try:
            service = self.deployments()
        except CapabilityUnavailable as exc:
            raise CapabilityUnavailable(
                "deployments",
                "No deployment yet, so there is no active student: use 'student:<model id or directory>' "
                "for a trained model.",
            ) from exc
        return self._deployed(lambda found: found.active_student_router(), service)

    def _deployed(
        self, pick: Callable[[DeploymentService], Router], service: DeploymentService | None = None
    ) -> Router:
        from core.deployments import DeploymentError

        try:
            return pick(service or self.deployments())
        except DeploymentError as exc:
            raise BackendUnavailable(str(exc)) from exc

    def _foundation_model(self, parsed: RouterId) -> Router:
        raise CapabilityUnavailable(
            "bedrock-models",
            f"{parsed.text!r} is a model on Amazon Bedrock and {self.label} has no AWS account: choose Amazon "
            "Bedrock in Settings, or use a local router.",
        )

    def _local_student(self, parsed: RouterId) -> Router:
        """`student:<model id or directory>`: a registered custom model, or an artifact directory."""
        from core.distill.artifact import StudentArtifactError
        from core.model_registry import ModelRegistryError
        from core.routers.student import StudentRouter

        reference = parsed.argument
        try:
            path = self.models().get(reference).path
        except ModelRegistryError:
            path = Path(reference)
        if path is None:
            raise BackendUnavailable(
                f"Model {reference!r} lives on Amazon Bedrock: deploy it and route with 'deployment:<name>'."
            )
        try:
            return StudentRouter.from_directory(path, prices=self.prices(), router_id=parsed.text)
        except StudentArtifactError as exc:
            raise BackendUnavailable(str(exc)) from exc


class LocalBackend(Backend):
    kind = "local"
    label = "Local"

    def status(self) -> BackendStatus:
        return BackendStatus(
            kind=self.kind,
            label=self.label,
            ready=True,
            details={"teacher": self.teacher_name, "data directory": str(self.settings.data_dir)},
        )

    @property
    def teacher_name(self) -> str:
        from core.routers.reference import ReferenceTeacher

        return ReferenceTeacher.name

    def teacher(self, prompt: RouterPrompt | None = None) -> Router:
        from core.routers.reference import ReferenceTeacher

        # The reference teacher routes by its cue lexicons: there is no prompt for it to read.
        return ReferenceTeacher(self.prices())

    def aws_session(self) -> None:
        return None

    def jobs(self) -> JobService:
        from core.distill.jobs import JobRunner

        return JobRunner(self.store, self.settings.data_dir, teacher_name=self.teacher_name)

    def dataset_storage(self) -> DatasetStorage:
        from core.datasets.storage import LocalDatasetStorage

        return LocalDatasetStorage(self.settings.data_dir)


class BedrockBackend(Backend):
    kind = "bedrock"
    label = "Amazon Bedrock"
    router_id_forms = (*Backend.router_id_forms, "bedrock:<model id, inference profile or ARN>")

    def aws_session(self) -> boto3.session.Session:
        """A session for the chosen profile and region; BackendUnavailable says what to fix when there is none."""
        from core.aws.errors import StudioAwsError
        from core.aws.session import make_session

        try:
            return make_session(self.settings.aws_profile, self.settings.aws_region)
        except StudioAwsError as exc:
            raise BackendUnavailable(str(exc)) from exc

    def status(self) -> BackendStatus:
        from core.aws.credentials import check_credentials
        from core.aws.errors import StudioAwsError

        details = {"profile": self.settings.aws_profile or "default chain", "region": self.settings.aws_region}
        try:
            identity = check_credentials(self.aws_session())
        except (StudioAwsError, BackendUnavailable) as exc:
            return BackendStatus(self.kind, self.label, ready=False, details=details, message=str(exc))
        details.update({"account": identity.account, "identity": identity.arn})
        return BackendStatus(self.kind, self.label, ready=True, details=details)

    @property
    def teacher_name(self) -> str:
        from core.aws.models import DEFAULT_TEACHER, model

        return model(DEFAULT_TEACHER).name

    def teacher(self, prompt: RouterPrompt | None = None) -> Router:
        from core.aws.models import DEFAULT_TEACHER

        return self._bedrock_router(DEFAULT_TEACHER, router_id="teacher", prompt=prompt)

    def router_choices(self) -> list[RouterChoice]:
        from core.aws.models import BASELINE_ROUTERS

        foundation = [
            RouterChoice(f"bedrock:{model.invoke_id}", model.name, purpose) for model, purpose in BASELINE_ROUTERS
        ]
        return [*super().router_choices(), *foundation]

    def dataset_storage(self) -> DatasetStorage:
        from core.aws.s3 import S3DatasetStorage

        return S3DatasetStorage(self.settings.data_dir, self.aws_session)

    def _foundation_model(self, parsed: RouterId) -> Router:
        return self._bedrock_router(parsed.argument, router_id=parsed.text)

    def _bedrock_router(self, model: str, *, router_id: str, prompt: RouterPrompt | None = None) -> Router:
        from core.aws.errors import StudioAwsError
        from core.routers.bedrock import BedrockRouter

        session = self.aws_session()
        try:
            return BedrockRouter(session, model, self.prices(), router_id=router_id, prompt=prompt)
        except StudioAwsError as exc:
            raise BackendUnavailable(str(exc)) from exc


def aws_credentials_status(settings: Settings, store: Store) -> BackendStatus:
    """Who the AWS credentials of these settings belong to, whichever backend is in use (the Settings check)."""
    return BedrockBackend(settings, store).status()


BACKEND_CLASSES: dict[str, type[Backend]] = {"local": LocalBackend, "bedrock": BedrockBackend}


def backend_class(settings: Settings) -> type[Backend]:
    return BACKEND_CLASSES[settings.backend]


def make_backend(settings: Settings, store: Store) -> Backend:
    return backend_class(settings)(settings, store)
