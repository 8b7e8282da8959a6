"""One Backend interface, two implementations: the offline local studio and Amazon Bedrock.

Pages ask the backend for what they need (status, routers) and never branch on which one it is.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from core.pricing import PriceTable, load_price_table
from core.routers.base import Router
from core.routers.uniform import UniformRouter
from core.settings import Settings
from core.store import Store


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
    def teacher(self) -> Router:
        """The router whose labels students learn from."""

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
            kind=self.kind, label=self.label, ready=True,
            details={"teacher": self.teacher_name, "data directory": str(self.settings.data_dir)},
        )

    @property
    def teacher_name(self) -> str:
        return "Local reference teacher"

    def teacher(self) -> Router:
        from core.routers.reference import ReferenceTeacher

        return ReferenceTeacher(self.prices())


class BedrockBackend(Backend):
    kind = "bedrock"
    label = "Amazon Bedrock"

    def _session(self):
        from core.aws.session import make_session

        return make_session(self.settings.aws_profile, self.settings.aws_region)

    def status(self) -> BackendStatus:
        from core.aws.credentials import check_credentials
        from core.aws.errors import StudioAwsError

        details = {"profile": self.settings.aws_profile or "default chain", "region": self.settings.aws_region}
        try:
            identity = check_credentials(self._session())
        except StudioAwsError as exc:
            return BackendStatus(self.kind, self.label, ready=False, details=details, message=str(exc))
        details.update({"account": identity.account, "identity": identity.arn})
        return BackendStatus(self.kind, self.label, ready=True, details=details)

    @property
    def teacher_name(self) -> str:
        from core.catalog import DEFAULT_TEACHER, model

        return model(DEFAULT_TEACHER).name

    def teacher(self) -> Router:
        from core.aws.errors import StudioAwsError
        from core.catalog import DEFAULT_TEACHER
        from core.routers.bedrock import BedrockRouter

        try:
            return BedrockRouter(self._session(), DEFAULT_TEACHER, self.prices(), router_id="teacher")
        except StudioAwsError as exc:
            raise BackendUnavailable(str(exc)) from exc


def make_backend(settings: Settings, store: Store) -> Backend:
    return BedrockBackend(settings, store) if settings.backend == "bedrock" else LocalBackend(settings, store)
