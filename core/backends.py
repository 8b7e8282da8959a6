"""One Backend interface, two implementations: the offline local studio and Amazon Bedrock.

Pages ask the backend for what they need (status, routers, an AWS session) and never branch on which one it is.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core.pricing import PriceTable, load_price_table
from core.prompts import RouterPrompt
from core.routers.base import Router
from core.routers.uniform import UniformRouter
from core.settings import Settings
from core.store import Store

if TYPE_CHECKING:
    import boto3


class BackendUnavailable(Exception):
    """The backend cannot do this right now; the message tells the user what to do."""


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

    def __init__(self, settings: Settings, store: Store):
        self.settings = settings
        self.store = store

    def prices(self) -> PriceTable:
        return load_price_table(self.store)

    @abstractmethod
    def status(self) -> BackendStatus:
        """Whether the backend can be used, what it runs on, and what to do if it cannot."""

    @abstractmethod
    def teacher(self, prompt: RouterPrompt | None = None) -> Router:
        """The router whose labels students learn from; one that reads a prompt gets `prompt` (None: the default)."""

    @abstractmethod
    def aws_session(self) -> boto3.session.Session | None:
        """The AWS session this backend works in, or None for a backend that needs no AWS account."""

    @property
    @abstractmethod
    def teacher_name(self) -> str:
        """A person-readable name of the teacher (shown in the UI and recorded in manifests)."""

    def router(self, router_id: str) -> Router:
        """Resolve a router id of DESIGN.md section 2 (`teacher`, `uniform`, ...)."""
        router_id = router_id.strip()
        if router_id == "teacher":
            return self.teacher()
        if router_id == "uniform":
            return UniformRouter(self.prices())
        if router_id.startswith("student:"):
            return self._local_student(router_id)
        raise BackendUnavailable(
            f"Unknown router {router_id!r}: use 'teacher', 'uniform' or 'student:<model id or directory>'."
        )

    def _local_student(self, router_id: str) -> Router:
        """`student:<model id or directory>`: a registered custom model, or an artifact directory."""
        from pathlib import Path

        from core.distill.artifact import StudentArtifactError
        from core.model_registry import ModelRegistry, ModelRegistryError
        from core.routers.student import StudentRouter

        reference = router_id.removeprefix("student:").strip()
        try:
            path = ModelRegistry(self.store, self.settings.data_dir).get(reference).path
        except ModelRegistryError:
            path = Path(reference)
        try:
            return StudentRouter.from_directory(path, prices=self.prices(), router_id=router_id)
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
        return "Local reference teacher"

    def teacher(self, prompt: RouterPrompt | None = None) -> Router:
        from core.routers.reference import ReferenceTeacher

        # The reference teacher routes by its cue lexicons: there is no prompt for it to read.
        return ReferenceTeacher(self.prices())

    def aws_session(self) -> None:
        return None


class BedrockBackend(Backend):
    kind = "bedrock"
    label = "Amazon Bedrock"

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
        from core.aws.errors import StudioAwsError
        from core.aws.models import DEFAULT_TEACHER
        from core.routers.bedrock import BedrockRouter

        session = self.aws_session()
        try:
            return BedrockRouter(session, DEFAULT_TEACHER, self.prices(), router_id="teacher", prompt=prompt)
        except StudioAwsError as exc:
            raise BackendUnavailable(str(exc)) from exc


def make_backend(settings: Settings, store: Store) -> Backend:
    return BedrockBackend(settings, store) if settings.backend == "bedrock" else LocalBackend(settings, store)
