"""However the dashboard is started, its server listens on this machine only and sends no usage statistics.

Streamlit reads `.streamlit/config.toml` from the working directory and from the entry script's folder;
dashboard/.streamlit points at the project's config, so a start from any directory gets it.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.isolation import isolated_environment

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 60
LOOPBACK = {"0100007F", "00000000000000000000000001000000"}  # 127.0.0.1 and ::1 as /proc/net/tcp{,6} write them


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _listening_addresses(port: int) -> set[str]:
    """The local addresses that listen on `port`, as /proc/net/tcp and tcp6 write them (hex)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, hex_port = fields[1].rsplit(":", 1)
            if int(hex_port, 16) == port and fields[3] == "0A":  # 0A: LISTEN
                found.add(address)
    return found


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as reply:
            return reply.read().decode().strip() == "ok"
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def test_fault_started_from_another_directory_the_server_binds_to_localhost_and_sends_nothing(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    port = _free_port()
    log_path = tmp_path / "server.log"
    command = [sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard" / "app.py"), "--server.port", str(port)]
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            command,
            cwd=elsewhere,
            env=isolated_environment(tmp_path / "data", tmp_path / "aws"),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _healthy(port):
            assert server.poll() is None and time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)  # polling a server that is starting
        addresses = _listening_addresses(port)
    finally:
        server.terminate()
        server.wait(timeout=20)
    log = log_path.read_text()
    assert addresses and addresses <= LOOPBACK, addresses
    assert "Collecting usage statistics" not in log
    assert "Network URL" not in log
