"""Browser tests: one Streamlit server per module on a free localhost port, driven by Debian's Chromium.

The server runs with its own data directory and no AWS credentials; its log goes to a file shown on failure.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.app.helpers import ROOT
from tests.e2e.browser import CHROMIUM, CHROMIUM_ARGS
from tests.isolation import isolated_environment

ARTIFACTS = ROOT / "test-artifacts"
SERVER_START_TIMEOUT_S = 60
HEALTH_POLL_INTERVAL_S = 0.2
SERVER_STOP_TIMEOUT_S = 10


@dataclass
class StudioServer:
    url: str
    data_dir: Path
    log_path: Path

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("localhost", 0))
        return sock.getsockname()[1]


def start_studio(tmp_dir: Path, settings: dict | None = None) -> tuple[subprocess.Popen, StudioServer]:
    """Start `streamlit run dashboard/app.py` from the repository root, so .streamlit/config.toml applies."""
    data_dir = tmp_dir / "studio-data"
    data_dir.mkdir(parents=True)
    if settings:
        (data_dir / "settings.json").write_text(json.dumps(settings), encoding="utf-8")
    port = free_port()
    log_path = tmp_dir / "streamlit.log"
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "dashboard/app.py",
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--server.fileWatcherType",
        "none",
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=isolated_environment(data_dir, tmp_dir / "aws"),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = StudioServer(url=f"http://localhost:{port}", data_dir=data_dir, log_path=log_path)
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while not _healthy(server.url):
        if process.poll() is not None or time.monotonic() > deadline:
            stop_studio(process)
            pytest.fail(f"the Streamlit server did not become healthy; its log ends:\n{server.log_tail()}")
        time.sleep(HEALTH_POLL_INTERVAL_S)  # polling a server that is starting; nothing to wait on instead
    return process, server


def stop_studio(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=SERVER_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as reply:
            return reply.read().decode().strip() == "ok"
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


@pytest.fixture(scope="module")
def studio(tmp_path_factory) -> Iterator[StudioServer]:
    """A studio on the local backend for the whole module."""
    process, server = start_studio(tmp_path_factory.mktemp("studio-local"))
    yield server
    stop_studio(process)


@pytest.fixture(scope="module")
def bedrock_studio(tmp_path_factory) -> Iterator[StudioServer]:
    """A studio saved on the Amazon Bedrock backend, with no AWS credentials anywhere."""
    process, server = start_studio(tmp_path_factory.mktemp("studio-bedrock"), settings={"backend": "bedrock"})
    yield server
    stop_studio(process)


@pytest.fixture(scope="module")
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser) -> Iterator:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    yield context.new_page()
    context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
