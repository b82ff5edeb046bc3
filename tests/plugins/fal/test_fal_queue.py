"""fal's queue: inputs per endpoint, queue position, logs, the result, cancel, the CDN."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from fal_support import INSTANCE, JOB_SECONDS, KEY, Clock, call

import reelgate
import reelgate.status
import reelgate_fal
from reelgate.emulation import Fault
from reelgate.errors import InvalidRequestError, NotFoundError, VideoNotReadyError
from reelgate.gateway import Gateway
from reelgate_fal import build_input
from reelgate_fal.catalog import app_path
from reelgate_fal.emulator import FalEmulator, QueuedRequest

pytestmark = pytest.mark.anyio

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
KLING = "fal-ai/kling-video/v2.1/master/text-to-video"
APP = "fal-ai/kling-video"


def _request(model: str = KLING, **kwargs: Any) -> reelgate.CreateVideo:
    kwargs.setdefault("prompt", "a paper boat")
    return reelgate.CreateVideo(model=f"{INSTANCE}/{model}", **kwargs)


def _native(video: reelgate.Video) -> str:
    return video.id.rsplit(":", 1)[0]


@pytest.mark.parametrize(
    ("model", "app"),
    [
        (KLING, APP),
        ("fal-ai/veo3", "fal-ai/veo3"),
        ("fal-ai/minimax/hailuo-02/pro/text-to-video", "fal-ai/minimax"),
        ("workflows/someone/my-flow/run", "workflows/someone/my-flow"),
    ],
)
def test_the_app_is_the_first_two_segments(model: str, app: str) -> None:
    """Status, result and cancel live under the app: two segments, three after a namespace."""
    assert app_path(model) == app


async def test_create_queues_on_the_model_path(gateway: Gateway, emulator: FalEmulator) -> None:
    """The request goes to POST /{model path} with Key auth; the app is kept as state."""
    video = await gateway.create(_request(seconds=10, size="1080x1920", negative_prompt="rain"))
    seen = emulator.faults.seen[-1]
    assert (seen.method, seen.path) == ("POST", f"/{KLING}")
    assert seen.headers["authorization"] == f"Key {KEY}"
    assert emulator.received[-1] == (
        KLING,
        {
            "prompt": "a paper boat",
            "duration": "10",
            "aspect_ratio": "9:16",
            "negative_prompt": "rain",
        },
    )
    assert video.status is reelgate.VideoStatus.QUEUED
    assert video.progress == 0
    record = await gateway.index.get(INSTANCE, _native(video))
    assert record is not None
    assert record.provider_state == {"app": APP, "model": KLING}
    assert video.provider_state is None


@pytest.mark.parametrize(
    ("model", "kwargs", "expected"),
    [
        (
            "fal-ai/veo3",
            {"seconds": 8, "size": "1920x1080", "audio": False, "seed": 3},
            {
                "duration": "8s",
                "aspect_ratio": "16:9",
                "resolution": "1080p",
                "generate_audio": False,
                "seed": 3,
            },
        ),
        ("fal-ai/luma-dream-machine/ray-2", {"seconds": 9}, {"duration": "9s"}),
        ("fal-ai/minimax/hailuo-02/standard/text-to-video", {"seconds": 6}, {"duration": "6"}),
        (
            "fal-ai/wan/v2.2-a14b/text-to-video",
            {"size": "1280x720"},
            {"aspect_ratio": "16:9", "resolution": "720p"},
        ),
        (
            "someone/new-video-model",
            {"seconds": 7, "extra_params": {"fps": 30}},
            {"duration": "7", "fps": 30},
        ),
    ],
)
def test_fields_per_endpoint(model: str, kwargs: dict[str, Any], expected: dict[str, Any]) -> None:
    """Durations are written as each endpoint's string enum; sizes as ratio and resolution."""
    body = build_input(_request(model, **kwargs), model, call("create", model))
    assert body == {"prompt": "a paper boat", **expected}


def test_image_goes_in_image_url() -> None:
    """An image-to-video endpoint gets the image in image_url (a data URI for bytes)."""
    model = "fal-ai/kling-video/v2.1/pro/image-to-video"
    body = build_input(_request(model, input_reference=PNG), model, call("create", model))
    assert body["image_url"].startswith("data:image/png;base64,")


@pytest.mark.parametrize(
    ("model", "kwargs", "param", "says"),
    [
        (KLING, {"seconds": 7}, "seconds", "5, 10"),
        (KLING, {"size": "1000x800"}, "size", "16:9, 9:16, 1:1"),
        (KLING, {"input_reference": PNG}, "input_reference", "no image"),
        ("fal-ai/kling-video/v2.1/pro/image-to-video", {}, "input_reference", "image-to-video"),
        ("fal-ai/veo3", {"size": "640x360"}, "size", "720p, 1080p"),
        ("fal-ai/minimax/hailuo-02/pro/text-to-video", {"seconds": 10}, "seconds", "6 second"),
        ("fal-ai/luma-dream-machine/ray-2", {"seed": 1}, "seed", "no seed"),
        ("someone/model", {"input_reference": PNG}, "input_reference", "extra_params"),
        (KLING, {"extra_params": {"duration": "5"}, "seconds": 5}, "extra_params", "duration"),
    ],
)
def test_bad_requests_are_refused(
    model: str, kwargs: dict[str, Any], param: str, says: str
) -> None:
    """The table refuses what the endpoint cannot do, naming the allowed values."""
    with pytest.raises(InvalidRequestError) as caught:
        build_input(_request(model, **kwargs), model, call("create", model))
    assert caught.value.param == param
    assert says in caught.value.message


async def test_validation_errors_name_the_field(gateway: Gateway) -> None:
    """A 422 detail list from fal is an InvalidRequestError whose param is the field."""
    with pytest.raises(InvalidRequestError) as caught:
        await gateway.create(_request(extra_params={"aspect_ratio": "4:3"}))
    assert caught.value.param == "aspect_ratio"
    assert "permitted" in caught.value.message


async def test_queue_then_progress_then_result(
    gateway: Gateway, emulator: FalEmulator, clock: Clock
) -> None:
    """IN_QUEUE is queued at 0; IN_PROGRESS reads the logs; COMPLETED fetches the result."""
    video = await gateway.create(_request())
    queued = await gateway.retrieve(video.id)
    assert queued.status is reelgate.VideoStatus.QUEUED
    assert queued.progress == 0
    assert queued.provider_metadata["queue_position"] >= 1
    status_read = emulator.faults.seen[-1]
    assert status_read.path == f"/{APP}/requests/{_native(video)}/status"
    assert status_read.query == "logs=1"
    clock.advance(JOB_SECONDS * 0.6)
    running = await gateway.retrieve(video.id)
    assert running.status is reelgate.VideoStatus.IN_PROGRESS
    assert running.progress == 50
    clock.advance(JOB_SECONDS)
    before = len(emulator.faults.seen)
    done = await gateway.retrieve(video.id)
    assert [r.path for r in emulator.faults.seen[before:]] == [
        f"/{APP}/requests/{_native(video)}/status",
        f"/{APP}/requests/{_native(video)}",
    ]
    assert done.status is reelgate.VideoStatus.COMPLETED
    assert done.provider_metadata["inference_time"] == pytest.approx(JOB_SECONDS * 0.8)
    assert done.videos[0].url is not None
    assert done.videos[0].url.startswith("http://cdn.queue.emulator.test/files/")


async def test_an_error_in_the_status_is_a_failure(gateway: Gateway, clock: Clock) -> None:
    """COMPLETED with error and error_type reads as failed with that code and message."""
    video = await gateway.create(_request(prompt="a paper boat [emulate:runner_error]"))
    clock.advance(JOB_SECONDS)
    failed = await gateway.retrieve(video.id)
    assert failed.status is reelgate.VideoStatus.FAILED
    assert failed.error == reelgate.VideoError(
        code="runner_server_error", message="The model failed to generate a video (emulated)"
    )


@pytest.mark.parametrize(
    ("directive", "code", "says"),
    [
        ("fail", "value_error", "prompt: The model could not generate"),
        ("filter", "content_policy_violation", "flagged by a content checker"),
    ],
)
async def test_an_error_in_the_result_is_a_failure(
    gateway: Gateway, clock: Clock, directive: str, code: str, says: str
) -> None:
    """fal reports most failures only in the result: COMPLETED, then a 422 from the result."""
    video = await gateway.create(_request(prompt=f"a paper boat [emulate:{directive}]"))
    clock.advance(JOB_SECONDS)
    failed = await gateway.retrieve(video.id)
    assert failed.status is reelgate.VideoStatus.FAILED
    assert failed.error is not None
    assert failed.error.code == code
    assert failed.error.message is not None
    assert says in failed.error.message


async def test_download_comes_from_the_cdn_without_the_key(
    gateway: Gateway, emulator: FalEmulator, clock: Clock
) -> None:
    """The video file is fetched from the CDN host name, with no Authorization header."""
    video = await gateway.create(_request())
    clock.advance(JOB_SECONDS)
    async with gateway.download(video.id) as stream:
        body = b"".join([chunk async for chunk in stream])
    assert body[4:8] == b"ftyp"
    fetch = emulator.faults.seen[-1]
    assert fetch.path.startswith("/files/")
    assert fetch.headers["host"] == "cdn.queue.emulator.test"
    assert "authorization" not in fetch.headers
    assert all(KEY not in value for value in fetch.headers.values())


async def test_download_while_queued_is_not_ready(gateway: Gateway) -> None:
    """A queued request cannot be downloaded (409)."""
    video = await gateway.create(_request())
    with pytest.raises(VideoNotReadyError):
        async with gateway.download(video.id):
            pass


async def test_delete_cancels_and_cancelled_reads_failed(
    gateway: Gateway, emulator: FalEmulator, provider: reelgate_fal.FalProvider, clock: Clock
) -> None:
    """delete cancels a queued request (PUT .../cancel); it then reads as cancelled."""
    video = await gateway.create(_request())
    deleted = await gateway.delete(video.id)
    assert deleted.upstream == "cancelled"
    put = emulator.faults.seen[-1]
    assert (put.method, put.path) == ("PUT", f"/{APP}/requests/{_native(video)}/cancel")
    state = {"app": APP, "model": KLING}
    again = await provider.retrieve(_native(video), call=call("retrieve", state=state))
    assert again.status is reelgate.VideoStatus.FAILED
    assert again.error == reelgate.model.cancelled_error()


async def test_cancel_of_a_completed_request_is_quiet(
    gateway: Gateway, provider: reelgate_fal.FalProvider, clock: Clock
) -> None:
    """ALREADY_COMPLETED is not an error: the request simply finished first."""
    video = await gateway.create(_request())
    clock.advance(JOB_SECONDS)
    await provider.cancel(_native(video), call=call("cancel", state={"app": APP}))


async def test_unknown_status_is_no_news(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A status fal may add later reads as unfinished, is logged and kept raw."""
    video = await gateway.create(_request())
    monkeypatch.setattr(QueuedRequest, "status", lambda *_a, **_k: {"status": "PAUSED"})
    monkeypatch.setattr(reelgate.status, "_unknown_seen", set())  # logged once per process
    with caplog.at_level(logging.WARNING, logger="reelgate"):
        again = await gateway.retrieve(video.id)
    assert again.status is reelgate.VideoStatus.QUEUED
    assert again.provider_metadata["status"] == "PAUSED"
    assert "PAUSED" in caplog.text


def test_resolutions_keep_the_endpoint_spelling() -> None:
    """Hailuo's image-to-video spells its resolutions 512P and 768P; reelgate sends them so."""
    model = "fal-ai/minimax/hailuo-02/standard/image-to-video"
    request = _request(model, input_reference=PNG, size="1366x768", seconds=10)
    body = build_input(request, model, call("create", model))
    assert (body["resolution"], body["duration"]) == ("768P", "10")


async def test_a_result_fal_no_longer_holds_is_not_found(
    gateway: Gateway, emulator: FalEmulator, clock: Clock
) -> None:
    """A completed request whose result is gone is not found, never a failed video."""
    video = await gateway.create(_request())
    clock.advance(JOB_SECONDS)
    emulator.faults.add(Fault(status=404, method="GET", path=r"/requests/[^/]+$"))
    with pytest.raises(NotFoundError, match="no longer holds the result"):
        await gateway.retrieve(video.id)
