"""What MiniMax does differently: three calls to a video, base_resp errors, the model table."""

from __future__ import annotations

import logging
from typing import Any

import anyio
import httpx2
import pytest
from minimax_support import INSTANCE, JOB_SECONDS, KEY, Clock, answering, make_call, provider_on

import reelgate
import reelgate_minimax
from reelgate.emulation import serve
from reelgate.errors import (
    AuthenticationError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitError,
    ReelgateError,
    UnsupportedOperationError,
    VideoNotReadyError,
)
from reelgate.gateway import Gateway
from reelgate.ids import VideoId
from reelgate.model import VideoStatus
from reelgate_minimax.emulator import MinimaxEmulator, cdn_host, create_app

pytestmark = pytest.mark.anyio

MODEL = f"{INSTANCE}/MiniMax-Hailuo-2.3"


async def _create(gateway: Gateway, prompt: str = "a paper boat", **kwargs: Any) -> reelgate.Video:
    model = kwargs.pop("model", MODEL)
    return await gateway.create(reelgate.CreateVideo(model=model, prompt=prompt, **kwargs))


# -- statuses and the three calls ---------------------------------------------------------


async def test_statuses_follow_the_task(gateway: Gateway, clock: Clock) -> None:
    """Preparing and Queueing read queued, Processing in_progress, Success completed."""
    video = await _create(gateway)
    assert video.status is VideoStatus.QUEUED
    seen = []
    for _ in range(4):
        current = await gateway.retrieve(video.id)
        seen.append((current.status, current.provider_metadata["status"]))
        clock.advance(JOB_SECONDS * 0.25)
    assert seen == [
        (VideoStatus.QUEUED, "Preparing"),
        (VideoStatus.QUEUED, "Queueing"),
        (VideoStatus.IN_PROGRESS, "Processing"),
        (VideoStatus.IN_PROGRESS, "Processing"),
    ]
    clock.advance(JOB_SECONDS)
    done = await gateway.retrieve(video.id)
    assert done.status is VideoStatus.COMPLETED
    assert done.size == "1366x768"
    assert done.progress == 100


async def test_success_keeps_the_file_id_in_provider_state(
    provider: reelgate_minimax.MinimaxProvider, clock: Clock
) -> None:
    """The query that first sees Success returns the file id as the job's provider state."""
    created = await provider.create(
        reelgate.CreateVideo(model=MODEL, prompt="a boat"),
        call=make_call("create", "MiniMax-Hailuo-2.3"),
    )
    assert created.provider_state is None
    clock.advance(JOB_SECONDS)
    done = await provider.retrieve(created.id, call=make_call("retrieve"))
    assert done.provider_state is not None
    assert done.provider_state == {"file_id": done.provider_metadata["file_id"]}
    assert "file_id" not in created.id


async def test_download_with_the_file_id_takes_two_calls(
    provider: reelgate_minimax.MinimaxProvider, emulator: MinimaxEmulator, clock: Clock
) -> None:
    """With the file id in the job state, a download asks files/retrieve, then the CDN."""
    created = await provider.create(
        reelgate.CreateVideo(model=MODEL, prompt="a boat"),
        call=make_call("create", "MiniMax-Hailuo-2.3"),
    )
    clock.advance(JOB_SECONDS)
    done = await provider.retrieve(created.id, call=make_call("retrieve"))
    emulator.faults.seen.clear()
    call = make_call("download", job_state=done.provider_state)
    async with provider.download(created.id, reelgate.Variant.VIDEO, call=call) as stream:
        body = b"".join([chunk async for chunk in stream])
    assert body[4:8] == b"ftyp"
    assert [r.path for r in emulator.faults.seen] == [
        "/v1/files/retrieve",
        f"/inference_output/video/{done.provider_state['file_id']}/output.mp4",
    ]


async def test_download_without_state_queries_the_task_first(
    provider: reelgate_minimax.MinimaxProvider, emulator: MinimaxEmulator, clock: Clock
) -> None:
    """A job reelgate never saw finished is queried for its file id: three calls in all."""
    created = await provider.create(
        reelgate.CreateVideo(model=MODEL, prompt="a boat"),
        call=make_call("create", "MiniMax-Hailuo-2.3"),
    )
    clock.advance(JOB_SECONDS)
    emulator.faults.seen.clear()
    async with provider.download(created.id, reelgate.Variant.VIDEO, call=make_call("download")):
        pass
    assert [r.path for r in emulator.faults.seen][:2] == [
        "/v1/query/video_generation",
        "/v1/files/retrieve",
    ]
    assert len(emulator.faults.seen) == 3


async def test_the_key_never_goes_to_the_cdn(
    gateway: Gateway, emulator: MinimaxEmulator, clock: Clock
) -> None:
    """The video comes from another host name, and no request there carries the key."""
    video = await _create(gateway)
    clock.advance(JOB_SECONDS)
    await gateway.retrieve(video.id)
    emulator.faults.seen.clear()
    async with gateway.download(video.id) as stream:
        assert stream.content_type == "video/mp4"
        async for _ in stream:
            pass
    cdn = [r for r in emulator.faults.seen if r.path.startswith("/inference_output/")]
    api = [r for r in emulator.faults.seen if r.path.startswith("/v1/")]
    assert cdn
    assert api
    assert all(r.headers["host"] == cdn_host("api.emulator.test") for r in cdn)
    assert all(r.headers["host"] == "api.emulator.test" for r in api)
    for request in cdn:
        assert "authorization" not in request.headers
        assert KEY not in " ".join(request.headers.values()) + request.query
    assert all(r.headers["authorization"] == f"Bearer {KEY}" for r in api)


def test_cdn_host_is_another_name() -> None:
    """The emulated CDN never shares the API's host name, on loopback or not."""
    assert cdn_host("127.0.0.1") == "localhost"
    assert cdn_host("localhost") == "127.0.0.1"
    assert cdn_host("api.emulator.test") == "cdn.api.emulator.test"


async def test_download_before_success_is_not_ready(gateway: Gateway) -> None:
    """An unfinished task cannot be downloaded: the standard VideoNotReadyError."""
    video = await _create(gateway)
    with pytest.raises(VideoNotReadyError, match="is queued; only completed") as caught:
        async with gateway.download(video.id):
            pass
    assert caught.value.provider == INSTANCE
    assert caught.value.request_type == "video_download"


@pytest.mark.parametrize("variant", ["thumbnail", "spritesheet"])
async def test_only_the_video_variant_exists(gateway: Gateway, variant: str) -> None:
    """MiniMax makes no thumbnails or spritesheets."""
    video = await _create(gateway)
    with pytest.raises(UnsupportedOperationError):
        async with gateway.download(video.id, variant):
            pass


async def test_failed_task_reads_failed(gateway: Gateway, clock: Clock) -> None:
    """A task that ends Fail is failed, with MiniMax's message."""
    video = await _create(gateway, "a boat [emulate:fail]")
    clock.advance(JOB_SECONDS)
    done = await gateway.retrieve(video.id)
    assert done.status is VideoStatus.FAILED
    assert done.error is not None
    assert done.error.code == "generation_failed"
    assert "status_code 1000" in str(done.error.message)
    assert done.content_filter is None


async def test_filtered_task_reads_content_filtered(gateway: Gateway, clock: Clock) -> None:
    """A task that fails on sensitive output (1027) carries a content filter report."""
    video = await _create(gateway, "a boat [emulate:filter]")
    clock.advance(JOB_SECONDS)
    done = await gateway.retrieve(video.id)
    assert done.status is VideoStatus.FAILED
    assert done.error is not None
    assert done.error.code == "content_filtered"
    assert done.content_filter is not None
    assert done.content_filter.reasons == ("output new_sensitive",)


async def test_unknown_status_is_no_news(
    caplog: pytest.LogCaptureFixture, anyio_backend: str
) -> None:
    """A status MiniMax adds later leaves the job unfinished, logged, kept in metadata."""
    # The core logs an unknown status once per instance and name: one name per backend.
    raw = f"Rendering-{anyio_backend}"
    body = {"task_id": "1", "status": raw, "base_resp": {"status_code": 0}}
    provider = provider_on(answering(body))
    with caplog.at_level(logging.WARNING, logger="reelgate"):
        video = await provider.retrieve("1", call=make_call("retrieve"))
    assert video.status is VideoStatus.QUEUED
    assert video.provider_metadata["status"] == raw
    assert raw in caplog.text


async def test_unknown_task_is_not_found(gateway: Gateway) -> None:
    """A task id MiniMax does not know (2013 on the query) is a NotFoundError."""
    with pytest.raises(NotFoundError) as caught:
        await gateway.retrieve(VideoId.build("123456789", INSTANCE))
    assert caught.value.code == "2013"
    assert caught.value.upstream is True


# -- base_resp errors in a 200 body --------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "error"),
    [
        (1000, ProviderError),
        (1001, ProviderTimeoutError),
        (1002, RateLimitError),
        (1004, AuthenticationError),
        (1008, PermissionDeniedError),
        (1013, ProviderError),
        (1024, ProviderError),
        (1026, InvalidRequestError),
        (1027, InvalidRequestError),
        (1033, ProviderError),
        (1039, InvalidRequestError),
        (2013, InvalidRequestError),
        (2049, AuthenticationError),
        (9999, ProviderError),
    ],
)
async def test_base_resp_codes_on_create_are_mapped(code: int, error: type[ReelgateError]) -> None:
    """Each documented status_code in a 200 answer to a create raises its own error."""
    body = {"task_id": "", "base_resp": {"status_code": code, "status_msg": "refused"}}
    provider = provider_on(answering(body))
    call = make_call("create", "MiniMax-Hailuo-2.3")
    with pytest.raises(ReelgateError) as caught:
        await provider.create(reelgate.CreateVideo(model=MODEL, prompt="a boat"), call=call)
    assert type(caught.value) is error
    assert caught.value.code == str(code)
    assert caught.value.upstream is True
    assert caught.value.provider == INSTANCE
    assert caught.value.request_type == "video_generation"
    assert "refused" in caught.value.message


async def test_base_resp_error_on_the_file_read_is_raised() -> None:
    """files/retrieve refusing with a code raises it, naming the download."""
    body = {"base_resp": {"status_code": 1004, "status_msg": "token not match group"}}
    provider = provider_on(answering(body))
    call = make_call("download", job_state={"file_id": "42"})
    with pytest.raises(AuthenticationError) as caught:
        async with provider.download("1", reelgate.Variant.VIDEO, call=call):
            pass
    assert caught.value.request_type == "video_download"


async def test_the_key_is_scrubbed_from_base_resp_messages() -> None:
    """A status_msg echoing the key is scrubbed from the error and its raw response."""
    body = {"base_resp": {"status_code": 1004, "status_msg": f"bad key {KEY}"}}
    provider = provider_on(answering(body))
    with pytest.raises(AuthenticationError) as caught:
        await provider.retrieve("1", call=make_call("retrieve"))
    assert KEY not in str(caught.value)
    assert KEY not in repr(caught.value.raw_response)


async def test_sensitive_prompt_is_refused_at_create(gateway: Gateway) -> None:
    """MiniMax's 1026 (sensitive input) is an InvalidRequestError, not a failed job."""
    with pytest.raises(InvalidRequestError) as caught:
        await _create(gateway, "a boat [emulate:sensitive]")
    assert caught.value.code == "1026"
    assert caught.value.type == "sensitive_input"


async def test_missing_key_is_refused_in_a_200(emulator: MinimaxEmulator) -> None:
    """The emulator, like MiniMax, answers a keyless request with 200 and code 1004."""
    transport = httpx2.ASGITransport(app=emulator)
    async with httpx2.AsyncClient(transport=transport, base_url="http://e.test") as client:
        reply = await client.post("/v1/video_generation", json={"model": "T2V-01", "prompt": "x"})
    assert reply.status_code == 200
    assert reply.json()["base_resp"]["status_code"] == 1004


def test_http_error_bodies_are_read() -> None:
    """A non-2xx answer's base_resp (or error.message) becomes the error's message."""
    reply = reelgate.http.Reply(
        500, {}, b'{"base_resp": {"status_code": 1000, "status_msg": "unknown error"}}', "u"
    )
    parsed = reelgate_minimax.parse_error(reply)
    assert (parsed.message, parsed.code) == ("unknown error", "1000")
    other = reelgate.http.Reply(502, {}, b'{"error": {"message": "bad gateway"}}', "u")
    assert reelgate_minimax.parse_error(other).message == "bad gateway"
    empty = reelgate.http.Reply(503, {}, b"<html>", "u")
    assert reelgate_minimax.parse_error(empty).message == "MiniMax answered HTTP 503"


# -- the request body and the model table --------------------------------------------------


def _body(model: str, **kwargs: Any) -> dict[str, Any]:
    request = reelgate.CreateVideo(model=f"{INSTANCE}/{model}", prompt="a boat", **kwargs)
    return reelgate_minimax.build_create(request, call=make_call("create", model))


def test_body_carries_duration_resolution_and_extras() -> None:
    """seconds -> duration, size -> resolution by its short side, extras as they are."""
    body = _body(
        "MiniMax-Hailuo-02",
        seconds="10",
        size="1366x768",
        extra_params={"prompt_optimizer": False, "fast_pretreatment": True},
    )
    assert body == {
        "model": "MiniMax-Hailuo-02",
        "prompt": "a boat",
        "duration": 10,
        "resolution": "768P",
        "prompt_optimizer": False,
        "fast_pretreatment": True,
    }
    assert (
        _body("MiniMax-Hailuo-2.3", extra_params={"resolution": "1080p"})["resolution"] == "1080P"
    )


def test_image_goes_as_a_url_or_a_data_uri() -> None:
    """first_frame_image is the image's URL, or its bytes as a data URI."""
    by_url = _body("I2V-01", input_reference="https://img.example/cat.png")
    assert by_url["first_frame_image"] == "https://img.example/cat.png"
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
    inline = _body("I2V-01", input_reference=png)
    assert inline["first_frame_image"].startswith("data:image/png;base64,")


@pytest.mark.parametrize(
    ("model", "kwargs", "param", "words"),
    [
        ("MiniMax-Hailuo-2.3", {"seconds": "10", "size": "1920x1080"}, "seconds", "768P"),
        ("MiniMax-Hailuo-2.3", {"seconds": "8"}, "seconds", "6 or 10"),
        ("MiniMax-Hailuo-2.3", {"size": "1280x720"}, "size", "768P, 1080P"),
        ("MiniMax-Hailuo-02", {"size": "912x512"}, "size", "768P, 1080P; not 512P"),
        ("MiniMax-Hailuo-2.3-Fast", {}, "input_reference", "animates an image"),
        ("I2V-01", {}, "input_reference", "animates an image"),
        (
            "T2V-01-Director",
            {"input_reference": "https://img.example/a.png"},
            "input_reference",
            "no image",
        ),
        ("T2V-01", {"seconds": "10"}, "seconds", "6 seconds"),
        ("T2V-01", {"size": "640x480"}, "size", "512P, 720P, 768P or 1080P"),
    ],
)
def test_model_table_refuses_before_sending(
    model: str, kwargs: dict[str, Any], param: str, words: str
) -> None:
    """A request the model cannot take is refused with the allowed values named."""
    with pytest.raises(InvalidRequestError, match=words) as caught:
        _body(model, **kwargs)
    assert caught.value.param == param
    assert caught.value.provider == INSTANCE


def test_512p_is_for_image_to_video_on_hailuo_02() -> None:
    """Hailuo 02 renders 512P from a first frame."""
    body = _body("MiniMax-Hailuo-02", size="912x512", input_reference="https://img.example/a.png")
    assert body["resolution"] == "512P"


def test_unknown_models_pass_unchecked() -> None:
    """A model the table does not know is sent as asked."""
    body = _body("S2V-01", seconds="7", size="1280x720")
    assert (body["model"], body["duration"], body["resolution"]) == ("S2V-01", 7, "720P")


async def test_refused_create_sends_nothing(gateway: Gateway, emulator: MinimaxEmulator) -> None:
    """The model table is checked before any request leaves."""
    with pytest.raises(InvalidRequestError):
        await _create(gateway, seconds="10", size="1920x1080")
    assert emulator.faults.count("POST") == 0


async def test_invalid_params_at_create_are_invalid_requests(gateway: Gateway) -> None:
    """An unknown model that MiniMax refuses (2013) is an InvalidRequestError."""
    with pytest.raises(InvalidRequestError) as caught:
        await _create(gateway, model=f"{INSTANCE}/video-99")
    assert caught.value.code == "2013"
    assert "not support" in caught.value.message


# -- registration ----------------------------------------------------------------------------


def test_settings_default_to_the_international_api(monkeypatch: pytest.MonkeyPatch) -> None:
    """The type reads MINIMAX_API_KEY and MINIMAX_BASE_URL; the default is api.minimax.io."""
    registry = reelgate.ProviderRegistry()
    reelgate_minimax.reelgate_register_providers(registry)
    spec = registry.specs["minimax"]
    assert spec.key_env == ("MINIMAX_API_KEY",)
    assert spec.env == {"base_url": "MINIMAX_BASE_URL"}
    assert reelgate_minimax.MinimaxSettings().base_url == "https://api.minimax.io/v1"


async def test_the_key_never_goes_to_the_cdn_over_loopback() -> None:
    """Over real HTTP the CDN is ``localhost`` beside the API's ``127.0.0.1``: no key there."""
    emulator = create_app(job_seconds=0.05)
    with serve(emulator) as url:
        provider = provider_on(None, base_url=f"{url}/v1")
        try:
            call = make_call("create", "MiniMax-Hailuo-2.3")
            created = await provider.create(
                reelgate.CreateVideo(model=MODEL, prompt="a boat"), call=call
            )
            await anyio.sleep(0.1)
            emulator.faults.seen.clear()
            async with provider.download(
                created.id, reelgate.Variant.VIDEO, call=make_call("download")
            ):
                pass
        finally:
            await provider.upstream.client.aclose()
    cdn = [r for r in emulator.faults.seen if r.path.startswith("/inference_output/")]
    assert len(cdn) == 1
    assert cdn[0].headers["host"].startswith("localhost:")
    assert "authorization" not in cdn[0].headers


async def test_gateway_hands_the_file_id_back_to_downloads(
    gateway: Gateway, emulator: MinimaxEmulator, clock: Clock
) -> None:
    """The gateway keeps the file id a poll found: the download skips the task query."""
    video = await _create(gateway)
    clock.advance(JOB_SECONDS)
    done = await gateway.retrieve(video.id)
    assert done.provider_state is None  # kept in the index, never shown to callers
    emulator.faults.seen.clear()
    async with gateway.download(video.id) as stream:
        async for _ in stream:
            pass
    paths = [r.path for r in emulator.faults.seen]
    assert paths[0] == "/v1/files/retrieve"
    assert len(paths) == 2


async def test_delete_forgets_the_job_and_keeps_it_upstream(gateway: Gateway) -> None:
    """MiniMax cannot delete or cancel: the gateway drops the job, upstream is kept."""
    video = await _create(gateway)
    deleted = await gateway.delete(video.id)
    assert deleted.upstream == "kept"
    with pytest.raises(NotFoundError):
        await gateway.retrieve(video.id)


@pytest.mark.parametrize(
    ("model", "seconds", "expected"),
    [("T2V-01", None, "6"), ("MiniMax-Hailuo-02", "10", "10"), ("S2V-01", None, None)],
)
async def test_created_job_reports_only_known_seconds(
    model: str, seconds: str | None, expected: str | None
) -> None:
    """A create reports the duration sent, or the model's default; never a guess."""
    body = {"task_id": "7", "base_resp": {"status_code": 0, "status_msg": "success"}}
    provider = provider_on(answering(body))
    request = reelgate.CreateVideo(model=f"{INSTANCE}/{model}", prompt="a boat", seconds=seconds)
    video = await provider.create(request, call=make_call("create", model))
    assert video.seconds == expected
    await provider.upstream.client.aclose()
