"""Studio settings: environment variables (VSRS_*) win, then the user's saved choices, then defaults.

Nothing secret lives here: AWS credentials come only from the standard chain, chosen by profile name.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.files import atomic_write_text

logger = logging.getLogger(__name__)

SETTINGS_FILE = "settings.json"
DEFAULT_DATA_DIR = Path.home() / ".video-search-router-studio"
BackendKind = Literal["local", "bedrock"]
# Fields a user may change from the Settings page (the data directory is chosen by environment only).
USER_FIELDS = ("backend", "aws_profile", "aws_region", "bedrock_concurrency", "bedrock_bucket", "bedrock_role_arn")
# Converse calls in flight at once when a Bedrock model labels or writes queries; Bedrock's own quotas and the
# adaptive client limiter decide how many of them actually run, so a large pool only helps on a raised quota.
DEFAULT_BEDROCK_CONCURRENCY = 4
MAX_BEDROCK_CONCURRENCY = 64
ENV_PREFIX = "VSRS_"
# What each setting must be, for the sentence about a bad VSRS_* value.
FIELD_RULES = {
    "backend": "the backend must be local or bedrock",
    "aws_region": "the AWS region must look like us-east-1",
    "aws_profile": "the AWS profile name must be at most 128 characters",
    "data_dir": "the data directory must be a folder path",
    "bedrock_concurrency": f"the Bedrock pool size must be a whole number from 1 to {MAX_BEDROCK_CONCURRENCY}",
    "bedrock_bucket": "the S3 bucket must be a bucket name",
    "bedrock_role_arn": "the IAM role must be a role ARN",
}


class SettingsError(ValueError):
    """A VSRS_* environment value that cannot be used, in one sentence naming the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    data_dir: Path = DEFAULT_DATA_DIR
    backend: BackendKind = "local"
    aws_profile: str | None = Field(default=None, max_length=128)
    aws_region: str = Field(default="us-east-1", pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")
    bedrock_concurrency: int = Field(default=DEFAULT_BEDROCK_CONCURRENCY, ge=1, le=MAX_BEDROCK_CONCURRENCY)
    # Where Bedrock jobs read and write (uploads, batch input and output, job output), and the service role
    # they run as; both are names of the user's own resources, never credentials.
    bedrock_bucket: str | None = None
    bedrock_role_arn: str | None = None

    @field_validator("data_dir", mode="before")
    @classmethod
    def _blank_data_dir_is_default(cls, value: object) -> object:
        # An empty variable counts as unset (as for XDG_DATA_HOME), never as the working directory.
        if isinstance(value, str) and not value.strip():
            return DEFAULT_DATA_DIR
        return Path(value).expanduser() if isinstance(value, (str, Path)) else value

    @field_validator("aws_profile")
    @classmethod
    def _blank_profile_is_default(cls, value: str | None) -> str | None:
        return value.strip() or None if value else None

    @field_validator("bedrock_bucket")
    @classmethod
    def _bucket_name(cls, value: str | None) -> str | None:
        from core.aws.names import check_bucket_name

        value = value.strip() if value else None
        problem = check_bucket_name(value) if value else None
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("bedrock_role_arn")
    @classmethod
    def _role_arn(cls, value: str | None) -> str | None:
        from core.aws.names import check_role_arn

        value = value.strip() if value else None
        problem = check_role_arn(value) if value else None
        if problem:
            raise ValueError(problem)
        return value

    @property
    def store_path(self) -> Path:
        return self.data_dir / "studio.db"

    def pinned_by_environment(self) -> set[str]:
        return set(self.model_fields_set)


class SavedChoices(BaseModel):
    backend: BackendKind | None = None
    aws_profile: str | None = None
    aws_region: str | None = None
    bedrock_concurrency: int | None = None
    bedrock_bucket: str | None = None
    bedrock_role_arn: str | None = None


def load_settings(data_dir: Path | None = None) -> Settings:
    """The settings in force; with `data_dir`, those of that data directory (a job's worker knows only its own).

    A bad VSRS_* value raises SettingsError naming the variable and what it must be."""
    try:
        from_env = Settings() if data_dir is None else Settings(data_dir=data_dir)
    except ValidationError as exc:
        raise SettingsError(_environment_sentence(exc)) from exc
    saved = _read_saved(from_env.data_dir)
    base = from_env.model_dump(include=from_env.model_fields_set)
    # A hand-edited or outdated choice that no longer validates is dropped, so the app still opens and the
    # Settings page can save a good one.
    overrides = {
        name: value
        for name, value in saved.model_dump(exclude_none=True).items()
        if name not in from_env.model_fields_set and _valid_choice(base, name, value)
    }
    if not overrides:
        return from_env
    merged = Settings.model_validate({**base, **overrides})
    # Keep the record of which fields the environment pinned.
    object.__setattr__(merged, "__pydantic_fields_set__", set(from_env.model_fields_set))
    return merged


def save_settings(settings: Settings, **changes: object) -> Settings:
    """Validate and persist the user's choices; returns the settings now in force."""
    unknown = set(changes) - set(USER_FIELDS)
    if unknown:
        raise ValueError(f"not a user setting: {', '.join(sorted(unknown))}")
    candidate = settings.model_copy(update=changes)
    Settings.model_validate(candidate.model_dump())
    saved = _read_saved(settings.data_dir).model_copy(update=changes)
    atomic_write_text(settings.data_dir / SETTINGS_FILE, saved.model_dump_json(indent=2))
    return load_settings()


def _environment_sentence(exc: ValidationError) -> str:
    first = exc.errors()[0]
    field = str(first["loc"][0]) if first.get("loc") else ""
    variable = f"{ENV_PREFIX}{field.upper()}"
    rule = FIELD_RULES.get(field, str(first.get("msg", "")).removeprefix("Value error, "))
    return f"{variable}={first.get('input')!r} is not valid: {rule}; correct it or unset it."


def _valid_choice(base: dict, name: str, value: object) -> bool:
    try:
        Settings.model_validate({**base, name: value})
    except ValueError:
        logger.warning("ignoring the saved setting %s=%r: it is not valid", name, value)
        return False
    return True


def _read_saved(data_dir: Path) -> SavedChoices:
    path = Path(data_dir) / SETTINGS_FILE
    try:
        return SavedChoices.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return SavedChoices()
