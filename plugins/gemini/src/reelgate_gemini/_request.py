"""
Building a ``predictLongRunning`` request body from a `reelgate.CreateVideo`.

Everything that can be checked is checked before anything is sent (a size Veo has no
name for, a duration the model cannot make, a parameter the API does not know), and
only then are images fetched: an https ``input_reference`` (or ``lastFrame``, or a
reference image) is downloaded by reelgate with a size cap and inlined as base64, since
the Gemini API takes no image URLs.
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import attrs

from reelgate import CreateVideo, ImageInput, InvalidRequestError

__all__ = ["GEMINI_API", "SIZES", "VERTEX_AI", "Dialect", "ImageFetcher", "build_body"]

#: The sizes Veo makes, as (aspectRatio, resolution).
SIZES: Mapping[str, tuple[str, str]] = {
    "1280x720": ("16:9", "720p"),
    "720x1280": ("9:16", "720p"),
    "1920x1080": ("16:9", "1080p"),
    "1080x1920": ("9:16", "1080p"),
    "3840x2160": ("16:9", "4k"),
}

#: Durations by model family; other models are not checked.
_DURATIONS: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("veo-2", (5, 6, 7, 8)),
    ("veo-3", (4, 6, 8)),
)

_ALIASES = {
    "numberOfVideos": "sampleCount",
    "storageURI": "storageUri",
    "outputGcsUri": "storageUri",
}
_MAX_SEED = 2**32 - 1

#: Fetches an https image for a request field: (url, param) -> the image's bytes.
ImageFetcher = Callable[[str, str], Awaitable[ImageInput]]


@attrs.frozen(kw_only=True)
class Dialect:
    """
    What one API accepts in a ``predictLongRunning`` body.

    Attributes:
        api: The API's name, for messages.
        parameters: Names accepted in ``parameters``.
        instance_fields: Names accepted in ``instances[0]`` besides prompt and image.
        top_level: Names accepted beside ``instances`` and ``parameters``.
        cloud_storage: Whether ``gs://`` URIs are accepted for inputs.
    """

    api: str
    parameters: frozenset[str]
    instance_fields: frozenset[str]
    top_level: frozenset[str] = frozenset()
    cloud_storage: bool = False

    def known(self) -> str:
        """Every name `extra_params` may use, for messages."""
        return ", ".join(sorted(self.parameters | self.instance_fields | self.top_level))


#: The Gemini API (what google-genai maps in Gemini Developer API mode).
GEMINI_API = Dialect(
    api="the Gemini API",
    parameters=frozenset(
        {
            "aspectRatio",
            "durationSeconds",
            "enhancePrompt",
            "negativePrompt",
            "personGeneration",
            "resolution",
            "sampleCount",
        }
    ),
    instance_fields=frozenset({"lastFrame", "referenceImages"}),
    top_level=frozenset({"webhookConfig"}),
)

#: Vertex AI, which also takes a seed, audio and Cloud Storage in- and outputs.
VERTEX_AI = Dialect(
    api="Vertex AI",
    parameters=GEMINI_API.parameters
    | {
        "compressionQuality",
        "fps",
        "generateAudio",
        "pubsubTopic",
        "resizeMode",
        "seed",
        "storageUri",
    },
    instance_fields=frozenset({"lastFrame", "mask", "referenceImages"}),
    top_level=frozenset({"labels"}),
    cloud_storage=True,
)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    camel = head + "".join(part[:1].upper() + part[1:] for part in rest)
    return _ALIASES.get(camel, camel)


@attrs.frozen
class _Fetch:
    """An https image to fetch once the request has passed every check."""

    url: str
    param: str


def _https_url(url: str, param: str) -> str:
    """`url`, if it is a well-formed https URL that reelgate may fetch."""
    try:
        parts = urlsplit(url)
        _ = parts.port  # a port out of range raises
    except ValueError:
        raise InvalidRequestError(f"{param} is not a valid URL", param=param) from None
    if parts.scheme != "https" or not parts.hostname:
        raise InvalidRequestError(f"{param} must be an https URL with a host", param=param)
    if any(c.isspace() or not c.isprintable() for c in url):
        raise InvalidRequestError(f"{param} URL contains spaces or control characters", param=param)
    return url


def _as_image_input(value: Any, param: str) -> ImageInput:
    if isinstance(value, ImageInput):
        return value
    if isinstance(value, bytes | bytearray):
        return ImageInput.from_bytes(bytes(value))
    if isinstance(value, str) and value.startswith("data:"):
        return ImageInput.from_data_url(value)
    if isinstance(value, str) and value.startswith(("https://", "http://")):
        return ImageInput(url=value)
    raise InvalidRequestError(
        f"{param} must be image bytes, a data: URL or an https URL", param=param
    )


def _image(value: Any, param: str, dialect: Dialect) -> dict[str, Any] | _Fetch:
    """An image value as the wire wants it, or the URL to fetch it from."""
    if isinstance(value, Mapping):
        if not ({"bytesBase64Encoded", "gcsUri"} & set(value)):
            raise InvalidRequestError(
                f"{param} must hold bytesBase64Encoded (or gcsUri on Vertex AI)", param=param
            )
        return dict(value)
    if isinstance(value, str) and value.startswith("gs://") and dialect.cloud_storage:
        return {"gcsUri": value, "mimeType": mimetypes.guess_type(value)[0] or "image/png"}
    try:
        image = _as_image_input(value, param)
    except InvalidRequestError as e:
        # ImageInput's messages name input_reference; say which field it was.
        raise InvalidRequestError(
            e.message.replace("input_reference", param), param=param
        ) from None
    if image.url is None:
        return {"bytesBase64Encoded": image.base64(), "mimeType": image.media_type}
    return _Fetch(_https_url(image.url, param), param)


def _reference_images(value: Any, param: str, dialect: Dialect) -> list[Any]:
    if not isinstance(value, Sequence) or isinstance(value, str | bytes):
        raise InvalidRequestError(f"{param} must be a list", param=param)
    out: list[Any] = []
    for i, item in enumerate(value):
        where = f"{param}[{i}]"
        if isinstance(item, Mapping) and "image" in item:
            entry = dict(item)
            entry["image"] = _image(item["image"], f"{where}.image", dialect)
            entry.setdefault("referenceType", "asset")
        else:
            entry = {"image": _image(item, where, dialect), "referenceType": "asset"}
        out.append(entry)
    return out


def _check_seconds(model: str, seconds: int) -> None:
    for family, allowed in _DURATIONS:
        if model.startswith(family) and seconds not in allowed:
            choices = ", ".join(str(s) for s in allowed[:-1]) + f" or {allowed[-1]}"
            raise InvalidRequestError(
                f"{model} makes videos of {choices} seconds; got {seconds}", param="seconds"
            )


def _first_class(request: CreateVideo, model: str, dialect: Dialect) -> dict[str, Any]:
    """The parameters set by the request's own fields."""
    parameters: dict[str, Any] = {}
    if request.seconds is not None:
        seconds = int(request.seconds)
        _check_seconds(model, seconds)
        parameters["durationSeconds"] = seconds
    if request.size is not None:
        if request.size not in SIZES:
            raise InvalidRequestError(
                f"Veo makes videos of size {', '.join(SIZES)}; got {request.size}", param="size"
            )
        parameters["aspectRatio"], parameters["resolution"] = SIZES[request.size]
    if request.negative_prompt is not None:
        parameters["negativePrompt"] = request.negative_prompt
    for field, wire, value in (
        ("seed", "seed", request.seed),
        ("audio", "generateAudio", request.audio),
    ):
        if value is None:
            continue
        if wire not in dialect.parameters:
            raise InvalidRequestError(
                f"{dialect.api} does not accept {field} (Vertex AI does)", param=field
            )
        parameters[wire] = value
    seed: Any = request.seed  # typed int, but a request built from JSON may hold anything
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= _MAX_SEED
    ):
        raise InvalidRequestError(f"seed must be an integer from 0 to {_MAX_SEED}", param="seed")
    return parameters


def _video_input(uri: str, dialect: Dialect) -> dict[str, Any]:
    if dialect.cloud_storage:
        if not uri.startswith("gs://"):
            raise InvalidRequestError(
                "video_uri must be a gs:// URI on Vertex AI", param="video_uri"
            )
        return {"gcsUri": uri, "mimeType": "video/mp4"}
    return {"uri": uri}


async def _resolve(value: Any, fetch: ImageFetcher) -> Any:
    if isinstance(value, _Fetch):
        image = await fetch(value.url, value.param)
        return {"bytesBase64Encoded": image.base64(), "mimeType": image.media_type}
    if isinstance(value, dict):
        return {k: await _resolve(v, fetch) for k, v in value.items()}
    if isinstance(value, list):
        return [await _resolve(v, fetch) for v in value]
    return value


def _check_base64(body: Any, path: str = "") -> None:
    """Refuse inline image bytes that are not base64, before they are sent."""
    if isinstance(body, Mapping):
        data = body.get("bytesBase64Encoded")
        if isinstance(data, str):
            try:
                base64.b64decode(data, validate=True)
            except (binascii.Error, ValueError):
                raise InvalidRequestError(f"{path} is not valid base64", param=path) from None
        for key, value in body.items():
            _check_base64(value, f"{path}.{key}" if path else str(key))
    elif isinstance(body, list):
        for i, value in enumerate(body):
            _check_base64(value, f"{path}[{i}]")


def _place_extras(
    extras: Mapping[str, Any],
    dialect: Dialect,
    parameters: dict[str, Any],
    instance: dict[str, Any],
    top: dict[str, Any],
) -> None:
    """Put each extra parameter where the API wants it, refusing unknown names."""
    for given, value in extras.items():
        name = _camel(str(given))
        param = f"extra_params.{given}"
        if name in dialect.parameters:
            target = parameters
        elif name in dialect.instance_fields:
            target = instance
        elif name in dialect.top_level:
            target = top
        else:
            raise InvalidRequestError(
                f"{dialect.api} has no parameter {given!r}; extra_params may set {dialect.known()}",
                param=param,
            )
        wire = value
        if name == "lastFrame":
            wire = _image(value, param, dialect)
        elif name == "referenceImages":
            wire = _reference_images(value, param, dialect)
        if name in target and target[name] != wire:
            raise InvalidRequestError(
                f"{param} conflicts with the request's own field ({name}={target[name]!r})",
                param=param,
            )
        target[name] = wire


async def build_body(
    request: CreateVideo, *, model: str, dialect: Dialect, fetch_image: ImageFetcher
) -> dict[str, Any]:
    """
    The ``predictLongRunning`` body for a request.

    Args:
        request: What to make.
        model: The native model name.
        dialect: The API the body is for.
        fetch_image: Downloads an https image (called only after every check passed).

    Returns:
        The JSON body.

    Raises:
        InvalidRequestError: The request asks for something the API cannot do, names an
            unknown parameter, or an image cannot be used; nothing was sent.
    """
    instance: dict[str, Any] = {"prompt": request.prompt}
    parameters = _first_class(request, model, dialect)
    top: dict[str, Any] = {}
    if request.input_reference is not None:
        instance["image"] = _image(request.input_reference, "input_reference", dialect)
    if request.video_uri is not None:
        instance["video"] = _video_input(request.video_uri, dialect)
    _place_extras(request.extra_params, dialect, parameters, instance, top)
    _check_base64(instance)
    body: dict[str, Any] = {"instances": [await _resolve(instance, fetch_image)]}
    if parameters:
        body["parameters"] = parameters
    body.update(top)
    return body
