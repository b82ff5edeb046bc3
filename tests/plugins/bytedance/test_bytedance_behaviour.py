"""What Seedance on Ark does differently: the content array, parameters in text, list, delete."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qs

import anyio
import httpx2
import pytest
from bytedance_support import INSTANCE, JOB_SECONDS, KEY, START, Clock, make_call

import reelgate
import reelgate_bytedance
from reelgate.emulation import serve
from reelgate.errors import InvalidRequestError, NotFoundError, VideoNotReadyError
from reelgate.gateway import Gateway
from reelgate.http import Reply, Upstream, make_client
from reelgate.ids import VideoId
from reelgate.model import VideoStatus
from reelgate_bytedance.emulator import BytedanceEmulator, asset_host, create_app

pytestmark = pytest.mark.anyio

PRO = "seedance-1-0-pro-250528"


async def _create(gateway: Gateway, prompt: str = "a paper boat", **kwargs: Any) -> reelgate.Video:
    model = kwargs.pop("model", f"{INSTANCE}/{PRO}")
    return await gateway.create(reelgate.CreateVideo(model=model, prompt=prompt, **kwargs))


def _body(model: str, prompt: str = "a boat", **kwargs: Any) -> dict[str, Any]:
    request = reelgate.CreateVideo(model=f"{INSTANCE}/{model}", prompt=prompt, **kwargs)
    return reelgate_bytedance.build_create(request, call=make_call("create", model))


# -- the request body ---------------------------------------------------------------------


def test_seedance_1_parameters_go_into_the_prompt_text() -> None:
    """For Seedance 1.x, resolution, ratio, duration, seed and camerafixed end the text."""
    body = _body(PRO, size="1920x1080", seconds="5", seed=1, extra_params={"camera_fixed": False})
    assert body == {
        "model": PRO,
        "content": [
            {
                "type": "text",
                "text": "a boat --resolution 1080p --ratio 16:9 --duration 5 --seed 1 "
                "--camerafixed false",
            }
        ],
    }


def test_seedance_2_parameters_are_body_fields() -> None:
    """Seedance 2.0 takes its parameters as top-level fields; the text stays as written."""
    body = _body(
        "dreamina-seedance-2-0-260128",
        size="1280x720",
        seconds="10",
        extra_params={"generate_audio": True},
    )
    assert body["content"] == [{"type": "text", "text": "a boat"}]
    assert (body["resolution"], body["ratio"], body["duration"]) == ("720p", "16:9", 10)
    assert body["generate_audio"] is True


def test_duration_minus_one_lets_the_model_choose() -> None:
    """``extra_params={"duration": -1}`` passes the table: Seedance 2.0 picks the length."""
    body = _body("dreamina-seedance-2-0-260128", extra_params={"duration": -1})
    assert body["duration"] == -1


def test_unknown_models_send_fields_unchecked() -> None:
    """A model the table does not know gets body fields and no checks."""
    body = _body("seedance-9-0-ultra", seconds="30", size="1080x1920")
    assert (body["duration"], body["resolution"], body["ratio"]) == (30, "1080p", "9:16")


def test_images_are_image_url_items_with_roles() -> None:
    """The first frame is an image_url item (a data URI for bytes); a last frame has its role."""
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
    body = _body(
        PRO, input_reference=png, extra_params={"last_frame_image": "https://img.example/z.png"}
    )
    first, last = body["content"][1:]
    assert first["type"] == "image_url"
    assert first["role"] == "first_frame"
    assert first["image_url"]["url"].startswith("data:image/png;base64,")
    assert last == {
        "type": "image_url",
        "image_url": {"url": "https://img.example/z.png"},
        "role": "last_frame",
    }
    alone = _body("seedance-1-0-lite-i2v-250428", input_reference="https://img.example/a.png")
    assert alone["content"][1] == {
        "type": "image_url",
        "image_url": {"url": "https://img.example/a.png"},
    }


@pytest.mark.parametrize(
    ("size", "resolution", "ratio"),
    [
        ("864x480", "480p", "16:9"),
        ("640x640", "480p", "1:1"),
        ("1280x720", "720p", "16:9"),
        ("1112x834", "720p", "4:3"),
        ("1504x640", "720p", "21:9"),
        ("1088x1920", "1080p", "9:16"),
    ],
)
def test_sizes_become_resolution_and_ratio(size: str, resolution: str, ratio: str) -> None:
    """A WIDTHxHEIGHT size is read as Ark's resolution (by pixels) and nearest ratio."""
    body = _body("dreamina-seedance-2-0-fast-260128" if resolution != "1080p" else "x", size=size)
    assert (body["resolution"], body["ratio"]) == (resolution, ratio)


@pytest.mark.parametrize(
    ("model", "kwargs", "param", "words"),
    [
        (PRO, {"size": "1000x300"}, "size", "16:9, 4:3"),
        (PRO, {"seconds": "15"}, "seconds", "2 to 12 seconds"),
        ("seedance-1-5-pro-251215", {"size": "1920x1080"}, "size", "480p, 720p; not 1080p"),
        ("dreamina-seedance-2-0-260128", {"seconds": "3"}, "seconds", "4 to 15"),
        ("seedance-1-0-lite-i2v-250428", {}, "input_reference", "animates an image"),
        (
            "seedance-1-0-lite-t2v-250428",
            {"input_reference": "https://img.example/a.png"},
            "input_reference",
            "takes no image",
        ),
    ],
)
def test_model_table_refuses_before_sending(
    model: str, kwargs: dict[str, Any], param: str, words: str
) -> None:
    """A request the model cannot take is refused, naming the field and allowed values."""
    with pytest.raises(InvalidRequestError, match=words) as caught:
        _body(model, **kwargs)
    assert caught.value.param == param
    assert caught.value.provider == INSTANCE


async def test_refused_create_sends_nothing(gateway: Gateway, emulator: BytedanceEmulator) -> None:
    """The model table is checked before any request leaves."""
    with pytest.raises(InvalidRequestError):
        await _create(gateway, seconds="20")
    assert emulator.faults.count("POST") == 0


# -- statuses -------------------------------------------------------------------------------


async def test_statuses_follow_the_task(gateway: Gateway, clock: Clock) -> None:
    """queued, running, then succeeded with the video's URL, usage and times."""
    video = await _create(gateway, seconds="5")
    seen = []
    for _ in range(3):
        current = await gateway.retrieve(video.id)
        seen.append(current.status)
        clock.advance(JOB_SECONDS * 0.55)
    assert seen == [VideoStatus.QUEUED, VideoStatus.IN_PROGRESS, VideoStatus.COMPLETED]
    assert current.videos[0].url is not None
    assert current.provider_metadata["usage"]["completion_tokens"] > 0
    assert current.seconds == "5"
    assert current.completed_at == int(START + JOB_SECONDS)  # Ark's updated_at


async def test_failed_task_keeps_arks_code_and_message(gateway: Gateway, clock: Clock) -> None:
    """A failed task carries error.code and error.message as Ark wrote them."""
    video = await _create(gateway, "a boat [emulate:fail]")
    clock.advance(JOB_SECONDS)
    done = await gateway.retrieve(video.id)
    assert done.status is VideoStatus.FAILED
    assert done.error == reelgate.model.VideoError(
        code="InternalServiceError", message="the emulator failed this task"
    )


async def test_sensitive_output_is_content_filtered(gateway: Gateway, clock: Clock) -> None:
    """A task failed for sensitive output reports a content filter."""
    video = await _create(gateway, "a boat [emulate:filter]")
    clock.advance(JOB_SECONDS)
    done = await gateway.retrieve(video.id)
    assert done.error is not None
    assert done.error.code == "OutputVideoSensitiveContentDetected"
    assert done.content_filter is not None


def _task(status: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": "cgt-1",
        "model": PRO,
        "status": status,
        "created_at": 1,
        "updated_at": 2,
        **extra,
    }


def test_cancelled_task_is_failed_with_the_cancelled_error() -> None:
    """A cancelled task reads failed, with the core's cancelled error."""
    video = reelgate_bytedance.task_to_video(_task("cancelled"), call=make_call("retrieve"))
    assert video.status is VideoStatus.FAILED
    assert video.error == reelgate.model.cancelled_error()


def test_expired_task_is_failed() -> None:
    """A task Ark let expire reads failed, code expired."""
    video = reelgate_bytedance.task_to_video(_task("expired"), call=make_call("retrieve"))
    assert video.status is VideoStatus.FAILED
    assert video.error is not None
    assert video.error.code == "expired"


def test_unknown_status_is_no_news(caplog: pytest.LogCaptureFixture) -> None:
    """A status Ark adds later leaves the job unfinished, logged and kept in metadata."""
    with caplog.at_level(logging.WARNING, logger="reelgate"):
        video = reelgate_bytedance.task_to_video(_task("paused"), call=make_call("retrieve"))
    assert video.status is VideoStatus.QUEUED
    assert video.provider_metadata["status"] == "paused"
    assert "paused" in caplog.text


# -- download -------------------------------------------------------------------------------


async def test_download_goes_keyless_to_the_bucket(
    gateway: Gateway, emulator: BytedanceEmulator, clock: Clock
) -> None:
    """The video comes from another host name, and no key goes there."""
    video = await _create(gateway)
    clock.advance(JOB_SECONDS)
    emulator.faults.seen.clear()
    async with gateway.download(video.id) as stream:
        body = b"".join([chunk async for chunk in stream])
    assert body[4:8] == b"ftyp"
    api, asset = emulator.faults.seen
    assert api.headers["authorization"] == f"Bearer {KEY}"
    assert api.headers["host"] == "api.emulator.test"
    assert asset.headers["host"] == asset_host("api.emulator.test")
    assert "authorization" not in asset.headers
    assert KEY not in " ".join(asset.headers.values()) + asset.query


async def test_download_of_a_running_task_is_not_ready(gateway: Gateway) -> None:
    """An unfinished task cannot be downloaded: the standard VideoNotReadyError."""
    video = await _create(gateway)
    with pytest.raises(VideoNotReadyError, match="is queued; only completed"):
        async with gateway.download(video.id):
            pass


# -- delete ---------------------------------------------------------------------------------


async def test_delete_cancels_a_queued_task(gateway: Gateway, emulator: BytedanceEmulator) -> None:
    """Deleting a queued task cancels it upstream: Deleted.upstream is cancelled."""
    video = await _create(gateway)
    deleted = await gateway.delete(video.id)
    assert deleted.upstream == "cancelled"
    native = VideoId.parse(video.id).native
    assert emulator.tasks[native].cancelled_at is not None
    with pytest.raises(NotFoundError):
        await gateway.retrieve(video.id)


async def test_delete_removes_a_finished_task(
    gateway: Gateway, emulator: BytedanceEmulator, clock: Clock
) -> None:
    """Deleting a finished task deletes its record upstream."""
    video = await _create(gateway)
    clock.advance(JOB_SECONDS)
    deleted = await gateway.delete(video.id)
    assert deleted.upstream == "deleted"
    assert VideoId.parse(video.id).native not in emulator.tasks


async def test_delete_keeps_a_running_task(
    gateway: Gateway, emulator: BytedanceEmulator, clock: Clock
) -> None:
    """Ark cannot stop a running task: no DELETE is sent, and upstream is kept."""
    video = await _create(gateway)
    clock.advance(JOB_SECONDS * 0.5)
    deleted = await gateway.delete(video.id)
    assert deleted.upstream == "kept"
    assert emulator.faults.count("DELETE") == 0
    with pytest.raises(NotFoundError):
        await gateway.retrieve(video.id)


async def test_delete_of_a_task_gone_upstream_succeeds(
    gateway: Gateway, emulator: BytedanceEmulator
) -> None:
    """A task Ark no longer has is forgotten too."""
    video = await _create(gateway)
    emulator.tasks.clear()
    deleted = await gateway.delete(video.id)
    assert deleted.upstream == "deleted"


# -- the native list ------------------------------------------------------------------------


async def test_list_maps_cursors_onto_page_numbers(
    gateway: Gateway, emulator: BytedanceEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cursors are task ids; pages of Ark's list are read until the cursor and a page after."""
    monkeypatch.setattr(reelgate_bytedance, "PAGE_SIZE", 2)
    created = [(await _create(gateway, f"job {i}")).id for i in range(5)]
    emulator.faults.seen.clear()
    first = await gateway.list(INSTANCE, limit=2)
    assert [v.id for v in first.data] == created[:2:-1][:2]
    assert first.has_more is True
    second = await gateway.list(INSTANCE, limit=2, after=first.last_id)
    assert [v.id for v in second.data] == [created[2], created[1]]
    last = await gateway.list(INSTANCE, limit=2, after=second.last_id)
    assert [v.id for v in last.data] == [created[0]]
    assert last.has_more is False
    queries = [parse_qs(r.query) for r in emulator.faults.seen if r.method == "GET"]
    assert all(q["page_size"] == ["2"] for q in queries)
    assert {q["page_num"][0] for q in queries} == {"1", "2", "3"}
    ascending = await gateway.list(INSTANCE, limit=3, order="asc", after=created[0])
    assert [v.id for v in ascending.data] == created[1:4]


async def test_list_with_an_unknown_cursor_is_invalid(gateway: Gateway) -> None:
    """A cursor Ark does not list is an InvalidRequestError naming after."""
    await _create(gateway)
    with pytest.raises(InvalidRequestError) as caught:
        await gateway.list(INSTANCE, after=VideoId.build("cgt-20250101000000-zzzzz", INSTANCE))
    assert caught.value.param == "after"


async def test_list_reports_ark_fields() -> None:
    """A listed task is read like a retrieved one."""
    page = {"total": 1, "items": [_task("succeeded", content={"video_url": "https://x/y.mp4"})]}
    transport = httpx2.MockTransport(lambda _r: httpx2.Response(200, json=page))
    upstream = Upstream(make_client(transport=transport), "http://ark.test/api/v3", INSTANCE)
    provider = reelgate_bytedance.BytedanceProvider(upstream)
    listed = await provider.list(reelgate.ListQuery(), call=make_call("list"))
    assert listed.data[0].status is VideoStatus.COMPLETED
    assert listed.data[0].videos[0].url == "https://x/y.mp4"
    await upstream.client.aclose()


# -- errors and registration ------------------------------------------------------------------


def test_error_envelope_keeps_code_type_and_param() -> None:
    """Ark's error body gives the message, code, type and param."""
    content = (
        b'{"error": {"code": "InvalidParameter", "message": "bad ratio", "param": "ratio",'
        b' "type": "BadRequest"}}'
    )
    parsed = reelgate_bytedance.parse_error(Reply(400, {}, content, "u"))
    assert (parsed.message, parsed.code, parsed.type, parsed.param) == (
        "bad ratio",
        "InvalidParameter",
        "BadRequest",
        "ratio",
    )
    assert reelgate_bytedance.parse_error(Reply(502, {}, b"<html>", "u")).message == (
        "Ark answered HTTP 502"
    )


async def test_unknown_task_is_not_found(gateway: Gateway) -> None:
    """A task Ark does not know is a NotFoundError with Ark's code."""
    with pytest.raises(NotFoundError) as caught:
        await gateway.retrieve(VideoId.build("cgt-20250101000000-zzzzz", INSTANCE))
    assert caught.value.code == "ResourceNotFound"


def test_settings_default_to_byteplus_and_its_environment() -> None:
    """The type reads ARK_API_KEY and ARK_BASE_URL; the default is BytePlus Asia-Pacific."""
    registry = reelgate.ProviderRegistry()
    reelgate_bytedance.reelgate_register_providers(registry)
    spec = registry.specs["bytedance"]
    assert spec.key_env == ("ARK_API_KEY",)
    assert spec.env == {"base_url": "ARK_BASE_URL"}
    default = reelgate_bytedance.BytedanceSettings().base_url
    assert default == "https://ark.ap-southeast.bytepluses.com/api/v3"


async def test_no_key_goes_to_the_bucket_over_loopback() -> None:
    """Over real HTTP the bucket is ``localhost`` beside the API's ``127.0.0.1``: no key there."""
    emulator = create_app(job_seconds=0.05)
    with serve(emulator) as url:
        upstream = Upstream(make_client(), f"{url}/api/v3", INSTANCE)
        provider = reelgate_bytedance.BytedanceProvider(upstream)
        try:
            request = reelgate.CreateVideo(model=f"{INSTANCE}/{PRO}", prompt="a boat")
            created = await provider.create(request, call=make_call("create", PRO))
            await anyio.sleep(0.1)
            emulator.faults.seen.clear()
            call = make_call("download")
            async with provider.download(created.id, reelgate.Variant.VIDEO, call=call):
                pass
        finally:
            await upstream.client.aclose()
    api, asset = emulator.faults.seen
    assert api.headers["host"].startswith("127.0.0.1:")
    assert asset.headers["host"].startswith("localhost:")
    assert "authorization" not in asset.headers


async def test_emulator_reads_short_text_flags(emulator: BytedanceEmulator) -> None:
    """The emulator reads ``--rs``, ``--rt`` and ``--dur`` as Ark's text commands do."""
    transport = httpx2.ASGITransport(app=emulator)
    async with httpx2.AsyncClient(transport=transport, base_url="http://e.test") as client:
        text = {"type": "text", "text": "a boat --rs 480p --rt 9:16 --dur 6 --cf true"}
        body = {"model": PRO, "content": [text], "seed": 3}
        headers = {"Authorization": "Bearer k"}
        reply = await client.post("/api/v3/contents/generations/tasks", json=body, headers=headers)
    params = emulator.tasks[reply.json()["id"]].params
    assert params == {
        "resolution": "480p",
        "ratio": "9:16",
        "duration": "6",
        "camerafixed": "true",
        "seed": 3,
    }
