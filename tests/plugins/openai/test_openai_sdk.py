"""OpenAI's own SDK, a client no one here wrote, completes every operation against the emulator."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import openai
import pytest

from reelgate.emulation import FAIL, Fault
from reelgate.emulation import serve as serve_app
from reelgate_openai.emulator import create_app

# The SDK marks every videos method deprecated (OpenAI's own endpoint shut down); the
# wire format lives on, which is what these tests check.
pytestmark = pytest.mark.filterwarnings("ignore:The Sora API is scheduled:DeprecationWarning")


@pytest.fixture(name="served")
def _served() -> Iterator[tuple[openai.OpenAI, object]]:
    """The SDK's client, pointed at an emulator served over loopback HTTP."""
    app = create_app(job_seconds=0.2)
    with (
        serve_app(app) as url,
        openai.OpenAI(base_url=f"{url}/v1", api_key="sk-sdk-test", max_retries=0) as client,
    ):
        yield client, app


@pytest.fixture(name="client")
def _client(served: tuple[openai.OpenAI, object]) -> openai.OpenAI:
    """The SDK's client."""
    return served[0]


def test_create_with_a_file_then_poll(
    client: openai.OpenAI, make_png: Callable[[int, int], bytes]
) -> None:
    """create uploads an input_reference file; poll follows openai-poll-after-ms to completion."""
    video = client.videos.create(
        prompt="a paper boat",
        model="sora-2",
        seconds="8",
        size="1280x720",
        input_reference=("ref.png", make_png(1280, 720), "image/png"),
    )
    assert (video.object, video.status, video.progress) == ("video", "queued", 0)
    assert (video.model, video.seconds, video.size) == ("sora-2", "8", "1280x720")
    done = client.videos.poll(video.id)
    assert done.status == "completed"
    assert done.progress == 100
    assert done.completed_at is not None
    assert done.expires_at is not None


def test_create_and_poll_reports_a_failure(client: openai.OpenAI) -> None:
    """A failing job ends failed with an error code and message, as the SDK models it."""
    video = client.videos.create_and_poll(prompt=f"a boat {FAIL}")
    assert video.status == "failed"
    assert video.error is not None
    assert video.error.code
    assert video.error.message


def test_retrieve(client: openai.OpenAI) -> None:
    """retrieve answers the same job, with every required key."""
    video = client.videos.create(prompt="a paper boat")
    again = client.videos.retrieve(video.id)
    assert again.id == video.id
    assert again.created_at == video.created_at
    assert (again.model, again.seconds, again.size) == ("sora-2", "4", "720x1280")
    assert again.remixed_from_video_id is None


def test_list_auto_pages(client: openai.OpenAI) -> None:
    """Auto-paging two at a time visits every job once, newest first, then stops."""
    created = [client.videos.create(prompt=f"job {i}").id for i in range(5)]
    first = client.videos.list(limit=2)
    assert first.has_more is True
    assert [v.id for v in first.data] == created[::-1][:2]
    assert [v.id for v in client.videos.list(limit=2)] == created[::-1]
    assert [v.id for v in client.videos.list(limit=2, order="asc")] == created


def test_list_of_nothing(client: openai.OpenAI) -> None:
    """An empty list ends the paging at once."""
    page = client.videos.list()
    assert page.data == []
    assert page.has_more is False
    assert list(page) == []


def test_download_content(client: openai.OpenAI) -> None:
    """download_content gives the MP4, the WebP thumbnail and the JPEG spritesheet."""
    video = client.videos.create_and_poll(prompt="a paper boat")
    mp4 = client.videos.download_content(video.id)
    assert mp4.response.headers["content-type"] == "video/mp4"
    assert mp4.content[4:8] == b"ftyp"
    thumbnail = client.videos.download_content(video.id, variant="thumbnail")
    assert thumbnail.response.headers["content-type"] == "image/webp"
    assert thumbnail.content[8:12] == b"WEBP"
    sprites = client.videos.download_content(video.id, variant="spritesheet")
    assert sprites.response.headers["content-type"] == "image/jpeg"


def test_download_before_completion_is_refused(client: openai.OpenAI) -> None:
    """Asking for the content of an unfinished job is a 4xx in OpenAI's envelope."""
    video = client.videos.create(prompt="a paper boat [emulate:slow]")
    with pytest.raises(openai.NotFoundError) as caught:
        client.videos.download_content(video.id)
    assert caught.value.type == "invalid_request_error"


def test_delete(client: openai.OpenAI) -> None:
    """delete answers video.deleted; the job is gone afterwards."""
    video = client.videos.create_and_poll(prompt="a paper boat")
    deleted = client.videos.delete(video.id)
    assert (deleted.id, deleted.object, deleted.deleted) == (video.id, "video.deleted", True)
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve(video.id)


def test_remix(client: openai.OpenAI) -> None:
    """remix starts a new job linked to its source, inheriting size and seconds."""
    video = client.videos.create_and_poll(prompt="a paper boat", seconds="12", size="1280x720")
    remixed = client.videos.remix(video.id, prompt="the same, at night")
    assert remixed.id != video.id
    assert remixed.remixed_from_video_id == video.id
    assert (remixed.status, remixed.seconds, remixed.size) == ("queued", "12", "1280x720")
    assert client.videos.poll(remixed.id).status == "completed"


def test_validation_errors_name_the_field(client: openai.OpenAI) -> None:
    """A bad value is a 400 whose envelope the SDK reads: type, code and param."""
    with pytest.raises(openai.BadRequestError) as caught:
        client.videos.create(prompt="a boat", seconds="5")  # type: ignore[arg-type]  # on purpose
    assert (caught.value.type, caught.value.code, caught.value.param) == (
        "invalid_request_error",
        "invalid_value",
        "seconds",
    )


def test_image_must_match_the_size(
    client: openai.OpenAI, make_png: Callable[[int, int], bytes]
) -> None:
    """An input_reference of another size than the video is refused, as OpenAI does."""
    with pytest.raises(openai.BadRequestError, match="must match the requested width and height"):
        client.videos.create(
            prompt="a boat", input_reference=("ref.png", make_png(64, 64), "image/png")
        )


def test_wrong_key_is_an_authentication_error() -> None:
    """A key the server does not accept is the SDK's AuthenticationError."""
    app = create_app(api_keys={"sk-right-0000000000"})
    with (
        serve_app(app) as url,
        openai.OpenAI(base_url=f"{url}/v1", api_key="sk-wrong-000000", max_retries=0) as client,
        pytest.raises(openai.AuthenticationError) as caught,
    ):
        client.videos.list()
    assert caught.value.code == "invalid_api_key"


def test_faults_reach_the_sdk_in_openai_shape(served: tuple[openai.OpenAI, object]) -> None:
    """Scripted 429 and 500 faults are OpenAI-shaped errors to the SDK."""
    client, app = served
    app.faults.add(Fault(status=429, headers={"retry-after-ms": "10"}))  # type: ignore[attr-defined]
    with pytest.raises(openai.RateLimitError) as limited:
        client.videos.list()
    assert limited.value.code == "rate_limit_exceeded"
    app.faults.add(Fault(status=500))  # type: ignore[attr-defined]
    with pytest.raises(openai.InternalServerError) as failed:
        client.videos.list()
    assert failed.value.type == "server_error"


def test_sdk_retries_honour_retry_after_ms(make_png: Callable[[int, int], bytes]) -> None:
    """With its default retries, the SDK waits out a 429 and a 503 and succeeds."""
    app = create_app(job_seconds=0.2)
    with (
        serve_app(app) as url,
        openai.OpenAI(base_url=f"{url}/v1", api_key="sk-sdk-test") as client,
    ):
        app.faults.add(Fault(status=429, headers={"retry-after-ms": "10"}, method="GET"))
        app.faults.add(Fault(status=503, headers={"retry-after-ms": "10"}, method="GET"))
        page = client.videos.list()
    assert page.data == []
    assert app.faults.count("GET") == 3
