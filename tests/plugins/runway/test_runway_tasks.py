"""Reading, downloading and deleting Runway tasks; errors and settings."""

from __future__ import annotations

import json
from typing import Any

import pytest
from runway_support import INSTANCE, JOB_SECONDS, KEY, START, Clock, call

import reelgate
import reelgate_runway
from reelgate.config import Config
from reelgate.emulation import Fault
from reelgate.gateway import Gateway
from reelgate.http import Reply
from reelgate.plugins import Plugins
from reelgate.store import MemoryJobIndex
from reelgate_runway import RunwayProvider, parse_error, task_to_video
from reelgate_runway.emulator import RunwayEmulator

pytestmark = pytest.mark.anyio


async def create(gateway: Gateway, prompt: str = "a paper boat", **kwargs: Any) -> reelgate.Video:
    """Create a gen4.5 task on the test instance."""
    return await gateway.create(
        reelgate.CreateVideo(model=f"{INSTANCE}/gen4.5", prompt=prompt, **kwargs)
    )


async def test_statuses_and_progress_follow_the_task(gateway: Gateway, clock: Clock) -> None:
    """PENDING/THROTTLED are queued, RUNNING in progress at progress x 100, SUCCEEDED completed."""
    video = await create(gateway)
    seen = [await gateway.retrieve(video.id)]
    for moment in (0.2, 0.625, 0.8125, 1.0):
        clock.now = START + JOB_SECONDS * moment
        seen.append(await gateway.retrieve(video.id))
    statuses = [(v.status.value, v.progress, v.provider_metadata["status"]) for v in seen]
    assert statuses == [
        ("queued", None, "PENDING"),
        ("queued", None, "THROTTLED"),
        ("in_progress", 50.0, "RUNNING"),
        ("in_progress", 75.0, "RUNNING"),
        ("completed", 100.0, "SUCCEEDED"),
    ]


async def test_completed_task_lists_every_output(gateway: Gateway, clock: Clock) -> None:
    """A succeeded task's output URLs become url outputs of type video/mp4."""
    video = await create(gateway)
    clock.advance(JOB_SECONDS)
    done = await gateway.retrieve(video.id)
    assert len(done.videos) == 1
    output = done.videos[0]
    assert (output.type, output.content_type) == ("url", "video/mp4")
    assert output.url is not None
    assert output.url.startswith("http://assets.emulator.test/_files/")
    assert "_jwt=" in output.url


def test_every_output_url_is_kept() -> None:
    """Several outputs are all listed, each typed by its extension."""
    video = task_to_video(
        {
            "id": "t1",
            "status": "SUCCEEDED",
            "createdAt": "2026-11-22T01:56:30.123Z",
            "output": ["https://cdn.example/a.mp4?_jwt=x", "https://cdn.example/b.mov?_jwt=y"],
            "cost": {"credits": 50},
        },
        call("retrieve"),
    )
    assert [(o.url, o.content_type) for o in video.videos] == [
        ("https://cdn.example/a.mp4?_jwt=x", "video/mp4"),
        ("https://cdn.example/b.mov?_jwt=y", "video/quicktime"),
    ]


def test_created_at_is_read_from_created_at() -> None:
    """createdAt (ISO 8601) becomes unix seconds."""
    video = task_to_video(
        {"id": "t1", "status": "PENDING", "createdAt": "2024-06-27T19:49:32.335Z"}, call("retrieve")
    )
    assert video.created_at == 1719517772


async def test_created_at_comes_from_runway(provider: RunwayProvider) -> None:
    """A task's created_at is the emulator's creation time, not the time of the poll."""
    created = await provider.create(
        reelgate.CreateVideo(model="rw/gen4.5", prompt="boat"),
        call=call("create", "gen4.5"),
    )
    assert created.created_at is None
    first = await provider.retrieve(created.id, call=call("retrieve"))
    assert first.created_at == int(START)


async def test_failed_task_keeps_failure_code_and_message(gateway: Gateway, clock: Clock) -> None:
    """FAILED is failed with code = failureCode and message = failure."""
    video = await create(gateway, "a paper boat [emulate:filter]")
    clock.advance(JOB_SECONDS)
    done = await gateway.retrieve(video.id)
    assert done.status is reelgate.VideoStatus.FAILED
    assert done.error == reelgate.VideoError(
        code="SAFETY.INPUT.TEXT", message="The prompt was flagged by content moderation."
    )
    assert done.provider_metadata["cost"] == {"credits": 0}


async def test_cancelled_task_is_failed_with_code_cancelled(
    provider: RunwayProvider, clock: Clock
) -> None:
    """Deleting a running task cancels it; a CANCELLED task reads as failed, code cancelled."""
    created = await provider.create(
        reelgate.CreateVideo(model="rw/gen4.5", prompt="boat"),
        call=call("create", "gen4.5"),
    )
    clock.advance(JOB_SECONDS / 2)
    deleted = await provider.delete(created.id, call=call("delete"))
    assert deleted == reelgate.Deleted(id=created.id, upstream="cancelled")
    cancelled = await provider.retrieve(created.id, call=call("retrieve"))
    assert cancelled.status is reelgate.VideoStatus.FAILED
    assert cancelled.error is not None
    assert cancelled.error.code == "cancelled"
    assert cancelled.provider_metadata == {"status": "CANCELLED", "cost": {"credits": 60}}
    clock.advance(60)
    with pytest.raises(reelgate.NotFoundError):
        await provider.retrieve(created.id, call=call("retrieve"))


async def test_credits_are_kept_in_provider_metadata(gateway: Gateway, clock: Clock) -> None:
    """estimatedCost while the task runs and cost once it ends are in provider_metadata."""
    video = await create(gateway, seconds=10)
    assert video.provider_metadata["estimatedCost"] == {"credits": 120}
    clock.advance(JOB_SECONDS / 2)
    running = await gateway.retrieve(video.id)
    assert running.provider_metadata["estimatedCost"] == {"credits": 120}
    clock.advance(JOB_SECONDS)
    done = await gateway.retrieve(video.id)
    assert done.provider_metadata["cost"] == {"credits": 120}
    assert "estimatedCost" not in done.provider_metadata


async def test_delete_then_not_found_upstream(
    provider: RunwayProvider, emulator: RunwayEmulator, clock: Clock
) -> None:
    """DELETE of a finished task answers 204, is reported as deleted, and the task is then 404."""
    created = await provider.create(
        reelgate.CreateVideo(model="rw/gen4.5", prompt="boat"),
        call=call("create", "gen4.5"),
    )
    clock.advance(JOB_SECONDS)
    deleted = await provider.delete(created.id, call=call("delete"))
    assert deleted.upstream == "deleted"
    assert emulator.faults.seen[-1].method == "DELETE"
    assert emulator.faults.seen[-1].headers["accept"] == "*/*"
    with pytest.raises(reelgate.NotFoundError):
        await provider.retrieve(created.id, call=call("retrieve"))


async def test_download_streams_without_the_key(
    gateway: Gateway, emulator: RunwayEmulator, clock: Clock
) -> None:
    """The signed output URL is fetched without the Runway key."""
    video = await create(gateway)
    clock.advance(JOB_SECONDS)
    async with gateway.download(video.id) as stream:
        body = await stream.read()
    assert body[4:8] == b"ftyp"
    assert stream.content_type == "video/mp4"
    fetch = next(r for r in emulator.faults.seen if r.path.startswith("/_files/"))
    assert "authorization" not in fetch.headers


async def test_expired_url_is_refreshed_once(
    gateway: Gateway, emulator: RunwayEmulator, clock: Clock
) -> None:
    """A 403 from the file host makes the provider re-read the task and try its fresh URL."""
    video = await create(gateway)
    clock.advance(JOB_SECONDS)
    emulator.faults.seen.clear()
    emulator.faults.add(Fault(status=403, message="expired", path=r"^/_files/"))
    async with gateway.download(video.id) as stream:
        assert (await stream.read())[4:8] == b"ftyp"
    assert emulator.faults.count("GET", r"^/v1/tasks/") == 2
    assert emulator.faults.count("GET", r"^/_files/") == 2
    tokens = [r.query for r in emulator.faults.seen if r.path.startswith("/_files/")]
    assert tokens[0] != tokens[1]


async def test_url_refused_twice_is_a_provider_error(
    gateway: Gateway, emulator: RunwayEmulator, clock: Clock
) -> None:
    """When the fresh URL is refused too, the download fails after exactly one refresh."""
    video = await create(gateway)
    clock.advance(JOB_SECONDS)
    emulator.faults.seen.clear()
    emulator.faults.add(Fault(status=404, path=r"^/_files/", times=5))
    with pytest.raises(reelgate.ProviderError, match="even with a freshly signed URL"):
        async with gateway.download(video.id):
            pass
    assert emulator.faults.count("GET", r"^/v1/tasks/") == 2
    assert emulator.faults.count("GET", r"^/_files/") == 2


async def test_really_expired_url_is_refused_and_refreshed(
    gateway: Gateway, emulator: RunwayEmulator, clock: Clock
) -> None:
    """An output URL older than its lifetime is refused by the emulator; download still works."""
    video = await create(gateway)
    clock.advance(JOB_SECONDS)
    old = (await gateway.retrieve(video.id)).videos[0].url
    assert old is not None
    clock.advance(601)
    transport = gateway.http_client
    refused = await transport.get(old)
    assert refused.status_code == 403
    async with gateway.download(video.id) as stream:
        assert (await stream.read())[4:8] == b"ftyp"
    assert emulator.faults.count("GET", r"^/_files/") == 2


@pytest.mark.parametrize("variant", ["thumbnail", "spritesheet"])
async def test_only_the_video_variant_exists(gateway: Gateway, clock: Clock, variant: str) -> None:
    """Runway has no thumbnail or spritesheet: asking is an UnsupportedOperationError."""
    video = await create(gateway)
    clock.advance(JOB_SECONDS)
    with pytest.raises(reelgate.UnsupportedOperationError):
        async with gateway.download(video.id, variant):
            pass


async def test_download_of_an_unfinished_task_is_not_ready(
    gateway: Gateway, emulator: RunwayEmulator
) -> None:
    """A task that has not succeeded cannot be downloaded; no file is fetched."""
    video = await create(gateway)
    with pytest.raises(reelgate.VideoNotReadyError):
        async with gateway.download(video.id):
            pass
    assert emulator.faults.count("GET", r"^/_files/") == 0


async def test_signed_url_token_is_never_shown(
    gateway: Gateway, emulator: RunwayEmulator, clock: Clock
) -> None:
    """The _jwt token appears in no repr, error message or raw response."""
    video = await create(gateway)
    clock.advance(JOB_SECONDS)
    done = await gateway.retrieve(video.id)
    url = done.videos[0].url
    assert url is not None
    token = url.partition("_jwt=")[2]
    assert len(token) > 20
    assert token not in repr(done)
    emulator.faults.add(Fault(status=403, message=f"denied {url}", path=r"^/_files/", times=2))
    with pytest.raises(reelgate.ProviderError) as caught:
        async with gateway.download(video.id):
            pass
    error, cause = caught.value, caught.value.__cause__
    for text in (
        str(error),
        repr(error),
        str(cause),
        repr(cause),
        json.dumps(getattr(cause, "raw_response", None)),
    ):
        assert token not in text
        assert KEY not in text


async def test_list_and_remix_come_from_the_gateway(gateway: Gateway) -> None:
    """Runway has no list or remix: the index lists its tasks and remix is unsupported."""
    first = await create(gateway, "one")
    second = await create(gateway, "two")
    page = await gateway.list(INSTANCE, limit=1)
    assert [v.id for v in page.data] == [second.id]
    assert page.has_more is True
    rest = await gateway.list(INSTANCE, limit=1, after=page.last_id)
    assert [v.id for v in rest.data] == [first.id]
    assert rest.has_more is False
    with pytest.raises(reelgate.UnsupportedOperationError):
        await gateway.remix(first.id, "again")


def test_validation_issues_become_one_readable_message() -> None:
    """A zod issue list is folded into the message; its first field names the param."""
    body = {
        "error": "Validation of body failed",
        "issues": [
            {
                "code": "invalid_value",
                "values": ["1280:720", "720:1280"],
                "path": ["ratio"],
                "message": 'Invalid option: expected one of "1280:720"|"720:1280"',
            },
            {
                "code": "too_big",
                "maximum": 10,
                "path": ["duration"],
                "message": "Too big: expected number to be <=10",
            },
        ],
        "docUrl": "https://docs.dev.runwayml.com/api",
    }
    detail = parse_error(
        Reply(400, {}, json.dumps(body).encode(), "https://api.dev.runwayml.com/v1/text_to_video")
    )
    assert detail.message == (
        'Validation of body failed: ratio: Invalid option: expected one of "1280:720"|"720:1280"; '
        "duration: Too big: expected number to be <=10"
    )
    assert (detail.param, detail.code) == ("size", "invalid_value")
    assert detail.raw == body


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"error": "Invalid API key."}', "Invalid API key."),
        (b"<html>bad gateway</html>", "Runway answered HTTP 502"),
        (b'{"detail": "?"}', "Runway answered HTTP 502"),
    ],
)
def test_error_bodies_without_issues(content: bytes, message: str) -> None:
    """A plain error body keeps its message; anything else names the status."""
    assert parse_error(Reply(502, {}, content, "https://x")).message == message


async def test_server_errors_on_reads_are_retried(
    gateway: Gateway, emulator: RunwayEmulator
) -> None:
    """503 and 504 on a task read are retried with backoff."""
    video = await create(gateway)
    emulator.faults.seen.clear()
    emulator.faults.add(Fault(status=503, method="GET"))
    emulator.faults.add(Fault(status=504, method="GET"))
    again = await gateway.retrieve(video.id)
    assert again.id == video.id
    assert emulator.faults.count("GET") == 3


def test_settings_default_to_runway_and_its_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default instance reads RUNWAYML_API_SECRET and RUNWAYML_BASE_URL, else Runway's URL."""
    plugins = Plugins()
    plugins.register(reelgate_runway, name="runway")
    monkeypatch.delenv("RUNWAYML_BASE_URL", raising=False)
    monkeypatch.setenv("RUNWAYML_API_SECRET", KEY)
    instance = Gateway(Config(), plugins=plugins, index=MemoryJobIndex()).instance("runway")
    assert [k.name for k in instance.keys] == ["RUNWAYML_API_SECRET"]
    assert instance.poll_interval == 5.0
    assert isinstance(instance.provider, RunwayProvider)
    assert instance.provider.upstream.base_url == "https://api.dev.runwayml.com"
    assert instance.provider.upstream.headers["X-Runway-Version"] == "2024-11-06"
    assert KEY not in repr(instance.provider)
    monkeypatch.setenv("RUNWAYML_BASE_URL", "http://127.0.0.1:8092")
    instance = Gateway(Config(), plugins=plugins, index=MemoryJobIndex()).instance("runway")
    assert isinstance(instance.provider, RunwayProvider)
    assert instance.provider.upstream.base_url == "http://127.0.0.1:8092"


async def test_poll_interval_is_configurable(gateway: Gateway) -> None:
    """A configured poll_interval replaces Runway's advised 5 s."""
    assert gateway.instance(INSTANCE).poll_interval == 0.01


def test_malformed_task_is_a_provider_error() -> None:
    """A task without id or status is a ProviderError, not a crash."""
    with pytest.raises(reelgate.ProviderError):
        task_to_video({"status": "RUNNING"}, call("retrieve"))
    with pytest.raises(reelgate.ProviderError):
        task_to_video(["not", "a", "task"], call("retrieve"))
