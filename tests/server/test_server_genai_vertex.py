"""
/genai in Vertex AI mode, driven by the google-genai SDK over loopback.

These run under whichever google-genai is installed: 2.x in the main test run, 3.x in
``nox -s genai3`` (3.x cannot be installed beside 2.x; it makes videos on Vertex only).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from door_support import door_server
from server_support import KEY_A, KEY_B

from reelgate.server.genai import INLINE_VIDEO_BYTES
from reelgate_runway.emulator import create_app as runway_emulator

genai = pytest.importorskip("google.genai")
from google.genai import errors, types  # noqa: E402  # after the importorskip
from google.oauth2.credentials import Credentials  # noqa: E402

GENAI_MAJOR = int(genai.__version__.split(".")[0])
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


def express(server: str, key: str = KEY_A) -> Any:
    """The SDK in Vertex mode with an API key (no project): paths start at publishers/."""
    http = types.HttpOptions(base_url=f"{server}/genai")
    OPENED.append(genai.Client(vertexai=True, api_key=key, http_options=http))
    return OPENED[-1]


def scoped(server: str, key: str = KEY_A) -> Any:
    """The SDK in Vertex mode with a project, a location and credentials (a bearer token)."""
    http = types.HttpOptions(base_url=f"{server}/genai")
    sdk = genai.Client(
        vertexai=True,
        project="reelgate-test",
        location="us-central1",
        credentials=Credentials(token=key),
        http_options=http,
    )
    OPENED.append(sdk)
    return sdk


def source(prompt: str, **inputs: Any) -> Any:
    """What to make."""
    return types.GenerateVideosSource(prompt=prompt, **inputs)


def finish(sdk: Any, operation: Any, timeout: float = 20.0) -> Any:
    """Poll an operation through the SDK until it is done."""
    deadline = time.monotonic() + timeout
    while not operation.done:
        assert time.monotonic() < deadline, "the operation did not finish"
        time.sleep(0.1)
        operation = sdk.operations.get(operation)
    return operation


def test_express_mode_on_the_simulator(server: str) -> None:
    """publishers/sim/models/sim-1: the video comes back inline."""
    sdk = express(server)
    config = types.GenerateVideosConfig(duration_seconds=4, seed=7, generate_audio=False)
    operation = sdk.models.generate_videos(model="sim/sim-1", source=source("boat"), config=config)
    assert operation.name.startswith("publishers/sim/models/sim-1/operations/")
    operation = finish(sdk, operation)
    [generated] = operation.response.generated_videos
    assert generated.video.video_bytes[4:8] == MP4
    assert generated.video.mime_type == "video/mp4"


def test_project_and_location_on_runway(server: str) -> None:
    """runway/gen4.5 with a project: the publisher is the instance, Runway makes the video."""
    sdk = scoped(server)
    config = types.GenerateVideosConfig(duration_seconds=5, aspect_ratio="9:16")
    operation = sdk.models.generate_videos(
        model="runway/gen4.5", source=source("a paper boat"), config=config
    )
    assert operation.name.startswith(
        "projects/reelgate-test/locations/us-central1/publishers/runway/models/gen4.5/operations/"
    )
    operation = finish(sdk, operation)
    [generated] = operation.response.generated_videos
    assert generated.video.video_bytes[4:8] == MP4
    video_id = operation.name.rsplit("/operations/", 1)[1]
    with httpx2.Client(base_url=server, headers={"x-api-key": KEY_A}) as http:
        job = http.get(f"/v1/videos/{video_id}").json()
    assert (job["id"], job["size"], job["seconds"]) == (video_id, "720x1280", "5")
    assert video_id.endswith(":runway")


def test_large_video_is_a_uri_on_the_server(server: str) -> None:
    """A video larger than the inline cap is a URI on the server that streams it."""
    sdk = express(server)
    size = INLINE_VIDEO_BYTES + 1000
    extra = types.HttpOptions(extra_body={"parameters": {"sim_bytes": size}})
    config = types.GenerateVideosConfig(http_options=extra)
    operation = finish(
        sdk, sdk.models.generate_videos(model="sim/sim-1", source=source("boat"), config=config)
    )
    [generated] = operation.response.generated_videos
    assert generated.video.video_bytes is None
    uri = generated.video.uri
    assert uri.startswith(f"{server}/genai/")
    with httpx2.Client(headers={"x-goog-api-key": KEY_A}) as http:
        response = http.get(uri)
        refused = http.get(uri, headers={"x-goog-api-key": KEY_B})
    assert response.status_code == 200
    assert len(response.content) == size
    assert refused.status_code == 404


def test_failure_and_filter(server: str) -> None:
    """Failures are operation errors; filtered jobs are RAI counts."""
    sdk = express(server)
    failed = types.HttpOptions(extra_body={"parameters": {"sim_outcome": "failed"}})
    operation = finish(
        sdk,
        sdk.models.generate_videos(
            model="sim/sim-1",
            source=source("boat"),
            config=types.GenerateVideosConfig(http_options=failed),
        ),
    )
    assert operation.error["code"] == 13
    filtered = types.HttpOptions(extra_body={"parameters": {"sim_outcome": "content_filtered"}})
    operation = finish(
        sdk,
        sdk.models.generate_videos(
            model="sim/sim-1",
            source=source("boat"),
            config=types.GenerateVideosConfig(http_options=filtered),
        ),
    )
    assert operation.response.rai_media_filtered_count == 1


def test_errors_are_the_sdks_own(server: str) -> None:
    """Google's error envelope, on Vertex paths too."""
    stranger, sdk, other = express(server, key="wrong"), express(server), express(server, KEY_B)
    with pytest.raises(errors.ClientError) as caught:
        stranger.models.generate_videos(model="sim/sim-1", source=source("boat"))
    assert (caught.value.code, caught.value.status) == (401, "UNAUTHENTICATED")
    made = sdk.models.generate_videos(model="sim/sim-1", source=source("boat"))
    with pytest.raises(errors.ClientError) as caught:
        other.operations.get(made)
    assert (caught.value.code, caught.value.status) == (404, "NOT_FOUND")
    with pytest.raises(errors.ClientError) as caught:
        sdk.models.generate_videos(model="sim/sim-1", source=source(" "))
    assert caught.value.code == 400


@pytest.mark.skipif(GENAI_MAJOR < 3, reason="google-genai 2.x still makes videos on the Gemini API")
def test_3x_makes_videos_on_vertex_only(server: str) -> None:
    """google-genai 3.x refuses Gemini-API-mode videos, so Vertex paths are its only way in."""
    sdk = genai.Client(api_key=KEY_A, http_options=types.HttpOptions(base_url=f"{server}/genai"))
    OPENED.append(sdk)
    with pytest.raises(ValueError, match="only supported in"):
        sdk.models.generate_videos(model="sim/sim-1", source=source("boat"))
