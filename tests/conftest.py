"""Every test runs offline: no AWS credentials or instance-metadata lookups, no VSRS_* settings from the
developer's shell, and a private data directory (the one isolation fixture; the app and browser tests use
the same environment)."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.isolation import isolated_environment


@pytest.fixture(autouse=True)
def studio_env(monkeypatch, tmp_path_factory) -> Iterator[Path]:
    """The test's private data directory, in an environment with no AWS credentials and no VSRS_* settings.

    It lives outside the test's own tmp_path, which stays empty for the test to use."""
    folder = tmp_path_factory.mktemp("studio")
    data_dir = folder / "studio-data"
    env = isolated_environment(data_dir, folder / "aws")
    for name in set(os.environ) - set(env):
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    yield data_dir
