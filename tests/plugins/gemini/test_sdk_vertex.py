"""
The official google-genai SDK, in Vertex AI mode, works against the emulator over real HTTP.

These run under whichever google-genai is installed: 2.x in the main test run, 3.x in
``nox -s genai3`` (3.x cannot be installed beside 2.x, and it makes videos on Vertex AI
only, so this is its check of the emulator's wire).
"""

from __future__ import annotations

import base64
import json
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from reelgate.emulation import FILTER, serve
from reelgate_gemini.emulator import GoogleEmulator, create_app

genai = pytest.importorskip("google.genai")
types = pytest.importorskip("google.genai.types")
errors = pytest.importorskip("google.genai.errors")
credentials = pytest.importorskip("google.oauth2.credentials")

MODEL = "veo-3.1-generate-001"
PROJECT = "reelgate-sdk"


def _b64(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def _access_token(url: str) -> str:
    """A token from the emulator's OAuth2 endpoint, as a service account's exchange gets one."""
    now = int(time.time())
    claims = {
        "iss": "sdk@reelgate-sdk.iam.gserviceaccount.com",
        "aud": f"{url}/token",
        "iat": now,
        "exp": now + 600,
    }
    # The emulator checks the assertion's shape and times, not its RS256 signature.
    assertion = ".".join((_b64({"alg": "RS256", "typ": "JWT"}), _b64(claims), "c2ln"))
    form = urllib.parse.urlencode(
        {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion}
    ).encode()
    with urllib.request.urlopen(f"{url}/token", data=form, timeout=10) as answer:  # noqa: S310  # loopback
        return str(json.load(answer)["access_token"])


@pytest.fixture(name="emulator")
def _emulator() -> GoogleEmulator:
    """An emulator whose jobs take a fifth of a second."""
    return create_app(job_seconds=0.2)


@pytest.fixture(name="client")
def _client(emulator: GoogleEmulator) -> Iterator[Any]:
    """An SDK client in Vertex AI mode (project, location, a bearer token), on loopback."""
    with serve(emulator) as url:
        yield genai.Client(
            vertexai=True,
            project=PROJECT,
            location="us-central1",
            credentials=credentials.Credentials(token=_access_token(url)),
            http_options=types.HttpOptions(base_url=f"{url}/"),
        )


def _until_done(client: Any, operation: Any) -> Any:
    for _ in range(200):
        if operation.done:
            return operation
        time.sleep(0.02)
        operation = client.operations.get(operation)
    pytest.fail("the operation never finished")


def test_generate_and_poll_to_an_inline_video(client: Any, emulator: GoogleEmulator) -> None:
    """generate_videos and operations.get complete; the video arrives inline, as on Vertex AI."""
    operation = client.models.generate_videos(
        model=MODEL,
        source=types.GenerateVideosSource(prompt="a paper boat on a pond"),
        config=types.GenerateVideosConfig(
            number_of_videos=1, duration_seconds=8, aspect_ratio="16:9", resolution="720p"
        ),
    )
    assert operation.name.startswith(f"projects/{PROJECT}/locations/us-central1/publishers/")
    operation = _until_done(client, operation)
    assert operation.error is None
    (generated,) = operation.response.generated_videos
    assert generated.video.video_bytes[4:8] == b"ftyp"
    assert generated.video.mime_type == "video/mp4"
    assert emulator.creates[-1].body["parameters"]["durationSeconds"] == 8
    api = [r for r in emulator.faults.seen if r.path != "/token"]
    assert all(r.headers["authorization"].startswith("Bearer ") for r in api)
    assert any(r.path.endswith(":fetchPredictOperation") for r in api)


def test_filtered_operation_reads_as_filtered(client: Any) -> None:
    """The SDK reads the emulator's RAI-filtered Vertex operation as filtered, with no video."""
    operation = client.models.generate_videos(
        model=MODEL, source=types.GenerateVideosSource(prompt=f"a boat {FILTER}")
    )
    operation = _until_done(client, operation)
    assert not operation.response.generated_videos
    assert operation.response.rai_media_filtered_count == 1


def test_an_unknown_token_is_an_sdk_error(emulator: GoogleEmulator) -> None:
    """A token the emulator never issued is a 401 the SDK raises as its ClientError."""
    with serve(emulator) as url:
        client = genai.Client(
            vertexai=True,
            project=PROJECT,
            location="us-central1",
            credentials=credentials.Credentials(token="ya29.not-issued"),
            http_options=types.HttpOptions(base_url=f"{url}/"),
        )
        with pytest.raises(errors.ClientError) as caught:
            client.models.generate_videos(
                model=MODEL, source=types.GenerateVideosSource(prompt="x")
            )
    assert caught.value.code == 401
