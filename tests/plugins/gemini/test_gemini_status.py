"""How operations map to jobs, and how finished videos are downloaded."""

from __future__ import annotations

import json
from typing import Any

import pytest
from gemini_support import KEY, Connect

from reelgate import (
    Call,
    CreateVideo,
    InvalidRequestError,
    ProviderError,
    RateLimitError,
    UnsupportedOperationError,
    VideoNotReadyError,
    VideoStatus,
)
from reelgate.emulation import FAIL, FILTER
from reelgate.http import Reply
from reelgate.ids import VideoId
from reelgate_gemini import parse_error
from reelgate_gemini._wire import operation_video
from reelgate_gemini.emulator import GoogleEmulator, create_app

MODELS = {"gemini": "g/veo-3.1-generate-preview", "vertex": "g/veo-3.1-generate-001"}


@pytest.fixture(name="provider_type", params=["gemini", "vertex"])
def _provider_type(request: pytest.FixtureRequest) -> str:
    """Both provider types."""
    return str(request.param)


@pytest.mark.anyio
async def test_filtered_job_fails_with_content_filter(
    connect: Connect, emulator: GoogleEmulator, provider_type: str
) -> None:
    """An RAI-filtered operation is failed, code content_filtered, with the reasons."""
    gateway = await connect(emulator, provider_type)
    video = await gateway.create(
        CreateVideo(model=MODELS[provider_type], prompt=f"a boat {FILTER}")
    )
    done = await gateway.wait(video.id, timeout=10)
    assert done.status is VideoStatus.FAILED
    assert done.error is not None
    assert done.error.code == "content_filtered"
    assert done.content_filter is not None
    assert done.content_filter.filtered_count == 1
    assert "celebrity" in done.content_filter.reasons[0]
    assert done.error.message == done.content_filter.reasons[0]


@pytest.mark.anyio
async def test_operation_error_fails_with_its_code(
    connect: Connect, emulator: GoogleEmulator, provider_type: str
) -> None:
    """A done operation with an error is failed with its gRPC code (a string) and message."""
    gateway = await connect(emulator, provider_type)
    video = await gateway.create(CreateVideo(model=MODELS[provider_type], prompt=f"a boat {FAIL}"))
    done = await gateway.wait(video.id, timeout=10)
    assert done.status is VideoStatus.FAILED
    assert done.error is not None
    assert done.error.code == "13"
    assert done.error.message == "Video generation failed due to an internal error."


@pytest.mark.anyio
async def test_every_sample_is_an_output(
    connect: Connect, emulator: GoogleEmulator, provider_type: str
) -> None:
    """Every sample is an MP4 output: a file URL on the Gemini API, bytes on Vertex AI."""
    gateway = await connect(emulator, provider_type)
    video = await gateway.create(
        CreateVideo(model=MODELS[provider_type], prompt="x", extra_params={"sampleCount": 2})
    )
    done = await gateway.wait(video.id, timeout=10)
    assert done.status is VideoStatus.COMPLETED
    assert len(done.videos) == 2
    assert {v.content_type for v in done.videos} == {"video/mp4"}
    if provider_type == "gemini":
        assert all(
            v.type == "url" and v.url and ":download?alt=media" in v.url for v in done.videos
        )
    else:
        assert all(v.type == "base64" and v.base64 for v in done.videos)


@pytest.mark.anyio
async def test_native_id_is_the_operation_name(connect: Connect, emulator: GoogleEmulator) -> None:
    """The Gemini API's native id is the operation name; the gateway escapes its slashes."""
    gateway = await connect(emulator)
    video = await gateway.create(CreateVideo(model=MODELS["gemini"], prompt="x"))
    native = VideoId.parse(video.id).native
    assert native.startswith("models/veo-3.1-generate-preview/operations/")
    assert "/" not in video.id
    assert video.status is VideoStatus.IN_PROGRESS
    assert video.model == "veo-3.1-generate-preview"


@pytest.mark.anyio
async def test_provider_reports_no_timestamps(connect: Connect, emulator: GoogleEmulator) -> None:
    """The provider leaves created_at to the job index instead of reporting "now"."""
    gateway = await connect(emulator)
    video = await gateway.create(CreateVideo(model=MODELS["gemini"], prompt="x"))
    instance = gateway.instance("g")
    call = Call(instance="g", operation="retrieve", key=instance.keys[0])
    raw = await instance.provider.retrieve(VideoId.parse(video.id).native, call=call)  # type: ignore[attr-defined]
    assert raw.created_at is None
    assert raw.completed_at is None
    assert video.created_at is not None


@pytest.mark.anyio
async def test_download_streams_through_the_redirect(
    connect: Connect, emulator: GoogleEmulator
) -> None:
    """The download asks the API for the file and follows its redirect to the asset host."""
    gateway = await connect(emulator)
    video = await gateway.create(CreateVideo(model=MODELS["gemini"], prompt="x"))
    await gateway.wait(video.id, timeout=10)
    emulator.faults.seen.clear()
    async with gateway.download(video.id) as stream:
        body = await stream.read()
    assert body[4:8] == b"ftyp"
    asked, fetched = emulator.faults.seen[-2:]
    assert asked.path.startswith("/v1beta/files/")
    assert asked.path.endswith(":download")
    assert asked.carries(KEY)
    assert fetched.path.startswith("/blob/")
    assert fetched.host == "assets.emulator.test"
    assert not fetched.carries(KEY)


@pytest.mark.anyio
async def test_a_redirect_to_another_host_gets_no_key(connect: Connect) -> None:
    """A download redirected off the API's hosts is followed there, without the key."""
    emulator = create_app(job_seconds=0.05, blob_base_url="https://elsewhere.example")
    gateway = await connect(emulator)
    video = await gateway.create(CreateVideo(model=MODELS["gemini"], prompt="x"))
    await gateway.wait(video.id, timeout=10)
    async with gateway.download(video.id) as stream:
        assert (await stream.read())[4:8] == b"ftyp"
    fetched = emulator.faults.seen[-1]
    assert fetched.host == "elsewhere.example"
    assert not fetched.carries(KEY)


@pytest.mark.anyio
async def test_redirect_to_a_configured_host_is_followed(connect: Connect) -> None:
    """A host named in download_hosts is trusted with the key."""
    emulator = create_app(job_seconds=0.05, blob_base_url="https://files.example")
    gateway = await connect(emulator, settings={"download_hosts": ["files.example"]})
    video = await gateway.create(CreateVideo(model=MODELS["gemini"], prompt="x"))
    await gateway.wait(video.id, timeout=10)
    async with gateway.download(video.id) as stream:
        assert (await stream.read())[4:8] == b"ftyp"
    assert emulator.faults.seen[-1].headers["host"] == "files.example"
    assert emulator.faults.seen[-1].carries(KEY)


@pytest.mark.anyio
async def test_download_of_unfinished_or_failed_job_is_not_ready(
    connect: Connect, emulator: GoogleEmulator, provider_type: str
) -> None:
    """Downloading a running or failed job is a VideoNotReadyError."""
    gateway = await connect(emulator, provider_type)
    failed = await gateway.create(CreateVideo(model=MODELS[provider_type], prompt=f"x {FAIL}"))
    await gateway.wait(failed.id, timeout=10)
    running = await gateway.create(
        CreateVideo(model=MODELS[provider_type], prompt="x [emulate:slow]")
    )
    for video_id in (failed.id, running.id):
        with pytest.raises(VideoNotReadyError):
            async with gateway.download(video_id):
                pass


@pytest.mark.anyio
async def test_only_the_video_variant_exists(
    connect: Connect, emulator: GoogleEmulator, provider_type: str
) -> None:
    """Veo makes no thumbnail or spritesheet: asking for one is an UnsupportedOperationError."""
    gateway = await connect(emulator, provider_type)
    video = await gateway.create(CreateVideo(model=MODELS[provider_type], prompt="x"))
    with pytest.raises(UnsupportedOperationError):
        async with gateway.download(video.id, "thumbnail"):
            pass


@pytest.mark.anyio
async def test_retry_info_sets_retry_after(connect: Connect, emulator: GoogleEmulator) -> None:
    """A 429 whose body carries RetryInfo "34s" is a RateLimitError with retry_after 34."""
    body = {
        "error": {
            "code": 429,
            "message": "You exceeded your current quota.",
            "status": "RESOURCE_EXHAUSTED",
            "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "34s"}],
        }
    }

    async def quota(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            payload = json.dumps(body).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 429,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": payload})
            return
        await emulator(scope, receive, send)

    gateway = await connect(quota, settings={"retry": {"attempts": 3, "max_retry_after": 5}})
    video = await gateway.create(CreateVideo(model=MODELS["gemini"], prompt="x"))
    with pytest.raises(RateLimitError) as caught:
        await gateway.retrieve(video.id)
    assert caught.value.retry_after == 34
    assert caught.value.code == "RESOURCE_EXHAUSTED"


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("native", "words"),
    [
        ("models/../../files/x/operations/1", "segment"),  # the core's rule for every provider
        ("files/abc", "operation name"),  # the plugin's own
    ],
)
async def test_malformed_native_id_is_invalid(
    connect: Connect, emulator: GoogleEmulator, provider_type: str, native: str, words: str
) -> None:
    """A native id that is no operation name of the API is refused without a request."""
    gateway = await connect(emulator, provider_type)
    with pytest.raises(InvalidRequestError, match=words) as caught:
        await gateway.retrieve(VideoId.build(native, "g"))
    assert caught.value.param == "video_id"
    assert emulator.faults.seen == []


def _reply(status: int, body: Any) -> Reply:
    return Reply(status, {}, json.dumps(body).encode(), "https://example.test")


def test_error_envelope_as_a_list() -> None:
    """Google's error envelope is read whether it comes alone or as a one-element list."""
    error = {"error": {"code": 404, "message": "not here", "status": "NOT_FOUND"}}
    for body in (error, [error]):
        detail = parse_error(_reply(404, body))
        assert (detail.message, detail.code) == ("not here", "NOT_FOUND")


def test_error_info_reason_is_the_code() -> None:
    """An ErrorInfo reason is more precise than the status, so it becomes the code."""
    info = {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}
    body = {
        "error": {
            "code": 400,
            "message": "API key not valid.",
            "status": "INVALID_ARGUMENT",
            "details": [info],
        }
    }
    assert parse_error(_reply(400, body)).code == "API_KEY_INVALID"


def test_oauth_error_and_unreadable_bodies() -> None:
    """The token endpoint's OAuth error and a body that is not JSON are both readable."""
    oauth = parse_error(
        _reply(400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."})
    )
    assert (oauth.message, oauth.code) == ("invalid_grant: Invalid JWT Signature.", "invalid_grant")
    garbage = parse_error(Reply(502, {}, b"<html>bad gateway</html>", "https://example.test"))
    assert garbage.message == "Google answered HTTP 502"


@pytest.mark.parametrize(
    "operation",
    [
        [],
        {"name": "models/m/operations/o", "done": True},
        {"name": "models/m/operations/o", "done": True, "error": "boom"},
        {
            "name": "models/m/operations/o",
            "done": True,
            "response": {"generateVideoResponse": {"generatedSamples": [{}]}},
        },
        {
            "name": "models/m/operations/o",
            "done": True,
            "response": {"generateVideoResponse": {"generatedSamples": "x"}},
        },
    ],
)
def test_malformed_operations_are_provider_errors(operation: Any) -> None:
    """An operation body that makes no sense is a ProviderError, not a crash or a guess."""
    with pytest.raises(ProviderError, match="malformed operation"):
        operation_video(operation, native_id="models/m/operations/o")


def test_done_without_video_or_error_is_failed() -> None:
    """A finished operation with no video and no error is failed, not completed empty."""
    video = operation_video(
        {"name": "models/m/operations/o", "done": True, "response": {"generateVideoResponse": {}}},
        native_id="models/m/operations/o",
    )
    assert video.status is VideoStatus.FAILED
    assert video.error is not None
    assert video.error.code == "no_video"


def test_partially_filtered_job_completes_with_its_filter() -> None:
    """When some samples were filtered and others made, the job completes and reports the filter."""
    operation = {
        "name": "models/m/operations/o",
        "done": True,
        "response": {
            "generateVideoResponse": {
                "generatedSamples": [
                    {"video": {"uri": "https://x.test/v1beta/files/a:download?alt=media"}}
                ],
                "raiMediaFilteredCount": 1,
                "raiMediaFilteredReasons": ["one was filtered"],
            }
        },
    }
    video = operation_video(operation, native_id="models/m/operations/o")
    assert video.status is VideoStatus.COMPLETED
    assert video.content_filter is not None
    assert video.content_filter.reasons == ("one was filtered",)


def test_cancelled_operation_is_failed_with_code_cancelled() -> None:
    """An operation finished with google.rpc CANCELLED reads as failed, code cancelled."""
    operation = {"name": "models/m/operations/o", "done": True, "error": {"code": 1}}
    video = operation_video(operation, native_id="models/m/operations/o")
    assert video.status is VideoStatus.FAILED
    assert video.error is not None
    assert (video.error.code, video.error.message) == ("cancelled", "the job was cancelled")
