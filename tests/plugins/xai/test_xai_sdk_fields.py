"""
The REST field names the provider and the emulator use are those of xAI's own SDK.

``xai-sdk`` speaks gRPC, not REST, so it cannot be run against the emulator; its protobuf
types (``xai_sdk.proto.v6.video_pb2``) are the API's own schema, and xAI's REST routes carry
the same fields by name. These tests hold the wire to that schema.
"""

from __future__ import annotations

from typing import Any

import pytest

from reelgate import CreateVideo, ImageInput
from reelgate.http import Upstream, make_client
from reelgate_xai import _STATUSES as STATUSES  # the table under test
from reelgate_xai import ASPECT_RATIOS, DEFAULT_MODEL, RESOLUTIONS, XAIProvider
from reelgate_xai.emulator import _Job  # the answers under test

video_pb2 = pytest.importorskip("xai_sdk.proto.v6.video_pb2")
deferred_pb2 = pytest.importorskip("xai_sdk.proto.v6.deferred_pb2")
xai_types = pytest.importorskip("xai_sdk.types.video")
xai_models = pytest.importorskip("xai_sdk.types.model")


def _fields(message: Any) -> set[str]:
    return {field.name for field in message.DESCRIPTOR.fields}


def _provider() -> XAIProvider:
    return XAIProvider(Upstream(client=make_client(), base_url="http://x", instance="xai"))


def test_create_fields_are_the_sdks() -> None:
    """Every top-level field of a create body is a GenerateVideoRequest field."""
    body = _provider().body(
        CreateVideo(
            model="xai/grok-imagine-video",
            prompt="a boat",
            seconds=6,
            size="1280x720",
            input_reference=ImageInput.from_url("https://example.com/a.png"),
            extra_params={"generate_audio": True},
        ),
        DEFAULT_MODEL,
    )
    assert set(body) <= _fields(video_pb2.GenerateVideoRequest)
    assert set(body) == {
        "model",
        "prompt",
        "duration",
        "aspect_ratio",
        "resolution",
        "image",
        "generate_audio",
    }


def test_ratios_resolutions_and_models_are_the_sdks() -> None:
    """The aspect ratios and resolutions are the SDK's literals; the default model is its."""
    assert set(ASPECT_RATIOS) == set(xai_types.VideoAspectRatioMap)
    assert set(RESOLUTIONS) == set(xai_types.VideoResolutionMap)
    assert DEFAULT_MODEL in xai_models.VideoGenerationModel.__args__


def test_statuses_are_the_sdks_deferred_statuses() -> None:
    """pending, done, failed, expired: DeferredStatus's names, lower-cased as REST writes them."""
    names = {name.lower() for name in deferred_pb2.DeferredStatus.keys()}  # noqa: SIM118  # a protobuf enum
    assert set(STATUSES) == names - {"invalid_deferred_status"}


def test_emulator_answers_use_the_sdks_response_fields() -> None:
    """A done answer's fields are VideoResponse's; its video's are GeneratedVideo's."""
    job = _Job("id", DEFAULT_MODEL, 6, created=0.0, seconds=1.0, outcome=None, expire_seconds=60)
    done = job.answer(2.0, "http://vidgen.test")
    assert set(done) - {"status"} <= _fields(video_pb2.VideoResponse)
    assert set(done["video"]) <= _fields(video_pb2.GeneratedVideo)
    failed = _Job(
        "id", DEFAULT_MODEL, 6, created=0.0, seconds=1.0, outcome="fail", expire_seconds=60
    )
    answer = failed.answer(2.0, "")
    assert set(answer["error"]) == _fields(video_pb2.VideoError)


def test_the_edit_body_uses_the_sdks_video_field() -> None:
    """An edit sends the source as ``video: {"url"}``, GenerateVideoRequest.video's shape."""
    assert "video" in _fields(video_pb2.GenerateVideoRequest)
    assert "url" in _fields(video_pb2.VideoUrlContent)
