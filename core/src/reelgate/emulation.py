"""
What every provider emulator shares: faults, prompt directives, a loopback server.

Each plugin ships an emulator of its upstream API (an ASGI app). Wrap it in
`FaultMiddleware` and script faults through its `Faults`::

    faults = Faults()
    app = FaultMiddleware(routes, faults, error_body=openai_error_body)
    faults.add(Fault(status=429, headers={"retry-after-ms": "10"}, path="/videos/"))
    faults.add(Fault(delay=5.0))            # slower than the client's read timeout
    faults.add(Fault(drop=True))            # the connection drops
    faults.add(Fault(malformed=True))       # 200 with a body that is not JSON
    faults.add(Fault(truncate=1000))        # the body stops after 1000 bytes

Emulators also read *directives* in prompts, so that a test can ask for a job that fails
(`FAIL`), is filtered (`FILTER`) or takes long (`SLOW`) through any client.

Run one on loopback with `serve` (tests) or `main` (``python -m <plugin>.emulator``).
Needs the ``emulator`` extra (Starlette and uvicorn).
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from typing import Any

import anyio
import attrs

from .http import ConnectionDropped

__all__ = [
    "FAIL",
    "FILTER",
    "SLOW",
    "ConnectionDropped",
    "Fault",
    "FaultMiddleware",
    "Faults",
    "SeenRequest",
    "directives",
    "main",
    "serve",
]

#: A prompt containing this makes an emulated job fail.
FAIL = "[emulate:fail]"
#: A prompt containing this makes an emulated job be content-filtered.
FILTER = "[emulate:filter]"
#: A prompt containing this makes an emulated job take a minute instead of a moment.
SLOW = "[emulate:slow]"

_DIRECTIVE = re.compile(r"\[emulate:([a-z_]+)\]")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Any]
Send = Callable[[Message], Any]
ASGIApp = Callable[[Scope, Receive, Send], Any]
ErrorBody = Callable[[int, str], bytes]


def directives(prompt: str | None) -> frozenset[str]:
    """The directives in a prompt: ``"x [emulate:fail]"`` -> ``{"fail"}``."""
    return frozenset(_DIRECTIVE.findall(prompt or ""))


@attrs.frozen(kw_only=True)
class Fault:
    """
    One scripted misbehaviour, applied to the next `times` matching requests.

    Attributes:
        status: Answer with this HTTP status and the emulator's error body.
        message: The error message in that body.
        headers: Extra response headers (e.g. ``retry-after-ms``).
        delay: Seconds to wait before answering (past the client's timeout: a timeout).
        drop: Drop the connection instead of answering (the request never reaches the app).
        lose_answer: Let the app act on the request (a create creates its job), then drop
            the connection instead of answering: the lost answer of an ambiguous create.
        malformed: Answer 200 with a body that is not valid JSON.
        truncate: Stop the real response's body after this many bytes.
        method: Match only this HTTP method.
        path: Match only paths this regular expression finds something in.
        times: How many requests the fault applies to.
    """

    status: int | None = None
    message: str = "emulated fault"
    headers: Mapping[str, str] = attrs.field(factory=dict)
    delay: float = 0.0
    drop: bool = False
    lose_answer: bool = False
    malformed: bool = False
    truncate: int | None = None
    method: str | None = None
    path: str | None = None
    times: int = 1

    def matches(self, method: str, path: str) -> bool:
        """Whether the fault applies to this request."""
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self.path is None or re.search(self.path, path) is not None


@attrs.frozen
class SeenRequest:
    """A request an emulator received (for assertions: how many, with which key)."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]


@attrs.define
class Faults:
    """The faults scripted for one emulator, and the requests it has seen."""

    _pending: list[list[Any]] = attrs.field(factory=list, init=False)
    seen: list[SeenRequest] = attrs.field(factory=list, init=False)
    _lock: threading.Lock = attrs.field(factory=threading.Lock, init=False)

    def add(self, fault: Fault) -> Fault:
        """Script a fault; faults apply in the order they were added."""
        with self._lock:
            self._pending.append([fault, fault.times])
        return fault

    def clear(self) -> None:
        """Forget every scripted fault and every seen request."""
        with self._lock:
            self._pending.clear()
            self.seen.clear()

    def take(self, method: str, path: str) -> Fault | None:
        """The fault for this request, if one is scripted (consuming one use)."""
        with self._lock:
            for entry in self._pending:
                fault, left = entry
                if left > 0 and fault.matches(method, path):
                    entry[1] -= 1
                    if entry[1] == 0:
                        self._pending.remove(entry)
                    return fault  # type: ignore[no-any-return]  # entries hold a Fault first
        return None

    def count(self, method: str | None = None, path: str | None = None) -> int:
        """How many seen requests match `method` and the `path` regular expression."""
        return sum(
            1
            for r in self.seen
            if (method is None or r.method == method.upper())
            and (path is None or re.search(path, r.path) is not None)
        )


def _json_error(status: int, message: str) -> bytes:
    return json.dumps({"error": {"message": message, "code": status}}).encode()


class FaultMiddleware:
    """
    ASGI middleware that records requests and applies scripted faults.

    Args:
        app: The emulator's routes.
        faults: The script.
        error_body: Builds the emulator's error body for a status and message.
    """

    def __init__(
        self, app: ASGIApp, faults: Faults | None = None, *, error_body: ErrorBody = _json_error
    ) -> None:
        self.app = app
        self.faults = faults if faults is not None else Faults()
        self.error_body = error_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Record the request, then apply the first matching fault or pass it on."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        headers = {
            k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])
        }
        self.faults.seen.append(
            SeenRequest(method, path, scope.get("query_string", b"").decode("latin-1"), headers)
        )
        fault = self.faults.take(method, path)
        if fault is None:
            await self.app(scope, receive, send)
            return
        if fault.delay:
            await anyio.sleep(fault.delay)
        extra = [
            (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in fault.headers.items()
        ]
        if fault.lose_answer:

            async def swallow(_message: Message) -> None:
                return None

            await self.app(scope, receive, swallow)
        if fault.drop or fault.lose_answer:
            # Announce a body and send none: a real server then closes the connection
            # mid-response; the in-process transport turns the exception into a drop.
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-length", b"512")],
                }
            )
            raise ConnectionDropped
        if fault.status is not None:
            body = self.error_body(fault.status, fault.message)
            await _respond(send, fault.status, body, extra)
            return
        if fault.malformed:
            await _respond(send, 200, b'{"id": "trunc', extra)
            return
        if fault.truncate is not None:
            await self.app(scope, receive, _truncating(send, fault.truncate))
            return
        await self.app(scope, receive, send)


async def _respond(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _truncating(send: Send, limit: int) -> Send:
    sent = 0

    async def truncated(message: Message) -> None:
        nonlocal sent
        if message["type"] != "http.response.body":
            await send(message)
            return
        if sent >= limit:
            return
        body = message.get("body", b"")
        keep = body[: limit - sent]
        sent += len(keep)
        last = sent >= limit or not message.get("more_body", False)
        await send({"type": "http.response.body", "body": keep, "more_body": not last})

    return truncated


def _free_port_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


@contextmanager
def serve(
    app: ASGIApp, *, host: str = "127.0.0.1", port: int = 0, lifespan: bool = False
) -> Iterator[str]:
    """
    Run an ASGI app under uvicorn in a background thread, on loopback.

    Args:
        app: The application.
        host: The interface to bind.
        port: The port (0: any free one).
        lifespan: Run the app's lifespan (start-up and shut-down) in the server's loop.

    Yields:
        The server's base URL, e.g. ``http://127.0.0.1:41234``.
    """
    import uvicorn  # noqa: PLC0415  # an extra: only emulator users need it

    sock = _free_port_socket(host, port)
    config = uvicorn.Config(
        app, log_level="warning", lifespan="on" if lifespan else "off", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            msg = "the server did not start"
            raise RuntimeError(msg)
        time.sleep(0.005)
    try:
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def main(
    make_app: Callable[[], ASGIApp],
    *,
    description: str,
    default_port: int,
    argv: list[str] | None = None,
) -> None:
    """Command line of ``python -m <plugin>.emulator``: serve until interrupted."""
    import uvicorn  # noqa: PLC0415  # an extra: only emulator users need it

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=default_port)
    args = parser.parse_args(argv)
    uvicorn.run(make_app(), host=args.host, port=args.port, log_level="info")
