"""Where a local deployment's files live: `<data_dir>/deployments/<deployment id>/` holds its server's log and
the pid record (with the process start time) that tells whether the server still runs."""

from __future__ import annotations

from pathlib import Path

from core.files import path_inside

DEPLOYMENTS_FOLDER = "deployments"
LOG_FILE = "server.log"
PROCESS_FILE = "process.json"


def deployment_folder(data_dir: Path, deployment_id: str) -> Path:
    return path_inside(data_dir, DEPLOYMENTS_FOLDER, deployment_id)
