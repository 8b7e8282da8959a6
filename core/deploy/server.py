"""One local deployment's endpoint: `python -m core.deploy.server <data_dir> <deployment_id> [--store PATH]`.

The process loads its model, listens on 127.0.0.1 (the port it had before when it is free, else a new one),
routes a self-test query through its own HTTP endpoint and only then marks the deployment Active. Any
failure before that marks it Failed with the reason. While it serves, a watcher thread reads the
deployment's row a few times a second: a new model asked for is loaded and self-tested beside the old one,
then swapped in with one assignment, so no request goes unanswered; a row that is gone means the deployment
was deleted, and the server exits. The store is the only channel to the studio (docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from uvicorn.protocols.http.h11_impl import H11Protocol

from core.deploy.layout import PROCESS_FILE, deployment_folder
from core.deploy.protocol import HOST, MAX_BODY_BYTES, BadRequest, read_route_request, result_json
from core.deployments import SELF_TEST_QUERY, DeploymentStatus
from core.processes import write_process_file
from core.routers.base import Router
from core.settings import Settings
from core.store import NOW_SQL, Store

log = logging.getLogger("core.deploy.server")

WATCH_INTERVAL_S = 0.25
START_TIMEOUT_S = 30.0
SELF_TEST_TIMEOUT_S = 10.0
GRACEFUL_SHUTDOWN_S = 2


class LoadFailure(Exception):
    """The model could not be loaded or did not pass its self-test; the message says why."""


class EndpointServer:
    def __init__(self, store: Store, data_dir: Path, deployment_id: str):
        self.store = store
        self.data_dir = Path(data_dir).resolve()
        self.deployment_id = deployment_id
        self.name = deployment_id
        # (router, model id): replaced in one assignment by a swap, read once per request.
        self.state: tuple[Router, str] | None = None
        self.served = 0
        self._unflushed = 0
        self._count_lock = threading.Lock()
        self.server: uvicorn.Server | None = None
        self.failed = False

    # ---- the process --------------------------------------------------------------------------------------

    def run(self) -> int:
        row = self._row()
        if row is None:
            log.error("deployment %s is not in the store (deleted?); nothing to serve", self.deployment_id)
            return 2
        self.name = row["name"]
        self.served = int(row["requests_served"] or 0)
        folder = deployment_folder(self.data_dir, self.deployment_id)
        folder.mkdir(parents=True, exist_ok=True)
        write_process_file(folder / PROCESS_FILE, os.getpid())
        self._write(pid=os.getpid())
        try:
            self.state = (self._load(row["model_id"]), row["model_id"])
        except LoadFailure as exc:
            self._fail(str(exc))
            return 1
        try:
            sock = listening_socket(row["port"])
        except OSError as exc:
            self._fail(f"The endpoint could not listen on {HOST} ({exc.strerror or exc}).")
            return 1
        port = sock.getsockname()[1]
        config = uvicorn.Config(
            build_app(self),
            http=OneSendH11Protocol,
            lifespan="off",
            log_level="warning",
            access_log=False,
            server_header=False,
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        )
        self.server = uvicorn.Server(config)
        threading.Thread(target=self._watch, args=(port,), name="deployment-watch", daemon=True).start()
        log.info("deployment %s serving model %s on %s:%d", self.name, row["model_id"], HOST, port)
        self.server.run(sockets=[sock])
        self._flush_counts()
        log.info("deployment %s stopped", self.name)
        return 1 if self.failed else 0

    def _watch(self, port: int) -> None:
        try:
            self._become_active(port)
            while self.server is not None and not self.server.should_exit:
                time.sleep(WATCH_INTERVAL_S)
                row = self._row()
                if row is None or row["deleted_at"] is not None or row["pid"] != os.getpid():
                    log.info("deployment %s was deleted or taken over; exiting", self.name)
                    break
                self._flush_counts()
                if self.state is not None and row["model_id"] != self.state[1]:
                    self._swap(row["model_id"])
        except _Stop:
            pass
        except Exception:  # a watcher that dies would leave the endpoint unsupervised: stop it instead
            log.exception("the watcher of deployment %s failed", self.name)
            self._fail("The endpoint's supervisor failed unexpectedly; see its log, then restart it.")
        if self.server is not None:
            self.server.should_exit = True

    def _become_active(self, port: int) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        assert self.server is not None
        while not self.server.started:
            if self.server.should_exit or time.monotonic() > deadline:
                self._fail(f"The endpoint did not start listening within {START_TIMEOUT_S:.0f} s; see its log.")
                raise _Stop
            time.sleep(0.01)
        problem = http_self_test(port)
        if problem:
            self._fail(problem)
            raise _Stop
        assert self.state is not None
        changed = self._write(
            where="status = ? AND pid IS ?",
            where_params=(DeploymentStatus.CREATING.value, os.getpid()),
            status=DeploymentStatus.ACTIVE.value,
            endpoint=f"http://{HOST}:{port}",
            port=port,
            serving_model_id=self.state[1],
            failure_message=None,
        )
        if not changed:
            log.info("deployment %s was ended while starting; exiting", self.name)
            raise _Stop
        log.info("deployment %s is Active", self.name)

    def _swap(self, model_id: str) -> None:
        assert self.state is not None
        old = self.state[1]
        try:
            router = self._load(model_id)
        except LoadFailure as exc:
            log.warning("swap of %s to %s failed: %s", self.name, model_id, exc)
            self._write(
                where="model_id = ?",
                where_params=(model_id,),
                model_id=old,
                failure_message=f"The swap to model {model_id} failed ({exc}); it still serves {old}.",
            )
            return
        self.state = (router, model_id)
        self._write(serving_model_id=model_id, failure_message=None)
        log.info("deployment %s swapped from %s to %s", self.name, old, model_id)

    def _load(self, model_id: str) -> Router:
        """The model's router, after it has routed the self-test query to a valid answer."""
        from core.distill.artifact import StudentArtifactError
        from core.model_registry import ModelRegistry, ModelRegistryError
        from core.routers.student import StudentRouter

        try:
            model = ModelRegistry(self.store, self.data_dir).get(model_id)
        except ModelRegistryError as exc:
            raise LoadFailure(str(exc).rstrip(".")) from exc
        if model.path is None:
            raise LoadFailure(f"model {model.name!r} has no local files")
        try:
            router = StudentRouter.from_directory(model.path, router_id=f"deployment:{self.name}")
        except StudentArtifactError as exc:
            raise LoadFailure(f"The model {model.name!r} could not be loaded: {str(exc).rstrip('.')}") from exc
        except OSError as exc:
            raise LoadFailure(f"The files of model {model.name!r} could not be read ({exc.strerror or exc})") from exc
        result = router.route(SELF_TEST_QUERY)
        if not result.valid:
            raise LoadFailure(f"The model {model.name!r} gave no valid answer to the self-test query")
        return router

    # ---- requests -----------------------------------------------------------------------------------------

    def count(self, n: int) -> None:
        with self._count_lock:
            self.served += n
            self._unflushed += n

    def _flush_counts(self) -> None:
        with self._count_lock:
            n, self._unflushed = self._unflushed, 0
        if n:
            self.store.execute(
                "UPDATE deployments SET requests_served = requests_served + ? WHERE id = ?", (n, self.deployment_id)
            )

    # ---- the store ----------------------------------------------------------------------------------------

    def _row(self):
        return self.store.query_one("SELECT * FROM deployments WHERE id = ?", (self.deployment_id,))

    def _write(self, *, where: str = "", where_params: tuple = (), **values: Any) -> int:
        assignments = "".join(f"{column} = ?, " for column in values)
        condition = f" AND ({where})" if where else ""
        return self.store.execute(
            f"UPDATE deployments SET {assignments}updated_at = {NOW_SQL} WHERE id = ? AND deleted_at IS NULL"
            f"{condition}",
            (*values.values(), self.deployment_id, *where_params),
        )

    def _fail(self, reason: str) -> None:
        self.failed = True
        log.error("deployment %s failed: %s", self.name, reason)
        self._write(
            where="pid IS ?", where_params=(os.getpid(),), status=DeploymentStatus.FAILED.value, failure_message=reason
        )


class _Stop(Exception):
    """The watcher has nothing more to do: the server is to exit."""


class OneSendTransport:
    """A transport that sends what is written in one turn of the event loop with one send.

    uvicorn writes a response's head and its body apart. On a busy machine the head alone wakes the client,
    which then waits for this process to be scheduled again before the body follows: milliseconds per query.
    Joined, the answer leaves at once; the order of bytes is unchanged and nothing is held past the turn.
    """

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop):
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(bytes(data))

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if self._pending:
            data = b"".join(self._pending)
            self._pending.clear()
            if not self._transport.is_closing():
                self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(len(chunk) for chunk in self._pending)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class OneSendH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, answering each request with one send (OneSendTransport)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(OneSendTransport(transport, asyncio.get_running_loop()))  # type: ignore[arg-type]


def listening_socket(preferred_port: int | None) -> socket.socket:
    """A TCP socket bound to 127.0.0.1: on the port the deployment had before when it is free, else on a new one."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        if preferred_port:
            try:
                sock.bind((HOST, int(preferred_port)))
                return sock
            except OSError:
                log.info("port %s is taken; choosing another", preferred_port)
        sock.bind((HOST, 0))
    except BaseException:
        sock.close()
        raise
    return sock


def http_self_test(port: int) -> str | None:
    """Route the self-test query through the endpoint's own HTTP API; None when it answers a valid decision."""
    connection = http.client.HTTPConnection(HOST, port, timeout=SELF_TEST_TIMEOUT_S)
    try:
        connection.request(
            "POST", "/route", json.dumps({"query": SELF_TEST_QUERY}), {"Content-Type": "application/json"}
        )
        response = connection.getresponse()
        body = json.loads(response.read() or b"{}")
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return f"The endpoint did not answer its self-test ({type(exc).__name__}: {exc}); see its log."
    finally:
        connection.close()
    if response.status != 200 or not body.get("valid"):
        return f"The endpoint's self-test failed (HTTP {response.status}: {body.get('error') or body.get('errors')})."
    return None


def build_app(endpoint: EndpointServer) -> Starlette:
    async def health(request: Request) -> JSONResponse:
        model_id = endpoint.state[1] if endpoint.state else None
        return JSONResponse(
            {"status": "ok", "deployment": endpoint.name, "model_id": model_id, "requests_served": endpoint.served}
        )

    async def route(request: Request) -> JSONResponse:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            return _error(413, f"The request is larger than {MAX_BODY_BYTES:,} bytes: send fewer queries at a time.")
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return _error(413, f"The request is larger than {MAX_BODY_BYTES:,} bytes: send fewer queries at a time.")
        try:
            queries, single = read_route_request(json.loads(body))
        except ValueError as exc:  # BadRequest, or a body that is not JSON
            message = str(exc) if isinstance(exc, BadRequest) else 'The body is not JSON: send {"query": "..."}.'
            return _error(400, message)
        assert endpoint.state is not None
        router, model_id = endpoint.state
        started = time.perf_counter()
        results = router.route_batch(queries)
        elapsed_ms = (time.perf_counter() - started) * 1000.0
        endpoint.count(len(queries))
        head = {"deployment": endpoint.name, "model_id": model_id}
        if single:
            return JSONResponse({**head, **result_json(results[0])})
        return JSONResponse({**head, "results": [result_json(r) for r in results], "latency_ms": round(elapsed_ms, 4)})

    async def failure(request: Request, exc: Exception) -> JSONResponse:
        log.exception("request failed", exc_info=exc)
        return _error(500, "The endpoint failed to route the request; see its log.")

    return Starlette(
        routes=[Route("/health", health, methods=["GET"]), Route("/route", route, methods=["POST"])],
        exception_handlers={Exception: failure},
    )


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.deploy.server", description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("deployment_id")
    parser.add_argument("--store", type=Path, help="the studio database (default: <data_dir>/studio.db)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s")
    store = Store(args.store or Settings(data_dir=args.data_dir).store_path)
    return EndpointServer(store, args.data_dir, args.deployment_id).run()


if __name__ == "__main__":
    sys.exit(main())
