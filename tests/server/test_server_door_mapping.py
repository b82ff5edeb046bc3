"""The front doors' field mappings, and the instances bare Google model names mean."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx2
import pytest
from door_support import door_server
from hypothesis import given
from hypothesis import strategies as st
from server_support import KEY_A

from reelgate.errors import InvalidRequestError, NotFoundError
from reelgate.model import ContentFilter, Video, VideoError, VideoStatus
from reelgate.server import genai, runway
from reelgate_gemini.emulator import create_app as gemini_emulator

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
IMAGE = {"bytesBase64Encoded": base64.b64encode(PNG).decode(), "mimeType": "image/png"}


def test_google_fields_map_to_a_create() -> None:
    """Every first-class Google field lands on its reelgate field; the rest are extras."""
    body = {
        "instances": [
            {"prompt": "boat", "image": IMAGE, "lastFrame": IMAGE, "video": {"uri": "https://v"}}
        ],
        "parameters": {
            "durationSeconds": 8,
            "aspectRatio": "9:16",
            "resolution": "1080p",
            "negativePrompt": "rain",
            "seed": "42",
            "generateAudio": True,
            "sampleCount": 2,
            "personGeneration": "allow_adult",
        },
        "labels": {"team": "a"},
    }
    create = genai.create_request(body, "sim/sim-1")
    assert (create.model, create.prompt, create.seconds, create.size) == (
        "sim/sim-1",
        "boat",
        "8",
        "1080x1920",
    )
    assert (create.negative_prompt, create.seed, create.audio) == ("rain", 42, True)
    assert create.input_reference is not None
    assert create.input_reference.data == PNG
    assert create.video_uri == "https://v"
    assert create.extra_params == {
        "lastFrame": "data:image/png;base64," + IMAGE["bytesBase64Encoded"],
        "sampleCount": 2,
        "personGeneration": "allow_adult",
        "labels": {"team": "a"},
    }


@pytest.mark.parametrize(
    ("aspect", "resolution", "size"),
    [
        ("16:9", "720p", "1280x720"),
        ("9:16", "720p", "720x1280"),
        ("16:9", "1080p", "1920x1080"),
        ("16:9", "4k", "3840x2160"),
        ("1:1", None, "720x720"),
        (None, "1080p", "1920x1080"),
    ],
)
def test_aspect_ratio_and_resolution_make_a_size(
    aspect: str | None, resolution: str | None, size: str
) -> None:
    """aspectRatio and resolution become WIDTHxHEIGHT (720p, 16:9 when one is missing)."""
    parameters = {k: v for k, v in (("aspectRatio", aspect), ("resolution", resolution)) if v}
    body = {"instances": [{"prompt": "boat"}], "parameters": parameters}
    assert genai.create_request(body, "sim/sim-1").size == size


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"instances": []}, "instances"),
        ({"instances": [{"prompt": "a"}, {"prompt": "b"}]}, "instances"),
        ({"instances": [{}]}, "instances[0].prompt"),
        ({"instances": [{"prompt": "a", "image": {"gcsUri": "gs://b/i.png"}}]}, None),
        ({"instances": [{"prompt": "a"}], "parameters": {"aspectRatio": "wide"}}, None),
        ({"instances": [{"prompt": "a"}], "parameters": {"durationSeconds": "x"}}, None),
        ({"instances": [{"prompt": "a"}], "parameters": []}, "parameters"),
    ],
)
def test_google_bodies_refused(body: dict[str, object], param: str | None) -> None:
    """Bodies reelgate cannot make are a 400 naming the field."""
    with pytest.raises(InvalidRequestError) as caught:
        genai.create_request(body, "sim/sim-1")
    if param is not None:
        assert caught.value.param == param


@given(st.text(min_size=1, max_size=200).map(lambda s: f"{s}:sim"))
def test_file_names_round_trip(video_id: str) -> None:
    """A file name is [a-z0-9] only (as the SDK requires) and gives the video id back."""
    name = genai.file_name(video_id)
    assert name.isascii()
    assert name.isalnum()
    assert name == name.lower()
    assert genai.video_id_of_file(name) == video_id


def test_unknown_file_name() -> None:
    """A name that is no base32 is not found."""
    with pytest.raises(NotFoundError):
        genai.video_id_of_file("1")


def test_runway_fields_map_to_a_create() -> None:
    """Runway's fields land on reelgate's; the last frame and unknown fields are extras."""
    body = {
        "model": "gen4.5",
        "promptText": "boat",
        "promptImage": [
            {"uri": "https://img/first.png", "position": "first"},
            {"uri": "https://img/last.png", "position": "last"},
        ],
        "ratio": "1104:832",
        "duration": 5,
        "seed": 9,
        "contentModeration": {"publicFigureThreshold": "low"},
    }
    create = runway.create_request("image_to_video", body, "runway")
    assert (create.model, create.size, create.seconds, create.seed) == (
        "runway/gen4.5",
        "1104x832",
        "5",
        9,
    )
    assert create.input_reference is not None
    assert create.input_reference.url == "https://img/first.png"
    assert create.extra_params == {
        "lastFrame": "https://img/last.png",
        "contentModeration": {"publicFigureThreshold": "low"},
    }


@pytest.mark.parametrize(
    "image", ["/etc/passwd", "image.png", "file:///etc/passwd", [{"uri": "/etc/hosts"}]]
)
def test_runway_never_reads_a_local_path(image: object) -> None:
    """promptImage must be a URL or a data URI: a path on the server is never read."""
    body = {"model": "sim/sim-1", "promptText": "boat", "promptImage": image}
    with pytest.raises(InvalidRequestError):
        runway.create_request("image_to_video", body, None)


def test_task_views() -> None:
    """Each reelgate state as a Runway task."""
    base = {"id": "x:sim", "created_at": 1_700_000_000}
    running = runway.task_view(Video(status=VideoStatus.IN_PROGRESS, progress=42, **base), None)
    assert (running["status"], running["progress"]) == ("RUNNING", 0.42)
    assert running["createdAt"] == "2023-11-14T22:13:20.000Z"
    queued = runway.task_view(Video(status=VideoStatus.QUEUED, **base), None)
    assert queued["status"] == "PENDING"
    failed = Video(
        status=VideoStatus.FAILED,
        error=VideoError(code="content_filtered", message="no"),
        content_filter=ContentFilter(filtered_count=1),
        **base,
    )
    view = runway.task_view(failed, None)
    assert (view["status"], view["failureCode"], view["failure"]) == (
        "FAILED",
        "content_filtered",
        "no",
    )


@pytest.fixture(name="google_server", scope="module")
def _google_server() -> Iterator[str]:
    with door_server(gemini_emulator(job_seconds=0.5), "gemini", "gemini") as url:
        yield url


@pytest.mark.parametrize(
    "path",
    [
        "/genai/v1beta/models/veo-3.1-generate-preview:predictLongRunning",
        "/genai/v1beta1/publishers/google/models/veo-3.1-generate-preview:predictLongRunning",
    ],
)
def test_bare_google_models_mean_the_gemini_instance(google_server: str, path: str) -> None:
    """A model without an instance (and the publisher google) means the gemini instance."""
    body = {"instances": [{"prompt": "boat"}]}
    with httpx2.Client(base_url=google_server, headers={"x-goog-api-key": KEY_A}) as http:
        answer = http.post(path, json=body)
    assert answer.status_code == 200, answer.text
    name = answer.json()["name"]
    assert name.endswith(":gemini")
    # The id holds escaped slashes (Google's own operation name); it reads back both ways.
    assert "%2F" in name.rsplit("/operations/", 1)[1]
    resource = name.rsplit("/operations/", 1)[0]
    with httpx2.Client(base_url=google_server, headers={"x-goog-api-key": KEY_A}) as http:
        if path.startswith("/genai/v1beta/"):
            again = http.get(f"/genai/v1beta/{name}")
        else:
            fetch = f"/genai/v1beta1/{resource}:fetchPredictOperation"
            again = http.post(fetch, json={"operationName": name})
    assert again.status_code == 200, again.text
    assert again.json()["name"] == name


def test_unknown_google_paths(google_server: str) -> None:
    """Unknown paths under /genai are Google-shaped 404s."""
    with httpx2.Client(base_url=google_server, headers={"x-goog-api-key": KEY_A}) as http:
        answer = http.get("/genai/v1beta/nothing")
    assert answer.status_code == 404
    assert answer.json()["error"]["status"] == "NOT_FOUND"
