"""Local deployments: each one its own endpoint process (core.deploy.server) on 127.0.0.1, supervised from here.

A deployment outlives the page, the CLI run and the app that started it: its server runs in a new session
and keeps its state in the store. `reconcile()` (on every get and list, and at app start-up) marks Failed
"stopped unexpectedly" any deployment whose process is gone; `restart` brings it back on the same port when
that is free. A swap (`update`) is done by the running server itself, so there is no gap in service.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import os
import shlex
import signal
import sqlite3
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from core.deploy.client import EndpointRouter
from core.deploy.layout import LOG_FILE, PROCESS_FILE, deployment_folder
from core.deployments import (
    SELF_TEST_QUERY,
    STOPPED_UNEXPECTEDLY,
    Deployment,
    DeploymentError,
    DeploymentKind,
    DeploymentService,
    DeploymentStatus,
    EndpointSnippets,
    check_new_deployment,
    parse_store_time,
    request_token,
)
from core.model_registry import CustomModel, ModelNotFoundError, ModelRegistry
from core.pricing import PriceTable
from core.processes import ChildProcesses, process_alive, recorded_start, spawn_detached, write_process_file
from core.routers.base import Router
from core.store import Store

# A row is written just before its server starts: give the launch this long before calling it lost.
LAUNCH_GRACE_S = 30.0
# A server still Creating after this long is stopped and marked Failed.
CREATE_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 5.0
STOP_POLL_S = 0.05
LIVE_STATUSES = (DeploymentStatus.CREATING.value, DeploymentStatus.ACTIVE.value)


class LocalDeploymentService(DeploymentService):
    backend = "local"
    description = (
        "A local deployment is an HTTP endpoint on this machine (127.0.0.1) serving the student; "
        "it costs nothing per query."
    )
    # An endpoint process can die at any time; seeing that is a local process check, so a view looks often.
    watch_interval_s = 2.0

    def __init__(self, store: Store, data_dir: Path, prices: PriceTable | None = None):
        super().__init__(store)
        self.data_dir = Path(data_dir).resolve()
        self.prices = prices
        # Servers this service started, kept so that ended ones are reaped instead of lingering as zombies.
        self._servers = ChildProcesses()

    def folder(self, deployment_id: str) -> Path:
        return deployment_folder(self.data_dir, deployment_id)

    def log_text(self, name: str, max_chars: int = 20_000) -> str:
        """The end of the endpoint's log (tracebacks live there, never in the failure message)."""
        path = self.folder(self.records.row(name)["id"]) / LOG_FILE
        try:
            return path.read_bytes()[-max_chars:].decode("utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    # ---- the DeploymentService methods --------------------------------------------------------------------

    def create(
        self, name: str, model_id: str, *, description: str = "", tags: Mapping[str, str] | None = None
    ) -> Deployment:
        name, description, tag_dict = check_new_deployment(name, description, tags)
        model = self._local_model(model_id)
        token = request_token(self.backend, name, model.id, description, tag_dict, self.records.generation(name))
        row, made = self.records.claim(
            name=name,
            kind=DeploymentKind.ENDPOINT.value,
            model_id=model.id,
            description=description,
            tags=tag_dict,
            token=token,
        )
        if made:
            self._launch(row["id"])
        return self.get(name)

    def update(self, name: str, model_id: str) -> Deployment:
        row = self.records.row(name)
        model = self._local_model(model_id)
        if row["model_id"] == model.id:
            return self.get(name)
        self.records.update(row["id"], model_id=model.id, failure_message=None)
        if row["status"] == DeploymentStatus.FAILED.value:
            # Nothing is serving: start it again with the new model.
            return self.restart(name)
        return self.get(name)

    def restart(self, name: str) -> Deployment:
        self.reconcile()
        row = self.records.row(name)
        if row["status"] != DeploymentStatus.FAILED.value:
            raise DeploymentError(f"Deployment {name!r} is {row['status']}: only a Failed deployment is restarted.")
        self._stop(row)  # a server that failed its start may still be on its way out
        changed = self.records.update(
            row["id"],
            where="status = ?",
            where_params=(DeploymentStatus.FAILED.value,),
            status=DeploymentStatus.CREATING.value,
            failure_message=None,
            pid=None,
            serving_model_id=None,
        )
        if changed:
            self._launch(row["id"])
        return self.get(name)

    def delete(self, name: str) -> None:
        row = self.records.row(name)
        # The row goes first: nothing routes to it any more, and its server exits on its own if the signal fails.
        self.records.mark_deleted(row["id"])
        self._stop(row)
        self._servers.forget(row["id"])

    def router(self, name: str, router_id: str | None = None) -> Router:
        self.reconcile()
        row = self._ready_row(name)
        return EndpointRouter(row["endpoint"], router_id or f"deployment:{row['name']}", self.prices)

    def snippets(self, deployment: Deployment) -> EndpointSnippets:
        url = deployment.endpoint or "http://127.0.0.1:PORT"
        body = json.dumps({"query": SELF_TEST_QUERY})
        curl = (
            f"curl -s -X POST {url}/route -H 'Content-Type: application/json' -d {shlex.quote(body)}\n"
            f"curl -s {url}/health"
        )
        python = (
            "import json\n"
            "from urllib.request import Request, urlopen\n\n"
            f"request = Request({url + '/route'!r}, data=json.dumps({{'query': {SELF_TEST_QUERY!r}}}).encode(),\n"
            "                  headers={'Content-Type': 'application/json'})\n"
            "with urlopen(request, timeout=10) as response:\n"
            "    answer = json.load(response)\n"
            "print(answer['output'], answer['latency_ms'])\n"
        )
        return EndpointSnippets(curl=curl, python=python)

    def reconcile(self) -> builtins.list[str]:
        """Mark Failed every deployment whose server is gone, or that has not started in time; returns their names."""
        self._servers.reap()
        changed = []
        for row in self.records.rows():
            if row["status"] not in LIVE_STATUSES:
                continue
            reason = self._lost_reason(row)
            if reason is None:
                continue
            if row["pid"] is not None and self._alive(row):
                # Marked Failed all the same; a later delete names the process if it still will not stop.
                with contextlib.suppress(DeploymentError):
                    self._stop(row)
            # Only if nothing changed meanwhile: a server that failed on its own has written its own reason.
            if self.records.update(
                row["id"],
                where="status = ? AND pid IS ?",
                where_params=(row["status"], row["pid"]),
                status=DeploymentStatus.FAILED.value,
                failure_message=reason,
            ):
                changed.append(row["name"])
        return changed

    def deployable(self, model: CustomModel) -> bool:
        return model.path is not None

    # ---- processes ----------------------------------------------------------------------------------------

    def _lost_reason(self, row: sqlite3.Row) -> str | None:
        """Why a Creating or Active deployment has no working server, or None while it has one."""
        since = parse_store_time(row["updated_at"])
        age = time.time() - since.timestamp() if since else 0.0
        if row["pid"] is None:
            return "its endpoint process never started; restart it" if age > LAUNCH_GRACE_S else None
        if not self._alive(row):
            return STOPPED_UNEXPECTEDLY
        if row["status"] == DeploymentStatus.CREATING.value and age > CREATE_TIMEOUT_S:
            return f"it did not become Active within {CREATE_TIMEOUT_S:.0f} s; see its log"
        return None

    def _launch(self, deployment_id: str) -> None:
        folder = self.folder(deployment_id)
        folder.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "core.deploy.server", str(self.data_dir), deployment_id]
        command += ["--store", str(self.store.path)]
        try:
            child = spawn_detached(command, folder / LOG_FILE)
        except OSError as exc:
            reason = f"The endpoint process could not be started ({exc.strerror or exc})."
            self.records.update(deployment_id, status=DeploymentStatus.FAILED.value, failure_message=reason)
            raise DeploymentError(reason) from exc
        self._servers.add(deployment_id, child)
        write_process_file(folder / PROCESS_FILE, child.pid)
        self.records.update(deployment_id, pid=child.pid)

    def _alive(self, row: sqlite3.Row) -> bool:
        pid = row["pid"]
        return pid is not None and process_alive(pid, recorded_start(self.folder(row["id"]) / PROCESS_FILE, pid))

    def _stop(self, row: sqlite3.Row) -> None:
        """End the deployment's server if it is still ours and running: SIGTERM, then SIGKILL after a while."""
        if not self._alive(row):
            return
        pid = int(row["pid"])
        for sig, wait_s in ((signal.SIGTERM, STOP_TIMEOUT_S), (signal.SIGKILL, STOP_TIMEOUT_S)):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                return
            deadline = time.monotonic() + wait_s
            while time.monotonic() < deadline:
                self._servers.reap()
                if not self._alive(row):
                    return
                time.sleep(STOP_POLL_S)
        raise DeploymentError(f"The endpoint process {pid} did not stop; stop it by hand (kill {pid}).")

    # ---- models -------------------------------------------------------------------------------------------

    def _local_model(self, reference: str) -> CustomModel:
        registry = ModelRegistry(self.store, self.data_dir)
        reference = (reference or "").strip()
        model: CustomModel | None
        try:
            model = registry.get(reference)
        except ModelNotFoundError:
            model = next((m for m in registry.list() if m.name == reference), None)
            if model is None:
                raise DeploymentError(
                    f"There is no model {reference!r}: train one on the Distillation page, or give the id of a "
                    "model on the Models page."
                ) from None
        if model.path is None:
            raise DeploymentError(
                f"Model {model.name!r} lives on Amazon Bedrock: choose Amazon Bedrock in Settings to deploy it there."
            )
        if not model.path.is_dir():
            raise DeploymentError(f"The files of model {model.name!r} are missing from {model.path}: train it again.")
        return model
