"""AppTest fixtures: fresh Streamlit caches, the app after its first run, stand-in teachers and the store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core.backends import LocalBackend
from core.settings import Settings
from core.store import Store
from tests.app.bedrock_app import stubbed_bedrock  # noqa: F401  (a fixture: the app on stubbed Bedrock)
from tests.app.helpers import run_app


@pytest.fixture(autouse=True)
def fresh_streamlit_caches() -> Iterator[None]:
    """Every app test starts and ends with empty Streamlit caches (the environment is tests/conftest.py's)."""
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
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
