"""
``/genai``: Google's video wire (Veo's ``predictLongRunning``) over any provider instance.

The google-genai SDK pointed at ``base_url="{server}/genai"`` drives every instance the
server has, in both of the SDK's modes:

* Gemini API (``genai.Client(api_key=...)``, google-genai 2.x):
  ``POST /genai/v1beta/models/{instance}/{model}:predictLongRunning`` answers an operation
  ``models/{instance}/{model}/operations/{video id}``; ``GET /genai/v1beta/{operation name}``
  reads it; a finished video is a file ``https://{host}/genai/v1beta/files/{file}:download
  ?alt=media``, which the SDK's ``files.download`` fetches from its own base URL
  (``{server}/genai/v1beta/files/{file}:download?alt=media``), streamed through the gateway.
* Vertex AI (``genai.Client(vertexai=True, ...)``, google-genai 2.x and 3.x):
  ``POST /genai/{version}/[projects/{p}/locations/{l}/]publishers/{instance}/models/{model}
  :predictLongRunning`` and ``...:fetchPredictOperation`` with ``{"operationName": ...}``.
  The SDK turns model ``runway/gen4.5`` into ``publishers/runway/models/gen4.5``: the
  publisher is the instance (``google`` means the instance called ``google``, else
  ``vertex``, else ``gemini``). A finished video comes inline (``bytesBase64Encoded``) when
  it is at most `INLINE_VIDEO_BYTES`, else as a ``gcsUri`` naming the file route on this
  server.

The operation's id is the reelgate video id (``{escaped native id}:{instance}``), so an
operation name's last segment works at ``/v1/videos/{id}`` and back. A file name is the
video id in lowercase base32 (the SDK accepts only ``[a-z0-9]`` file names); the file route
checks the caller's key like every other route.

Keys: ``x-goog-api-key`` (what the SDK sends with an API key) besides the server's usual
headers (``Authorization: Bearer`` is what the SDK sends with credentials). Google's
``?key=`` is not read: query strings end up in access logs.
Errors are Google's envelope ``{"error": {"code", "message", "status", "details"}}``, so
the SDK raises its own ``ClientError`` / ``ServerError``.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
import re
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import unquote

import attrs
from starlette.requests import Request
from starlette.responses import Response

from ..errors import InvalidRequestError, NotFoundError, ReelgateError
from ..model import CANCELLED, CreateVideo, ImageInput, Video, VideoStatus
from . import bodies
from ._resend import resend_headers
from .door import DoorContext

__all__ = ["INLINE_VIDEO_BYTES", "GoogleDoor", "file_name", "video_id_of_file"]

log = logging.getLogger("reelgate.server")

#: Vertex answers carry finished videos up to this size inline, larger ones as a URI.
INLINE_VIDEO_BYTES = 8 * 1024 * 1024

Shape = Literal["gemini", "vertex"]

_GEMINI_RESPONSE = (
    "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse"
)
_VERTEX_RESPONSE = "type.googleapis.com/cloud.ai.large_models.vision.GenerateVideoResponse"
_ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"
_RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"
_DOMAIN = "reelgate"

#: Google's canonical status names for the HTTP statuses reelgate answers with.
_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "NOT_FOUND",
    409: "FAILED_PRECONDITION",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
#: gRPC codes of failed operations.
_RPC_CANCELLED = 1
_RPC_INVALID_ARGUMENT = 3
_RPC_INTERNAL = 13

#: The short side of each resolution Veo names.
_RESOLUTIONS = {"720p": 720, "1080p": 1080, "4k": 2160}
_RATIO = re.compile(r"([1-9][0-9]{0,3}):([1-9][0-9]{0,3})")
_FIELDS = frozenset({"instances", "parameters"})
_VERSIONS = frozenset({"v1", "v1beta", "v1beta1", "v1alpha"})


# -- ids --------------------------------------------------------------------------------


def file_name(video_id: str) -> str:
    """The file name of a video: its id in lowercase base32, without padding."""
    return base64.b32encode(video_id.encode()).decode("ascii").rstrip("=").lower()


def video_id_of_file(name: str) -> str:
    """
    The video id a file name stands for.

    Raises:
        NotFoundError: The name is no file this door handed out.
    """
    try:
        padded = name.upper() + "=" * (-len(name) % 8)
        return base64.b32decode(padded, casefold=False).decode()
    except (binascii.Error, ValueError):
        raise NotFoundError(f"no file {name!r}") from None


def _operation_id(segment: str) -> str:
    """The video id in an operation name's last segment (percent-encoding tolerated once)."""
    return segment if ":" in segment else unquote(segment)


# -- errors -----------------------------------------------------------------------------


def _error_body(status: int, message: str, reason: str | None) -> dict[str, Any]:
    error: dict[str, Any] = {
        "code": status,
        "message": message,
        "status": _STATUS.get(status, "UNKNOWN"),
    }
    if reason:
        error["details"] = [{"@type": _ERROR_INFO, "reason": reason, "domain": _DOMAIN}]
    return {"error": error}


def google_error(error: ReelgateError) -> Response:
    """An error in Google's envelope, with its HTTP status."""
    status = error.status_code or 500
    body = _error_body(status, error.message, error.code or error.type)
    headers = resend_headers(error, status)
    retry_after = getattr(error, "retry_after", None)
    if status == 429 and retry_after is not None:
        seconds = max(0, math.ceil(retry_after))
        body["error"].setdefault("details", []).append(
            {"@type": _RETRY_INFO, "retryDelay": f"{seconds}s"}
        )
        headers["retry-after"] = str(seconds)
    return _json(body, status, headers)


def _json(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(content, status_code=status, headers=headers, media_type="application/json")


def _invalid(message: str, param: str) -> InvalidRequestError:
    return InvalidRequestError(message, param=param)


# -- requests ---------------------------------------------------------------------------


def _image(value: Any, where: str) -> ImageInput:
    """An ``Image`` (``bytesBase64Encoded`` + ``mimeType``, or a URI) as an input image."""
    if not isinstance(value, Mapping):
        raise _invalid(f"{where} must be an object with bytesBase64Encoded", where)
    data, uri = value.get("bytesBase64Encoded"), value.get("gcsUri") or value.get("uri")
    mime = value.get("mimeType")
    if isinstance(data, str):
        try:
            raw = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise _invalid(f"{where}.bytesBase64Encoded is not valid base64", where) from None
        try:
            return ImageInput.from_bytes(raw, mime if isinstance(mime, str) else None)
        except InvalidRequestError as e:
            raise _invalid(e.message.replace("input_reference", where), where) from None
    if isinstance(uri, str) and uri.startswith(("https://", "http://")):
        return ImageInput.from_url(uri)
    raise _invalid(
        f"{where} must carry bytesBase64Encoded (or an https URI); Cloud Storage URIs cannot "
        "be read through this gateway",
        where,
    )


def _integer(value: Any, where: str) -> int:
    """A proto3 JSON integer: a number or a string of digits."""
    if isinstance(value, bool):
        raise _invalid(f"{where} must be an integer", where)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise _invalid(f"{where} must be an integer; got {value!r}", where)


def _size(aspect: Any, resolution: Any) -> str | None:
    """``aspectRatio`` (``16:9``) and ``resolution`` (``720p``) as ``WIDTHxHEIGHT``."""
    if aspect is None and resolution is None:
        return None
    aspect = "16:9" if aspect is None else aspect
    resolution = "720p" if resolution is None else resolution
    match = _RATIO.fullmatch(aspect) if isinstance(aspect, str) else None
    if match is None:
        raise _invalid(
            f"parameters.aspectRatio must be W:H, e.g. 16:9; got {aspect!r}",
            "parameters.aspectRatio",
        )
    if not isinstance(resolution, str) or resolution.lower() not in _RESOLUTIONS:
        raise _invalid(
            f"parameters.resolution must be one of {', '.join(_RESOLUTIONS)}; got {resolution!r}",
            "parameters.resolution",
        )
    short = _RESOLUTIONS[resolution.lower()]
    w, h = int(match.group(1)), int(match.group(2))
    long = 2 * round(short * max(w, h) / min(w, h) / 2)
    return f"{long}x{short}" if w >= h else f"{short}x{long}"


def _instance_fields(
    instance: Mapping[str, Any], fields: dict[str, Any], extra: dict[str, Any]
) -> None:
    """Read ``instances[0]`` into `CreateVideo` fields and extra parameters."""
    for name, value in instance.items():
        where = f"instances[0].{name}"
        if name == "prompt":
            fields["prompt"] = value
        elif name == "image":
            fields["input_reference"] = _image(value, where)
        elif name == "lastFrame":
            last = _image(value, where)
            extra["lastFrame"] = last.url or last.data_url()
        elif name == "video":
            uri = value.get("uri") or value.get("gcsUri") if isinstance(value, Mapping) else None
            if not isinstance(uri, str) or not uri:
                raise _invalid(f"{where} must name a video by uri", where)
            fields["video_uri"] = uri
        else:
            extra[name] = value


def _audio(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise _invalid(f"{where} must be true or false", where)
    return value


#: Parameters with a `CreateVideo` field of their own: (field, reader).
_PARAMETERS: Mapping[str, tuple[str, Any]] = {
    "durationSeconds": ("seconds", _integer),
    "seed": ("seed", _integer),
    "generateAudio": ("audio", _audio),
    "negativePrompt": ("negative_prompt", lambda value, _where: value),
}


def _parameter_fields(
    parameters: Mapping[str, Any], fields: dict[str, Any], extra: dict[str, Any]
) -> None:
    """Read ``parameters`` into `CreateVideo` fields and extra parameters."""
    fields["size"] = _size(parameters.get("aspectRatio"), parameters.get("resolution"))
    for name, value in parameters.items():
        where = f"parameters.{name}"
        if name in _PARAMETERS:
            field, read = _PARAMETERS[name]
            fields[field] = read(value, where)
        elif name == "sampleCount":
            # One video is what every provider makes; only ask for more by name.
            if _integer(value, where) != 1:
                extra[name] = value
        elif name not in ("aspectRatio", "resolution"):
            extra[name] = value


def create_request(body: Mapping[str, Any], model: str) -> CreateVideo:
    """
    A ``predictLongRunning`` body as a `CreateVideo` for `model` (``instance/model``).

    Raises:
        InvalidRequestError: The body is not a video request reelgate can make.
    """
    instances = body.get("instances")
    if not isinstance(instances, list) or len(instances) != 1:
        raise _invalid("instances must hold exactly one instance", "instances")
    instance = instances[0]
    if not isinstance(instance, Mapping):
        raise _invalid("instances[0] must be an object", "instances[0]")
    parameters = body.get("parameters", {})
    if not isinstance(parameters, Mapping):
        raise _invalid("parameters must be an object", "parameters")
    fields: dict[str, Any] = {"model": model}
    extra: dict[str, Any] = {k: v for k, v in body.items() if k not in _FIELDS}
    _instance_fields(instance, fields, extra)
    _parameter_fields(parameters, fields, extra)
    prompt = fields.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise _invalid("instances[0].prompt is required", "instances[0].prompt")
    return CreateVideo(**fields, extra_params=extra)


# -- answers ----------------------------------------------------------------------------


def _rpc_code(code: str | None) -> int:
    if code and code.isdigit():
        return int(code)
    if code == CANCELLED:
        return _RPC_CANCELLED
    if code == "content_filtered":
        return _RPC_INVALID_ARGUMENT
    return _RPC_INTERNAL


@attrs.frozen
class _Place:
    """Where a request came in: the shape, and the base URL of the door."""

    shape: Shape
    door_url: str
    version: str


class GoogleDoor:
    """
    The ``/genai`` door (see the module docstring).

    Args:
        context: The gateway and the server's rules.
        prefix: Where the door is mounted.
        inline_video_bytes: Vertex answers inline videos up to this size.
    """

    def __init__(
        self,
        context: DoorContext,
        prefix: str = "/genai",
        *,
        inline_video_bytes: int = INLINE_VIDEO_BYTES,
    ) -> None:
        self.context = context
        self.prefix = "/" + prefix.strip("/")
        self.inline_video_bytes = inline_video_bytes

    async def dispatch(self, request: Request, segments: list[str]) -> Response:
        """Route a request under the prefix to its operation."""
        try:
            return await self._dispatch(request, segments)
        except ReelgateError as e:
            return google_error(e)

    async def _dispatch(self, request: Request, segments: list[str]) -> Response:
        path = [unquote(s) for s in segments]
        method = request.method
        if len(path) < 2 or path[0] not in _VERSIONS or "" in path:
            return self._no_route(request)
        version, rest = path[0], path[1:]
        last = rest[-1]
        if method == "POST" and last.endswith(":predictLongRunning"):
            resource = "/".join(rest).removesuffix(":predictLongRunning")
            return await self._create(request, version, resource)
        if method == "POST" and last.endswith(":fetchPredictOperation"):
            return await self._fetch(request, version)
        if method == "GET" and len(rest) == 2 and rest[0] == "files" and ":" in last:
            name, _, action = last.partition(":")
            if action == "download":
                return await self._download(request, name)
        if method == "GET" and len(rest) >= 3 and rest[-2] == "operations":
            return await self._operation(request, version, segments)
        return self._no_route(request)

    def _no_route(self, request: Request) -> Response:
        message = f"no route {request.method} {request.url.path}"
        return _json(_error_body(404, message, None), 404)

    def _owner(self, request: Request) -> str | None:
        google_key = request.headers.get("x-goog-api-key")
        ours = ("authorization", "x-api-key", "x-bf-vk")
        if google_key and not any(request.headers.get(h) for h in ours):
            return self.context.owner(request, {"x-api-key": google_key})
        return self.context.owner(request)

    def _place(self, request: Request, shape: Shape, version: str) -> _Place:
        return _Place(shape, str(request.base_url).rstrip("/") + self.prefix, version)

    def _model(self, resource: str) -> tuple[Shape, str]:
        """The shape and the ``instance/model`` a create's resource path names."""
        parts = resource.split("/")
        if len(parts) >= 2 and parts[0] == "models":
            model = "/".join(parts[1:])
            if "/" not in model and "gemini" in self.context.gateway.instances:
                model = f"gemini/{model}"
            return "gemini", model
        if len(parts) >= 4 and "publishers" in parts:
            at = parts.index("publishers")
            head, tail = parts[:at], parts[at:]
            scoped = not head or (
                len(head) == 4 and head[0] == "projects" and head[2] == "locations"
            )
            if scoped and len(tail) >= 4 and tail[2] == "models":
                return "vertex", f"{self._instance(tail[1])}/{'/'.join(tail[3:])}"
        raise NotFoundError(
            f"no model at {resource!r}: use models/{{instance}}/{{model}} (Gemini API) or "
            "publishers/{instance}/models/{model} (Vertex AI)"
        )

    def _instance(self, publisher: str) -> str:
        instances = self.context.gateway.instances
        if publisher == "google" and publisher not in instances:
            for candidate in ("vertex", "gemini"):
                if candidate in instances:
                    return candidate
        return publisher

    async def _create(self, request: Request, version: str, resource: str) -> Response:
        owner = self._owner(request)
        shape, model = self._model(resource)
        key = bodies.idempotency_key(request.headers)
        body = await self.context.json_body(request)
        create = create_request(body, model)
        if key is not None:
            create = attrs.evolve(create, idempotency_key=key)
        video = await self.context.create(create, owner)
        place = self._place(request, shape, version)
        return _json(await self._render(video, f"{resource}/operations/{video.id}", place, owner))

    async def _operation(self, request: Request, version: str, segments: list[str]) -> Response:
        owner = self._owner(request)
        video_id = _operation_id(segments[-1])
        video = await self.context.gateway.retrieve(video_id, owner=owner)
        name = "/".join(unquote(s) for s in segments[1:-1]) + f"/{video.id}"
        place = self._place(request, "gemini", version)
        return _json(await self._render(video, name, place, owner))

    async def _fetch(self, request: Request, version: str) -> Response:
        owner = self._owner(request)
        body = await self.context.json_body(request)
        name = body.get("operationName")
        if not isinstance(name, str) or "/operations/" not in name:
            raise _invalid("operationName must name an operation", "operationName")
        resource, _, segment = name.rpartition("/operations/")
        video = await self.context.gateway.retrieve(_operation_id(segment), owner=owner)
        place = self._place(request, "vertex", version)
        return _json(await self._render(video, f"{resource}/operations/{video.id}", place, owner))

    async def _download(self, request: Request, name: str) -> Response:
        owner = self._owner(request)
        return await self.context.download(video_id_of_file(name), owner)

    # -- rendering ---------------------------------------------------------------------

    async def _render(
        self, video: Video, name: str, place: _Place, owner: str | None
    ) -> dict[str, Any]:
        """The operation a job is, in the request's shape."""
        operation: dict[str, Any] = {"name": name}
        if not video.done:
            if video.progress is not None:
                operation["metadata"] = {"progressPercent": round(video.progress)}
            return operation
        operation["done"] = True
        if video.status is VideoStatus.FAILED and video.content_filter is None:
            error = video.error
            code = error.code if error else None
            message = (error.message if error else None) or "the video generation failed"
            operation["error"] = {
                "code": _rpc_code(code),
                "message": message,
                "details": [{"@type": _ERROR_INFO, "reason": code or "failed", "domain": _DOMAIN}],
            }
            return operation
        result: dict[str, Any] = {}
        if video.content_filter is not None:
            result["raiMediaFilteredCount"] = video.content_filter.filtered_count
            if video.content_filter.reasons:
                result["raiMediaFilteredReasons"] = list(video.content_filter.reasons)
        if video.status is VideoStatus.COMPLETED:
            file = f"{place.version}/files/{file_name(video.id)}:download?alt=media"
            if place.shape == "gemini":
                # The SDK reads only https file URIs, and fetches them from its base URL.
                https = place.door_url.replace("http://", "https://", 1)
                result["generatedSamples"] = [{"video": {"uri": f"{https}/{file}"}}]
            else:
                uri = f"{place.door_url}/{file}"
                result["videos"] = [await self._vertex_sample(video, uri, owner)]
        if place.shape == "gemini":
            operation["response"] = {"@type": _GEMINI_RESPONSE, "generateVideoResponse": result}
        else:
            result.setdefault("raiMediaFilteredCount", 0)
            operation["response"] = {"@type": _VERTEX_RESPONSE, **result}
        return operation

    async def _vertex_sample(self, video: Video, uri: str, owner: str | None) -> dict[str, Any]:
        """A finished video for Vertex: inline when small enough, else the file's URI."""
        inline = [o for o in video.videos if o.type == "base64" and o.base64]
        if inline and len(inline[0].base64 or "") * 3 // 4 <= self.inline_video_bytes:
            return {"bytesBase64Encoded": inline[0].base64, "mimeType": inline[0].content_type}
        try:
            fetched = await self._small_video(video.id, owner)
        except ReelgateError as e:
            log.warning("video %s not inlined: %s", video.id, e.message)
            fetched = None
        if fetched is None:
            return {"gcsUri": uri, "mimeType": "video/mp4"}
        data, content_type = fetched
        encoded = base64.b64encode(data).decode("ascii")
        return {"bytesBase64Encoded": encoded, "mimeType": content_type}

    async def _small_video(self, video_id: str, owner: str | None) -> tuple[bytes, str] | None:
        """The video's bytes when it is at most `inline_video_bytes`, else None."""
        cap = self.inline_video_bytes
        async with self.context.opening(video_id, owner) as stream:
            if stream.content_length is not None and stream.content_length > cap:
                return None
            parts: list[bytes] = []
            size = 0
            async for chunk in stream:
                size += len(chunk)
                if size > cap:
                    return None
                parts.append(chunk)
            return b"".join(parts), stream.content_type
