"""Deployments: a named endpoint in front of a trained model, and the service that manages them.

A deployment is Creating until its model has loaded and answered a self-test, then Active; any failure
leaves it Failed with the reason. Statuses are Bedrock's words for custom model deployments, so local
endpoints and Bedrock ones read alike. One deployment may be the backend's active student: the router
id `student` resolves to it. Each backend implements DeploymentService (docs/ARCHITECTURE.md).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from core.routers.base import Router


class DeploymentStatus(StrEnum):
    CREATING = "Creating"
    ACTIVE = "Active"
    FAILED = "Failed"


class DeploymentError(Exception):
    """A deployment request that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class Deployment:
    name: str
    model_id: str
    status: str
    endpoint: str  # a localhost URL, or the deployment ARN on Bedrock
    created_at: str
    updated_at: str
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    failure_message: str | None = None
    active_student: bool = False
    requests_served: int = 0


class DeploymentService(ABC):
    """Create, watch, swap and delete deployments; every method raises DeploymentError with a sentence."""

    @abstractmethod
    def create(
        self, name: str, model_id: str, *, description: str = "", tags: Mapping[str, str] | None = None
    ) -> Deployment:
        """Start a deployment of a model under a new name; it begins Creating."""

    @abstractmethod
    def get(self, name: str) -> Deployment: ...

    @abstractmethod
    def list(self) -> list[Deployment]: ...

    @abstractmethod
    def update(self, name: str, model_id: str) -> Deployment:
        """Swap the model behind the same name and endpoint."""

    @abstractmethod
    def delete(self, name: str) -> None:
        """Stop the endpoint and forget the deployment."""

    @abstractmethod
    def set_active_student(self, name: str) -> Deployment:
        """Make this deployment the one the router id `student` resolves to."""

    @abstractmethod
    def router(self, name: str) -> Router:
        """A router that routes through the deployment's endpoint."""

    def active_student_router(self) -> Router:
        active = next((d for d in self.list() if d.active_student), None)
        if active is None:
            raise DeploymentError(
                "No deployment is the active student yet: set one on the Deployments page (or use 'deployment:<name>')."
            )
        return self.router(active.name)
