"""
The official google-genai SDK (2.34.0) works against the emulator over real HTTP.

Gemini API mode: google-genai 3.x makes videos on Vertex AI only, so these are skipped
under it (``nox -s genai3``); test_sdk_vertex.py runs under both.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from reelgate import Variant, media
from reelgate.emulation import FILTER, serve
from reelgate_gemini.emulator import GoogleEmulator, create_app

genai = pytest.importorskip("google.genai")
types = pytest.importorskip("google.genai.types")
errors = pytest.importorskip("google.genai.errors")

pytestmark = pytest.mark.skipif(
    int(genai.__version__.split(".")[0]) >= 3,
    reason="google-genai 3.x makes videos on Vertex AI only (test_sdk_vertex.py)",
)

KEY = "AIza-reelgate-sdk-key"


@pytest.fixture(name="emulator")
def _emulator() -> GoogleEmulator:
    """An emulator whose jobs take a fifth of a second."""
    return create_app(job_seconds=0.2)


@pytest.fixture(name="client")
def _client(emulator: GoogleEmulator) -> Iterator[Any]:
    """An SDK client in Gemini API mode, pointed at the emulator on loopback."""
    with serve(emulator) as url:
        yield genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=f"{url}/"))


def _until_done(client: Any, operation: Any) -> Any:
    for _ in range(200):
        if operation.done:
            return operation
        time.sleep(0.02)
        operation = client.operations.get(operation)
    pytest.fail("the operation never finished")


def test_generate_poll_and_download(client: Any, emulator: GoogleEmulator) -> None:
    """generate_videos, operations.get and files.download complete, every config field sent."""
    jpeg = media.sample(Variant.SPRITESHEET)
    operation = client.models.generate_videos(
        model="veo-3.1-generate-preview",
        source=types.GenerateVideosSource(
            prompt="a paper boat on a pond",
            image=types.Image(image_bytes=jpeg, mime_type="image/jpeg"),
        ),
        config=types.GenerateVideosConfig(
            number_of_videos=1,
            duration_seconds=8,
            aspect_ratio="16:9",
            resolution="720p",
            person_generation="allow_adult",
            negative_prompt="blurry",
            enhance_prompt=True,
            last_frame=types.Image(image_bytes=jpeg, mime_type="image/jpeg"),
        ),
    )
    assert operation.name.startswith("models/veo-3.1-generate-preview/operations/")
    assert not operation.done
    operation = _until_done(client, operation)
    assert operation.error is None
    generated = operation.response.generated_videos
    assert len(generated) == 1
    data = client.files.download(file=generated[0].video)
    assert data[4:8] == b"ftyp"
    sent = emulator.creates[-1].body
    assert sent["parameters"]["durationSeconds"] == 8
    assert sent["instances"][0]["lastFrame"]["mimeType"] == "image/jpeg"
    assert emulator.faults.seen[0].headers["x-goog-api-key"] == KEY


def test_filtered_operation_reads_as_filtered(client: Any) -> None:
    """The SDK reads the emulator's RAI-filtered operation as filtered, with no video."""
    operation = client.models.generate_videos(
        model="veo-3.1-generate-preview",
        source=types.GenerateVideosSource(prompt=f"a boat {FILTER}"),
    )
    operation = _until_done(client, operation)
    assert operation.response.generated_videos is None
    assert operation.response.rai_media_filtered_count == 1
    assert operation.response.rai_media_filtered_reasons


def test_errors_read_as_sdk_errors() -> None:
    """The SDK raises its ClientError from the emulator's Google-shaped error bodies."""
    strict = create_app(api_keys={"only-this-key"})
    with serve(strict) as url:
        client = genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=f"{url}/"))
        with pytest.raises(errors.ClientError) as caught:
            client.models.generate_videos(
                model="veo-3.1-generate-preview", source=types.GenerateVideosSource(prompt="x")
            )
    assert caught.value.code == 400
    assert caught.value.status == "INVALID_ARGUMENT"
    assert "API key not valid" in caught.value.message
