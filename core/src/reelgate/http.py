"""
Talking to upstream APIs: the only module of the core that imports httpx2.

Providers get an `Upstream`, a request helper bound to one instance's base URL, timeouts
and retry policy over the gateway's shared client. It sends the key only where it
belongs, retries what is safe to retry, maps every upstream failure to a
`reelgate.errors` type, and scrubs secrets from what it reports.

Where the key goes: only to the base URL's origin (scheme, host and port) and to the hosts
in `Upstream.trusted_hosts` (over HTTPS, or over HTTP when the base URL is plain HTTP).
An absolute URL on any other host (a CDN, a signed asset URL) gets no credentials,
whatever the provider asks; redirects are followed only to the request's own host, the
base host, trusted hosts or the hosts a download names as `redirect_hosts` (its signed
file URLs), with the key under the same rule at every hop.

Retries:

* idempotent requests (``idempotent=True``) are retried on 429, 500, 502, 503, 504,
  timeouts, connection errors and malformed JSON;
* any request, a create included, is retried when it provably never reached the
  provider (the connection could not be opened) or was explicitly refused with 429;
* the provider's error parser has the last word on an answer it reads: ``retryable=False``
  stops retries of it (a 5xx that means "the job failed"), ``retryable=True`` makes any
  status retryable for an idempotent request; neither makes a create retried after a
  send that may have been accepted (a 5xx, a timeout, a dropped connection);
* waits are jittered exponential backoff that honours ``retry-after-ms`` and
  ``Retry-After``, bounded in attempts and in total time (`RetryPolicy`); a server's
  delay longer than ``max_retry_after``, or one that cannot be used (``inf``, negative,
  garbage), is not waited for: the error is raised at once;
* each call, its retries included, ends by ``Timeouts.total`` (for `Upstream.stream`,
  its opening): a `ProviderTimeoutError` then.
"""

from __future__ import annotations

import functools
import json as jsonlib
import logging
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping
from contextlib import aclosing, asynccontextmanager
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import urljoin

import anyio
import attrs
import httpx2

from ._observe import UpstreamLog, current_log, observe_upstream
from ._redact import ScrubFilter, Secret, scrub
from ._upstream_errors import (
    ErrorParser,
    Reply,
    UpstreamError,
    default_error_parser,
    error_for_status,
    parse_retry_after,
    usable_delay,
)
from .config import RetryPolicy, Timeouts
from .errors import ProviderError, ProviderTimeoutError, ReelgateError
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
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_DEFAULT_PORTS = {"http": 80, "https": 443}
#: The HTTP libraries' loggers: their lines carry URLs, signed ones included. A filter
#: on a logger sees only records logged to that very logger, hence every name.
_LIBRARY_LOGGERS = (
    "httpx2",
    "httpcore2.connection",
    "httpcore2.http11",
    "httpcore2.http2",
    "httpcore2.proxy",
    "httpcore2.socks",
)
_SCRUB_LOGS = ScrubFilter()


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
    them only to trusted hosts). The HTTP libraries' log lines are scrubbed of
    signed-URL tokens from then on.
    """
    for name in _LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        if _SCRUB_LOGS not in logger.filters:
            logger.addFilter(_SCRUB_LOGS)
    t = timeouts or Timeouts()
    return httpx2.AsyncClient(
        timeout=httpx2.Timeout(connect=t.connect, read=t.read, write=t.write, pool=t.pool),
        limits=httpx2.Limits(max_connections=max_connections, max_keepalive_connections=20),
        follow_redirects=False,
        transport=transport,
        verify=_tls_context(),
    )


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """
    One TLS context for every client of the process.

    It is httpx2's own default (the system's certificates, ``SSL_CERT_FILE``...), made
    once: building one loads the certificate store, about 0.1 s of CPU, which every
    gateway paid (a test suite builds thousands).
    """
    return httpx2.create_ssl_context()


class _Retry(Exception):  # noqa: N818  # a signal between a try and the retry loop
    """
    A failed try worth another: carries the error and the server's delay, if any.

    Raised inside `Upstream`'s retry loop only; the error it wraps is what callers see.
    """

    def __init__(self, error: ReelgateError, delay: float | None = None) -> None:
        super().__init__(error.message)
        self.error = error
        self.delay = delay


def _origin(url: httpx2.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port or _DEFAULT_PORTS.get(url.scheme)


def _host_set(hosts: Collection[str]) -> frozenset[str]:
    return frozenset(host.lower() for host in hosts)


@attrs.define
class Upstream:
    """
    Requests to one provider instance's API, with retries and error mapping.

    Attributes:
        client: The gateway's shared HTTP client.
        base_url: Prefix of relative paths; its origin receives the key.
        instance: The instance name, for errors.
        retry: The retry policy.
        timeouts: Per-request timeouts, and the deadline of each call.
        parse_error: Reads the provider's error envelope.
        auth: Turns a key into headers (`bearer` by default).
        headers: Headers sent with every request (e.g. an API version).
        trusted_hosts: Hosts besides the base URL's that may receive the key (a provider
            adds them with ``attrs.evolve(upstream, trusted_hosts=...)``).
    """

    client: httpx2.AsyncClient
    base_url: str
    instance: str
    retry: RetryPolicy = attrs.field(factory=RetryPolicy)
    timeouts: Timeouts = attrs.field(factory=Timeouts)
    parse_error: ErrorParser = default_error_parser
    auth: Callable[[Secret], Mapping[str, str]] = bearer
    headers: Mapping[str, str] = attrs.field(factory=dict)
    trusted_hosts: frozenset[str] = attrs.field(default=frozenset(), converter=_host_set)
    _base_origin: tuple[str, str, int | None] | None = attrs.field(init=False, default=None)

    def __attrs_post_init__(self) -> None:
        try:
            self._base_origin = _origin(httpx2.URL(self.base_url))
        except (httpx2.InvalidURL, ValueError, TypeError):
            self._base_origin = None  # reported when a request is made with it

    def url(self, path: str) -> str:
        """`path` resolved against the base URL (absolute URLs pass through)."""
        if path.startswith(("http://", "https://")):
            return path
        return self.base_url.rstrip("/") + "/" + path.lstrip("/")

    def may_receive_key(self, url: httpx2.URL, trusted_hosts: Collection[str] = ()) -> bool:
        """
        Whether `url` may receive the key: the base URL's origin, or a trusted host.

        A trusted host gets it over HTTPS, or over HTTP only when the base URL is HTTP.
        """
        origin = _origin(url)
        if origin == self._base_origin:
            return True
        if url.host not in self.trusted_hosts and url.host not in trusted_hosts:
            return False
        return url.scheme == "https" or (
            self._base_origin is not None and self._base_origin[0] == url.scheme
        )

    def _build(
        self,
        method: str,
        path: str,
        *,
        call: Call,
        authenticate: bool,
        headers: Mapping[str, str] | None,
        trusted_hosts: Collection[str] = (),
        **kwargs: Any,
    ) -> httpx2.Request:
        merged = {**self.headers, **headers} if headers else self.headers
        try:
            request = self.client.build_request(
                method, self.url(path), headers=merged, timeout=self._timeout(), **kwargs
            )
        except (httpx2.InvalidURL, httpx2.UnsupportedProtocol, ValueError) as exc:
            raise _invalid_url(call, exc, self._secrets(call)) from None
        if (
            authenticate
            and call.key is not None
            and self.may_receive_key(request.url, trusted_hosts)
        ):
            # The caller's own headers still win over the key's, as they always have.
            request.headers.update({**self.auth(call.key), **(headers or {})})
        return request

    def _timeout(self) -> httpx2.Timeout:
        t = self.timeouts
        return httpx2.Timeout(connect=t.connect, read=t.read, write=t.write, pool=t.pool)

    def _secrets(self, call: Call) -> tuple[Secret, ...]:
        return (call.key,) if call.key is not None else ()

    def _retry_on(self, exc: Exception) -> bool | float:
        """
        The retry policy, as stamina's one predicate.

        Only a `_Retry` is retried: after the server's delay when it gave one it is
        worth waiting for, after the backoff when it gave none.
        """
        if not isinstance(exc, _Retry):
            return False
        if exc.delay is None:
            return True
        return exc.delay if exc.delay <= self.retry.max_retry_after else False

    async def _retrying(self, attempt: Callable[[], Awaitable[Any]], call: Call) -> Any:
        """Run `attempt` under the retry policy and the call's deadline."""
        total = self.timeouts.total
        try:
            if total is None:
                return await self._tries(attempt)
            with anyio.move_on_after(total):
                return await self._tries(attempt)
        except _Retry as last:
            raise last.error from None
        # Only the deadline's own cancellation gets here: a TimeoutError raised inside
        # a try is not taken for it.
        raise ProviderTimeoutError(
            f"{call.instance} ({call.request_type}) took more than {total:g} s",
            call=call,
            ambiguous=True,
        )

    async def _tries(self, attempt: Callable[[], Awaitable[Any]]) -> Any:
        policy = self.retry
        started = time.monotonic()
        # Entering stamina's retry context costs ~150 µs a call (tenacity builds its
        # machinery each time), more than a whole request over a pooled connection, and
        # most calls succeed at once. So the first try runs bare, and stamina takes over
        # only once it failed in a way worth retrying: its first attempt replays that
        # failure, so that stamina schedules the backoff exactly as if it had made it.
        try:
            return await attempt()
        except _Retry as failure:
            if policy.attempts <= 1 or self._retry_on(failure) is False:
                raise
            first = failure
        left = policy.timeout - (time.monotonic() - started)
        if left <= 0:
            raise first

        import stamina  # noqa: PLC0415  # tenacity is slow to import; only needed here

        replay: _Retry | None = first
        async for try_ in stamina.retry_context(
            on=self._retry_on,
            attempts=policy.attempts,
            timeout=left,
            wait_initial=policy.wait_initial,
            wait_max=policy.wait_max,
            wait_jitter=policy.wait_jitter,
        ):
            with try_:
                if replay is not None:
                    failed, replay = replay, None
                    raise failed
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
                f"{where} timed out ({phase})", call=call, ambiguous=not never_sent
            )
        elif never_sent:
            error = ProviderError(
                f"could not connect to {where}: {scrub(str(exc), secrets) or 'connection refused'}",
                call=call,
            )
        elif isinstance(exc, httpx2.UnsupportedProtocol):
            raise _invalid_url(call, exc, secrets) from None
        else:
            error = ProviderError(
                f"connection to {where} failed: {scrub(str(exc), secrets) or type(exc).__name__}",
                call=call,
                ambiguous=True,
            )
        if never_sent or idempotent:
            raise _Retry(error) from None
        raise error from None

    def _status_error(self, reply: Reply, call: Call, idempotent: bool) -> Exception:
        """The error for a non-2xx answer: a `_Retry` around it when it is worth another try."""
        detail = self.parse_error(reply)
        delay = usable_delay(
            detail.retry_after
            if detail.retry_after is not None
            else parse_retry_after(reply.headers)
        )
        error = error_for_status(
            reply.status,
            attrs.evolve(detail, retry_after=delay),
            call=call,
            secrets=self._secrets(call),
            ambiguous=True,
        )
        if detail.retryable is False:
            return error
        if reply.status == 429 or (
            idempotent and (detail.retryable or reply.status in _RETRY_STATUSES)
        ):
            return _Retry(error, delay)
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
            path: Relative to `base_url`, or an absolute URL (which gets the key only on
                the base URL's origin or a trusted host).
            call: The operation (its key authenticates the request).
            idempotent: Whether a retry after an ambiguous failure is safe.
            params: Query parameters (None values are dropped).
            json: A JSON body.
            data: Form fields (multipart when `files` is given).
            files: Multipart file parts, as httpx2 takes them.
            content: A raw body.
            headers: Extra headers.
            authenticate: Whether to send the key (where it may go).

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
        reply: Reply = await self._retrying(send, call)
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
                return jsonlib.loads(reply.content)
            except ValueError:
                error = ProviderError(
                    f"malformed JSON in the provider's response (HTTP {reply.status})",
                    call=call,
                    ambiguous=not idempotent,
                )
                raise _Retry(error) if idempotent else error from None

        return await self._retrying(attempt, call)

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
            if (log := current_log()) is not None:
                content_type = reply.headers.get("content-type", "")
                log.record(time.perf_counter() - started, content_type, reply.content, secrets)
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
        redirect_hosts: Collection[str] = (),
        default_content_type: str = "application/octet-stream",
        max_redirects: int = 5,
    ) -> AsyncIterator[DownloadStream]:
        """
        GET an asset and stream it, never holding it whole in memory.

        The key goes only where `may_receive_key` allows, `trusted_hosts` adding to the
        instance's own. Redirects are followed only to the URL's own host, the base
        URL's host, trusted hosts or `redirect_hosts`: hosts an API sends its signed
        file URLs to, which get no key (``"*"`` in it: any host). Opening is retried like
        an idempotent request and bounded by ``Timeouts.total``; the body by
        ``Timeouts.read`` between bytes; a failure mid-stream raises `ProviderError`.

        Yields:
            The stream; the connection is released when the block exits.
        """
        query = {k: v for k, v in (params or {}).items() if v is not None}
        trusted = _host_set(trusted_hosts)
        elsewhere = _host_set(redirect_hosts)

        async def open_() -> httpx2.Response:
            target = self.url(url)
            follow: set[str] | None = None
            for _ in range(max_redirects + 1):
                request = self._build(
                    "GET",
                    target,
                    call=call,
                    authenticate=authenticate,
                    headers=headers,
                    params=query or None,
                    trusted_hosts=trusted,
                )
                if follow is None:
                    follow = {request.url.host, *self.trusted_hosts, *trusted, *elsewhere}
                    if self._base_origin is not None:
                        follow.add(self._base_origin[1])
                try:
                    response = await self.client.send(request, stream=True)
                except httpx2.HTTPError as exc:
                    self._transport_error(exc, call, idempotent=True)
                if response.is_redirect and (location := response.headers.get("location")):
                    await response.aclose()
                    target = self._redirect_target(response, location, follow, call)
                    query.clear()
                    continue
                if not 200 <= response.status_code < 300:
                    raise await self._stream_error(response, call)
                return response
            raise ProviderError(
                f"{call.instance} redirected the download too many times", call=call
            )

        response: httpx2.Response = await self._retrying(open_, call)
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

    def _redirect_target(
        self, response: httpx2.Response, location: str, follow: Collection[str], call: Call
    ) -> str:
        try:
            target = urljoin(str(response.url), location)
            host = httpx2.URL(target).host
        except (httpx2.InvalidURL, ValueError) as exc:
            raise _invalid_url(call, exc, self._secrets(call)) from None
        if host not in follow and "*" not in follow:
            raise ProviderError(
                f"{call.instance} redirected the download to an untrusted host {host!r}",
                call=call,
            )
        return target

    async def _stream_error(self, response: httpx2.Response, call: Call) -> Exception:
        try:
            body = await _read_limited(response)
        except httpx2.HTTPError:
            body = b""
        finally:
            await response.aclose()
        url = scrub(str(response.url), self._secrets(call))
        reply = Reply(response.status_code, response.headers, body, url)
        return self._status_error(reply, call, idempotent=True)

    async def _chunks(self, response: httpx2.Response, call: Call) -> AsyncIterator[bytes]:
        try:
            # Chunks pass on as the socket delivers them (64 KiB reads): re-chunking to
            # CHUNK_SIZE copied every byte three times and cost ~15% of a 10 MiB download.
            # aclosing: a stream left early closes httpx2's generator too (trio insists).
            async with aclosing(response.aiter_bytes()) as chunks:
                async for chunk in chunks:
                    yield chunk
        except httpx2.TimeoutException:
            raise ProviderTimeoutError(
                f"download from {call.instance} stalled: nothing received for "
                f"{self.timeouts.read:g} s",
                call=call,
            ) from None
        except httpx2.HTTPError as exc:
            raise ProviderError(
                f"download from {call.instance} was cut off: {type(exc).__name__}", call=call
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
