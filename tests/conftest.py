"""Every test runs offline: no AWS credentials or instance-metadata lookups, no VSRS_* settings from the
developer's shell, and a private data directory."""

import os

import pytest

from tests.isolation import isolated_environment


@pytest.fixture(autouse=True)
def _isolated_studio_environment(monkeypatch, tmp_path_factory):
    folder = tmp_path_factory.mktemp("studio")
    env = isolated_environment(folder / "data", folder / "aws")
    for name in set(os.environ) - set(env):
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
