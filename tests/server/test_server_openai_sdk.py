"""
The official openai SDK drives /openai/v1/videos.

Create (multipart, with a file), retrieve, list with auto-paging, download_content, delete
and remix, with the SDK's sync and async clients.
"""

from __future__ import annotations

import time
from typing import Any

import openai
import pytest
from server_support import KEY_A, KEY_B, KEYS, Serve

from reelgate import media
from reelgate.model import Variant

# The SDK marks its videos methods deprecated (the upstream API's shutdown date).
pytestmark = pytest.mark.filterwarnings("ignore:The Sora API:DeprecationWarning")

LIST_SIM = {"x-bf-video-list-provider": "sim"}


@pytest.fixture(name="sdk")
def _sdk(make_server: Serve) -> Any:
    url = make_server(keys=KEYS)
    with openai.OpenAI(base_url=f"{url}/openai/v1", api_key=KEY_A, max_retries=0) as client:
        yield client


def finished(sdk: Any, video_id: str) -> Any:
    """Poll with the SDK until the job is done (the simulator takes a moment)."""
    deadline = time.monotonic() + 30
    while True:
        video = sdk.videos.retrieve(video_id)
        if video.status in ("completed", "failed") or time.monotonic() > deadline:
            return video
        time.sleep(0.05)


def test_create_with_a_file_then_retrieve_download_remix_delete(sdk: Any) -> None:
    """The whole life of a job through the SDK, the create sent as multipart with a file."""
    image = media.sample(Variant.THUMBNAIL)
    video = sdk.videos.create(
        model="sim/sim-1",
        prompt="a paper boat",
        input_reference=("reference.webp", image, "image/webp"),
        seconds="4",
        size="1280x720",
    )
    assert video.id.endswith(":sim")
    assert video.object == "video"
    assert video.status in ("queued", "in_progress", "completed")
    assert video.prompt == "a paper boat"

    done = finished(sdk, video.id)
    assert done.status == "completed"
    assert done.id == video.id

    content = sdk.videos.download_content(video.id)
    assert content.content[4:8] == b"ftyp"
    assert content.response.headers["content-type"] == "video/mp4"
    thumbnail = sdk.videos.download_content(video.id, variant="thumbnail")
    assert thumbnail.content[8:12] == b"WEBP"

    remix = sdk.videos.remix(video.id, prompt="now at night")
    assert remix.id != video.id
    assert remix.remixed_from_video_id == video.id

    deleted = sdk.videos.delete(video.id)
    assert deleted.id == video.id
    assert deleted.deleted is True
    with pytest.raises(openai.NotFoundError):
        sdk.videos.retrieve(video.id)


def test_list_auto_pages(sdk: Any) -> None:
    """Auto-paging follows last_id/has_more across pages, newest first."""
    made = [
        sdk.videos.create(model="sim/sim-1", prompt=f"boat {i}", extra_body={"sim_duration": "0"})
        for i in range(5)
    ]
    first = sdk.videos.list(limit=2, extra_headers=LIST_SIM)
    assert len(first.data) == 2
    assert first.has_more is True
    seen = [v.id for v in sdk.videos.list(limit=2, extra_headers=LIST_SIM)]
    assert seen == [v.id for v in reversed(made)]
    oldest_first = [v.id for v in sdk.videos.list(limit=3, order="asc", extra_headers=LIST_SIM)]
    assert oldest_first == [v.id for v in made]


def test_sdk_errors_map_to_its_exceptions(sdk: Any) -> None:
    """Bad ids, unknown jobs and wrong keys raise the SDK's matching exceptions."""
    with pytest.raises(openai.BadRequestError) as bad:
        sdk.videos.retrieve("not-an-id")
    assert "id:provider" in bad.value.message
    with pytest.raises(openai.NotFoundError):
        sdk.videos.retrieve("sim_0_0_c_0_000000_0000:sim")
    with pytest.raises(openai.BadRequestError):
        sdk.videos.create(model="sora-2", prompt="no openai instance here")
    with pytest.raises(openai.BadRequestError) as not_image:
        sdk.videos.create(
            model="sim/sim-1", prompt="x", input_reference=("a.txt", b"hello", "text/plain")
        )
    assert "input_reference" in not_image.value.message
    url = str(sdk.base_url).removesuffix("/")
    with (
        openai.OpenAI(base_url=url, api_key="wrong", max_retries=0) as stranger,
        pytest.raises(openai.AuthenticationError),
    ):
        stranger.videos.list(extra_headers=LIST_SIM)


def test_another_key_cannot_see_the_job(sdk: Any) -> None:
    """A job created with one key is a 404 for the SDK holding another."""
    video = sdk.videos.create(model="sim/sim-1", prompt="mine")
    url = str(sdk.base_url).removesuffix("/")
    with openai.OpenAI(base_url=url, api_key=KEY_B, max_retries=0) as other:
        with pytest.raises(openai.NotFoundError):
            other.videos.retrieve(video.id)
        assert [v.id for v in other.videos.list(extra_headers=LIST_SIM)] == []


@pytest.mark.anyio
async def test_async_client_creates_and_reads(make_server: Serve) -> None:
    """The SDK's async client works too, under asyncio and trio."""
    url = make_server(keys=KEYS)
    async with openai.AsyncOpenAI(
        base_url=f"{url}/openai/v1", api_key=KEY_A, max_retries=0
    ) as client:
        video = await client.videos.create(
            model="sim/sim-1", prompt="async boat", extra_body={"sim_duration": "0"}
        )
        got = await client.videos.retrieve(video.id)
        assert got.status == "completed"
        content = await client.videos.download_content(video.id)
        assert content.content[4:8] == b"ftyp"
        page = await client.videos.list(extra_headers=LIST_SIM)
        assert [v.id for v in page.data] == [video.id]
