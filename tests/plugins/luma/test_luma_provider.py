"""What the Luma plugin does differently: keyframes, states, the offset list, the CDN."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from luma_support import INSTANCE, JOB_SECONDS, KEY, Clock

import reelgate_luma
from reelgate import Call, CreateVideo, ImageInput, Operation, VideoStatus
from reelgate.emulation import FaultMiddleware
from reelgate.errors import InvalidRequestError, VideoNotReadyError
from reelgate.gateway import Gateway
from reelgate.http import Reply

pytestmark = pytest.mark.anyio

CALL = Call(instance=INSTANCE, operation=Operation.RETRIEVE)


def _request(prompt: str = "a paper boat", **kwargs: Any) -> CreateVideo:
    return CreateVideo(model=f"{INSTANCE}/ray-2", prompt=prompt, **kwargs)


def _create_bodies(emulator: FaultMiddleware) -> int:
    return emulator.faults.count("POST", r"^/generations")


# -- the create body ----------------------------------------------------------------------


def test_size_and_seconds_become_ratio_resolution_and_duration() -> None:
    """1920x1080 for 9 seconds is aspect_ratio 16:9, resolution 1080p, duration 9s."""
    body = reelgate_luma.build_create(_request(size="1920x1080", seconds=9), "ray-2")
    assert body == {
        "model": "ray-2",
        "prompt": "a paper boat",
        "generation_type": "video",
        "aspect_ratio": "16:9",
        "resolution": "1080p",
        "duration": "9s",
    }


@pytest.mark.parametrize(
    ("size", "ratio", "resolution"),
    [("1080x1920", "9:16", "1080p"), ("3840x2160", "16:9", "4k"), ("1260x540", "21:9", "540p")],
)
def test_sizes_map_onto_luma_frames(size: str, ratio: str, resolution: str) -> None:
    """A frame's ratio in Luma's names (21:9, not 7:3) and its short side as a resolution."""
    body = reelgate_luma.build_create(_request(size=size), "ray-flash-2")
    assert (body["aspect_ratio"], body["resolution"]) == (ratio, resolution)


def test_an_image_url_is_the_first_keyframe() -> None:
    """input_reference as a URL is keyframes.frame0 of type image; extra frame1 stays."""
    frame1 = {"type": "image", "url": "https://example.com/end.jpg"}
    body = reelgate_luma.build_create(
        _request(
            input_reference=ImageInput.from_url("https://example.com/start.jpg"),
            extra_params={"keyframes": {"frame1": frame1}, "loop": True},
        ),
        "ray-2",
    )
    assert body["keyframes"] == {
        "frame0": {"type": "image", "url": "https://example.com/start.jpg"},
        "frame1": frame1,
    }
    assert body["loop"] is True


@pytest.mark.parametrize(
    ("kwargs", "param", "says"),
    [
        ({"seconds": 7}, "seconds", "5, 9"),
        ({"size": "1000x1000"}, "size", "540, 720, 1080"),
        ({"size": "1280x960", "extra_params": {"resolution": "720p"}}, "size", "not both"),
        ({"extra_params": {"resolution": "8k"}}, "size", "540p, 720p, 1080p, 4k"),
        ({"negative_prompt": "rain"}, "negative_prompt", "no negative_prompt"),
        (
            {"input_reference": ImageInput.from_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 32)},
            "input_reference",
            "URL",
        ),
        ({"extra_params": {"duration": "5s"}}, "extra_params", "seconds"),
    ],
)
async def test_requests_luma_cannot_serve_send_nothing(
    gateway: Gateway, emulator: FaultMiddleware, kwargs: dict[str, Any], param: str, says: str
) -> None:
    """A request the model table rules out is an InvalidRequestError naming the allowed values."""
    with pytest.raises(InvalidRequestError, match=says) as caught:
        await gateway.create(_request(**kwargs))
    assert caught.value.param == param
    assert _create_bodies(emulator) == 0


def test_unknown_models_pass_unchecked() -> None:
    """A model outside the table is Luma's to judge: its values go through as given."""
    body = reelgate_luma.build_create(
        CreateVideo(model="luma/ray-3", prompt="x", seconds=12), "ray-3"
    )
    assert body["duration"] == "12s"


async def test_create_sends_the_body_the_sdk_types(
    gateway: Gateway, emulator: FaultMiddleware
) -> None:
    """The emulator, which checks fields as lumaai's VideoCreateParams, takes the create."""
    video = await gateway.create(_request(size="1280x720", seconds=5))
    assert video.status is VideoStatus.QUEUED
    assert video.seconds == "5"
    assert video.size == "1280x720"
    created = await gateway.retrieve(video.id)
    assert created.provider_metadata["aspect_ratio"] == "16:9"
    assert created.provider_metadata["resolution"] == "720p"


# -- states -------------------------------------------------------------------------------


async def test_states_map_queued_dreaming_completed(gateway: Gateway, clock: Clock) -> None:
    """queued, then dreaming (in progress), then completed with the CDN video."""
    video = await gateway.create(_request())
    assert (await gateway.retrieve(video.id)).status is VideoStatus.QUEUED
    clock.now += JOB_SECONDS / 2
    dreaming = await gateway.retrieve(video.id)
    assert dreaming.status is VideoStatus.IN_PROGRESS
    assert dreaming.provider_metadata["state"] == "dreaming"
    clock.now += JOB_SECONDS
    done = await gateway.retrieve(video.id)
    assert done.status is VideoStatus.COMPLETED
    assert done.videos[0].url is not None
    assert "/cdn/" in done.videos[0].url


async def test_failure_reason_is_the_error_message(gateway: Gateway, clock: Clock) -> None:
    """A failed generation reads as failed with Luma's failure_reason."""
    video = await gateway.create(_request("a boat [emulate:filter]"))
    clock.now += JOB_SECONDS * 2
    failed = await gateway.retrieve(video.id)
    assert failed.status is VideoStatus.FAILED
    assert failed.error is not None
    assert failed.error.message is not None
    assert "moderation" in failed.error.message


def test_an_unknown_state_is_no_news(caplog: pytest.LogCaptureFixture) -> None:
    """A state Luma adds later reads as unfinished, is logged, and is kept in the metadata."""
    with caplog.at_level(logging.WARNING, logger="reelgate"):
        video = reelgate_luma.generation_to_video(
            {"id": "g-1", "state": "upscaling"}, call=Call(instance="luma-x", operation="retrieve")
        )
    assert video.status is VideoStatus.QUEUED
    assert video.provider_metadata["state"] == "upscaling"
    assert "upscaling" in caplog.text


def test_validation_details_are_read() -> None:
    """A 422 with a list of {loc, msg} issues becomes one readable message."""
    body = {"detail": [{"loc": ["body", "duration"], "msg": "Input should be '5s' or '9s'"}]}
    reply = Reply(422, {}, json.dumps(body).encode(), "http://x/generations/video")
    assert reelgate_luma.parse_error(reply).message == "duration: Input should be '5s' or '9s'"


# -- list ---------------------------------------------------------------------------------


async def test_list_cursors_follow_ids_across_luma_pages(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch, clock: Clock
) -> None:
    """With two rows per Luma page, id cursors still visit every generation once, in order."""
    monkeypatch.setattr(reelgate_luma, "_SCAN_PAGE", 2)
    created = []
    for i in range(5):
        created.append((await gateway.create(_request(prompt=f"job {i}"))).id)
        clock.now += 1
    first = await gateway.list(INSTANCE, limit=2)
    assert [v.id for v in first.data] == [created[4], created[3]]
    # A generation made between two pages shifts Luma's offsets, not reelgate's cursor.
    await gateway.create(_request(prompt="late"))
    second = await gateway.list(INSTANCE, limit=2, after=first.last_id)
    assert [v.id for v in second.data] == [created[2], created[1]]
    assert second.has_more is True
    third = await gateway.list(INSTANCE, limit=2, after=second.last_id)
    assert [v.id for v in third.data] == [created[0]]
    assert third.has_more is False
    oldest = await gateway.list(INSTANCE, limit=2, order="asc")
    assert [v.id for v in oldest.data] == created[:2]


async def test_an_unknown_cursor_is_invalid(gateway: Gateway) -> None:
    """A cursor that names no listed generation is an InvalidRequestError on after."""
    await gateway.create(_request())
    with pytest.raises(InvalidRequestError) as caught:
        await gateway.list(INSTANCE, after="00000000-0000-4000-8000-000000000000:luma")
    assert caught.value.param == "after"


# -- download and delete ------------------------------------------------------------------


async def test_download_goes_to_the_cdn_without_the_key(
    gateway: Gateway, emulator: FaultMiddleware, clock: Clock
) -> None:
    """The video comes from assets.video on the CDN host; no Authorization goes there."""
    video = await gateway.create(_request())
    with pytest.raises(VideoNotReadyError, match="only completed videos"):
        async with gateway.download(video.id):
            pass
    clock.now += JOB_SECONDS * 2
    emulator.faults.seen.clear()
    async with gateway.download(video.id) as stream:
        data = b"".join([chunk async for chunk in stream])
    assert data[4:8] == b"ftyp"
    cdn = [r for r in emulator.faults.seen if r.path.startswith("/cdn/")]
    api = [r for r in emulator.faults.seen if r.path.startswith("/generations/")]
    assert len(cdn) == 1
    assert cdn[0].headers["host"] != api[0].headers["host"]
    assert "authorization" not in cdn[0].headers
    assert all(KEY not in v for r in cdn for v in r.headers.values())
    assert api[0].headers["authorization"] == f"Bearer {KEY}"


async def test_delete_removes_the_generation_upstream(
    gateway: Gateway, emulator: FaultMiddleware
) -> None:
    """Delete sends DELETE /generations/{id} and says the generation was deleted."""
    video = await gateway.create(_request())
    deleted = await gateway.delete(video.id)
    assert deleted.upstream == "deleted"
    assert emulator.faults.count("DELETE", r"^/generations/") == 1
