"""Process-wide resources (settings, store, backend, routers, job runner) and what the studio holds, for every page.

Resources are cached per settings, so saving a setting rebuilds them on the next run; backend status
(an STS call on Bedrock) is cached for a few minutes and re-checked on demand.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import streamlit as st
from pydantic import ValidationError

from core.backends import (
    Backend,
    BackendStatus,
    BackendUnavailable,
    CapabilityUnavailable,
    aws_credentials_status,
    make_backend,
)
from core.routers.base import Router
from core.settings import Settings, load_settings
from core.store import Store, StoreError

if TYPE_CHECKING:
    from core.deployments import DeploymentService
    from core.distill.jobs import JobService

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
PAGES_DIR = ROOT / "pages"
STATUS_TTL_S = 300
# Errors whose message is already a sentence for the user (core raises them on purpose; DatasetLibraryError
# is a ValueError), and file-system errors, whose message names the path and the reason (e.g. permission denied).
EXPLAINED_ERRORS: tuple[type[BaseException], ...] = (ValueError, StoreError, BackendUnavailable, OSError)
# More of core's user-facing errors, named by (module, class) rather than imported: such an error can only exist
# once its module is loaded, and importing them here would pull botocore and numpy into every page's start-up.
EXPLAINED_ERRORS_BY_NAME: tuple[tuple[str, str], ...] = (
    ("core.aws.errors", "StudioAwsError"),
    ("core.distill.jobs", "JobError"),
    ("core.model_registry", "ModelRegistryError"),
    ("core.distill.artifact", "StudentArtifactError"),
    ("core.deployments", "DeploymentError"),
)
FIELD_HINTS = {
    "aws_region": "The AWS region must look like us-east-1.",
    "aws_profile": "The AWS profile name must be at most 128 characters.",
    "backend": "The backend must be local or bedrock.",
    "bedrock_bucket": "The S3 bucket must be a bucket name: 3 to 63 lower-case letters, digits, '.' or '-'.",
    "bedrock_role_arn": "The IAM role must be a role ARN, such as arn:aws:iam::123456789012:role/BedrockDistillation.",
}


@dataclass(frozen=True)
class Studio:
    settings: Settings
    store: Store
    backend: Backend


def studio() -> Studio:
    """The settings in force and the store and backend built for them."""
    settings = load_settings()
    return _studio_for(_settings_key(settings), settings)


def _settings_key(settings: Settings) -> str:
    return f"{settings.model_dump_json()} pinned={sorted(settings.pinned_by_environment())}"


@st.cache_resource(max_entries=4, show_spinner=False)
def _studio_for(settings_key: str, _settings: Settings) -> Studio:
    store = Store(_settings.store_path)
    return Studio(settings=_settings, store=store, backend=make_backend(_settings, store))


def router(router_id: str) -> Router:
    """A router by id (docs/ARCHITECTURE.md, router ids), rebuilt when the settings or the price table change."""
    current = studio()
    price_key = tuple((p.model_key, p.input_per_million, p.output_per_million) for p in current.backend.prices().all())
    return _router_for(_settings_key(current.settings), router_id, price_key, current.backend)


@st.cache_resource(max_entries=16, show_spinner=False)
def _router_for(settings_key: str, router_id: str, price_key: tuple, _backend: Backend) -> Router:
    return _backend.router(router_id)


def jobs() -> JobService:
    """The backend's job service, one for the whole server, so the workers it starts are reaped when they end.

    Made on first use, when it ends every job whose runner died while the app was down. Raises
    CapabilityUnavailable (a sentence to show) on a backend without jobs.
    """
    current = studio()
    return _jobs_for(_settings_key(current.settings), current.backend)


@st.cache_resource(max_entries=4, show_spinner=False)
def _jobs_for(settings_key: str, _backend: Backend) -> JobService:
    service = _backend.jobs()
    service.reconcile()
    return service


def deployments() -> DeploymentService:
    """The backend's deployment service, one for the whole server (per settings and price table), so the endpoint
    processes it starts are reaped when they end. Raises CapabilityUnavailable on a backend without deployments."""
    current = studio()
    price_key = tuple((p.model_key, p.input_per_million, p.output_per_million) for p in current.backend.prices().all())
    return _deployments_for(_settings_key(current.settings), price_key, current.backend)


@st.cache_resource(max_entries=4, show_spinner=False)
def _deployments_for(settings_key: str, price_key: tuple, _backend: Backend) -> DeploymentService:
    return _backend.deployments()


def job_names() -> dict[str, str]:
    """Job id -> name, for lineage (empty on a backend without jobs)."""
    try:
        service = jobs()
    except CapabilityUnavailable:
        return {}
    return {job.id: job.name for job in service.list()}


def reconcile_at_start() -> None:
    """End the jobs whose runner died while the app was down (nothing to do on a backend without jobs)."""
    with contextlib.suppress(CapabilityUnavailable):
        jobs()


def credentials_status(*, recheck: bool = False) -> BackendStatus:
    """The AWS identity for the chosen profile and region, whichever backend is active."""
    current = studio()
    return _status_of(lambda: aws_credentials_status(current.settings, current.store), "aws", current, recheck)


def backend_status(*, recheck: bool = False) -> BackendStatus:
    """The active backend's status; never raises (a failure becomes a not-ready status with its reason)."""
    current = studio()
    return _status_of(current.backend.status, "backend", current, recheck)


def _status_of(check: Callable[[], BackendStatus], what: str, current: Studio, recheck: bool) -> BackendStatus:
    key = (what, _settings_key(current.settings))
    if recheck:
        # Every status is re-checked: a fresh credentials check also refreshes the backend's status.
        _cached_status.clear()
    try:
        return _cached_status(check, *key)
    except Exception as exc:  # the frame must render even when a check fails in an unforeseen way
        return current.backend.not_ready(explain_error(exc))


@st.cache_data(ttl=STATUS_TTL_S, show_spinner=False)
def _cached_status(_check: Callable[[], BackendStatus], what: str, settings_key: str) -> BackendStatus:
    return _check()


def explain_error(exc: BaseException) -> str:
    """One sentence for the user; anything core did not explain is logged with its traceback."""
    if isinstance(exc, ValidationError):
        return _explain_validation(exc)
    if isinstance(exc, EXPLAINED_ERRORS) or _is_explained_by_name(exc):
        logger.info("Shown to the user: %s: %s", type(exc).__name__, exc)
        return str(exc) or type(exc).__name__
    logger.error("Unexpected error shown to the user", exc_info=exc)
    return f"Something unexpected went wrong ({type(exc).__name__}); the details are in the server log."


def _is_explained_by_name(exc: BaseException) -> bool:
    for module_name, class_name in EXPLAINED_ERRORS_BY_NAME:
        module = sys.modules.get(module_name)
        if module is not None and isinstance(exc, getattr(module, class_name)):
            return True
    return False


def _explain_validation(exc: ValidationError) -> str:
    sentences = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error.get("loc") else ""
        sentences.append(FIELD_HINTS.get(field, f"{field or 'value'}: {error['msg']}."))
    return " ".join(dict.fromkeys(sentences))
