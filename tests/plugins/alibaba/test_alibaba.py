"""How the alibaba provider maps reelgate requests to DashScope's video synthesis and back."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import httpx2
import pytest

import reelgate_alibaba
from reelgate import (
    AuthenticationError,
    Call,
    CreateVideo,
    Gateway,
    ImageInput,
    InvalidRequestError,
    NotFoundError,
    VideoStatus,
)
from reelgate.config import Secret
from reelgate.emulation import FAIL, FILTER, SLOW, serve
from reelgate.http import Upstream, emulator_transport, make_client
from reelgate.model import cancelled_error
from reelgate.testing import gateway_for
from reelgate_alibaba import DEFAULT_BASE_URL, AlibabaProvider
from reelgate_alibaba.emulator import create_app

pytestmark = pytest.mark.anyio

KEY = "sk-dashscope-test-0123456789abcdef"
KEY_ENV = "REELGATE_ALIBABA_TEST_KEY"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)

Build = Callable[..., Awaitable[Gateway]]


@pytest.fixture(name="received")
def _received() -> list[dict[str, Any]]:
    """The create bodies the emulator reads."""
    return []


@pytest.fixture(name="app")
def _app(received: list[dict[str, Any]]) -> Any:
    """An emulator whose tasks finish quickly, accepting only `KEY`."""
    return create_app(job_seconds=0.3, api_keys={KEY}, received=received)


@pytest.fixture(name="build")
async def _build() -> AsyncIterator[Build]:
    """Build gateways with one ``alibaba`` instance (``wan``) on an emulator."""
    async with AsyncExitStack() as opened:

        async def build(
            app: Any, *, key: str = KEY, url: str | None = None, **settings: Any
        ) -> Gateway:
            # The gateway's own retry policy (``{}``), not the harness's quick one.
            return await opened.enter_async_context(
                gateway_for(
                    "alibaba",
                    plugin=reelgate_alibaba,
                    app=app if url is None else None,
                    base_url=f"{url or 'http://dashscope-intl.aliyuncs.test'}/api/v1",
                    settings={"poll_interval": 0.02, "retry": {}, **settings},
                    keys={KEY_ENV: key},
                    instance="wan",
                )
            )

        yield build


def _t2v(prompt: str = "a paper boat", **kwargs: Any) -> CreateVideo:
    return CreateVideo(model="wan/wan2.5-t2v-preview", prompt=prompt, **kwargs)


def _provider_call(gateway: Gateway) -> tuple[AlibabaProvider, Call]:
    provider = gateway.instance("wan").provider
    assert isinstance(provider, AlibabaProvider)
    return provider, Call(instance="wan", operation="retrieve", key=Secret(KEY))


# -- create ------------------------------------------------------------------------------


async def test_text_to_video_body(app: Any, build: Build, received: list[Any]) -> None:
    """model, input.prompt, and size as W*H, seconds as duration, seed in parameters."""
    gateway = await build(app)
    video = await gateway.create(
        _t2v(
            seconds=10,
            size="1280x720",
            seed=7,
            negative_prompt="rain",
            extra_params={"prompt_extend": False, "input": {"audio_url": "https://a/b.mp3"}},
        )
    )
    assert video.status is VideoStatus.QUEUED
    assert video.seconds == "10"
    assert video.created_at is not None
    [body] = received
    assert body == {
        "model": "wan2.5-t2v-preview",
        "input": {
            "prompt": "a paper boat",
            "negative_prompt": "rain",
            "audio_url": "https://a/b.mp3",
        },
        "parameters": {"duration": 10, "seed": 7, "size": "1280*720", "prompt_extend": False},
    }
    [create] = [r for r in app.faults.seen if r.method == "POST"]
    assert create.headers["x-dashscope-async"] == "enable"


async def test_image_to_video_body(app: Any, build: Build, received: list[Any]) -> None:
    """An i2v model gets img_url (bytes as a data URI) and its size's tier as resolution."""
    gateway = await build(app)
    await gateway.create(
        CreateVideo(
            model="wan/wan2.5-i2v-preview",
            prompt="the cat turns its head",
            size="1920x1080",
            input_reference=ImageInput.from_bytes(PNG),
        )
    )
    [body] = received
    assert body["input"]["img_url"].startswith("data:image/png;base64,")
    assert body["parameters"] == {"resolution": "1080P"}


@pytest.mark.parametrize(
    ("request_", "param", "message"),
    [
        (_t2v(seconds=7), "seconds", "renders 5, 10 seconds"),
        (_t2v(size="1000x1000"), "size", "choose one of 832x480"),
        (_t2v(input_reference="https://example.com/a.png"), "input_reference", "text only"),
        (
            CreateVideo(model="wan/wan2.5-i2v-preview", prompt="x"),
            "input_reference",
            "from an image",
        ),
        (
            CreateVideo(
                model="wan/wan2.2-i2v-flash",
                prompt="x",
                size="1920x1080",
                input_reference="https://example.com/a.png",
            ),
            "size",
            "renders 480P, 720P",
        ),
        (
            CreateVideo(model="wan/wanx2.1-t2v-plus", prompt="x", size="832x480"),
            "size",
            "choose one of 1280x720",
        ),
    ],
)
async def test_bad_input_is_refused_before_sending(
    app: Any, build: Build, request_: CreateVideo, param: str, message: str
) -> None:
    """Durations, sizes and image input the model does not take are refused locally."""
    gateway = await build(app)
    with pytest.raises(InvalidRequestError, match=message) as caught:
        await gateway.create(request_)
    assert caught.value.param == param
    assert app.faults.count("POST") == 0


async def test_an_unknown_model_passes_unchecked(app: Any, build: Build) -> None:
    """A model outside the table is sent as it is; the emulator's refusal comes back."""
    gateway = await build(app)
    with pytest.raises(InvalidRequestError, match="Model not exist") as caught:
        await gateway.create(CreateVideo(model="wan/wan9-t2v", prompt="a", seconds=99))
    assert caught.value.code == "InvalidParameter"
    assert app.faults.count("POST") == 1


# -- reads -------------------------------------------------------------------------------


async def test_a_task_runs_to_succeeded_with_its_expiry(app: Any, build: Build) -> None:
    """PENDING, RUNNING, SUCCEEDED; the URL's Expires becomes expires_at, the times are UTC."""
    gateway = await build(app)
    video = await gateway.create(_t2v(seconds=5))
    seen: list[Any] = []
    done = await gateway.wait(video.id, timeout=10, on_update=seen.append)
    assert done.status is VideoStatus.COMPLETED
    assert {v.status for v in seen} >= {VideoStatus.IN_PROGRESS, VideoStatus.COMPLETED}
    assert done.completed_at is not None
    assert done.created_at is not None
    assert abs(done.created_at - dt.datetime.now(dt.UTC).timestamp()) < 60
    assert done.expires_at is not None
    assert done.expires_at - done.completed_at == pytest.approx(24 * 3600, abs=2)
    assert done.size == "1920x1080"  # the model's default
    assert done.provider_metadata["actual_prompt"].startswith("a paper boat")


@pytest.mark.parametrize(
    ("directive", "code"), [(FAIL, "InternalError.Algo"), (FILTER, "DataInspectionFailed")]
)
async def test_a_failed_task_carries_its_code(
    app: Any, build: Build, directive: str, code: str
) -> None:
    """FAILED becomes a failed video with the output's code and message."""
    gateway = await build(app)
    video = await gateway.create(_t2v(f"a boat {directive}"))
    done = await gateway.wait(video.id, timeout=10)
    assert done.status is VideoStatus.FAILED
    assert done.error is not None
    assert done.error.code == code
    assert done.error.message


async def test_unknown_is_not_found(app: Any, build: Build) -> None:
    """UNKNOWN (no such task, or a forgotten one) is a NotFoundError that says why."""
    gateway = await build(app)
    provider, call = _provider_call(gateway)
    with pytest.raises(NotFoundError, match="older than the 24 hours"):
        await provider.retrieve("0385dc79-0000-0000-0000-000000000000", call=call)


def test_times_are_china_standard_time() -> None:
    """submit_time and end_time are UTC+8 without a zone; expires_at falls back to end + 24 h."""
    provider = AlibabaProvider(
        Upstream(client=make_client(), base_url=DEFAULT_BASE_URL, instance="wan")
    )
    call = Call(instance="wan", operation="retrieve")
    video = provider.to_video(
        {
            "output": {
                "task_id": "t-1",
                "task_status": "SUCCEEDED",
                "submit_time": "2025-07-27 21:05:15.212",
                "end_time": "2025-07-27 21:07:58.027",
                "video_url": "https://dashscope-result-sg.oss-ap-southeast-1.aliyuncs.com/1d/x.mp4",
            },
            "usage": {"video_duration": 5, "video_ratio": "1280*720", "video_count": 1},
        },
        call,
    )
    expected = dt.datetime(2025, 7, 27, 13, 5, 15, tzinfo=dt.UTC).timestamp()
    assert video.created_at == int(expected)
    assert video.completed_at is not None
    assert video.expires_at == video.completed_at + 24 * 3600
    assert video.seconds == "5"


# -- cancel and delete -------------------------------------------------------------------


async def test_delete_cancels_a_pending_task(app: Any, build: Build) -> None:
    """The gateway's delete of a PENDING task cancels it; DashScope then reads CANCELED."""
    gateway = await build(app)
    video = await gateway.create(_t2v(f"a boat {SLOW}"))
    deleted = await gateway.delete(video.id)
    assert deleted.upstream == "cancelled"
    assert app.faults.count("POST", r"/cancel$") == 1
    with pytest.raises(NotFoundError):
        await gateway.retrieve(video.id)
    provider, call = _provider_call(gateway)
    native = video.id.rsplit(":", 1)[0]
    again = await provider.retrieve(native, call=call)
    assert again.status is VideoStatus.FAILED
    assert again.error == cancelled_error()


async def test_a_task_past_pending_cannot_be_cancelled(build: Build) -> None:
    """DashScope cancels only PENDING tasks: a running task is kept there, forgotten here."""
    app = create_app(job_seconds=0.0, api_keys={KEY})
    gateway = await build(app)
    video = await gateway.create(_t2v())
    deleted = await gateway.delete(video.id)
    assert deleted.upstream == "kept"
    assert app.faults.count("POST", r"/cancel$") == 1
    with pytest.raises(NotFoundError):
        await gateway.retrieve(video.id)


# -- download and keys -------------------------------------------------------------------


async def test_the_key_never_goes_to_the_result_host(app: Any, build: Build) -> None:
    """The API gets the key; the signed video URL's host (another name) gets none."""
    gateway = await build(app)
    video = await gateway.create(_t2v())
    await gateway.wait(video.id, timeout=10)
    async with gateway.download(video.id) as stream:
        assert (await stream.read())[4:8] == b"ftyp"
    [fetch] = [r for r in app.faults.seen if r.path.endswith(".mp4")]
    assert fetch.headers["host"].startswith("dashscope-result.")
    assert "authorization" not in fetch.headers
    assert "Expires=" in fetch.query
    assert all(
        r.headers["authorization"] == f"Bearer {KEY}"
        for r in app.faults.seen
        if r.path.startswith("/api/")
    )


async def test_the_key_never_goes_to_the_result_host_over_loopback(build: Build) -> None:
    """Over real HTTP the result host is localhost for an API on 127.0.0.1; it gets no key."""
    app = create_app(job_seconds=0.2)
    with serve(app) as url:
        gateway = await build(app, url=url)
        video = await gateway.create(_t2v())
        await gateway.wait(video.id, timeout=10)
        async with gateway.download(video.id) as stream:
            assert (await stream.read())[4:8] == b"ftyp"
    [fetch] = [r for r in app.faults.seen if r.path.endswith(".mp4")]
    assert fetch.headers["host"].startswith("localhost:")
    assert "authorization" not in fetch.headers


async def test_a_wrong_key_is_an_authentication_error(app: Any, build: Build) -> None:
    """401 InvalidApiKey becomes an AuthenticationError that keeps DashScope's code."""
    gateway = await build(app, key="sk-wrong-000000000000")
    with pytest.raises(AuthenticationError, match="Invalid API-key") as caught:
        await gateway.create(_t2v())
    assert caught.value.code == "InvalidApiKey"


async def test_the_emulator_refuses_a_synchronous_call(app: Any) -> None:
    """Without X-DashScope-Async: enable the create is a 403 AccessDenied, as DashScope answers."""
    async with httpx2.AsyncClient(transport=emulator_transport(app)) as client:
        answer = await client.post(
            "http://dashscope.test/api/v1/services/aigc/video-generation/video-synthesis",
            headers={"Authorization": f"Bearer {KEY}"},
            json={"model": "wan2.5-t2v-preview", "input": {"prompt": "x"}},
        )
    assert answer.status_code == 403
    assert answer.json()["code"] == "AccessDenied"


async def test_a_workspace_goes_in_its_header(app: Any, build: Build) -> None:
    """The workspace setting is sent as X-DashScope-WorkSpace."""
    gateway = await build(app, workspace="ws-123")
    await gateway.create(_t2v())
    assert all(r.headers["x-dashscope-workspace"] == "ws-123" for r in app.faults.seen)


def test_an_unknown_status_is_no_news() -> None:
    """A task_status DashScope may add later reads as unfinished, its raw name kept."""
    provider = AlibabaProvider(
        Upstream(client=make_client(), base_url=DEFAULT_BASE_URL, instance="wan")
    )
    video = provider.to_video(
        {"output": {"task_id": "t-1", "task_status": "SUSPENDED"}},
        Call(instance="wan", operation="retrieve"),
    )
    assert video.status is VideoStatus.QUEUED
    assert video.provider_metadata["task_status"] == "SUSPENDED"
