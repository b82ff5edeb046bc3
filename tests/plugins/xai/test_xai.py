"""How the xai provider maps reelgate requests to xAI's video API and its answers back."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import pytest

import reelgate_xai
from reelgate import (
    AuthenticationError,
    Call,
    CreateVideo,
    Gateway,
    ImageInput,
    InvalidRequestError,
    NotFoundError,
    VideoNotReadyError,
    VideoStatus,
)
from reelgate.emulation import FAIL, FILTER, SLOW, serve
from reelgate.http import Upstream, make_client
from reelgate.testing import gateway_for
from reelgate_xai import SIZES, XAIProvider
from reelgate_xai.emulator import create_app

pytestmark = pytest.mark.anyio

KEY = "xai-test-key-0123456789abcdef"
KEY_ENV = "REELGATE_XAI_TEST_KEY"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)

Build = Callable[..., Awaitable[Gateway]]


@pytest.fixture(name="received")
def _received() -> list[dict[str, Any]]:
    """The bodies of the creates and edits the emulator reads."""
    return []


@pytest.fixture(name="app")
def _app(received: list[dict[str, Any]]) -> Any:
    """An emulator whose jobs finish quickly, accepting only `KEY`."""
    return create_app(job_seconds=0.2, api_keys={KEY}, received=received)


@pytest.fixture(name="build")
async def _build() -> AsyncIterator[Build]:
    """Build gateways with one ``xai`` instance (``grok``) on an emulator."""
    async with AsyncExitStack() as opened:

        async def build(
            app: Any, *, key: str = KEY, url: str | None = None, **settings: Any
        ) -> Gateway:
            # The gateway's own retry policy (``{}``), not the harness's quick one.
            return await opened.enter_async_context(
                gateway_for(
                    "xai",
                    plugin=reelgate_xai,
                    app=app if url is None else None,
                    base_url=f"{url or 'http://api.x.ai.test'}/v1",
                    settings={"poll_interval": 0.02, "retry": {}, **settings},
                    keys={KEY_ENV: key},
                    instance="grok",
                )
            )

        yield build


def _request(prompt: str = "a paper boat", **kwargs: Any) -> CreateVideo:
    return CreateVideo(model="grok/grok-imagine-video", prompt=prompt, **kwargs)


async def test_create_sends_xais_fields(app: Any, build: Build, received: list[Any]) -> None:
    """seconds becomes duration, a size its aspect_ratio and resolution, an image a data URI."""
    gateway = await build(app)
    video = await gateway.create(
        _request(seconds=6, size="1280x720", input_reference=ImageInput.from_bytes(PNG))
    )
    assert video.status is VideoStatus.QUEUED
    assert video.seconds == "6"
    [body] = received
    assert body["model"] == "grok-imagine-video"
    assert (body["duration"], body["aspect_ratio"], body["resolution"]) == (6, "16:9", "720p")
    assert body["image"]["url"].startswith("data:image/png;base64,")


async def test_an_image_url_is_sent_as_it_is(app: Any, build: Build, received: list[Any]) -> None:
    """An image given by URL goes as image.url, untouched."""
    gateway = await build(app)
    await gateway.create(_request(input_reference="https://example.com/cat.png"))
    assert received[0]["image"] == {"url": "https://example.com/cat.png"}


@pytest.mark.parametrize(
    ("kwargs", "param", "message"),
    [
        ({"seconds": 16}, "seconds", "1 to 15 seconds"),
        ({"size": "1920x1080"}, "size", "does not offer resolution '1080p'"),
        ({"size": "1000x1000"}, "size", "choose one of"),
        ({"extra_params": {"aspect_ratio": "21:9"}}, "aspect_ratio", "choose one of 16:9"),
        ({"extra_params": {"duration": 3}}, "duration", "use the request's own field"),
    ],
)
async def test_bad_input_is_refused_before_sending(
    app: Any, build: Build, kwargs: dict[str, Any], param: str, message: str
) -> None:
    """Durations, ratios and resolutions the model does not take are refused locally."""
    gateway = await build(app)
    with pytest.raises(InvalidRequestError, match=message) as caught:
        await gateway.create(_request(**kwargs))
    assert caught.value.param == param
    assert app.faults.count("POST") == 0


async def test_an_unknown_model_passes_unchecked(app: Any, build: Build) -> None:
    """A model the table does not know is sent as it is (and the emulator refuses it)."""
    gateway = await build(app)
    with pytest.raises(NotFoundError, match="does not exist"):
        await gateway.create(CreateVideo(model="grok/grok-imagine-video-9", prompt="a", seconds=30))
    assert app.faults.count("POST") == 1


def test_sizes_are_the_ratios_at_each_resolution() -> None:
    """Every size reelgate accepts maps to one of the API's ratios and resolutions."""
    assert SIZES["1280x720"] == ("16:9", "720p")
    assert SIZES["720x1280"] == ("9:16", "720p")
    assert SIZES["854x480"] == ("16:9", "480p")
    assert SIZES["480x480"] == ("1:1", "480p")
    assert len(SIZES) == 7 * 3


async def test_a_job_goes_pending_then_done_with_its_url(app: Any, build: Build) -> None:
    """pending with progress reads as in progress; done carries the URL and the duration."""
    gateway = await build(app)
    video = await gateway.create(_request(seconds=5))
    seen: list[Any] = []
    done = await gateway.wait(video.id, timeout=10, on_update=seen.append)
    assert done.status is VideoStatus.COMPLETED
    assert done.progress == 100
    assert done.seconds == "5"
    [output] = done.videos
    assert output.url is not None
    assert output.url.startswith("http://vidgen.api.x.ai.test/")
    assert done.provider_metadata["usage"]["cost_in_usd_ticks"] > 0
    assert any(v.status is VideoStatus.IN_PROGRESS for v in seen)


async def test_a_failed_job_carries_xais_error(app: Any, build: Build) -> None:
    """status failed becomes a failed video with xAI's code and message."""
    gateway = await build(app)
    video = await gateway.create(_request(f"a boat {FAIL}"))
    done = await gateway.wait(video.id, timeout=10)
    assert done.status is VideoStatus.FAILED
    assert done.error is not None
    assert (done.error.code, done.error.message) == ("internal_error", "Video generation failed.")


async def test_moderation_is_a_filtered_failure(app: Any, build: Build) -> None:
    """done with respect_moderation false is a failure with a content filter, not a video."""
    gateway = await build(app)
    video = await gateway.create(_request(f"a boat {FILTER}"))
    done = await gateway.wait(video.id, timeout=10)
    assert done.status is VideoStatus.FAILED
    assert done.error is not None
    assert done.error.code == "moderation_blocked"
    assert done.content_filter is not None


async def test_an_expired_request_fails_and_cannot_be_downloaded(app: Any, build: Build) -> None:
    """status expired is a failure with code expired; its download says it expired."""
    gateway = await build(app)
    video = await gateway.create(_request("a boat [emulate:expire]"))
    done = await gateway.wait(video.id, timeout=10)
    assert done.status is VideoStatus.FAILED
    assert done.error is not None
    assert done.error.code == "expired"
    with pytest.raises(NotFoundError, match="expired at xAI"):
        async with gateway.download(video.id):
            pass


async def test_download_before_done_is_not_ready(app: Any, build: Build) -> None:
    """A pending job's download is the standard VideoNotReadyError; nothing is fetched."""
    gateway = await build(app)
    video = await gateway.create(_request(f"a boat {SLOW}"))
    with pytest.raises(VideoNotReadyError, match="only completed videos can be downloaded"):
        async with gateway.download(video.id):
            pass
    assert not any(r.path.endswith(".mp4") for r in app.faults.seen)


async def test_the_key_never_goes_to_the_asset_host(app: Any, build: Build) -> None:
    """The API gets the key; the video's host (another name) gets no Authorization."""
    gateway = await build(app)
    video = await gateway.create(_request())
    await gateway.wait(video.id, timeout=10)
    async with gateway.download(video.id) as stream:
        assert (await stream.read())[4:8] == b"ftyp"
    [fetch] = [r for r in app.faults.seen if r.path.endswith(".mp4")]
    assert fetch.headers["host"].startswith("vidgen.")
    assert "authorization" not in fetch.headers
    assert all(KEY not in " ".join(r.headers.values()) for r in [fetch])
    api = [r for r in app.faults.seen if r.path.startswith("/v1/")]
    assert api
    assert all(r.headers["authorization"] == f"Bearer {KEY}" for r in api)


async def test_the_key_never_goes_to_the_asset_host_over_loopback(build: Build) -> None:
    """Over real HTTP the asset host is localhost for an API on 127.0.0.1; it gets no key."""
    app = create_app(job_seconds=0.2)
    with serve(app) as url:
        gateway = await build(app, url=url)
        video = await gateway.create(_request())
        await gateway.wait(video.id, timeout=10)
        async with gateway.download(video.id) as stream:
            assert (await stream.read())[4:8] == b"ftyp"
    [fetch] = [r for r in app.faults.seen if r.path.endswith(".mp4")]
    assert fetch.headers["host"].startswith("localhost:")
    assert "authorization" not in fetch.headers


async def test_remix_edits_the_finished_video(app: Any, build: Build, received: list[Any]) -> None:
    """remix is POST /videos/edits with the source's URL, and links the new job to it."""
    gateway = await build(app)
    video = await gateway.create(_request(seconds=4))
    await gateway.wait(video.id, timeout=10)
    remixed = await gateway.remix(video.id, "the same, at night")
    assert remixed.remixed_from_video_id == video.id
    edit = received[-1]
    assert set(edit) == {"model", "prompt", "video"}
    assert edit["video"]["url"].endswith(".mp4")
    done = await gateway.wait(remixed.id, timeout=10)
    assert done.seconds == "4"


async def test_remix_of_an_unfinished_job_is_refused(app: Any, build: Build) -> None:
    """Only a done video can be edited: the remix is refused before anything is sent."""
    gateway = await build(app)
    video = await gateway.create(_request(f"a boat {SLOW}"))
    with pytest.raises(InvalidRequestError, match="only completed videos can be remixed"):
        await gateway.remix(video.id, "again")
    assert app.faults.count("POST", r"/edits$") == 0


async def test_a_wrong_key_is_an_authentication_error(app: Any, build: Build) -> None:
    """xAI answers a wrong key with 400; reelgate reads it as an AuthenticationError."""
    gateway = await build(app, key="xai-wrong-key-000000000000")
    with pytest.raises(AuthenticationError, match="Incorrect API key provided") as caught:
        await gateway.create(_request())
    assert caught.value.code == "Client specified an invalid argument"
    assert "xai-wrong-key-000000000000" not in str(caught.value.raw_response)


async def test_delete_forgets_the_job(app: Any, build: Build) -> None:
    """xAI cannot delete or cancel: the provider has neither method, the gateway forgets."""
    gateway = await build(app)
    provider = gateway.instance("grok").provider
    assert isinstance(provider, XAIProvider)
    assert not hasattr(provider, "delete")
    assert not hasattr(provider, "cancel")
    assert "list" not in gateway.instance("grok").capabilities


def test_an_unknown_status_is_no_news() -> None:
    """A status xAI may add later reads as unfinished, its raw name kept in the metadata."""
    provider = XAIProvider(Upstream(client=make_client(), base_url="http://x", instance="grok"))
    video = provider.to_video(
        "r-1", {"status": "rendering"}, Call(instance="grok", operation="retrieve")
    )
    assert video.status is VideoStatus.QUEUED
    assert video.provider_metadata["status"] == "rendering"
