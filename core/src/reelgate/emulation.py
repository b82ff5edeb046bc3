"""
What every provider emulator shares: faults, job phases, refusals, a loopback server.

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
(`FAIL`), is filtered (`FILTER`) or takes long (`SLOW`) through any client. A
`JobTimeline` turns a prompt, a length and a clock into the job's phase at any moment::

    timeline = JobTimeline.start(prompt, seconds=job_seconds, clock=clock)
    phase = timeline.now()       # Phase(stage="running", progress=40, finished_at=None)

A route refuses a request by raising `Refusal(status, message)`: `FaultMiddleware`
answers it with the emulator's error body. `Faults.seen` records every request;
`Faults.recording()` collects those of one block, `SeenRequest.carries` says whether one
carried a key. Serve downloads on `asset_origin(base_url)`, the same server under
another host name, so that tests can show that no key goes there. The sample media
(`reelgate.media.sample`) is a real MP4 to serve.

Run one on loopback with `serve` (tests) or `main` (``python -m <plugin>.emulator``).
Needs the ``emulator`` extra (Starlette and uvicorn).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from typing import Any, Literal, Self
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import anyio
import attrs

from .http import ConnectionDropped

__all__ = [
    "FAIL",
    "FILTER",
    "SLOW",
    "Clock",
    "ConnectionDropped",
    "Fault",
    "FaultMiddleware",
    "Faults",
    "JobTimeline",
    "Phase",
    "Refusal",
    "SeenRequest",
    "asset_origin",
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
#: The time now, in seconds (`time.time`, or a test's clock).
Clock = Callable[[], float]

#: Where an emulated job is: on its way, or how it ended.
Stage = Literal["queued", "running", "succeeded", "failed", "filtered", "cancelled"]


def directives(prompt: str | None) -> frozenset[str]:
    """The directives in a prompt: ``"x [emulate:fail]"`` -> ``{"fail"}``."""
    return frozenset(_DIRECTIVE.findall(prompt or ""))


# -- job phases ------------------------------------------------------------------------------


@attrs.frozen
class Phase:
    """
    An emulated job at one moment.

    Attributes:
        stage: ``queued``, ``running``, or how it ended: ``succeeded``, ``failed``,
            ``filtered`` or ``cancelled``.
        progress: 0 while queued, rising while running, 100 once succeeded.
        finished_at: When it ended (clock seconds), or None while it runs.
    """

    stage: Stage
    progress: int
    finished_at: float | None = None

    @property
    def done(self) -> bool:
        """Whether the job has ended."""
        return self.finished_at is not None


@attrs.define
class JobTimeline:
    """
    When an emulated job is queued, running and done, read from a clock.

    The job spends `queued_share` of `seconds` queued, then runs with progress rising
    to 99, then ends with `outcome`. Build one with `start`, which reads the prompt's
    directives; the clock is injectable, so a test can move time instead of sleeping.

    Attributes:
        created: When the job was created (clock seconds).
        seconds: How long it takes from creation to its end.
        outcome: How it ends: ``succeeded``, ``failed`` or ``filtered``.
        clock: The time now, in seconds (`time.time` by default).
        queued_share: The share of `seconds` spent queued.
        cancelled_at: When `cancel` stopped it, if it did.
    """

    created: float
    seconds: float
    outcome: Literal["succeeded", "failed", "filtered"] = "succeeded"
    clock: Clock = time.time
    queued_share: float = 0.2
    cancelled_at: float | None = None

    @classmethod
    def start(
        cls,
        prompt: str | None,
        *,
        seconds: float,
        clock: Clock = time.time,
        slow_seconds: float = 60.0,
        queued_share: float = 0.2,
    ) -> Self:
        """
        A job created now whose prompt's directives choose how it goes.

        Args:
            prompt: The job's prompt: `FAIL` fails it, `FILTER` filters it, `SLOW`
                makes it take `slow_seconds`.
            seconds: How long a job takes.
            clock: The time now, in seconds.
            slow_seconds: How long a `SLOW` job takes.
            queued_share: The share of its time a job spends queued.
        """
        flags = directives(prompt)
        outcome: Literal["succeeded", "failed", "filtered"] = (
            "filtered" if "filter" in flags else "failed" if "fail" in flags else "succeeded"
        )
        return cls(
            created=clock(),
            seconds=slow_seconds if "slow" in flags else seconds,
            outcome=outcome,
            clock=clock,
            queued_share=queued_share,
        )

    def at(self, now: float) -> Phase:
        """The job's phase at `now` (clock seconds)."""
        end = self.created + self.seconds
        if self.cancelled_at is not None and self.cancelled_at < end:
            return Phase("cancelled", self._progress(self.cancelled_at), self.cancelled_at)
        if now >= end:
            return Phase(self.outcome, 100 if self.outcome == "succeeded" else 0, end)
        progress = self._progress(now)
        return Phase("queued" if progress == 0 else "running", progress)

    def now(self) -> Phase:
        """The job's phase now."""
        return self.at(self.clock())

    def cancel(self) -> bool:
        """Stop the job if it has not ended; whether it was stopped."""
        if self.now().done:
            return False
        self.cancelled_at = self.clock()
        return True

    def _progress(self, now: float) -> int:
        queued = self.seconds * self.queued_share
        elapsed = now - self.created
        if elapsed < queued:
            return 0
        running = max(self.seconds - queued, 1e-9)
        return max(1, min(99, int(99 * (elapsed - queued) / running)))


# -- faults and recording -------------------------------------------------------------------


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
    """
    A request an emulator received (for assertions: how many, where, with which key).

    Attributes:
        method: The HTTP method, upper case.
        path: The path, without the query.
        query: The raw query string.
        headers: The headers, names in lower case.
    """

    method: str
    path: str
    query: str
    headers: Mapping[str, str]

    @property
    def host(self) -> str:
        """The host name the request was sent to (its ``Host`` header, without the port)."""
        return urlsplit(f"//{self.headers.get('host', '')}").hostname or ""

    @property
    def params(self) -> dict[str, str]:
        """The query parameters (the last value of a repeated one)."""
        return dict(parse_qsl(self.query, keep_blank_values=True))

    def carries(self, secret: str) -> bool:
        """Whether `secret` appears in any header or in the query."""
        return any(secret in value for value in self.headers.values()) or secret in self.query

    def matches(self, method: str | None = None, path: str | None = None) -> bool:
        """Whether the request has this method and a path `path` finds something in."""
        return (method is None or self.method == method.upper()) and (
            path is None or re.search(path, self.path) is not None
        )


@attrs.define
class Faults:
    """
    The faults scripted for one emulator, and the requests it has seen.

    Attributes:
        seen: Every request since the last `clear`, oldest first.
    """

    _pending: list[list[Any]] = attrs.field(factory=list, init=False)
    seen: list[SeenRequest] = attrs.field(factory=list, init=False)
    _recordings: list[list[SeenRequest]] = attrs.field(factory=list, init=False)
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

    def record(self, request: SeenRequest) -> None:
        """Add a request to `seen` and to every open `recording`."""
        with self._lock:
            self.seen.append(request)
            for recording in self._recordings:
                recording.append(request)

    @contextmanager
    def recording(self) -> Iterator[list[SeenRequest]]:
        """
        Collect the requests seen inside the block.

        A `clear` inside the block does not lose them::

            with faults.recording() as seen:
                await gateway.retrieve(video_id)
            assert len(seen) == 1
        """
        requests: list[SeenRequest] = []
        with self._lock:
            self._recordings.append(requests)
        try:
            yield requests
        finally:
            with self._lock:
                self._recordings.remove(requests)

    def requests(
        self, method: str | None = None, path: str | None = None, *, host: str | None = None
    ) -> list[SeenRequest]:
        """The seen requests with this method, a path `path` matches, and this host."""
        with self._lock:
            seen = list(self.seen)
        return [r for r in seen if r.matches(method, path) and (host is None or r.host == host)]

    def count(self, method: str | None = None, path: str | None = None) -> int:
        """How many seen requests match `method` and the `path` regular expression."""
        return len(self.requests(method, path))

    def carrying(self, secret: str) -> list[SeenRequest]:
        """The seen requests that carried `secret` (in a header or the query)."""
        with self._lock:
            seen = list(self.seen)
        return [r for r in seen if r.carries(secret)]


class Refusal(Exception):  # noqa: N818  # an answer, not an error of the emulator
    """
    Raised by an emulator's route to answer with an error status and the API's error body.

    `FaultMiddleware` turns it into the response, so routes can refuse from anywhere::

        if "authorization" not in request.headers:
            raise Refusal(401, "missing key")

    Attributes:
        status: The HTTP status.
        message: The error message.
        code: A machine-readable code, for error bodies that carry one.
        headers: Extra response headers.
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(status, message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = dict(headers or {})


RefusalBody = Callable[[Refusal], bytes]


def _json_error(status: int, message: str) -> bytes:
    return json.dumps({"error": {"message": message, "code": status}}).encode()


class _RefusalResponse:
    """An ASGI response for a refusal (what a Starlette exception handler returns)."""

    def __init__(self, refusal: Refusal, body: bytes) -> None:
        self.refusal = refusal
        self.body = body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await _respond(send, self.refusal.status, self.body, _header_list(self.refusal.headers))


class FaultMiddleware:
    """
    ASGI middleware that records requests, applies scripted faults and answers refusals.

    Args:
        app: The emulator's routes. A Starlette app gets an exception handler for
            `Refusal`; any other app may let a `Refusal` propagate.
        faults: The script.
        error_body: Builds the emulator's error body for a status and message.
        refusal_body: Builds the body answering a `Refusal` (default: `error_body` of
            its status and message); give one when the API's errors carry a code.
    """

    def __init__(
        self,
        app: ASGIApp,
        faults: Faults | None = None,
        *,
        error_body: ErrorBody = _json_error,
        refusal_body: RefusalBody | None = None,
    ) -> None:
        self.app = app
        self.faults = faults if faults is not None else Faults()
        self.error_body = error_body
        self.refusal_body = refusal_body or (lambda r: error_body(r.status, r.message))
        add_handler = getattr(app, "add_exception_handler", None)
        if callable(add_handler):
            add_handler(Refusal, self._handle_refusal)

    def _handle_refusal(self, request: object, exc: Exception) -> _RefusalResponse:
        assert isinstance(exc, Refusal)  # noqa: S101  # registered for Refusal only
        return _RefusalResponse(exc, self.refusal_body(exc))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Record the request, then apply the first matching fault or pass it on."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        headers = {
            k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])
        }
        self.faults.record(
            SeenRequest(method, path, scope.get("query_string", b"").decode("latin-1"), headers)
        )
        fault = self.faults.take(method, path)
        if fault is None:
            await self._pass(scope, receive, send)
            return
        if fault.delay:
            await anyio.sleep(fault.delay)
        extra = _header_list(fault.headers)
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
            await self._pass(scope, receive, _truncating(send, fault.truncate))
            return
        await self._pass(scope, receive, send)

    async def _pass(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking)
        except Refusal as refusal:
            if started:
                raise
            await _respond(
                send, refusal.status, self.refusal_body(refusal), _header_list(refusal.headers)
            )


def _header_list(headers: Mapping[str, str]) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]


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


# -- asset hosts ------------------------------------------------------------------------------

_OTHER_LOOPBACK = {"127.0.0.1": "localhost", "localhost": "127.0.0.1"}


def asset_origin(base_url: str) -> str:
    """
    The same server under another host name, for the URLs of downloadable assets.

    Real APIs serve videos from another host (a CDN, a bucket), where no key must go.
    An emulator does the same by naming itself differently in asset URLs: ``127.0.0.1``
    and ``localhost`` swap (both reach a loopback server), any other host gains an
    ``assets.`` prefix (``http://emulator.test`` -> ``http://assets.emulator.test``; an
    in-process transport sends every host to the same app).

    Args:
        base_url: The URL the request came in on (e.g. Starlette's ``request.base_url``).

    Returns:
        Its scheme and other host and port, without a trailing slash.
    """
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    other = _OTHER_LOOPBACK.get(host) or (host if host.startswith("assets.") else f"assets.{host}")
    netloc = f"{other}:{parts.port}" if parts.port else other
    return urlunsplit((parts.scheme, netloc, "", "", ""))


# -- serving ------------------------------------------------------------------------------------


def _free_port_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


def _quick_server(config: Any) -> Any:
    import uvicorn  # noqa: PLC0415  # an extra: only emulator users need it

    class QuickServer(uvicorn.Server):
        """A uvicorn server that stops when told, not at its next 0.1 s tick."""

        stop: asyncio.Event | None = None
        loop: asyncio.AbstractEventLoop | None = None

        async def main_loop(self) -> None:
            self.loop = asyncio.get_running_loop()
            self.stop = asyncio.Event()
            if not self.should_exit:
                await self.stop.wait()

        def request_stop(self) -> None:
            self.should_exit = True
            if self.loop is not None and self.stop is not None:
                self.loop.call_soon_threadsafe(self.stop.set)

    return QuickServer(config)


@contextmanager
def serve(
    app: ASGIApp,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    lifespan: bool = False,
    grace: int = 1,
) -> Iterator[str]:
    """
    Run an ASGI app under uvicorn in a background thread, on loopback.

    Leaving the block stops the server at once; requests still running (a scripted
    `Fault.delay`) get `grace` seconds before they are cancelled.

    Args:
        app: The application.
        host: The interface to bind.
        port: The port (0: any free one).
        lifespan: Run the app's lifespan (start-up and shut-down) in the server's loop.
        grace: Whole seconds open requests may take to finish when the server stops.

    Yields:
        The server's base URL, e.g. ``http://127.0.0.1:41234``.
    """
    import uvicorn  # noqa: PLC0415  # an extra: only emulator users need it

    sock = _free_port_socket(host, port)
    config = uvicorn.Config(
        app,
        log_level="warning",
        lifespan="on" if lifespan else "off",
        access_log=False,
        timeout_graceful_shutdown=grace,
    )
    server = _quick_server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.request_stop()
            sock.close()
            msg = "the server did not start"
            raise RuntimeError(msg)
        time.sleep(0.005)
    try:
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.request_stop()
        thread.join(timeout=grace + 5)
        sock.close()


def main(
    make_app: Callable[..., ASGIApp],
    *,
    description: str,
    default_port: int,
    argv: list[str] | None = None,
    job_seconds: float | None = None,
) -> None:
    """
    Command line of ``python -m <plugin>.emulator``: serve until interrupted.

    Args:
        make_app: Builds the emulator; called with ``job_seconds=`` when that is given.
        description: The command's help text.
        default_port: The port unless ``--port`` says otherwise.
        argv: The arguments (default: the process's).
        job_seconds: Offer ``--job-seconds S`` with this default, for emulators whose
            jobs take a set time.
    """
    import uvicorn  # noqa: PLC0415  # an extra: only emulator users need it

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=default_port)
    if job_seconds is not None:
        parser.add_argument("--job-seconds", type=float, default=job_seconds)
    args = parser.parse_args(argv)
    app = make_app() if job_seconds is None else make_app(job_seconds=args.job_seconds)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
