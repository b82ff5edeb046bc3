"""Streamed downloads: chunks, lengths, cut-off bodies and where redirects may go."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx2
import pytest

from reelgate.config import RetryPolicy, Secret
from reelgate.errors import NotFoundError, ProviderError, VideoNotReadyError
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
