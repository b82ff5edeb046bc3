"""The value types: validation when built, image inputs, list queries, variants."""

from __future__ import annotations

import base64
from pathlib import Path

import attrs
import pytest

from reelgate import (
    CreateVideo,
    ImageInput,
    InvalidRequestError,
    ListQuery,
    Variant,
    Video,
    VideoError,
    VideoFailedError,
    VideoPage,
    VideoStatus,
    media,
)
from reelgate.model import MAX_IMAGE_BYTES, check_model

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG = media.sample(Variant.SPRITESHEET)
WEBP = media.sample(Variant.THUMBNAIL)
GIF = b"GIF89a" + b"\x00" * 16


def _request(**kwargs: object) -> CreateVideo:
    fields: dict[str, object] = {"model": "sim/sim-1", "prompt": "a paper boat", **kwargs}
    return CreateVideo(**fields)  # type: ignore[arg-type]


def _refused(param: str, **kwargs: object) -> InvalidRequestError:
    with pytest.raises(InvalidRequestError) as e:
        _request(**kwargs)
    assert e.value.param == param
    assert e.value.status_code == 400
    return e.value


# -- CreateVideo ----------------------------------------------------------------------


def test_a_minimal_request() -> None:
    """A model and a prompt make a request; the model splits into instance and model."""
    request = _request()
    assert request.provider == "sim"
    assert request.native_model == "sim-1"
    assert request.seconds is None
    assert request.fallbacks == ()
    assert request.extra_params == {}


@pytest.mark.parametrize("prompt", ["", "   ", "\n\t", None, 5])
def test_empty_prompt_is_refused(prompt: object) -> None:
    """An empty, blank or missing prompt is an InvalidRequestError on prompt."""
    error = _refused("prompt", prompt=prompt)
    assert error.message == "prompt cannot be empty"


@pytest.mark.parametrize("model", ["sim-1", "sim/", "/sim-1", ""])
def test_model_needs_a_provider_prefix(model: str) -> None:
    """A model without its provider/ part is refused with an example of the format."""
    error = _refused("model", model=model)
    assert "provider/model" in error.message


def test_model_keeps_slashes_after_the_provider() -> None:
    """Only the first slash separates the instance; the model may hold more."""
    request = _request(model="gemini/models/veo-3")
    assert (request.provider, request.native_model) == ("gemini", "models/veo-3")
    assert check_model("a/b/c") == ("a", "b/c")


@pytest.mark.parametrize(
    ("given", "stored"), [(8, "8"), ("8", "8"), (" 12 ", "12"), (None, None), (1000, "1000")]
)
def test_seconds_accepts_whole_numbers(given: object, stored: str | None) -> None:
    """Seconds are stored as the wire's string; an int is accepted."""
    assert _request(seconds=given).seconds == stored


@pytest.mark.parametrize("seconds", [0, -4, "0", "08", "4.5", 4.5, "four", True, "", "12345"])
def test_bad_seconds_are_refused(seconds: object) -> None:
    """Zero, negatives, fractions, words and booleans are not durations."""
    _refused("seconds", seconds=seconds)


@pytest.mark.parametrize(
    ("given", "stored"), [("1280x720", "1280x720"), (" 720X1280 ", "720x1280")]
)
def test_size_is_normalised(given: str, stored: str) -> None:
    """Sizes are WIDTHxHEIGHT, case and spaces forgiven."""
    assert _request(size=given).size == stored


@pytest.mark.parametrize("size", ["1280", "1280x", "x720", "0x720", "1280*720", "big", "-1x2"])
def test_bad_size_is_refused(size: str) -> None:
    """Anything but WIDTHxHEIGHT is refused."""
    error = _refused("size", size=size)
    assert "WIDTHxHEIGHT" in error.message


def test_fallbacks_are_checked() -> None:
    """Each fallback must be provider/model too; a single string is one fallback."""
    assert _request(fallbacks="openai/sora-2").fallbacks == ("openai/sora-2",)
    assert _request(fallbacks=["a/b", "c/d"]).fallbacks == ("a/b", "c/d")
    error = _refused("fallbacks", fallbacks=["a/b", "sora-2"])
    assert "sora-2" in error.message


def test_requests_are_frozen_values() -> None:
    """A request cannot be changed after it was validated; evolve re-validates."""
    request = _request()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        request.prompt = "x"  # type: ignore[misc]
    with pytest.raises(InvalidRequestError):
        attrs.evolve(request, prompt=" ")


# -- ImageInput -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "media_type"),
    [(PNG, "image/png"), (JPEG, "image/jpeg"), (WEBP, "image/webp"), (GIF, "image/gif")],
)
def test_image_bytes_are_sniffed(data: bytes, media_type: str) -> None:
    """PNG, JPEG, WebP and GIF bytes are recognised by their magic numbers."""
    image = ImageInput.coerce(data)
    assert (image.data, image.media_type, image.url) == (data, media_type, None)
    assert ImageInput.coerce(bytearray(data)).data == data
    assert ImageInput.coerce(memoryview(data)).data == data


def test_image_from_a_path(tmp_path: Path) -> None:
    """A path, as str or Path, is read."""
    path = tmp_path / "frame.jpg"
    path.write_bytes(JPEG)
    assert ImageInput.coerce(path).data == JPEG
    assert ImageInput.coerce(str(path)).media_type == "image/jpeg"
    assert _request(input_reference=path).input_reference == ImageInput.from_bytes(JPEG)


def test_image_from_a_data_url() -> None:
    """A base64 data URL is decoded; data_url() gives it back."""
    url = "data:image/png;base64," + base64.b64encode(PNG).decode()
    image = ImageInput.coerce(url)
    assert image.data == PNG
    assert image.data_url() == url
    assert image.base64() == base64.b64encode(PNG).decode()


@pytest.mark.parametrize("url", ["https://example.com/a.png", "http://127.0.0.1/b.jpg"])
def test_image_from_a_url(url: str) -> None:
    """An http(s) URL is kept as a URL, not fetched."""
    image = ImageInput.coerce(url)
    assert (image.url, image.data) == (url, None)
    with pytest.raises(InvalidRequestError, match="URL, not bytes"):
        image.base64()


def test_url_inputs_must_be_http() -> None:
    """from_url refuses other schemes."""
    with pytest.raises(InvalidRequestError, match="http"):
        ImageInput.from_url("ftp://example.com/a.png")


def test_non_image_bytes_are_refused() -> None:
    """Bytes that are no known image are refused before anything is sent."""
    with pytest.raises(InvalidRequestError, match="not an image") as e:
        ImageInput.coerce(b"%PDF-1.7 not an image")
    assert e.value.param == "input_reference"
    with pytest.raises(InvalidRequestError, match="not an image"):
        _request(input_reference=media.sample(Variant.VIDEO))


def test_unreadable_path_is_refused(tmp_path: Path) -> None:
    """A missing file or a directory is an InvalidRequestError naming the path."""
    missing = tmp_path / "missing.png"
    with pytest.raises(InvalidRequestError, match=r"cannot read input_reference .*missing\.png"):
        ImageInput.coerce(missing)
    with pytest.raises(InvalidRequestError, match="cannot read"):
        ImageInput.coerce(str(tmp_path))


def test_non_image_file_is_refused(tmp_path: Path) -> None:
    """A readable file that is not an image is refused like bytes."""
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(InvalidRequestError, match="not an image"):
        ImageInput.coerce(path)


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("data:image/png;base64,@@@@", "not valid base64"),
        ("data:image/png;base64,iVBORw0KGgo", "not valid base64"),
        ("data:image/png,rawbytes", "data:image/png;base64"),
        ("data:image/png;base64", "data:image/png;base64"),
        ("data:image/png;base64," + base64.b64encode(b"plain text").decode(), "not an image"),
    ],
)
def test_bad_data_urls_are_refused(url: str, match: str) -> None:
    """Malformed data URLs, bad base64 and non-images are refused."""
    with pytest.raises(InvalidRequestError, match=match) as e:
        ImageInput.coerce(url)
    assert e.value.param == "input_reference"


def test_images_over_20_mib_are_refused() -> None:
    """An image larger than 20 MiB is refused; exactly 20 MiB is accepted."""
    at_limit = PNG + b"\x00" * (MAX_IMAGE_BYTES - len(PNG))
    assert MAX_IMAGE_BYTES == 20 * 1024 * 1024
    assert ImageInput.from_bytes(at_limit).media_type == "image/png"
    with pytest.raises(InvalidRequestError, match="limit") as e:
        ImageInput.coerce(at_limit + b"\x00")
    assert e.value.param == "input_reference"


def test_image_repr_hides_the_bytes() -> None:
    """The repr says how many bytes, not what they are."""
    text = repr(ImageInput.from_bytes(PNG))
    assert f"<{len(PNG)} bytes>" in text
    assert "PNG" not in text


# -- ListQuery --------------------------------------------------------------------------


def test_list_query_defaults() -> None:
    """limit 20, newest first, from the start."""
    assert ListQuery() == ListQuery(limit=20, order="desc", after=None)
    assert ListQuery(limit=None, order=None, after="") == ListQuery()
    assert ListQuery(limit="") == ListQuery()


@pytest.mark.parametrize(("given", "limit"), [(1, 1), (100, 100), ("20", 20), (" 7 ", 7)])
def test_good_limits(given: object, limit: int) -> None:
    """1..100, as an int or a numeric string (a query parameter)."""
    assert ListQuery(limit=given).limit == limit  # type: ignore[arg-type]


@pytest.mark.parametrize("limit", [0, 101, -1, "x", "0", "1e2", True, False, 2.5, [], "2.0"])
def test_bad_limits(limit: object) -> None:
    """Out of range, non-numeric, fractional and boolean limits are refused."""
    with pytest.raises(InvalidRequestError, match="limit must be an integer from 1 to 100") as e:
        ListQuery(limit=limit)  # type: ignore[arg-type]
    assert e.value.param == "limit"


@pytest.mark.parametrize("order", ["sideways", "ASC", " asc", "ascending", 1])
def test_bad_orders(order: object) -> None:
    """Only asc and desc are orders."""
    with pytest.raises(InvalidRequestError, match="order must be asc or desc") as e:
        ListQuery(order=order)  # type: ignore[arg-type]
    assert e.value.param == "order"


# -- Variant ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "variant"),
    [
        (None, Variant.VIDEO),
        ("", Variant.VIDEO),
        ("video", Variant.VIDEO),
        ("thumbnail", Variant.THUMBNAIL),
        ("spritesheet", Variant.SPRITESHEET),
        ("sprite_sheet", Variant.SPRITESHEET),
        (" Thumbnail ", Variant.THUMBNAIL),
        (Variant.SPRITESHEET, Variant.SPRITESHEET),
    ],
)
def test_variant_parse(given: str | None, variant: Variant) -> None:
    """Variant names, the reference gateway's sprite_sheet included."""
    assert Variant.parse(given) is variant


@pytest.mark.parametrize("name", ["audio", "preview", "mp4"])
def test_unknown_variants_are_refused(name: str) -> None:
    """Another name is an InvalidRequestError listing the variants."""
    with pytest.raises(InvalidRequestError, match="video, thumbnail, spritesheet") as e:
        Variant.parse(name)
    assert e.value.param == "variant"


@pytest.mark.parametrize("value", [3, 2.5, b"video"])
def test_variants_that_are_not_strings_are_refused(value: object) -> None:
    """A variant of the wrong type is an InvalidRequestError, not an AttributeError."""
    with pytest.raises(InvalidRequestError) as e:
        Variant.parse(value)  # type: ignore[arg-type]
    assert e.value.param == "variant"


@pytest.mark.parametrize("value", [123, 1.5, None, ["a.png"]])
def test_images_of_the_wrong_type_are_refused(value: object) -> None:
    """coerce refuses what can be no image with an InvalidRequestError naming the field."""
    with pytest.raises(InvalidRequestError) as e:
        ImageInput.coerce(value)  # type: ignore[arg-type]
    assert e.value.param == "input_reference"


# -- Video ------------------------------------------------------------------------------


def test_video_status_and_progress_are_normalised() -> None:
    """Status strings become VideoStatus; progress is clamped to 0..100."""
    video = Video(id="a:sim", status="in_progress", progress=150)
    assert video.status is VideoStatus.IN_PROGRESS
    assert video.progress == 100.0
    assert Video(id="a:sim", status="queued", progress=-3).progress == 0.0
    assert not video.done
    assert Video(id="a:sim", status="failed").done


def test_poll_hints_and_metadata_do_not_change_equality() -> None:
    """Two reports of the same state are equal whatever their hints and metadata."""
    a = Video(id="a:sim", status="queued", poll_after=1.0, provider_metadata={"x": 1})
    b = Video(id="a:sim", status="queued", poll_after=9.0)
    assert a == b


def test_raise_for_status_passes_other_states() -> None:
    """Queued, in-progress and completed videos are returned as they are."""
    for status in ("queued", "in_progress", "completed"):
        video = Video(id="a:sim", status=status)
        assert video.raise_for_status() is video


def test_raise_for_status_raises_for_failed() -> None:
    """A failed video raises VideoFailedError carrying the video, its code and reason."""
    video = Video(
        id="a:sim", provider="sim", status="failed", error=VideoError("blocked", "too scary")
    )
    with pytest.raises(VideoFailedError, match="video a:sim failed: too scary") as e:
        video.raise_for_status()
    assert e.value.video is video
    assert e.value.code == "blocked"
    assert e.value.provider == "sim"
    with pytest.raises(VideoFailedError, match="no reason given"):
        Video(id="b:sim", status="failed").raise_for_status()


def test_video_page_cursors() -> None:
    """A page knows its first and last ids; an empty page has none."""
    videos = [Video(id=f"{i}:sim", status="queued") for i in range(3)]
    page = VideoPage(videos, has_more=True)
    assert (page.first_id, page.last_id, len(page)) == ("0:sim", "2:sim", 3)
    assert isinstance(page.data, tuple)
    empty = VideoPage(())
    assert (empty.first_id, empty.last_id, empty.has_more) == (None, None, False)
