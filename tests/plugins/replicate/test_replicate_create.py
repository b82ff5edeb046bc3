"""Creates: the model table checks a request before it is sent, and names each model's fields."""

from __future__ import annotations

from typing import Any

import pytest
from replicate_support import INSTANCE, call

import reelgate
from reelgate.errors import InvalidRequestError
from reelgate.gateway import Gateway
from reelgate_replicate import build_input
from reelgate_replicate.emulator import ReplicateEmulator

pytestmark = pytest.mark.anyio

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
VERSION = "5c7d5dc6dd8bf75c1acaa8565735e7986bc5b66206b55cca93cb72c9bf15ccaa"


def _request(model: str, **kwargs: Any) -> reelgate.CreateVideo:
    return reelgate.CreateVideo(model=f"{INSTANCE}/{model}", prompt="a paper boat", **kwargs)


def _build(model: str, **kwargs: Any) -> tuple[str, dict[str, Any]]:
    return build_input(_request(model, **kwargs), model, call("create", model))


async def test_official_model_posts_its_fields(
    gateway: Gateway, emulator: ReplicateEmulator
) -> None:
    """veo-3 gets duration, aspect_ratio, resolution, its image field and audio, on its path."""
    video = await gateway.create(
        _request(
            "google/veo-3",
            seconds=8,
            size="1920x1080",
            input_reference=reelgate.ImageInput.from_url("https://example.com/a.png"),
            negative_prompt="rain",
            seed=7,
            audio=False,
        )
    )
    assert video.status is reelgate.VideoStatus.QUEUED
    assert emulator.faults.seen[-1].path == "/v1/models/google/veo-3/predictions"
    assert emulator.received[-1] == (
        "google/veo-3",
        {
            "input": {
                "prompt": "a paper boat",
                "duration": 8,
                "aspect_ratio": "16:9",
                "resolution": "1080p",
                "image": "https://example.com/a.png",
                "negative_prompt": "rain",
                "seed": 7,
                "generate_audio": False,
            }
        },
    )


async def test_a_version_is_created_on_predictions(
    gateway: Gateway, emulator: ReplicateEmulator
) -> None:
    """owner/name:version posts to /v1/predictions with the version id."""
    await gateway.create(_request(f"someone/wan-lora:{VERSION}", extra_params={"num_frames": 81}))
    assert emulator.faults.seen[-1].path == "/v1/predictions"
    model, body = emulator.received[-1]
    assert body == {"version": VERSION, "input": {"prompt": "a paper boat", "num_frames": 81}}
    assert model == "emulator/community-model"


@pytest.mark.parametrize(
    ("model", "field"),
    [
        ("kwaivgi/kling-v2.1", "start_image"),
        ("minimax/hailuo-02", "first_frame_image"),
        ("bytedance/seedance-1-pro", "image"),
        ("luma/ray-2-720p", "start_image"),
    ],
)
def test_each_family_names_its_image_field(model: str, field: str) -> None:
    """The image goes in the field the model's schema names, as a data URI for bytes."""
    _, body = _build(model, input_reference=PNG)
    assert body["input"][field].startswith("data:image/png;base64,")


@pytest.mark.parametrize(
    ("model", "kwargs", "param", "says"),
    [
        ("kwaivgi/kling-v2.1", {"seconds": 7, "input_reference": PNG}, "seconds", "5, 10"),
        ("kwaivgi/kling-v2.1", {}, "input_reference", "image-to-video"),
        ("google/veo-3", {"size": "1000x1000"}, "size", "16:9, 9:16"),
        ("google/veo-3", {"size": "640x360"}, "size", "720p, 1080p"),
        ("minimax/hailuo-02", {"seconds": 10, "size": "1920x1080"}, "seconds", "768p"),
        ("kwaivgi/kling-v2.1", {"size": "1280x720", "input_reference": PNG}, "size", "no size"),
        ("wan-video/wan-2.2-t2v-fast", {"input_reference": PNG}, "input_reference", "no image"),
        ("luma/ray-2-720p", {"seed": 3}, "seed", "no seed"),
        ("someone/model", {"size": "1280x720"}, "size", "extra_params"),
        ("google/veo-3", {"extra_params": {"prompt": "x"}}, "extra_params", "prompt"),
        ("google/veo-3:abc", {}, "model", "64-character"),
    ],
)
def test_bad_requests_are_refused_before_sending(
    model: str, kwargs: dict[str, Any], param: str, says: str
) -> None:
    """The table refuses what the model cannot do, naming the parameter and the allowed values."""
    with pytest.raises(InvalidRequestError) as caught:
        _build(model, **kwargs)
    assert caught.value.param == param
    assert says in caught.value.message


async def test_refused_request_sends_nothing(gateway: Gateway, emulator: ReplicateEmulator) -> None:
    """A refused create never reaches Replicate."""
    with pytest.raises(InvalidRequestError):
        await gateway.create(_request("kwaivgi/kling-v2.1", seconds=7, input_reference=PNG))
    assert emulator.faults.seen == []


def test_unknown_models_pass_extra_params_unchecked() -> None:
    """A model outside the table gets prompt, duration and extra_params as given."""
    path, body = _build("someone/new-video", seconds=12, extra_params={"start_frame": "u"})
    assert path == "/models/someone/new-video/predictions"
    assert body == {"input": {"prompt": "a paper boat", "duration": 12, "start_frame": "u"}}


async def test_validation_errors_name_the_field(gateway: Gateway) -> None:
    """A 422 from Replicate is an InvalidRequestError whose param is the invalid input field."""
    with pytest.raises(InvalidRequestError) as caught:
        await gateway.create(_request("google/veo-3", extra_params={"duration": 7}))
    assert caught.value.status_code == 400
    assert caught.value.upstream is True
    assert caught.value.param == "duration"
    assert "duration must be one of the following: 4, 6, 8" in caught.value.message
