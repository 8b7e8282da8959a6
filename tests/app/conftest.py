"""AppTest fixtures: a private data directory, AWS with no credentials and no network, fresh Streamlit caches."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core.backends import LocalBackend
from core.settings import Settings
from core.store import Store
from tests.app.helpers import run_app
from tests.isolation import isolated_environment


@pytest.fixture(autouse=True)
def studio_env(tmp_path, monkeypatch) -> Iterator[Path]:
    """Every app test gets an empty data directory, no AWS credentials and empty Streamlit caches."""
    data_dir = tmp_path / "studio-data"
    env = isolated_environment(data_dir, tmp_path / "aws")
    for name in list(os.environ):
        if name not in env:
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    st.cache_data.clear()
    st.cache_resource.clear()
    yield data_dir
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture
def app() -> AppTest:
    """The studio app after its first run (on its default page, Overview)."""
    return run_app()


@pytest.fixture
def teacher_is(monkeypatch):
    """Make the local backend's teacher a stand-in router; start the app after this (routers are cached)."""

    def use(router_class):
        router_class.calls = 0
        monkeypatch.setattr(
            LocalBackend, "teacher", lambda backend, prompt=None: router_class(backend.prices(), "teacher")
        )
        return router_class

    return use


@pytest.fixture
def store(studio_env) -> Store:
    """The store of the studio the test's app runs on."""
    return Store(Settings(data_dir=studio_env).store_path)
