"""Downloads stream through in constant memory and stop when the client goes away."""

from __future__ import annotations

import anyio.to_thread
import httpx2
import pytest
from server_relay import RelayState

from reelgate.emulation import Fault

pytestmark = pytest.mark.anyio

GIB = 1 << 30


async def relay_job(client: httpx2.AsyncClient, size: int) -> str:
    """A finished relay job whose video is `size` bytes."""
    made = await client.post(
        "/v1/videos", json={"model": "relay/relay-1", "prompt": "x", "relay_bytes": size}
    )
    video_id: str = made.json()["id"]
    return video_id


async def test_a_large_download_arrives_whole(server: str, relay_state: RelayState) -> None:
    """32 MiB from upstream arrive complete, with the upstream's type and length."""
    size = 32 << 20
    async with httpx2.AsyncClient(base_url=server) as client:
        video_id = await relay_job(client, size)
        received = 0
        async with client.stream("GET", f"/v1/videos/{video_id}/content") as response:
            assert response.headers["content-type"] == "video/mp4"
            assert response.headers["content-length"] == str(size)
            async for chunk in response.aiter_raw():
                received += len(chunk)
    assert received == size
    assert relay_state.sent == size


async def read_then_hang_up(server: str, path: str, enough: int) -> bytes:
    """
    GET `path` over a plain socket, read `enough` bytes, and close the connection.

    A socket rather than an HTTP client, so that leaving mid-body is exactly that.
    """
    host, port = server.removeprefix("http://").split(":")
    received = b""
    async with await anyio.connect_tcp(host, int(port)) as sock:
        await sock.send(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        while len(received) < enough:
            received += await sock.receive()
    return received


async def test_client_going_away_stops_the_upstream_transfer(
    server: str, relay_state: RelayState
) -> None:
    """A client that leaves after 1 MiB of a 1 GiB video stops the upstream transfer."""
    async with httpx2.AsyncClient(base_url=server) as client:
        video_id = await relay_job(client, GIB)
    head = await read_then_hang_up(server, f"/v1/videos/{video_id}/content", 1 << 20)
    assert head.startswith(b"HTTP/1.1 200 ")
    assert f"content-length: {GIB}".encode() in head
    # The relay's stream ends (its finally runs) once the server closes the upstream.
    assert await anyio.to_thread.run_sync(relay_state.stopped.wait, 30)
    assert relay_state.sent < GIB // 8


async def test_server_keeps_serving_after_a_client_left(
    server: str, relay_state: RelayState
) -> None:
    """After an abandoned download, the server answers the next requests normally."""
    async with httpx2.AsyncClient(base_url=server) as client:
        video_id = await relay_job(client, GIB)
        await read_then_hang_up(server, f"/v1/videos/{video_id}/content", 1)
        assert await anyio.to_thread.run_sync(relay_state.stopped.wait, 30)
        small = await relay_job(client, 1000)
        again = await client.get(f"/v1/videos/{small}/content")
    assert again.status_code == 200
    assert len(again.content) == 1000


async def test_upstream_cut_short_cuts_the_answer_short(
    server: str, relay_state: RelayState
) -> None:
    """An upstream that stops mid-body ends the answer early, never as a whole file."""
    async with httpx2.AsyncClient(base_url=server) as client:
        video_id = await relay_job(client, 4 << 20)
        relay_state.faults.add(Fault(truncate=1 << 20, path="/content$"))
        with pytest.raises(httpx2.RemoteProtocolError):
            await client.get(f"/v1/videos/{video_id}/content")


async def test_errors_before_the_stream_are_json(server: str) -> None:
    """A download that cannot start answers a JSON error, not a broken stream."""
    async with httpx2.AsyncClient(base_url=server) as client:
        video_id = await relay_job(client, 10)
        response = await client.get(f"/v1/videos/{video_id}/content?variant=thumbnail")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json()["extra_fields"]["request_type"] == "video_download"
