"""A router that routes through a local deployment's HTTP endpoint (core.deploy.protocol).

Each thread keeps one keep-alive connection, so a query costs one round trip on an open socket; a
connection the server closed meanwhile is reopened once. An endpoint that does not answer gives every
query of the batch an error saying so, never an exception.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit

from core.deploy.protocol import MAX_QUERIES_PER_REQUEST
from core.pricing import PriceTable
from core.routers.base import Router, RouterReply
from core.schema import RoutingDecision

TIMEOUT_S = 30.0
_STALE_CONNECTION = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, http.client.BadStatusLine)


class EndpointError(Exception):
    """The endpoint could not be reached or answered with an error; the message is a sentence."""


class EndpointRouter(Router):
    price_key = None
    remote = True

    def __init__(self, endpoint: str, router_id: str, prices: PriceTable | None = None, timeout_s: float = TIMEOUT_S):
        super().__init__(prices, router_id)
        parts = urlsplit(endpoint)
        if parts.scheme != "http" or not parts.hostname or parts.port is None:
            raise ValueError(f"{endpoint!r} is not an endpoint URL such as http://127.0.0.1:8123")
        self.endpoint = endpoint.rstrip("/")
        self.host = parts.hostname
        self.port = parts.port
        self.timeout_s = timeout_s
        self._local = threading.local()

    def route_many(self, queries: Sequence[str]) -> list[RouterReply]:
        replies: list[RouterReply] = []
        for start in range(0, len(queries), MAX_QUERIES_PER_REQUEST):
            replies.extend(self._route_chunk(queries[start : start + MAX_QUERIES_PER_REQUEST]))
        return replies

    def health(self) -> dict[str, Any]:
        return self.call("GET", "/health")

    def call(self, method: str, path: str, payload: object = None) -> dict[str, Any]:
        """One request; the decoded JSON answer, or EndpointError with a sentence."""
        body = None if payload is None else json.dumps(payload, ensure_ascii=False).encode("utf-8")
        try:
            status, data = self._exchange(method, path, body)
        except (OSError, http.client.HTTPException) as exc:
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            raise EndpointError(
                f"The endpoint {self.endpoint} did not answer ({reason}): the deployment may have stopped; "
                "see its status on the Deployments page."
            ) from exc
        try:
            answer = json.loads(data)
        except ValueError as exc:
            raise EndpointError(
                f"The endpoint {self.endpoint} answered HTTP {status} with something not JSON."
            ) from exc
        if status != 200:
            message = answer.get("error") if isinstance(answer, dict) else None
            raise EndpointError(f"The endpoint answered HTTP {status}: {message or 'no reason given'}")
        if not isinstance(answer, dict):
            raise EndpointError(f"The endpoint {self.endpoint} answered JSON that is not an object.")
        return answer

    def _route_chunk(self, queries: Sequence[str]) -> list[RouterReply]:
        try:
            answer = self.call("POST", "/route", {"queries": list(queries)})
            results = answer.get("results")
            if not isinstance(results, list) or len(results) != len(queries):
                raise EndpointError(f"The endpoint {self.endpoint} answered a different number of results.")
        except EndpointError as exc:
            return [RouterReply(text="", error=str(exc)) for _ in queries]
        return [_reply(item) for item in results]

    def _exchange(self, method: str, path: str, body: bytes | None) -> tuple[int, bytes]:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            try:
                return self._send(connection, method, path, body)
            except _STALE_CONNECTION:
                # The server closed an idle keep-alive connection: a routing request is safe to send again.
                self._drop()
            except BaseException:
                self._drop()
                raise
        connection = self._local.connection = _NoDelayConnection(self.host, self.port, timeout=self.timeout_s)
        try:
            return self._send(connection, method, path, body)
        except BaseException:
            self._drop()
            raise

    @staticmethod
    def _send(connection: http.client.HTTPConnection, method: str, path: str, body: bytes | None) -> tuple[int, bytes]:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if connection.sock is None:
            connection.connect()
        # http.client sends the head and the body apart; corked, they leave as one segment, so the server
        # wakes once per request instead of twice.
        with _corked(connection.sock):
            connection.request(method, path, body, headers)
        response = connection.getresponse()
        return response.status, response.read()

    def _drop(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
        self._local.connection = None


class _NoDelayConnection(http.client.HTTPConnection):
    """Headers and body leave at once: without TCP_NODELAY a small request waits out the peer's delayed ACK."""

    def connect(self) -> None:
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


@contextlib.contextmanager
def _corked(sock: socket.socket | None) -> Iterator[None]:
    cork = getattr(socket, "TCP_CORK", None)  # Linux only; elsewhere the two sends go as they are
    if sock is None or cork is None:
        yield
        return
    sock.setsockopt(socket.IPPROTO_TCP, cork, 1)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):  # a socket the failed request closed needs no uncorking
            sock.setsockopt(socket.IPPROTO_TCP, cork, 0)


def _reply(item: Any) -> RouterReply:
    if not isinstance(item, dict):
        return RouterReply(text=json.dumps(item), error="The endpoint answered a result that is not an object.")
    output = item.get("output")
    text = json.dumps(output, ensure_ascii=False) if output is not None else ""
    if not item.get("valid") or not isinstance(output, dict):
        errors = item.get("errors") or ["the endpoint could not route this query"]
        return RouterReply(text=text, error="; ".join(str(e) for e in errors))
    try:
        decision = RoutingDecision.model_validate(output)
    except ValueError:
        return RouterReply(text=text)  # the shared parser says what is wrong with it
    return RouterReply(text=text, decision=decision)
