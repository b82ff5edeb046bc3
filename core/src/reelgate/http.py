"""
Talking to upstream APIs: the only module of the core that imports httpx2.

Providers get an `Upstream`, a request helper bound to one instance's base URL, timeouts
and retry policy over the gateway's shared client. It retries what is safe to retry,
maps every upstream failure to a `reelgate.errors` type, and scrubs secrets from what it
reports:

* idempotent requests (``idempotent=True``) are retried on 429, 500, 502, 503, 504,
  timeouts and connection errors;
* any request, a create included, is retried when it provably never reached the
  provider (the connection could not be opened) or was explicitly refused with 429;
* waits are jittered exponential backoff that honours ``retry-after-ms`` and
  ``Retry-After``, bounded in attempts and in total time (`RetryPolicy`).
"""

from __future__ import annotations

import email.utils
import json as jsonlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterator, Mapping
from contextlib import aclosing, asynccontextmanager, contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import urljoin, urlsplit

import anyio
import attrs
import httpx2

from ._redact import Secret, scrub
from .config import RetryPolicy, Timeouts
from .errors import (
    AuthenticationError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitError,
    ReelgateError,
)
from .stream import DownloadStream

if TYPE_CHECKING:
    from .call import Call

__all__ = [
    "CHUNK_SIZE",
    "ErrorParser",
    "Reply",
    "Upstream",
    "UpstreamError",
    "UpstreamLog",
    "bearer",
    "emulator_transport",
    "error_for_status",
    "make_client",
    "observe_upstream",
    "parse_retry_after",
    "scrub",
]

#: Download chunk size: large enough to keep per-chunk overhead negligible.
CHUNK_SIZE = 64 * 1024
_ERROR_BODY_LIMIT = 64 * 1024


def bearer(key: Secret) -> dict[str, str]:
    """``Authorization: Bearer <key>``: the usual way to send a key."""
    return {"Authorization": f"Bearer {key.reveal()}"}


def make_client(
    *,
    timeouts: Timeouts | None = None,
    transport: httpx2.AsyncBaseTransport | None = None,
    max_connections: int = 100,
) -> httpx2.AsyncClient:
    """
    Make the gateway's shared HTTP client.

    Pooled connections, explicit timeouts, no automatic redirects (downloads follow
    them only to trusted hosts).
    """
    t = timeouts or Timeouts()
    return httpx2.AsyncClient(
        timeout=httpx2.Timeout(connect=t.connect, read=t.read, write=t.write, pool=t.pool),
        limits=httpx2.Limits(max_connections=max_connections, max_keepalive_connections=20),
        follow_redirects=False,
        transport=transport,
    )


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """
    Read the seconds to wait from a response's headers.

    ``retry-after-ms`` (milliseconds) wins over ``Retry-After`` (seconds or an HTTP
    date); None when neither is usable.
    """
    if not isinstance(headers, httpx2.Headers):
        headers = {name.lower(): value for name, value in headers.items()}
    if (ms := headers.get("retry-after-ms")) is not None:
        try:
            value = float(ms) / 1000
        except ValueError:
            pass
        else:
            if value >= 0:
                return value
    if (raw := headers.get("retry-after")) is not None:
        try:
            seconds = float(raw)
        except ValueError:
            parsed = email.utils.parsedate_tz(raw)
            if parsed is None:
                return None
            seconds = email.utils.mktime_tz(parsed) - time.time()
        return max(0.0, seconds)
    return None


@attrs.frozen
class Reply:
    """A successful upstream response, read whole."""

    status: int
    headers: Mapping[str, str]
    content: bytes
    url: str

    def json(self) -> Any:
        """
        The body as JSON.

        Raises:
            ProviderError: The body is not JSON.
        """
        try:
            return jsonlib.loads(self.content)
        except ValueError:
            raise ProviderError(
                f"malformed JSON in the provider's response (HTTP {self.status})"
            ) from None


@attrs.frozen(kw_only=True)
class UpstreamError:
    """What a provider's error body says, as its plugin's `ErrorParser` reads it."""

    message: str
    type: str | None = None
    code: str | None = None
    param: str | None = None
    retry_after: float | None = None
    raw: Any = None


#: Reads a provider's error body (a non-2xx `Reply`) into an `UpstreamError`.
ErrorParser = Callable[[Reply], UpstreamError]


def _default_error_parser(reply: Reply) -> UpstreamError:
    try:
        body = jsonlib.loads(reply.content)
    except ValueError:
        body = None
    message: str | None = None
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            message = err.get("message")
        elif isinstance(err, str):
            message = err
        message = message or body.get("message") or body.get("detail")
    return UpstreamError(
        message=str(message) if message else f"provider answered HTTP {reply.status}", raw=body
    )


_STATUS_ERRORS: dict[int, type[ReelgateError]] = {
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    408: ProviderTimeoutError,
    429: RateLimitError,
    504: ProviderTimeoutError,
}


def error_for_status(
    status: int,
    detail: UpstreamError,
    *,
    call: Call | None = None,
    secrets: Collection[Secret | str] = (),
    ambiguous: bool = False,
) -> ReelgateError:
    """
    Build the reelgate error for an upstream status.

    401 authentication, 403 permission, 404 not found, 429 rate limit, 408/504 timeout,
    other 5xx provider error, other 4xx invalid request. Type, code and param are kept
    from the upstream body.
    """
    cls = _STATUS_ERRORS.get(status)
    if cls is None:
        cls = ProviderError if status >= 500 else InvalidRequestError
    kwargs: dict[str, Any] = {
        "type": detail.type,
        "code": detail.code,
        "param": detail.param,
        "provider": call.instance if call else None,
        "request_type": call.request_type if call else None,
        "upstream": True,
        "ambiguous": ambiguous and status >= 500,
        "raw_response": _scrub_json(detail.raw, secrets),
    }
    message = scrub(detail.message, secrets)
    if cls is RateLimitError:
        return RateLimitError(message, retry_after=detail.retry_after, **kwargs)
    return cls(message, **kwargs)


def _scrub_json(value: Any, secrets: Collection[Secret | str]) -> Any:
    if value is None:
        return None
    return jsonlib.loads(scrub(jsonlib.dumps(value), secrets))


class _Retry:
    """Marks an error as safe to retry (with an optional server-given delay)."""

    def __init__(self, delay: float | None) -> None:
        self.delay = delay


def _retryable(error: ReelgateError, delay: float | None = None) -> ReelgateError:
    error.__dict__["_reelgate_retry"] = _Retry(delay)
    return error


def _retry_hook(policy: RetryPolicy) -> Callable[[Exception], bool | float]:
    def hook(exc: Exception) -> bool | float:
        marker = exc.__dict__.get("_reelgate_retry") if isinstance(exc, ReelgateError) else None
        if marker is None:
            return False
        if marker.delay is None:
            return True
        delay: float = marker.delay
        return False if delay > policy.max_retry_after else delay

    return hook


@attrs.define
class Upstream:
    """
    Requests to one provider instance's API, with retries and error mapping.

    Attributes:
        client: The gateway's shared HTTP client.
        base_url: Prefix of relative paths.
        instance: The instance name, for errors.
        retry: The retry policy.
        timeouts: Per-request timeouts.
        parse_error: Reads the provider's error envelope.
        auth: Turns a key into headers (`bearer` by default).
        headers: Headers sent with every request (e.g. an API version).
    """

    client: httpx2.AsyncClient
    base_url: str
    instance: str
    retry: RetryPolicy = attrs.field(factory=RetryPolicy)
    timeouts: Timeouts = attrs.field(factory=Timeouts)
    parse_error: ErrorParser = _default_error_parser
    auth: Callable[[Secret], Mapping[str, str]] = bearer
    headers: Mapping[str, str] = attrs.field(factory=dict)

    def url(self, path: str) -> str:
        """`path` resolved against the base URL (absolute URLs pass through)."""
        if path.startswith(("http://", "https://")):
            return path
        return self.base_url.rstrip("/") + "/" + path.lstrip("/")

    def _timeout(self) -> httpx2.Timeout:
        t = self.timeouts
        return httpx2.Timeout(connect=t.connect, read=t.read, write=t.write, pool=t.pool)

    def _build(
        self,
        method: str,
        path: str,
        *,
        call: Call,
        authenticate: bool,
        headers: Mapping[str, str] | None,
        **kwargs: Any,
    ) -> httpx2.Request:
        merged = dict(self.headers)
        if authenticate and call.key is not None:
            merged.update(self.auth(call.key))
        if headers:
            merged.update(headers)
        try:
            return self.client.build_request(
                method, self.url(path), headers=merged, timeout=self._timeout(), **kwargs
            )
        except (httpx2.InvalidURL, httpx2.UnsupportedProtocol, ValueError) as exc:
            raise _invalid_url(call, exc, self._secrets(call)) from None

    def _secrets(self, call: Call) -> tuple[Secret, ...]:
        return (call.key,) if call.key is not None else ()

    async def _retrying(self, attempt: Callable[[], Any]) -> Any:
        policy = self.retry
        hook = _retry_hook(policy)
        started = time.monotonic()
        # The first try runs bare: setting up the retry machinery costs ~50 µs a call,
        # paid only once a try has failed in a way worth retrying.
        try:
            return await attempt()
        except ReelgateError as e:
            if policy.attempts <= 1 or hook(e) is False:
                raise
            first = e

        import stamina  # noqa: PLC0415  # tenacity is slow to import; only needed here

        left = policy.timeout - (time.monotonic() - started)
        if left <= 0:
            raise first
        failed: ReelgateError | None = first
        async for try_ in stamina.retry_context(
            on=hook,
            attempts=policy.attempts,
            timeout=left,
            wait_initial=policy.wait_initial,
            wait_max=policy.wait_max,
            wait_jitter=policy.wait_jitter,
        ):
            with try_:
                if failed is not None:
                    # stamina's first try is the one already made: it schedules the wait.
                    error, failed = failed, None
                    raise error
                return await attempt()
        raise AssertionError("unreachable")  # pragma: no cover

    def _transport_error(self, exc: httpx2.HTTPError, call: Call, idempotent: bool) -> NoReturn:
        """Map an httpx2 failure; never lets the HTTP library's exception escape."""
        secrets = self._secrets(call)
        where = f"{call.instance} ({call.request_type})"
        never_sent = isinstance(
            exc, httpx2.ConnectError | httpx2.ConnectTimeout | httpx2.PoolTimeout
        )
        error: ReelgateError
        if isinstance(exc, httpx2.TimeoutException):
            phase = type(exc).__name__.replace("Timeout", "").lower() or "request"
            error = ProviderTimeoutError(
                f"{where} timed out ({phase})",
                provider=call.instance,
                request_type=call.request_type,
                ambiguous=not never_sent,
            )
        elif never_sent:
            error = ProviderError(
                f"could not connect to {where}: {scrub(str(exc), secrets) or 'connection refused'}",
                provider=call.instance,
                request_type=call.request_type,
            )
        elif isinstance(exc, httpx2.UnsupportedProtocol):
            raise _invalid_url(call, exc, secrets) from None
        else:
            error = ProviderError(
                f"connection to {where} failed: {scrub(str(exc), secrets) or type(exc).__name__}",
                provider=call.instance,
                request_type=call.request_type,
                ambiguous=True,
            )
        if never_sent or idempotent:
            _retryable(error)
        raise error from None

    def _status_error(self, reply: Reply, call: Call, idempotent: bool) -> ReelgateError:
        detail = self.parse_error(reply)
        if detail.retry_after is None:
            detail = attrs.evolve(detail, retry_after=parse_retry_after(reply.headers))
        error = error_for_status(
            reply.status, detail, call=call, secrets=self._secrets(call), ambiguous=True
        )
        if reply.status == 429 or (idempotent and reply.status in (500, 502, 503, 504)):
            _retryable(error, detail.retry_after)
        return error

    async def request(
        self,
        method: str,
        path: str,
        *,
        call: Call,
        idempotent: bool,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        files: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        authenticate: bool = True,
    ) -> Reply:
        """
        Send a request and read the whole response.

        Args:
            method: The HTTP method.
            path: Relative to `base_url`, or an absolute URL.
            call: The operation (its key authenticates the request).
            idempotent: Whether a retry after an ambiguous failure is safe.
            params: Query parameters (None values are dropped).
            json: A JSON body.
            data: Form fields (multipart when `files` is given).
            files: Multipart file parts, as httpx2 takes them.
            content: A raw body.
            headers: Extra headers.
            authenticate: Whether to send the key.

        Returns:
            The response, for any 2xx status.

        Raises:
            ReelgateError: The mapped upstream failure, after the allowed retries.
        """
        send = self._sender(
            method,
            path,
            call=call,
            idempotent=idempotent,
            params=params,
            json=json,
            data=data,
            files=files,
            content=content,
            headers=headers,
            authenticate=authenticate,
        )
        reply: Reply = await self._retrying(send)
        return reply

    async def json(
        self, method: str, path: str, *, call: Call, idempotent: bool, **kwargs: Any
    ) -> Any:
        """
        `request`, then the body as JSON; a malformed body counts as a failed try.

        Raises:
            ReelgateError: The mapped upstream failure, after the allowed retries.
        """
        send = self._sender(method, path, call=call, idempotent=idempotent, **kwargs)

        async def attempt() -> Any:
            reply = await send()
            try:
                return reply.json()
            except ProviderError as e:
                e.provider, e.request_type = call.instance, call.request_type
                e.ambiguous = not idempotent
                raise _retryable(e) if idempotent else e from None

        return await self._retrying(attempt)

    def _sender(
        self,
        method: str,
        path: str,
        *,
        call: Call,
        idempotent: bool,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        authenticate: bool = True,
        **body: Any,
    ) -> Callable[[], Awaitable[Reply]]:
        query = {k: v for k, v in (params or {}).items() if v is not None}
        secrets = self._secrets(call)

        async def send() -> Reply:
            request = self._build(
                method,
                path,
                call=call,
                authenticate=authenticate,
                headers=headers,
                params=query or None,
                **body,
            )
            started = time.perf_counter()
            try:
                response = await self.client.send(request)
            except httpx2.HTTPError as exc:
                self._transport_error(exc, call, idempotent)
            reply = Reply(
                response.status_code,
                response.headers,
                response.content,
                scrub(str(response.url), secrets),
            )
            if (log := _upstream_log.get()) is not None:
                log.record(reply, time.perf_counter() - started, secrets)
            if not 200 <= reply.status < 300:
                raise self._status_error(reply, call, idempotent)
            return reply

        return send

    @asynccontextmanager
    async def stream(
        self,
        url: str,
        *,
        call: Call,
        authenticate: bool = True,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        trusted_hosts: Collection[str] = (),
        default_content_type: str = "application/octet-stream",
        max_redirects: int = 5,
    ) -> AsyncIterator[DownloadStream]:
        """
        GET an asset and stream it, never holding it whole in memory.

        Redirects are followed only to the request's own host or to `trusted_hosts`,
        and the key is sent only to those. Opening is retried like an idempotent
        request; a failure mid-stream raises `ProviderError`.

        Yields:
            The stream; the connection is released when the block exits.
        """
        query = {k: v for k, v in (params or {}).items() if v is not None}
        secrets = self._secrets(call)

        async def open_() -> httpx2.Response:
            target = self.url(url)
            try:
                origin = urlsplit(target).hostname
            except ValueError as exc:
                raise _invalid_url(call, exc, secrets) from None
            trusted = {origin, *trusted_hosts}
            send_key = authenticate
            for _ in range(max_redirects + 1):
                request = self._build(
                    "GET",
                    target,
                    call=call,
                    authenticate=send_key,
                    headers=headers,
                    params=query or None,
                )
                try:
                    response = await self.client.send(request, stream=True)
                except httpx2.HTTPError as exc:
                    self._transport_error(exc, call, idempotent=True)
                if response.is_redirect and (location := response.headers.get("location")):
                    await response.aclose()
                    try:
                        target = urljoin(str(response.url), location)
                        host = urlsplit(target).hostname
                    except ValueError as exc:
                        raise _invalid_url(call, exc, secrets) from None
                    if host not in trusted:
                        raise ProviderError(
                            f"{call.instance} redirected the download to an untrusted "
                            f"host {host!r}",
                            provider=call.instance,
                            request_type=call.request_type,
                        )
                    query.clear()
                    send_key = authenticate and host in trusted
                    continue
                if not 200 <= response.status_code < 300:
                    try:
                        body = await _read_limited(response)
                    except httpx2.HTTPError:
                        body = b""
                    finally:
                        await response.aclose()
                    reply = Reply(
                        response.status_code,
                        response.headers,
                        body,
                        scrub(str(response.url), secrets),
                    )
                    raise self._status_error(reply, call, idempotent=True)
                return response
            raise ProviderError(
                f"{call.instance} redirected the download too many times",
                provider=call.instance,
                request_type=call.request_type,
            )

        response: httpx2.Response = await self._retrying(open_)
        try:
            length = response.headers.get("content-length")
            encoded = response.headers.get("content-encoding", "identity") != "identity"
            yield DownloadStream(
                content_type=response.headers.get("content-type", default_content_type),
                content_length=int(length) if length and length.isdigit() and not encoded else None,
                chunks=self._chunks(response, call),
            )
        finally:
            await response.aclose()

    async def _chunks(self, response: httpx2.Response, call: Call) -> AsyncIterator[bytes]:
        try:
            # Chunks pass on as the socket delivers them (64 KiB reads): re-chunking to
            # CHUNK_SIZE copied every byte three times and cost ~15% of a 10 MiB download.
            # aclosing: a stream left early closes httpx2's generator too (trio insists).
            async with aclosing(response.aiter_bytes()) as chunks:
                async for chunk in chunks:
                    yield chunk
        except httpx2.HTTPError as exc:
            raise ProviderError(
                f"download from {call.instance} was cut off: {type(exc).__name__}",
                provider=call.instance,
                request_type=call.request_type,
            ) from None


def _invalid_url(call: Call, exc: Exception, secrets: Collection[Secret | str]) -> ProviderError:
    return ProviderError(
        f"invalid upstream URL for {call.instance} ({call.request_type}): "
        f"{scrub(str(exc), secrets) or type(exc).__name__}",
        provider=call.instance,
        request_type=call.request_type,
    )


async def _read_limited(response: httpx2.Response) -> bytes:
    parts: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        parts.append(chunk)
        size += len(chunk)
        if size >= _ERROR_BODY_LIMIT:
            break
    return b"".join(parts)[:_ERROR_BODY_LIMIT]


@attrs.define
class UpstreamLog:
    """
    What upstream calls made inside `observe_upstream` took and answered.

    Attributes:
        latency: Seconds spent waiting for upstream responses.
        raw_responses: Their JSON bodies, secrets scrubbed (only when asked for).
    """

    keep_raw: bool = False
    latency: float = 0.0
    raw_responses: list[Any] = attrs.field(factory=list)

    def record(self, reply: Reply, seconds: float, secrets: Collection[Secret | str]) -> None:
        """Add one upstream response."""
        self.latency += seconds
        if self.keep_raw and "json" in reply.headers.get("content-type", ""):
            try:
                self.raw_responses.append(_scrub_json(jsonlib.loads(reply.content), secrets))
            except ValueError:
                self.raw_responses.append(None)


_upstream_log: ContextVar[UpstreamLog | None] = ContextVar("reelgate_upstream_log", default=None)


@contextmanager
def observe_upstream(*, keep_raw: bool = False) -> Iterator[UpstreamLog]:
    """
    Measure the upstream calls made inside the block, and keep their bodies if asked.

    The server reports them as ``extra_fields.latency`` and ``raw_response``.
    """
    log = UpstreamLog(keep_raw=keep_raw)
    token = _upstream_log.set(log)
    try:
        yield log
    finally:
        _upstream_log.reset(token)


class ConnectionDropped(Exception):  # noqa: N818  # a signal, not an error report
    """Raised by an emulator to drop the connection (`emulator_transport` maps it)."""


class _EmulatorTransport(httpx2.AsyncBaseTransport):
    """An in-process ASGI transport that behaves like a socket on timeouts and drops."""

    def __init__(self, app: Any) -> None:
        self._inner = httpx2.ASGITransport(app=app)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        timeout = request.extensions.get("timeout", {}).get("read")
        try:
            with anyio.fail_after(timeout if timeout is not None else float("inf")):
                response = await self._inner.handle_async_request(request)
                await response.aread()
        except TimeoutError:
            raise httpx2.ReadTimeout("timed out", request=request) from None
        except ConnectionDropped:
            raise httpx2.RemoteProtocolError(
                "server disconnected without sending a complete response", request=request
            ) from None
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


def emulator_transport(app: Any) -> httpx2.AsyncBaseTransport:
    """
    Make an in-process transport to an ASGI emulator.

    It honours the read timeout and turns `ConnectionDropped` into a dropped connection,
    as a real socket would.
    """
    return _EmulatorTransport(app)
