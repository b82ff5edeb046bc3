"""How a CreateVideo becomes a Gemini API request, as the emulator receives it."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import pytest
from gemini_support import KEY, Connect

from reelgate import AuthenticationError, CreateVideo, InvalidRequestError, Variant, media
from reelgate_gemini.emulator import GoogleEmulator, create_app

pytestmark = pytest.mark.anyio

MODEL = "g/veo-3.1-generate-preview"
JPEG = media.sample(Variant.SPRITESHEET)
WEBP = media.sample(Variant.THUMBNAIL)


class ImageHost:
    """An ASGI app in front of the emulator that also serves ``https://images.test``."""

    def __init__(self, app: GoogleEmulator, images: Mapping[str, tuple[bytes, str, bool]]) -> None:
        self.app = app
        self.images = images
        self.seen: list[dict[str, str]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
        if scope["type"] != "http" or headers.get("host") != "images.test":
            await self.app(scope, receive, send)
            return
        self.seen.append(headers)
        body, content_type, announce = self.images.get(
            scope["path"], (b"no such image", "text/plain", True)
        )
        status = 200 if scope["path"] in self.images else 404
        start = [(b"content-type", content_type.encode())]
        if announce:
            start.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": start})
        for i in range(0, len(body), 500):
            await send({"type": "http.response.body", "body": body[i : i + 500], "more_body": True})
        await send({"type": "http.response.body", "body": b""})


def _sent(emulator: GoogleEmulator) -> Mapping[str, Any]:
    assert emulator.creates, "the emulator received no create"
    return emulator.creates[-1].body


async def test_prompt_alone_is_one_instance(connect: Connect, emulator: GoogleEmulator) -> None:
    """A prompt alone becomes one instance and no parameters, keyed with x-goog-api-key."""
    gateway = await connect(emulator)
    await gateway.create(CreateVideo(model=MODEL, prompt="a paper boat"))
    record = emulator.creates[-1]
    assert record.path == "/v1beta/models/veo-3.1-generate-preview:predictLongRunning"
    assert record.body == {"instances": [{"prompt": "a paper boat"}]}
    assert emulator.faults.seen[-1].headers["x-goog-api-key"] == KEY
    assert "key=" not in emulator.faults.seen[-1].query


async def test_fields_and_extras_become_parameters(
    connect: Connect, emulator: GoogleEmulator
) -> None:
    """seconds, size, negative_prompt and extras (snake_case or camelCase) land in parameters."""
    gateway = await connect(emulator)
    video = await gateway.create(
        CreateVideo(
            model=MODEL,
            prompt="a paper boat",
            seconds="8",
            size="1920x1080",
            negative_prompt="blurry",
            extra_params={
                "person_generation": "allow_all",
                "sampleCount": 2,
                "enhancePrompt": True,
            },
        )
    )
    assert _sent(emulator)["parameters"] == {
        "durationSeconds": 8,
        "aspectRatio": "16:9",
        "resolution": "1080p",
        "negativePrompt": "blurry",
        "personGeneration": "allow_all",
        "sampleCount": 2,
        "enhancePrompt": True,
    }
    assert (video.seconds, video.size) == ("8", "1920x1080")


@pytest.mark.parametrize(
    ("size", "aspect", "resolution"),
    [
        ("1280x720", "16:9", "720p"),
        ("720x1280", "9:16", "720p"),
        ("1920x1080", "16:9", "1080p"),
        ("1080x1920", "9:16", "1080p"),
        ("3840x2160", "16:9", "4k"),
    ],
)
async def test_each_size_maps_to_aspect_and_resolution(
    connect: Connect, emulator: GoogleEmulator, size: str, aspect: str, resolution: str
) -> None:
    """Each of Veo's five sizes maps to its aspect ratio and resolution."""
    gateway = await connect(emulator)
    await gateway.create(CreateVideo(model=MODEL, prompt="a paper boat", size=size))
    assert _sent(emulator)["parameters"] == {"aspectRatio": aspect, "resolution": resolution}


@pytest.mark.parametrize(
    ("request_fields", "param"),
    [
        ({"size": "1024x1792"}, "size"),
        ({"size": "1280x721"}, "size"),
        ({"seconds": "5"}, "seconds"),
        ({"seconds": "10"}, "seconds"),
        ({"seed": 7}, "seed"),
        ({"audio": True}, "audio"),
        ({"extra_params": {"fps": 24}}, "extra_params.fps"),
        ({"extra_params": {"storageUri": "gs://b/o"}}, "extra_params.storageUri"),
        ({"seconds": "8", "extra_params": {"durationSeconds": 6}}, "extra_params.durationSeconds"),
        ({"size": "1280x720", "extra_params": {"resolution": "1080p"}}, "extra_params.resolution"),
        ({"extra_params": {"lastFrame": "/etc/hostname"}}, "extra_params.lastFrame"),
        ({"input_reference": "http://images.test/cat.jpg"}, "input_reference"),
        ({"input_reference": "https://[bad/cat.jpg"}, "input_reference"),
        ({"input_reference": "https:///cat.jpg"}, "input_reference"),
        ({"input_reference": "https://images.test/c\x00t.jpg"}, "input_reference"),
        ({"input_reference": "https://images.test:99999/cat.jpg"}, "input_reference"),
    ],
)
async def test_requests_the_api_cannot_serve_send_nothing(
    connect: Connect, emulator: GoogleEmulator, request_fields: dict[str, Any], param: str
) -> None:
    """What the Gemini API cannot do (size, seconds, seed, audio, extras) is refused unsent."""
    gateway = await connect(emulator)
    with pytest.raises(InvalidRequestError) as caught:
        await gateway.create(CreateVideo(model=MODEL, prompt="a paper boat", **request_fields))
    assert caught.value.param == param
    assert caught.value.status_code == 400
    assert emulator.faults.seen == []


async def test_unknown_extra_names_what_is_accepted(
    connect: Connect, emulator: GoogleEmulator
) -> None:
    """Refusing an unknown extra parameter lists the ones the API takes."""
    gateway = await connect(emulator)
    with pytest.raises(InvalidRequestError, match="personGeneration") as caught:
        await gateway.create(CreateVideo(model=MODEL, prompt="x", extra_params={"colour": "red"}))
    assert "colour" in caught.value.message


async def test_agreeing_size_and_extras_are_fine(
    connect: Connect, emulator: GoogleEmulator
) -> None:
    """An extra that repeats what a field already says is not a conflict."""
    gateway = await connect(emulator)
    await gateway.create(
        CreateVideo(model=MODEL, prompt="x", size="720x1280", extra_params={"aspectRatio": "9:16"})
    )
    assert _sent(emulator)["parameters"] == {"aspectRatio": "9:16", "resolution": "720p"}


async def test_veo_2_durations_differ(connect: Connect, emulator: GoogleEmulator) -> None:
    """Veo 2 makes 5 to 8 seconds, so 5 is sent for it while Veo 3 refuses it."""
    gateway = await connect(emulator)
    await gateway.create(CreateVideo(model="g/veo-2.0-generate-001", prompt="x", seconds=5))
    assert _sent(emulator)["parameters"] == {"durationSeconds": 5}


async def test_image_bytes_are_inlined(connect: Connect, emulator: GoogleEmulator) -> None:
    """Image bytes go inline as base64 with their media type."""
    gateway = await connect(emulator)
    await gateway.create(CreateVideo(model=MODEL, prompt="x", input_reference=JPEG))
    image = _sent(emulator)["instances"][0]["image"]
    assert image == {
        "bytesBase64Encoded": base64.b64encode(JPEG).decode(),
        "mimeType": "image/jpeg",
    }


async def test_image_url_is_fetched_without_the_key(
    connect: Connect, emulator: GoogleEmulator
) -> None:
    """An https image is fetched by reelgate, without the API key, and inlined."""
    host = ImageHost(emulator, {"/cat.webp": (WEBP, "image/webp", False)})
    gateway = await connect(host)
    await gateway.create(
        CreateVideo(model=MODEL, prompt="x", input_reference="https://images.test/cat.webp")
    )
    image = _sent(emulator)["instances"][0]["image"]
    assert base64.b64decode(image["bytesBase64Encoded"]) == WEBP
    assert image["mimeType"] == "image/webp"
    assert len(host.seen) == 1
    assert KEY not in " ".join(host.seen[0].values())


@pytest.mark.parametrize(
    ("path", "served", "match"),
    [
        ("/page", (b"<html></html>", "text/html", True), "could not fetch"),
        ("/big.jpg", (JPEG, "image/jpeg", True), "could not fetch"),
        ("/big-unannounced.jpg", (JPEG, "image/jpeg", False), "could not fetch"),
        ("/lies.png", (b"not really a png at all", "image/png", True), "could not fetch"),
        ("/missing.png", None, "could not fetch"),
    ],
)
async def test_bad_image_urls_are_refused(
    connect: Connect,
    emulator: GoogleEmulator,
    path: str,
    served: tuple[bytes, str, bool] | None,
    match: str,
) -> None:
    """A URL serving no image, too large an image or nothing is refused; no job is made."""
    host = ImageHost(emulator, {path: served} if served else {})
    gateway = await connect(host, settings={"max_image_bytes": 1000})
    with pytest.raises(InvalidRequestError, match=match) as caught:
        await gateway.create(
            CreateVideo(model=MODEL, prompt="x", input_reference=f"https://images.test{path}")
        )
    assert caught.value.param == "input_reference"
    assert emulator.creates == []


async def test_last_frame_and_references(connect: Connect, emulator: GoogleEmulator) -> None:
    """lastFrame and referenceImages take bytes, data URLs and https URLs, sent inline."""
    host = ImageHost(emulator, {"/ref.jpg": (JPEG, "image/jpeg", True)})
    gateway = await connect(host)
    data_url = "data:image/webp;base64," + base64.b64encode(WEBP).decode()
    await gateway.create(
        CreateVideo(
            model=MODEL,
            prompt="x",
            extra_params={
                "lastFrame": data_url,
                "reference_images": [
                    JPEG,
                    {"image": "https://images.test/ref.jpg", "referenceType": "asset"},
                ],
            },
        )
    )
    instance = _sent(emulator)["instances"][0]
    jpeg = {"bytesBase64Encoded": base64.b64encode(JPEG).decode(), "mimeType": "image/jpeg"}
    assert instance["lastFrame"] == {
        "bytesBase64Encoded": base64.b64encode(WEBP).decode(),
        "mimeType": "image/webp",
    }
    assert instance["referenceImages"] == [
        {"image": jpeg, "referenceType": "asset"},
        {"image": jpeg, "referenceType": "asset"},
    ]


async def test_video_extension_names_the_video_by_uri(
    connect: Connect, emulator: GoogleEmulator
) -> None:
    """video_uri becomes instances[0].video.uri on the Gemini API."""
    gateway = await connect(emulator)
    uri = "https://generativelanguage.googleapis.com/v1beta/files/abc123"
    await gateway.create(CreateVideo(model=MODEL, prompt="x", video_uri=uri))
    assert _sent(emulator)["instances"][0]["video"] == {"uri": uri}


async def test_rejected_key_is_an_authentication_error(connect: Connect) -> None:
    """Google's 400 API_KEY_INVALID is reported as an AuthenticationError (401)."""
    gateway = await connect(create_app(api_keys={"some-other-key"}))
    with pytest.raises(AuthenticationError) as caught:
        await gateway.create(CreateVideo(model=MODEL, prompt="x"))
    assert caught.value.status_code == 401
    assert caught.value.code == "API_KEY_INVALID"
    assert caught.value.upstream is True


async def test_upstream_validation_error_keeps_google_message(
    connect: Connect, emulator: GoogleEmulator
) -> None:
    """A body Google refuses is an InvalidRequestError with Google's message and status."""
    gateway = await connect(emulator)
    with pytest.raises(InvalidRequestError, match="personGeneration") as caught:
        await gateway.create(
            CreateVideo(model=MODEL, prompt="x", extra_params={"personGeneration": "everyone"})
        )
    assert caught.value.code == "INVALID_ARGUMENT"
    assert caught.value.upstream is True


async def test_bad_model_name_sends_nothing(connect: Connect, emulator: GoogleEmulator) -> None:
    """A model name that cannot be a URL segment is refused before sending."""
    gateway = await connect(emulator)
    with pytest.raises(InvalidRequestError) as caught:
        await gateway.create(CreateVideo(model="g/../files/x", prompt="x"))
    assert caught.value.param == "model"
    assert emulator.faults.seen == []


async def test_base_url_may_include_the_version(connect: Connect, emulator: GoogleEmulator) -> None:
    """A base URL that already ends with the API version does not get it twice."""
    gateway = await connect(emulator, settings={"base_url": "http://emulator.test/v1beta/"})
    await gateway.create(CreateVideo(model=MODEL, prompt="x"))
    assert emulator.creates[-1].path == "/v1beta/models/veo-3.1-generate-preview:predictLongRunning"
