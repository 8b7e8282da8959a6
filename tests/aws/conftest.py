"""AWS tests never reach AWS: the credential chain is sealed off, and fake keys exist only where asked for."""

from __future__ import annotations

import os

import pytest

from core.aws.session import make_session

REGION = "us-east-1"


@pytest.fixture(autouse=True)
def sealed_aws_environment(monkeypatch, tmp_path):
    """No real profile, key, SSO cache or instance metadata can leak into a test."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    config_file = tmp_path / "aws-config"
    credentials_file = tmp_path / "aws-credentials"
    config_file.write_text("")
    credentials_file.write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config_file))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials_file))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return tmp_path


@pytest.fixture
def fake_credentials(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")


@pytest.fixture
def session(fake_credentials):
    return make_session(None, REGION)
