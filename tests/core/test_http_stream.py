"""Streamed downloads: chunks, lengths, cut-off bodies and where redirects may go."""

from __future__ import annotations

import gzip
import logging
import time
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Any

import anyio
import anyio.abc
import httpx2
import pytest

from reelgate.config import RetryPolicy, Secret, Timeouts
from reelgate.errors import NotFoundError, ProviderError, ProviderTimeoutError, VideoNotReadyError
from reelgate.http import CHUNK_SIZE, Upstream, make_client
from reelgate.provider import Call, DownloadStream

pytestmark = pytest.mark.anyio

KEY = "sk-acme-stream-0123456789"
CALL = Call(instance="acme", operation="download", key=Secret(KEY, name="ACME_KEY"))
FAST = RetryPolicy(attempts=3, wait_initial=0.001, wait_max=0.002, wait_jitter=0.0)
BODY = bytes(range(256)) * 1200  # 300 KiB, several chunks


class Site:
    """A MockTransport handler serving responses by ``host/path``, recording requests."""

    def __init__(self, routes: dict[str, Any]) -> None:
        self.routes = {k: v if isinstance(v, list) else [v] for k, v in routes.items()}
        self.requests: list[httpx2.Request] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        steps = self.routes.get(f"{request.url.host}{request.url.path}")
        if steps is None:
            return httpx2.Response(404, json={"error": {"message": "no route"}})
        step = steps.pop(0) if len(steps) > 1 else steps[0]
        if isinstance(step, type) and issubclass(step, Exception):
            raise step("scripted", request=request)  # type: ignore[call-arg]
        return step(request) if callable(step) else step

    def hosts(self) -> list[str]:
        return [r.url.host for r in self.requests]

    def keyed(self) -> list[bool]:
        return [r.headers.get("authorization") == f"Bearer {KEY}" for r in self.requests]


def _redirect(location: str, status: int = 302) -> httpx2.Response:
    return httpx2.Response(status, headers={"location": location})


def _video(body: bytes = BODY, **headers: str) -> httpx2.Response:
    return httpx2.Response(200, content=body, headers={"content-type": "video/mp4", **headers})


@pytest.fixture(name="site")
async def _site() -> AsyncIterator[Callable[..., tuple[Upstream, Site]]]:
    """`site(routes)`: an Upstream at https://api.acme.test over a routed MockTransport."""
    clients: list[httpx2.AsyncClient] = []

    def make(routes: dict[str, Any], **kwargs: Any) -> tuple[Upstream, Site]:
        handler = Site(routes)
        client = make_client(transport=httpx2.MockTransport(handler))
        clients.append(client)
        kwargs.setdefault("retry", FAST)
        up = Upstream(client=client, base_url="https://api.acme.test/v1", instance="acme", **kwargs)
        return up, handler

    yield make
    for client in clients:
        await client.aclose()


async def _drain(stream: DownloadStream) -> bytes:
    return b"".join([chunk async for chunk in stream])


class _Chunks(httpx2.AsyncByteStream):
    """A body delivered in the given pieces, as a socket would."""

    def __init__(self, *pieces: bytes) -> None:
        self.pieces = pieces

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self.pieces:
            yield piece


async def test_stream_yields_the_body_in_chunks(site) -> None:
    """The asset streams chunk by chunk, with its type and length."""
    pieces = [BODY[i : i + CHUNK_SIZE] for i in range(0, len(BODY), CHUNK_SIZE)]
    response = httpx2.Response(
        200,
        stream=_Chunks(*pieces),
        headers={"content-type": "video/mp4", "content-length": str(len(BODY))},
    )
    up, _ = site({"api.acme.test/v1/content": response})
    async with up.stream("/content", call=CALL) as stream:
        assert (stream.content_type, stream.content_length) == ("video/mp4", len(BODY))
        received = [chunk async for chunk in stream]
        assert stream.received == len(BODY)
    assert b"".join(received) == BODY
    assert len(received) > 1


async def test_stream_defaults(site) -> None:
    """No content type: the default is used; no length: None."""
    response = httpx2.Response(200, stream=_Chunks(b"ab", b"cd"))
    up, _ = site({"api.acme.test/v1/content": response})
    async with up.stream("/content", call=CALL, default_content_type="image/webp") as stream:
        assert stream.content_type == "image/webp"
        assert stream.content_length is None
        assert await stream.read() == b"abcd"


async def test_encoded_bodies_have_no_length(site) -> None:
    """A compressed transfer's length says nothing about the decoded bytes: None."""
    compressed = gzip.compress(BODY)
    up, _ = site({"api.acme.test/v1/content": _video(compressed, **{"content-encoding": "gzip"})})
    async with up.stream("/content", call=CALL) as stream:
        assert stream.content_length is None
        assert await _drain(stream) == BODY


async def test_a_short_body_is_a_provider_error(site) -> None:
    """A body that ends before its announced length raises ProviderError."""
    up, _ = site({"api.acme.test/v1/content": _video(b"x" * 1000, **{"content-length": "5000"})})
    async with up.stream("/content", call=CALL) as stream:
        with pytest.raises(ProviderError, match="cut off after 1000 of 5000 bytes"):
            await _drain(stream)


class _Breaks(httpx2.AsyncByteStream):
    """A body that breaks after its first chunk."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b"first chunk"
        raise httpx2.ReadError("connection reset by peer")


async def test_a_broken_body_is_a_provider_error(site) -> None:
    """A connection failing mid-stream raises ProviderError, never httpx2's error."""
    up, _ = site({"api.acme.test/v1/content": httpx2.Response(200, stream=_Breaks())})
    async with up.stream("/content", call=CALL) as stream:
        with pytest.raises(ProviderError, match="cut off: ReadError") as e:
            await _drain(stream)
    assert e.value.provider == "acme"
    assert e.value.request_type == "video_download"


async def test_opening_is_retried(site) -> None:
    """A 503 or a refused connection while opening is retried like any read."""
    up, handler = site(
        {"api.acme.test/v1/content": [httpx2.Response(503), httpx2.ConnectError, _video()]}
    )
    async with up.stream("/content", call=CALL) as stream:
        assert await _drain(stream) == BODY
    assert len(handler.requests) == 3


async def test_error_statuses_are_mapped(site) -> None:
    """A 404 while opening is NotFoundError; a plugin maps its own codes from it."""
    up, _ = site({})
    with pytest.raises(NotFoundError, match="no route"):
        async with up.stream("/missing", call=CALL):
            pass
    conflict = httpx2.Response(409, json={"error": {"message": "not ready"}})
    up, _ = site({"api.acme.test/v1/content": conflict})
    with pytest.raises(Exception) as e:  # its exact family is asserted below
        async with up.stream("/content", call=CALL):
            pass
    assert not isinstance(e.value, VideoNotReadyError)
    assert e.value.upstream is True  # type: ignore[attr-defined]


# -- redirects ----------------------------------------------------------------------------


async def test_same_host_redirects_are_followed_with_the_key(site) -> None:
    """A redirect to the same host is followed, with the key and without the old query."""
    up, handler = site(
        {
            "api.acme.test/v1/content": _redirect("/v1/files/1?alt=media"),
            "api.acme.test/v1/files/1": _video(),
        }
    )
    async with up.stream("/content", call=CALL, params={"variant": "video"}) as stream:
        assert await _drain(stream) == BODY
    first, second = handler.requests
    assert first.url.params["variant"] == "video"
    assert dict(second.url.params) == {"alt": "media"}
    assert handler.keyed() == [True, True]


async def test_trusted_hosts_are_followed(site) -> None:
    """A redirect to a host the plugin trusts is followed."""
    up, handler = site(
        {
            "api.acme.test/v1/content": _redirect("https://cdn.acme.test/v/1.mp4", 307),
            "cdn.acme.test/v/1.mp4": _video(),
        }
    )
    async with up.stream("/content", call=CALL, trusted_hosts={"cdn.acme.test"}) as stream:
        assert await _drain(stream) == BODY
    assert handler.hosts() == ["api.acme.test", "cdn.acme.test"]


async def test_untrusted_hosts_are_refused_and_get_nothing(site) -> None:
    """A redirect elsewhere is refused before any request, so the key goes nowhere."""
    up, handler = site(
        {
            "api.acme.test/v1/content": _redirect("https://cdn.acme.test/hop"),
            "cdn.acme.test/hop": _redirect("https://evil.test/steal"),
            "evil.test/steal": _video(),
        }
    )
    with pytest.raises(ProviderError, match=r"untrusted host 'evil\.test'") as e:
        async with up.stream("/content", call=CALL, trusted_hosts={"cdn.acme.test"}):
            pass
    assert "evil.test" not in handler.hosts()
    assert e.value.provider == "acme"
    assert KEY not in str(e.value)


async def test_redirect_hosts_are_followed_without_the_key(site) -> None:
    """A redirect to a host named in redirect_hosts is followed there, with no key."""
    routes = {
        "api.acme.test/v1/content": _redirect("https://storage.acme.test/v/1.mp4?sig=1"),
        "storage.acme.test/v/1.mp4": _video(),
    }
    up, handler = site(routes)
    async with up.stream("/content", call=CALL, redirect_hosts={"storage.acme.test"}) as stream:
        assert await _drain(stream) == BODY
    up, anywhere = site(routes)
    async with up.stream("/content", call=CALL, redirect_hosts="*") as stream:
        assert await _drain(stream) == BODY
    assert handler.hosts() == anywhere.hosts() == ["api.acme.test", "storage.acme.test"]
    assert handler.keyed() == anywhere.keyed() == [True, False]


async def test_unauthenticated_streams_send_no_key(site) -> None:
    """authenticate=False sends the key to no host."""
    up, handler = site(
        {
            "api.acme.test/v1/content": _redirect("/v1/files/1"),
            "api.acme.test/v1/files/1": _video(),
        }
    )
    async with up.stream("/content", call=CALL, authenticate=False) as stream:
        await _drain(stream)
    assert handler.keyed() == [False, False]


async def test_redirect_loops_end(site) -> None:
    """Too many redirects is a ProviderError, after max_redirects hops."""
    up, handler = site({"api.acme.test/v1/loop": _redirect("/v1/loop")})
    with pytest.raises(ProviderError, match="too many times"):
        async with up.stream("/loop", call=CALL, max_redirects=3):
            pass
    assert len(handler.requests) == 4


# -- where the key goes -------------------------------------------------------------------


async def test_a_signed_asset_url_on_another_host_gets_no_key(site) -> None:
    """An absolute URL on a CDN receives no Authorization header, only its own token."""
    url = "https://assets.cdn.test/v/1.mp4?X-Goog-Signature=abc123&X-Goog-Expires=60"
    up, handler = site({"assets.cdn.test/v/1.mp4": _video()})
    async with up.stream(url, call=CALL) as stream:
        assert await _drain(stream) == BODY
    (sent,) = handler.requests
    assert "authorization" not in sent.headers
    assert sent.url.params["X-Goog-Signature"] == "abc123"


async def test_a_trusted_asset_host_gets_the_key(site) -> None:
    """Hosts trusted by the instance or by the call receive the key."""
    up, handler = site({"files.acme.test/1": _video()}, trusted_hosts={"files.acme.test"})
    async with up.stream("https://files.acme.test/1", call=CALL) as stream:
        await _drain(stream)
    up, handler2 = site({"files.acme.test/1": _video()})
    async with up.stream(
        "https://files.acme.test/1", call=CALL, trusted_hosts={"files.acme.test"}
    ) as stream:
        await _drain(stream)
    assert handler.keyed() + handler2.keyed() == [True, True]


async def test_a_cdn_redirecting_within_itself_never_gets_the_key(site) -> None:
    """A CDN URL that redirects on its own host is followed, with no key at either hop."""
    up, handler = site(
        {
            "assets.cdn.test/a": _redirect("https://assets.cdn.test/b"),
            "assets.cdn.test/b": _video(),
        }
    )
    async with up.stream("https://assets.cdn.test/a", call=CALL) as stream:
        await _drain(stream)
    assert handler.keyed() == [False, False]


async def test_a_redirect_to_the_api_host_is_followed_without_leaking(site) -> None:
    """A CDN URL redirecting to the base origin may get the key there, never on the CDN."""
    up, handler = site(
        {
            "assets.cdn.test/a": _redirect("https://api.acme.test/v1/files/1"),
            "api.acme.test/v1/files/1": _video(),
        }
    )
    async with up.stream("https://assets.cdn.test/a", call=CALL) as stream:
        await _drain(stream)
    assert handler.hosts() == ["assets.cdn.test", "api.acme.test"]
    assert handler.keyed() == [False, True]


async def test_a_redirect_to_a_trusted_host_over_http_gets_no_key(site) -> None:
    """A downgrade from HTTPS to HTTP never carries the key, trusted host or not."""
    up, handler = site(
        {
            "api.acme.test/v1/content": _redirect("http://cdn.acme.test/v/1.mp4"),
            "cdn.acme.test/v/1.mp4": _video(),
        }
    )
    async with up.stream("/content", call=CALL, trusted_hosts={"cdn.acme.test"}) as stream:
        await _drain(stream)
    assert handler.keyed() == [True, False]


# -- deadlines and idle bodies ------------------------------------------------------------


class _Slow(httpx2.AsyncByteStream):
    """A body of `pieces` pieces, one every `gap` seconds."""

    def __init__(self, pieces: int, gap: float) -> None:
        self.pieces, self.gap = pieces, gap

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.pieces):
            await anyio.sleep(self.gap)
            yield b"x" * 1000


async def test_the_deadline_bounds_opening_only(site) -> None:
    """A body longer than Timeouts.total streams on; an opening that hangs is cut."""
    timeouts = Timeouts(read=5.0, total=0.2)
    up, _ = site(
        {"api.acme.test/v1/content": httpx2.Response(200, stream=_Slow(8, 0.05))},
        timeouts=timeouts,
    )
    async with up.stream("/content", call=CALL) as stream:
        assert len(await _drain(stream)) == 8000

    async def hang(request: httpx2.Request) -> httpx2.Response:
        await anyio.sleep(30)
        return _video()  # pragma: no cover

    up, _ = site({"api.acme.test/v1/content": hang}, timeouts=timeouts)
    with anyio.fail_after(5), pytest.raises(ProviderTimeoutError, match="took more than"):
        async with up.stream("/content", call=CALL):
            pass


def _port(listener: anyio.abc.Listener[Any]) -> int:
    # anyio's typed attribute look-up, not Django's QuerySet.extra.
    port: int = listener.extra(anyio.abc.SocketAttribute.local_port)  # noqa: S610
    return port


async def _stalling_server(
    task_status: anyio.abc.TaskStatus[int], *, body: bytes, stall: float
) -> None:
    """A loopback HTTP server that sends headers and part of the body, then nothing."""

    async def serve(client: anyio.abc.SocketStream) -> None:
        async with client:
            await client.receive()
            head = (
                "HTTP/1.1 200 OK\r\ncontent-type: video/mp4\r\n"
                f"content-length: {len(body) * 2}\r\n\r\n"
            )
            await client.send(head.encode() + body)
            await anyio.sleep(stall)

    async with await anyio.create_tcp_listener(local_host="127.0.0.1") as listener:
        task_status.started(_port(listener))
        await listener.serve(serve)


async def test_an_idle_download_is_cut_after_the_read_timeout() -> None:
    """A real socket that stops sending mid-body is cut after Timeouts.read, as a timeout."""
    async with anyio.create_task_group() as tg:
        port = await tg.start(partial(_stalling_server, body=b"x" * 5000, stall=30))
        timeouts = Timeouts(read=0.3, total=5)
        async with make_client(timeouts=timeouts) as client:
            up = Upstream(
                client=client,
                base_url=f"http://127.0.0.1:{port}",
                instance="acme",
                retry=FAST,
                timeouts=timeouts,
            )
            started = time.monotonic()
            async with up.stream("/v.mp4", call=CALL) as stream:
                with pytest.raises(ProviderTimeoutError, match="stalled") as e:
                    await _drain(stream)
            assert stream.received == 5000
            assert 0.25 < time.monotonic() - started < 4
            assert e.value.provider == "acme"
        tg.cancel_scope.cancel()


async def test_http_library_debug_lines_are_scrubbed(caplog) -> None:
    """httpcore2's DEBUG lines (response headers, a signed Location) lose their tokens."""
    caplog.set_level(logging.DEBUG)

    async def serve(client: anyio.abc.SocketStream) -> None:
        async with client:
            await client.receive()
            await client.send(
                b"HTTP/1.1 302 Found\r\ncontent-length: 0\r\n"
                b"location: https://elsewhere.test/v.mp4?sig=s1gnature99&token=t0ken77\r\n\r\n"
            )

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = _port(listener)
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, serve)
        async with make_client() as client:
            up = Upstream(client=client, base_url=f"http://127.0.0.1:{port}", instance="acme")
            with pytest.raises(ProviderError, match="untrusted host"):
                async with up.stream("/v?_jwt=eyJ0.eyJ1.c2ln", call=CALL):
                    pass
        tg.cancel_scope.cancel()
    names = {r.name for r in caplog.records}
    assert "httpcore2.http11" in names
    assert "httpx2" in names
    for secret in ("s1gnature99", "t0ken77", "eyJ0.eyJ1.c2ln"):
        assert secret not in caplog.text
