"""How the openai provider maps reelgate requests to the API and the API's answers back."""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest

import reelgate_openai
from reelgate import (
    AuthenticationError,
    Call,
    CreateVideo,
    Gateway,
    ImageInput,
    InvalidRequestError,
    ProviderError,
    RateLimitError,
    VideoNotReadyError,
    VideoStatus,
)
from reelgate.config import Config, InstanceConfig
from reelgate.emulation import FILTER, SLOW, Fault, Faults, serve
from reelgate.http import Reply, default_error_parser, emulator_transport, make_client
from reelgate.ids import VideoId
from reelgate.plugins import Plugins
from reelgate.store import MemoryJobIndex
from reelgate_openai import DEFAULT_BASE_URL, ModelLimits, to_video
from reelgate_openai.emulator import Received, create_app

pytestmark = pytest.mark.anyio

MakePng = Callable[[int, int], bytes]
#: The ``gateway_for`` fixture: a gateway on an emulator app, closed when the test ends.
GatewayFactory = Callable[..., Awaitable[Gateway]]


@pytest.fixture(name="received")
def _received() -> list[Received]:
    """The create requests the emulator reads."""
    return []


@pytest.fixture(name="app")
def _app(received: list[Received]) -> Any:
    """An emulator whose jobs finish quickly and which records creates."""
    return create_app(job_seconds=0.2, received=received)


@pytest.fixture(name="gateway")
async def _gateway(app: Any, gateway_for: GatewayFactory) -> Gateway:
    """A gateway with the ``sora`` instance on the emulator."""
    return await gateway_for(app)


# -- create ------------------------------------------------------------------------------


async def test_create_sends_multipart_as_the_sdk_does(
    gateway: Gateway, received: list[Received], make_png: MakePng
) -> None:
    """Create sends prompt, model, seconds, size and the image as a file part."""
    image = make_png(1280, 720)
    request = CreateVideo(
        model="sora/sora-2",
        prompt="a paper boat",
        seconds=8,
        size="1280x720",
        input_reference=image,
    )
    video = await gateway.create(request)
    assert video.status is VideoStatus.QUEUED
    assert video.seconds == "8"
    [seen] = received
    assert seen.form == "multipart"
    assert seen.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert seen.fields == {
        "prompt": "a paper boat",
        "model": "sora-2",
        "seconds": "8",
        "size": "1280x720",
    }
    assert seen.file is not None
    assert seen.file.filename == "input_reference.png"
    assert seen.file.content_type == "image/png"
    assert seen.file.data == image


async def test_create_without_an_image_is_still_multipart(
    gateway: Gateway, received: list[Received]
) -> None:
    """Without an image, create is multipart all the same, with only the fields given."""
    await gateway.create(CreateVideo(model="sora/sora-2-pro", prompt="a paper boat"))
    [seen] = received
    assert seen.form == "multipart"
    assert seen.fields == {"prompt": "a paper boat", "model": "sora-2-pro"}
    assert seen.file is None


@pytest.mark.parametrize("form", ["path", "data_url"])
async def test_create_sends_a_path_or_data_url_as_a_file(
    gateway: Gateway, received: list[Received], make_png: MakePng, tmp_path: Path, form: str
) -> None:
    """An image given as a path or a data URL goes up as the same file part."""
    image = make_png(720, 1280)
    if form == "path":
        (tmp_path / "ref.png").write_bytes(image)
        reference: Any = tmp_path / "ref.png"
    else:
        reference = "data:image/png;base64," + base64.b64encode(image).decode()
    await gateway.create(
        CreateVideo(model="sora/sora-2", prompt="a boat", input_reference=reference)
    )
    [seen] = received
    assert seen.file is not None
    assert (seen.file.content_type, seen.file.data) == ("image/png", image)


async def test_create_sends_an_image_url_as_json(
    gateway: Gateway, received: list[Received]
) -> None:
    """An image given by https URL goes as the JSON body form input_reference.image_url."""
    url = "https://images.example/boat.png"
    await gateway.create(
        CreateVideo(
            model="sora/sora-2",
            prompt="a boat",
            size="1280x720",
            input_reference=ImageInput.from_url(url),
        )
    )
    [seen] = received
    assert seen.form == "json"
    assert seen.headers["content-type"] == "application/json"
    assert seen.fields == {
        "prompt": "a boat",
        "model": "sora-2",
        "size": "1280x720",
        "input_reference": {"image_url": url},
    }


@pytest.mark.parametrize(
    ("model", "kwargs", "param"),
    [
        ("sora-2", {"seconds": 5}, "seconds"),
        ("sora-2", {"seconds": 30}, "seconds"),
        ("sora-2", {"size": "1792x1024"}, "size"),
        ("sora-2", {"size": "1920x1080"}, "size"),
        ("sora-2-pro", {"size": "640x480"}, "size"),
        ("sora-2-2025-12-08", {"size": "1024x1792"}, "size"),
    ],
)
async def test_invalid_seconds_or_size_sends_nothing(
    gateway: Gateway, app: Any, model: str, kwargs: dict[str, Any], param: str
) -> None:
    """Seconds or a size the model does not offer is an InvalidRequestError before any request."""
    with pytest.raises(InvalidRequestError) as caught:
        await gateway.create(CreateVideo(model=f"sora/{model}", prompt="a boat", **kwargs))
    assert caught.value.param == param
    assert caught.value.code == "invalid_value"
    assert caught.value.upstream is False
    assert app.faults.seen == []


@pytest.mark.parametrize(
    ("model", "kwargs"),
    [
        ("sora-2", {"seconds": 20, "size": "720x1280"}),
        ("sora-2-pro", {"seconds": 16, "size": "1920x1080"}),
        ("sora-2-pro-2025-10-06", {"seconds": 12, "size": "1792x1024"}),
    ],
)
async def test_valid_seconds_and_size_are_sent_unchanged(
    gateway: Gateway, received: list[Received], model: str, kwargs: dict[str, Any]
) -> None:
    """What the model offers is sent exactly as asked, never changed."""
    video = await gateway.create(CreateVideo(model=f"sora/{model}", prompt="a boat", **kwargs))
    assert received[0].fields["seconds"] == str(kwargs["seconds"])
    assert received[0].fields["size"] == kwargs["size"]
    assert (video.seconds, video.size) == (str(kwargs["seconds"]), kwargs["size"])


async def test_models_outside_the_table_are_sent_as_they_are(
    gateway_for: GatewayFactory,
) -> None:
    """A server's own model is not checked by reelgate; its own answer decides."""
    received: list[Received] = []
    app = create_app(job_seconds=0.2, received=received, models={"local-video": ModelLimits()})
    gateway = await gateway_for(app)
    video = await gateway.create(
        CreateVideo(model="sora/local-video", prompt="a boat", seconds=7, size="640x480")
    )
    assert (video.model, video.seconds, video.size) == ("local-video", "7", "640x480")


async def test_models_setting_adds_limits(gateway_for: GatewayFactory) -> None:
    """The models setting gives a server's own model its durations and sizes."""
    app = create_app(job_seconds=0.2, models={"local-video": ModelLimits()})
    gateway = await gateway_for(app, models={"local-video": {"seconds": [6], "sizes": ["640x480"]}})
    with pytest.raises(InvalidRequestError) as caught:
        await gateway.create(CreateVideo(model="sora/local-video", prompt="a boat", seconds=7))
    assert caught.value.param == "seconds"
    assert app.faults.seen == []
    video = await gateway.create(
        CreateVideo(model="sora/local-video", prompt="a boat", seconds=6, size="640x480")
    )
    assert video.seconds == "6"


async def test_fields_openai_lacks_are_passed_on_not_dropped(
    gateway: Gateway, received: list[Received]
) -> None:
    """negative_prompt and extra_params reach the server, which refuses them by name."""
    with pytest.raises(InvalidRequestError) as caught:
        await gateway.create(
            CreateVideo(
                model="sora/sora-2",
                prompt="a boat",
                negative_prompt="rain",
                extra_params={"quality": "hd"},
            )
        )
    assert received[0].fields["negative_prompt"] == "rain"
    assert received[0].fields["quality"] == "hd"
    assert caught.value.upstream is True
    assert (caught.value.param, caught.value.code) == ("negative_prompt", "unknown_parameter")


async def test_extra_params_cannot_replace_a_field(gateway: Gateway, app: Any) -> None:
    """An extra parameter named like a field of the request is refused, not sent twice."""
    with pytest.raises(InvalidRequestError) as caught:
        await gateway.create(
            CreateVideo(model="sora/sora-2", prompt="a boat", extra_params={"model": "sora-2-pro"})
        )
    assert caught.value.param == "model"
    assert app.faults.seen == []


async def test_create_is_retried_when_the_connection_was_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A create that provably never left (connection refused) is sent again."""
    monkeypatch.setenv("REELGATE_OPENAI_TEST_KEY", "sk-test-000000000000")
    app = create_app(job_seconds=0.2)

    class RefuseOnce(httpx2.AsyncBaseTransport):
        def __init__(self) -> None:
            self.refused = 0
            self.inner = emulator_transport(app)

        async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
            if not self.refused:
                self.refused += 1
                raise httpx2.ConnectError("connection refused", request=request)
            return await self.inner.handle_async_request(request)

    transport = RefuseOnce()
    async with make_client(transport=transport) as client:
        gateway = _gateway_on(client, {"base_url": "http://emulator.test/v1"})
        video = await gateway.create(CreateVideo(model="sora/sora-2", prompt="a boat"))
        await gateway.aclose()
    assert video.id
    assert transport.refused == 1
    assert app.faults.count("POST") == 1


# -- reads -------------------------------------------------------------------------------


async def test_retrieve_reads_every_field(gateway: Gateway) -> None:
    """A finished job carries its model, prompt, size, seconds and timestamps."""
    created = await gateway.create(
        CreateVideo(model="sora/sora-2", prompt="a boat", seconds=12, size="1280x720")
    )
    video = await gateway.wait(created.id, timeout=30)
    assert video.status is VideoStatus.COMPLETED
    assert (video.model, video.prompt, video.seconds, video.size) == (
        "sora-2",
        "a boat",
        "12",
        "1280x720",
    )
    assert video.progress == 100
    assert video.completed_at is not None
    assert video.expires_at == video.completed_at + 3600
    assert video.provider_metadata == {}


def test_video_objects_of_compatible_servers(caplog: pytest.LogCaptureFixture) -> None:
    """Extra keys land in provider_metadata; cancelled is failed; an unknown status is no news."""
    call = Call(instance="sora", operation="retrieve")
    video = to_video({"id": "v1", "status": "queued", "quality": "standard", "seconds": 8}, call)
    assert video.provider_metadata == {"quality": "standard"}
    assert video.seconds == "8"
    cancelled = to_video({"id": "v2", "status": "cancelled"}, call)
    assert cancelled.status is VideoStatus.FAILED
    assert cancelled.error is not None
    assert cancelled.error.code == "cancelled"
    paused = to_video({"id": "v3", "status": "paused"}, call)
    assert paused.status is VideoStatus.QUEUED
    assert paused.provider_metadata == {"status": "paused"}
    assert "unknown job status 'paused'" in caplog.text


async def test_poll_hint_is_read(gateway_for: GatewayFactory) -> None:
    """The openai-poll-after-ms header becomes Video.poll_after, in seconds."""
    gateway = await gateway_for(create_app(job_seconds=5, poll_after_ms=1234))
    created = await gateway.create(CreateVideo(model="sora/sora-2", prompt="a boat"))
    assert created.poll_after == 1.234
    assert (await gateway.retrieve(created.id)).poll_after == 1.234


async def test_wait_follows_the_poll_hint(gateway_for: GatewayFactory) -> None:
    """wait polls at the server's hint (10 ms), not at the instance's minute-long interval."""
    app = create_app(job_seconds=0.2, poll_after_ms=10)
    gateway = await gateway_for(app, poll_interval=60)
    created = await gateway.create(CreateVideo(model="sora/sora-2", prompt="a boat"))
    with anyio.fail_after(20):
        video = await gateway.wait(created.id, timeout=600)
    assert video.status is VideoStatus.COMPLETED


async def test_filtered_job_reports_its_filter(gateway: Gateway) -> None:
    """A job blocked by moderation fails with its code and a content filter."""
    created = await gateway.create(CreateVideo(model="sora/sora-2", prompt=f"a boat {FILTER}"))
    video = await gateway.wait(created.id, timeout=30)
    assert video.status is VideoStatus.FAILED
    assert video.error is not None
    assert video.error.code == "moderation_blocked"
    assert video.content_filter is not None
    assert video.content_filter.filtered_count == 1


async def test_list_translates_ids_both_ways(gateway: Gateway, app: Any) -> None:
    """List answers qualified ids, and sends a cursor's native id, limit and order upstream."""
    created = [
        (await gateway.create(CreateVideo(model="sora/sora-2", prompt=f"job {i}"))).id
        for i in range(3)
    ]
    first = await gateway.list("sora", limit=2, order="asc")
    assert [v.id for v in first.data] == created[:2]
    assert all(VideoId.parse(v.id).instance == "sora" for v in first.data)
    app.faults.seen.clear()
    second = await gateway.list("sora", limit=2, order="asc", after=first.last_id)
    assert [v.id for v in second.data] == created[2:]
    assert second.has_more is False
    [request] = app.faults.seen
    native = VideoId.parse(created[1]).native
    assert dict(pair.split("=") for pair in request.query.split("&")) == {
        "limit": "2",
        "order": "asc",
        "after": native,
    }


async def test_remix_is_linked_and_sent_as_json(gateway: Gateway, app: Any) -> None:
    """A remix sends a JSON prompt and comes back linked to its qualified source."""
    created = await gateway.create(
        CreateVideo(model="sora/sora-2-pro", prompt="a boat", size="1792x1024")
    )
    source = await gateway.wait(created.id, timeout=30)
    remixed = await gateway.remix(source.id, "at night")
    assert remixed.remixed_from_video_id == source.id
    assert (remixed.model, remixed.size, remixed.prompt) == ("sora-2-pro", "1792x1024", "at night")
    assert app.faults.seen[-1].headers["content-type"] == "application/json"


async def test_remix_of_an_unfinished_job_is_refused(gateway: Gateway) -> None:
    """The API refuses to remix a job that has not completed; its reason is kept."""
    created = await gateway.create(CreateVideo(model="sora/sora-2", prompt=f"a boat {SLOW}"))
    with pytest.raises(InvalidRequestError) as caught:
        await gateway.remix(created.id, "at night")
    assert caught.value.upstream is True
    assert caught.value.param == "video_id"


# -- download ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variant", "content_type", "magic"),
    [
        ("video", "video/mp4", (4, b"ftyp")),
        ("thumbnail", "image/webp", (8, b"WEBP")),
        ("spritesheet", "image/jpeg", (0, b"\xff\xd8\xff")),
    ],
)
async def test_download_streams_each_variant(
    gateway: Gateway, app: Any, variant: str, content_type: str, magic: tuple[int, bytes]
) -> None:
    """Each variant streams with its own content type and bytes."""
    created = await gateway.create(CreateVideo(model="sora/sora-2", prompt="a boat"))
    video = await gateway.wait(created.id, timeout=30)
    async with gateway.download(video.id, variant) as stream:
        body = await stream.read()
    assert stream.content_type == content_type
    assert stream.content_length == len(body)
    at, expected = magic
    assert body[at : at + len(expected)] == expected
    assert app.faults.seen[-1].query == f"variant={variant}"
    assert app.faults.seen[-1].headers["accept"] == "application/binary"


async def test_download_of_a_failed_job_is_not_ready(gateway: Gateway) -> None:
    """A failed job has nothing to download: VideoNotReadyError, with the API's refusal kept."""
    created = await gateway.create(CreateVideo(model="sora/sora-2", prompt=f"a boat {FILTER}"))
    await gateway.wait(created.id, timeout=30)
    with pytest.raises(VideoNotReadyError) as caught:
        async with gateway.download(created.id):
            pass
    assert caught.value.upstream is True
    assert caught.value.raw_response["error"]["type"] == "invalid_request_error"


async def test_big_videos_stream_in_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    """Over a real socket a 10 MiB video arrives in many pieces, whole, never held at once."""
    monkeypatch.setenv("REELGATE_OPENAI_TEST_KEY", "sk-test-000000000000")
    app = create_app(job_seconds=0.1, video_bytes=10 * 1024 * 1024)
    with serve(app) as url:
        async with make_client() as client:
            gateway = _gateway_on(client, {"base_url": f"{url}/v1", "poll_interval": 0.02})
            created = await gateway.create(CreateVideo(model="sora/sora-2", prompt="a boat"))
            video = await gateway.wait(created.id, timeout=30)
            size, largest, chunks = 0, 0, 0
            async with gateway.download(video.id) as stream:
                async for chunk in stream:
                    size, largest, chunks = size + len(chunk), max(largest, len(chunk)), chunks + 1
            await gateway.aclose()
    assert size == stream.content_length == 10 * 1024 * 1024
    assert chunks > 1
    assert largest < size


# -- errors ------------------------------------------------------------------------------


async def test_error_envelope_keeps_type_code_and_param(gateway: Gateway) -> None:
    """OpenAI's error envelope becomes a reelgate error with its type, code, param and body."""
    with pytest.raises(InvalidRequestError) as caught:
        await gateway.create(CreateVideo(model="sora/sora-3", prompt="a boat"))
    error = caught.value
    assert (error.type, error.code, error.param) == (
        "invalid_request_error",
        "invalid_value",
        "model",
    )
    assert error.upstream is True
    assert error.status_code == 400
    assert error.raw_response["error"]["param"] == "model"
    assert "Invalid value: 'sora-3'" in error.message


async def test_rate_limit_keeps_its_envelope(gateway: Gateway, app: Any) -> None:
    """A 429 that persists keeps OpenAI's type and code, and the retry-after-ms delay."""
    app.faults.add(Fault(status=429, headers={"retry-after-ms": "5"}, method="GET", times=10))
    with pytest.raises(RateLimitError) as caught:
        await gateway.list("sora")
    assert (caught.value.type, caught.value.code) == ("requests", "rate_limit_exceeded")
    assert caught.value.retry_after == 0.005


async def test_wrong_key_is_an_authentication_error(
    gateway_for: GatewayFactory, api_key: str
) -> None:
    """A key the server does not know is an AuthenticationError that does not show the key."""
    gateway = await gateway_for(create_app(api_keys={"sk-some-other-key-000000"}))
    with pytest.raises(AuthenticationError) as caught:
        await gateway.create(CreateVideo(model="sora/sora-2", prompt="a boat"))
    assert caught.value.code == "invalid_api_key"
    assert api_key not in str(caught.value)
    assert api_key[-4:] in caught.value.message
    assert api_key not in json.dumps(caught.value.raw_response)


@pytest.mark.parametrize(
    ("content", "message", "code"),
    [
        (b'{"detail": "model not loaded"}', "model not loaded", None),
        (b'{"error": "busy"}', "busy", None),
        (b'{"message": "nope"}', "nope", None),
        (b"<html>bad gateway</html>", "provider answered HTTP 502", None),
        (b'{"error": {"message": "m", "type": "t", "code": 7, "param": "p"}}', "m", "7"),
    ],
)
def test_parse_error_reads_compatible_servers(
    content: bytes, message: str, code: str | None
) -> None:
    """The core's default parser, which the plugin uses, reads loosely spoken error bodies."""
    detail = default_error_parser(Reply(502, {}, content, "http://x/v1/videos"))
    assert detail.message == message
    assert detail.code == code


async def test_malformed_video_object_is_a_provider_error(gateway: Gateway, app: Any) -> None:
    """A 200 whose JSON is not a video object is a ProviderError, not a crash."""

    async def not_a_video(scope: Any, receive: Any, send: Any) -> None:
        body = b'{"object": "video"}'
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})

    created = await gateway.create(CreateVideo(model="sora/sora-2", prompt="a boat"))
    app.app = not_a_video
    with pytest.raises(ProviderError, match="not a video object"):
        await gateway.retrieve(created.id)


# -- settings and instances --------------------------------------------------------------


def _gateway_on(
    client: httpx2.AsyncClient, *instances: dict[str, Any], env: bool = False
) -> Gateway:
    plugins = Plugins()
    plugins.register(reelgate_openai, name="openai")
    configured = tuple(
        InstanceConfig(
            name=settings.pop("name", "sora"),
            type="openai",
            key_env=(settings.pop("key_env", "REELGATE_OPENAI_TEST_KEY"),),
            settings=settings,
        )
        for settings in (dict(i) for i in instances)
    )
    config = Config(instances=configured, default_instances=env)
    gateway = Gateway(config, plugins=plugins, index=MemoryJobIndex(), http_client=client)
    assert not gateway.problems, gateway.problems
    return gateway


async def test_defaults_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default instance reads its key, base URL, organization and project from OPENAI_*."""
    app = create_app(job_seconds=0.2, api_keys={"sk-from-env-000000000"})
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env-000000000")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://emulator.test/v1")
    monkeypatch.setenv("OPENAI_ORG_ID", "org-123")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj_456")
    async with make_client(transport=emulator_transport(app)) as client:
        gateway = _gateway_on(client, env=True)
        video = await gateway.create(CreateVideo(model="openai/sora-2", prompt="a boat"))
        await gateway.aclose()
    assert video.id.endswith(":openai")
    [seen] = app.faults.seen
    assert seen.headers["openai-organization"] == "org-123"
    assert seen.headers["openai-project"] == "proj_456"
    assert seen.headers["authorization"] == "Bearer sk-from-env-000000000"


async def test_default_base_url_is_openai(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without OPENAI_BASE_URL or a base_url setting, the instance talks to api.openai.com/v1."""
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    async with make_client() as client:
        gateway = _gateway_on(client, env=True)
        provider = gateway.instance("openai").provider
        await gateway.aclose()
    assert isinstance(provider, reelgate_openai.OpenAIProvider)
    assert provider.upstream.base_url == DEFAULT_BASE_URL == "https://api.openai.com/v1"


async def test_two_instances_side_by_side(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two openai instances with their own base URLs and keys each reach only their own server."""
    monkeypatch.setenv("KEY_ONE", "sk-one-000000000000")
    monkeypatch.setenv("KEY_TWO", "sk-two-000000000000")
    one = create_app(job_seconds=0.2, api_keys={"sk-one-000000000000"})
    two = create_app(job_seconds=0.2, api_keys={"sk-two-000000000000"})
    with serve(one) as url_one, serve(two) as url_two:
        async with make_client() as client:
            gateway = _gateway_on(
                client,
                {
                    "name": "openai",
                    "key_env": "KEY_ONE",
                    "base_url": f"{url_one}/v1",
                    "organization": "org-1",
                },
                {"name": "my-sora", "key_env": "KEY_TWO", "base_url": f"{url_two}/v1"},
            )
            first = await gateway.create(CreateVideo(model="openai/sora-2", prompt="one"))
            second = await gateway.create(CreateVideo(model="my-sora/sora-2", prompt="two"))
            assert (await gateway.retrieve(first.id)).prompt == "one"
            assert (await gateway.retrieve(second.id)).prompt == "two"
            mine = await gateway.list("my-sora")
            await gateway.aclose()
    assert VideoId.parse(first.id).instance == "openai"
    assert VideoId.parse(second.id).instance == "my-sora"
    assert [v.id for v in mine.data] == [second.id]
    assert [r.headers["authorization"] for r in one.faults.seen] == [
        "Bearer sk-one-000000000000"
    ] * 2
    assert [r.headers["authorization"] for r in two.faults.seen] == [
        "Bearer sk-two-000000000000"
    ] * 3
    assert {r.headers.get("openai-organization") for r in one.faults.seen} == {"org-1"}
    assert {r.headers.get("openai-organization") for r in two.faults.seen} == {None}


def test_unknown_setting_is_a_problem() -> None:
    """A misspelt setting makes the instance unavailable, with the reason, not a crash."""
    plugins = Plugins()
    plugins.register(reelgate_openai, name="openai")
    config = Config(
        instances=(InstanceConfig(name="sora", type="openai", settings={"organisation": "org-1"}),),
        default_instances=False,
    )
    gateway = Gateway(config, plugins=plugins, index=MemoryJobIndex())
    assert "organisation" in gateway.problems["sora"]
    anyio.run(gateway.aclose)


def test_faults_are_shared_with_the_caller() -> None:
    """An emulator built with a fault script uses it and exposes it."""
    faults = Faults()
    assert create_app(faults=faults).faults is faults
