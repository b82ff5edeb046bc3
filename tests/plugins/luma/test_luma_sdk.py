"""The official ``lumaai`` SDK runs against the emulator over loopback: it speaks the real wire."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import lumaai
import pytest
from luma_support import KEY

from reelgate.emulation import serve
from reelgate_luma.emulator import create_app


@pytest.fixture(name="base_url")
def _base_url() -> Iterator[str]:
    with serve(create_app(job_seconds=0.2)) as url:
        yield url


def _wait(client: lumaai.LumaAI, generation_id: str) -> lumaai.types.Generation:
    deadline = time.monotonic() + 10
    while True:
        generation = client.generations.get(generation_id)
        if generation.state in ("completed", "failed") or time.monotonic() > deadline:
            return generation
        time.sleep(0.05)


def test_sdk_creates_gets_lists_and_deletes(base_url: str) -> None:
    """LumaAI's create, get, list and delete all parse what the emulator answers."""
    client = lumaai.LumaAI(auth_token=KEY, base_url=base_url, max_retries=0)
    created = client.generations.video.create(
        model="ray-2",
        prompt="a paper boat on a river",
        aspect_ratio="16:9",
        resolution="720p",
        duration="5s",
        loop=False,
        keyframes={"frame0": {"type": "image", "url": "https://example.com/boat.jpg"}},
    )
    assert created.id is not None
    assert created.state == "queued"
    assert created.generation_type == "video"
    assert created.created_at is not None
    done = _wait(client, created.id)
    assert done.state == "completed"
    assert done.assets is not None
    assert done.assets.video is not None
    assert done.assets.video.startswith("http://localhost:")
    video = httpx.get(done.assets.video)
    assert video.status_code == 200
    assert video.content[4:8] == b"ftyp"
    page = client.generations.list(limit=10, offset=0)
    assert [g.id for g in page.generations] == [created.id]
    assert page.has_more is False
    client.generations.delete(created.id)
    with pytest.raises(lumaai.NotFoundError):
        client.generations.get(created.id)


def test_sdk_sees_failure_reason_and_errors(base_url: str) -> None:
    """A failed generation has a failure_reason; a bad field is the SDK's 400; no key is 401."""
    client = lumaai.LumaAI(auth_token=KEY, base_url=base_url, max_retries=0)
    created = client.generations.video.create(model="ray-flash-2", prompt="x [emulate:fail]")
    assert created.id is not None
    failed = _wait(client, created.id)
    assert failed.state == "failed"
    assert failed.failure_reason
    with pytest.raises(lumaai.BadRequestError, match="duration"):
        client.generations.video.create(model="ray-2", prompt="x", duration="7s")
    anonymous = httpx.get(f"{base_url}/generations/{created.id}")
    assert anonymous.status_code == 401
    assert anonymous.json() == {"detail": "Invalid API key"}


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.anyio
async def test_async_sdk_reads_what_the_emulator_answers(base_url: str) -> None:
    """AsyncLumaAI creates and pages through generations as well."""
    async with lumaai.AsyncLumaAI(auth_token=KEY, base_url=base_url, max_retries=0) as client:
        first = await client.generations.video.create(model="ray-2", prompt="one")
        second = await client.generations.create(model="ray-2", prompt="two")
        page = await client.generations.list(limit=1, offset=0)
        assert [g.id for g in page.generations] == [second.id]
        assert page.has_more is True
        rest = await client.generations.list(limit=1, offset=1)
        assert [g.id for g in rest.generations] == [first.id]
        assert rest.has_more is False
