"""Creating Runway tasks: endpoint, body, and the checks made before anything is sent."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from runway_support import INSTANCE, KEY

import reelgate
from reelgate.emulation import Fault
from reelgate.gateway import Gateway
from reelgate_runway.emulator import RunwayEmulator

pytestmark = pytest.mark.anyio

# The smallest PNG there is: a 1x1 transparent pixel.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


def request(model: str, prompt: str = "a paper boat", **kwargs: Any) -> reelgate.CreateVideo:
    """A create request for the test instance."""
    return reelgate.CreateVideo(model=f"{INSTANCE}/{model}", prompt=prompt, **kwargs)


@pytest.mark.parametrize(
    ("model", "kwargs", "path"),
    [
        ("gen4.5", {}, "/v1/text_to_video"),
        ("gen4_turbo", {"input_reference": "https://example.com/cat.jpg"}, "/v1/image_to_video"),
        ("gen4.5", {"input_reference": PNG}, "/v1/image_to_video"),
        ("aleph2", {"video_uri": "https://example.com/in.mp4"}, "/v1/video_to_video"),
    ],
)
async def test_endpoint_follows_the_inputs(
    gateway: Gateway, emulator: RunwayEmulator, model: str, kwargs: dict[str, Any], path: str
) -> None:
    """Text goes to text_to_video, an image to image_to_video, a video_uri to video_to_video."""
    video = await gateway.create(request(model, **kwargs))
    assert video.status is reelgate.VideoStatus.QUEUED
    assert [r.path for r in emulator.faults.seen] == [path]
    assert video.provider_metadata["endpoint"] == path.removeprefix("/v1/")


async def test_body_is_mapped_field_by_field(gateway: Gateway, emulator: RunwayEmulator) -> None:
    """prompt, size, seconds, seed and extra_params arrive under Runway's names."""
    video = await gateway.create(
        request(
            "gen4.5",
            size="720x1280",
            seconds=7,
            seed=42,
            extra_params={"content_moderation": {"public_figure_threshold": "low"}},
        )
    )
    assert emulator.received == [
        (
            "text_to_video",
            {
                "model": "gen4.5",
                "promptText": "a paper boat",
                "ratio": "720:1280",
                "duration": 7,
                "seed": 42,
                "contentModeration": {"publicFigureThreshold": "low"},
            },
        )
    ]
    assert (video.model, video.prompt, video.size, video.seconds) == (
        "gen4.5",
        "a paper boat",
        "720x1280",
        "7",
    )


async def test_camel_case_extra_params_pass_unchanged(
    gateway: Gateway, emulator: RunwayEmulator
) -> None:
    """extra_params already in Runway's camelCase are sent as given."""
    await gateway.create(
        request("gen4.5", extra_params={"contentModeration": {"publicFigureThreshold": "auto"}})
    )
    assert emulator.received[0][1]["contentModeration"] == {"publicFigureThreshold": "auto"}


async def test_defaults_fill_what_the_model_requires(
    gateway: Gateway, emulator: RunwayEmulator
) -> None:
    """Without size or seconds, gen4.5 gets its first ratio and 5 s, and says so."""
    video = await gateway.create(request("gen4.5"))
    body = emulator.received[0][1]
    assert (body["ratio"], body["duration"]) == ("1280:720", 5)
    assert (video.size, video.seconds) == ("1280x720", "5")


async def test_image_bytes_become_a_data_uri(gateway: Gateway, emulator: RunwayEmulator) -> None:
    """Image bytes are sent as a base64 data URI in promptImage."""
    await gateway.create(request("gen4_turbo", input_reference=PNG, seconds=10))
    body = emulator.received[0][1]
    assert body["promptImage"] == "data:image/png;base64," + base64.b64encode(PNG).decode()
    assert body["duration"] == 10


async def test_image_path_becomes_a_data_uri(
    gateway: Gateway, emulator: RunwayEmulator, tmp_path: Any
) -> None:
    """An image file's path is read and sent as a data URI."""
    path = tmp_path / "cat.png"
    path.write_bytes(PNG)
    await gateway.create(request("gen4_turbo", input_reference=str(path)))
    assert emulator.received[0][1]["promptImage"].startswith("data:image/png;base64,")


async def test_https_image_url_is_passed_through(
    gateway: Gateway, emulator: RunwayEmulator
) -> None:
    """An https image URL is sent as it is, for Runway to fetch."""
    await gateway.create(request("gen4_turbo", input_reference="https://example.com/cat.jpg"))
    assert emulator.received[0][1]["promptImage"] == "https://example.com/cat.jpg"


@pytest.mark.parametrize(
    ("model", "kwargs", "param"),
    [
        ("gen4.5", {"size": "1104x832"}, "size"),
        ("gen4.5", {"size": "1920x1080"}, "size"),
        ("gen4_turbo", {"input_reference": PNG, "size": "1920x1080"}, "size"),
        ("veo3.1", {"size": "960x960"}, "size"),
        ("gen4.5", {"seconds": 11}, "seconds"),
        ("gen4.5", {"seconds": 1}, "seconds"),
        ("gen4_turbo", {"input_reference": PNG, "seconds": 7}, "seconds"),
        ("veo3.1", {"seconds": 5}, "seconds"),
        ("veo3.1_fast", {"seconds": 10}, "seconds"),
        ("veo3", {"seconds": 4}, "seconds"),
        ("gen4_turbo", {}, "input_reference"),
        ("gen4.5", {"video_uri": "https://example.com/in.mp4"}, "video_uri"),
        ("gen4.5", {"negative_prompt": "blur"}, "negative_prompt"),
        ("gen4_turbo", {"input_reference": PNG, "audio": True}, "audio"),
        ("veo3", {"audio": False}, "audio"),
        ("gen4.5", {"seed": -1}, "seed"),
        ("gen4.5", {"seed": 2**32}, "seed"),
        ("gen4.5", {"input_reference": "http://example.com/cat.jpg"}, "input_reference"),
        ("gen4.5", {"extra_params": {"ratio": "1280:720"}}, "extra_params"),
        ("gen4.5", {"extra_params": {"prompt_text": "x"}}, "extra_params"),
        (
            "aleph2",
            {"video_uri": "https://example.com/in.mp4", "input_reference": PNG},
            "video_uri",
        ),
    ],
)
async def test_invalid_requests_send_nothing(
    gateway: Gateway, emulator: RunwayEmulator, model: str, kwargs: dict[str, Any], param: str
) -> None:
    """A request the model cannot take is refused, naming the field; nothing is sent."""
    with pytest.raises(reelgate.InvalidRequestError) as caught:
        await gateway.create(request(model, **kwargs))
    assert caught.value.param == param
    assert caught.value.upstream is False
    assert emulator.faults.seen == []


async def test_size_error_lists_the_sizes_offered(gateway: Gateway) -> None:
    """The message of a refused size names every size the model offers for the endpoint."""
    with pytest.raises(reelgate.InvalidRequestError, match=r"choose one of 1280x720, 720x1280$"):
        await gateway.create(request("gen4.5", size="960x960"))


async def test_prompt_longer_than_runway_allows_sends_nothing(
    gateway: Gateway, emulator: RunwayEmulator
) -> None:
    """A prompt over 1000 UTF-16 units (emoji count twice) is refused locally."""
    with pytest.raises(reelgate.InvalidRequestError) as caught:
        await gateway.create(request("gen4.5", prompt="🚣" * 501))
    assert caught.value.param == "prompt"
    assert emulator.faults.seen == []


async def test_image_over_five_megabytes_sends_nothing(
    gateway: Gateway, emulator: RunwayEmulator
) -> None:
    """Image bytes whose data URI exceeds Runway's 5 MB are refused before sending."""
    big = PNG + bytes(4 * 1024 * 1024)
    with pytest.raises(reelgate.InvalidRequestError, match="https URL") as caught:
        await gateway.create(request("gen4_turbo", input_reference=big))
    assert caught.value.param == "input_reference"
    assert emulator.faults.seen == []


async def test_veo_takes_negative_prompt_and_audio(
    gateway: Gateway, emulator: RunwayEmulator
) -> None:
    """The Veo models get negativePrompt and audio on the wire."""
    await gateway.create(
        request("veo3.1", negative_prompt="blurry", audio=False, seconds=6, size="1080x1920")
    )
    assert emulator.received[0][1] == {
        "model": "veo3.1",
        "promptText": "a paper boat",
        "ratio": "1080:1920",
        "duration": 6,
        "negativePrompt": "blurry",
        "audio": False,
    }


async def test_veo_image_to_video_with_a_last_frame(
    gateway: Gateway, emulator: RunwayEmulator
) -> None:
    """A first-and-last-frame promptImage array can be given through extra_params."""
    frames = [
        {"uri": "https://example.com/a.jpg", "position": "first"},
        {"uri": "https://example.com/b.jpg", "position": "last"},
    ]
    video = await gateway.create(request("veo3.1_fast", extra_params={"promptImage": frames}))
    assert emulator.received[0] == (
        "image_to_video",
        {
            "model": "veo3.1_fast",
            "promptText": "a paper boat",
            "ratio": "1280:720",
            "promptImage": frames,
        },
    )
    assert video.status is reelgate.VideoStatus.QUEUED


async def test_unknown_models_pass_through_for_runway_to_judge(
    gateway: Gateway, emulator: RunwayEmulator
) -> None:
    """A model outside the table is sent as asked; Runway's validation issues come back readable."""
    with pytest.raises(reelgate.InvalidRequestError) as caught:
        await gateway.create(request("gen9", size="1920x1080", seconds=3))
    assert emulator.received == [
        (
            "text_to_video",
            {"model": "gen9", "promptText": "a paper boat", "ratio": "1920:1080", "duration": 3},
        )
    ]
    error = caught.value
    assert error.upstream is True
    assert (
        error.message
        == "Validation of body failed: model: Invalid input (No matching discriminator)"
    )
    assert error.param == "model"
    assert error.code == "invalid_union"


async def test_create_answers_with_the_estimated_cost(gateway: Gateway) -> None:
    """Runway's estimatedCost is kept in the video's provider metadata."""
    video = await gateway.create(request("gen4.5", seconds=5))
    assert video.provider_metadata["estimatedCost"] == {"credits": 60}
    assert video.created_at is not None


async def test_create_sends_version_and_bearer_key(
    gateway: Gateway, emulator: RunwayEmulator
) -> None:
    """Every request names the API version and carries the key as a bearer token."""
    await gateway.create(request("gen4.5"))
    headers = emulator.faults.seen[0].headers
    assert headers["x-runway-version"] == "2024-11-06"
    assert headers["authorization"] == f"Bearer {KEY}"


async def test_out_of_credits_is_a_readable_invalid_request(
    gateway: Gateway, emulator: RunwayEmulator
) -> None:
    """Runway's plain ``{"error": ...}`` 400 keeps its message and is not retried."""
    message = "You do not have enough credits to run this task."
    emulator.faults.add(Fault(status=400, message=message, method="POST"))
    with pytest.raises(reelgate.InvalidRequestError) as caught:
        await gateway.create(request("gen4.5"))
    assert caught.value.message == message
    assert caught.value.raw_response == {"error": message}
    assert emulator.faults.count("POST") == 1


async def test_create_is_retried_after_a_throttling_429(
    gateway: Gateway, emulator: RunwayEmulator
) -> None:
    """A 429 refusal of a create is retried; a 502 is not (the task may exist)."""
    emulator.faults.add(Fault(status=429, headers={"retry-after-ms": "5"}, method="POST"))
    await gateway.create(request("gen4.5"))
    assert emulator.faults.count("POST") == 2
    emulator.faults.clear()
    emulator.faults.add(Fault(status=502, method="POST"))
    with pytest.raises(reelgate.ProviderError) as caught:
        await gateway.create(request("gen4.5"))
    assert caught.value.ambiguous is True
    assert emulator.faults.count("POST") == 1
