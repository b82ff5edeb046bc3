"""
/genai in Gemini API mode, driven by the google-genai SDK (2.x) over loopback.

The SDK makes videos in Gemini API mode only in 2.x (3.x makes them on Vertex only: see
test_server_genai_vertex.py), so this module needs google-genai 2.x.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from door_support import door_server
from server_support import KEY_A, KEY_B

from reelgate_runway.emulator import create_app as runway_emulator

genai = pytest.importorskip("google.genai")
from google.genai import errors, types  # noqa: E402  # after the importorskip

pytestmark = pytest.mark.skipif(
    int(genai.__version__.split(".")[0]) >= 3,
    reason="google-genai 3.x makes videos on Vertex AI only",
)

MP4 = b"ftyp"


#: The SDK clients a test opened, closed after it (they hold pooled connections).
OPENED: list[Any] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while OPENED:
        OPENED.pop().close()


@pytest.fixture(name="server", scope="module")
def _server() -> Iterator[str]:
    with door_server(runway_emulator(job_seconds=1.0), "runway", "runway") as url:
        yield url


def client(server: str, key: str = KEY_A, **options: Any) -> Any:
    """The SDK in Gemini API mode, pointed at the door."""
    http = types.HttpOptions(base_url=f"{server}/genai", **options)
    OPENED.append(genai.Client(api_key=key, http_options=http))
    return OPENED[-1]


def source(prompt: str, **inputs: Any) -> Any:
    """What to make (the SDK's preferred argument)."""
    return types.GenerateVideosSource(prompt=prompt, **inputs)


def finish(sdk: Any, operation: Any, timeout: float = 20.0) -> Any:
    """Poll an operation through the SDK until it is done."""
    deadline = time.monotonic() + timeout
    while not operation.done:
        assert time.monotonic() < deadline, "the operation did not finish"
        time.sleep(0.1)
        operation = sdk.operations.get(operation)
    return operation


def video_id(operation: Any) -> str:
    """The reelgate id an operation name ends with."""
    return str(operation.name.rsplit("/operations/", 1)[1])


def test_text_to_video_on_the_simulator(server: str) -> None:
    """generate_videos, operations.get and files.download make a video on sim."""
    sdk = client(server)
    config = types.GenerateVideosConfig(
        duration_seconds=4, aspect_ratio="9:16", negative_prompt="rain", number_of_videos=1
    )
    operation = sdk.models.generate_videos(
        model="sim/sim-1", source=source("a paper boat"), config=config
    )
    assert operation.name.startswith("models/sim/sim-1/operations/")
    operation = finish(sdk, operation)
    assert operation.error is None
    [generated] = operation.response.generated_videos
    assert generated.video.uri.startswith("https://")
    data = sdk.files.download(file=generated.video)
    assert data[4:8] == MP4
    # The same job through /v1/videos: the operation's id is the video id.
    with httpx2.Client(base_url=server, headers={"authorization": f"Bearer {KEY_A}"}) as http:
        job = http.get(f"/v1/videos/{video_id(operation)}").json()
    assert (job["status"], job["size"], job["seconds"]) == ("completed", "720x1280", "4")


def test_image_to_video_on_runway(server: str) -> None:
    """An image-to-video request reaches Runway's emulator, and the video comes back."""
    sdk = client(server)
    png = _png()
    image = types.Image(image_bytes=png, mime_type="image/png")
    config = types.GenerateVideosConfig(duration_seconds=5, aspect_ratio="16:9", resolution="720p")
    operation = sdk.models.generate_videos(
        model="runway/gen4.5", source=source("a paper boat", image=image), config=config
    )
    operation = finish(sdk, operation)
    [generated] = operation.response.generated_videos
    assert sdk.files.download(file=generated.video)[4:8] == MP4
    assert video_id(operation).endswith(":runway")


def test_failure_is_an_operation_error(server: str) -> None:
    """A failed job is a done operation with Google's error {code, message}."""
    sdk = client(server)
    extra = types.HttpOptions(extra_body={"parameters": {"sim_outcome": "failed"}})
    config = types.GenerateVideosConfig(http_options=extra)
    operation = finish(
        sdk, sdk.models.generate_videos(model="sim/sim-1", source=source("boat"), config=config)
    )
    assert operation.error["code"] == 13
    assert "failed" in operation.error["message"]
    assert operation.error["details"][0]["reason"] == "sim_failed"


def test_content_filter_is_a_filtered_count(server: str) -> None:
    """A filtered job is done with raiMediaFilteredCount and its reasons, no error."""
    sdk = client(server)
    extra = types.HttpOptions(extra_body={"parameters": {"sim_outcome": "content_filtered"}})
    config = types.GenerateVideosConfig(http_options=extra)
    operation = finish(
        sdk, sdk.models.generate_videos(model="sim/sim-1", source=source("boat"), config=config)
    )
    assert operation.error is None
    assert operation.response.rai_media_filtered_count == 1
    assert operation.response.rai_media_filtered_reasons
    assert not operation.response.generated_videos


def test_errors_are_the_sdks_own(server: str) -> None:
    """Google's error envelope: the SDK raises ClientError with Google's status names."""
    stranger, sdk = client(server, key="wrong"), client(server)
    with pytest.raises(errors.ClientError) as caught:
        stranger.models.generate_videos(model="sim/sim-1", source=source("boat"))
    assert (caught.value.code, caught.value.status) == (401, "UNAUTHENTICATED")
    with pytest.raises(errors.ClientError) as caught:
        sdk.models.generate_videos(model="nowhere/x", source=source("boat"))
    assert (caught.value.code, caught.value.status) == (400, "INVALID_ARGUMENT")
    missing = types.GenerateVideosOperation(name="models/sim/sim-1/operations/nope:sim")
    with pytest.raises(errors.ClientError) as caught:
        sdk.operations.get(missing)
    assert (caught.value.code, caught.value.status) == (404, "NOT_FOUND")


def test_operations_belong_to_their_key(server: str) -> None:
    """Another key's operation and file are not found, as on /v1/videos."""
    sdk = client(server)
    operation = finish(sdk, sdk.models.generate_videos(model="sim/sim-1", source=source("boat")))
    other = client(server, key=KEY_B)
    with pytest.raises(errors.ClientError) as caught:
        other.operations.get(operation)
    assert caught.value.code == 404
    with pytest.raises(errors.ClientError) as caught:
        other.files.download(file=operation.response.generated_videos[0].video)
    assert caught.value.code == 404


def test_idempotency_key(server: str) -> None:
    """Two creates with one Idempotency-Key make one job."""
    sdk = client(server, headers={"Idempotency-Key": "genai-door-once"})
    first = sdk.models.generate_videos(model="sim/sim-1", source=source("boat"))
    second = sdk.models.generate_videos(model="sim/sim-1", source=source("boat"))
    assert first.name == second.name


def test_v1_videos_job_reads_as_an_operation(server: str) -> None:
    """A job made at /v1/videos is read through operations.get by its id."""
    with httpx2.Client(base_url=server, headers={"authorization": f"Bearer {KEY_A}"}) as http:
        made = http.post("/v1/videos", json={"model": "sim/sim-1", "prompt": "boat"}).json()
    sdk = client(server)
    operation = types.GenerateVideosOperation(name=f"models/sim/sim-1/operations/{made['id']}")
    operation = finish(sdk, operation)
    assert sdk.files.download(file=operation.response.generated_videos[0].video)[4:8] == MP4


def _png() -> bytes:
    import base64  # noqa: PLC0415

    return base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    )
