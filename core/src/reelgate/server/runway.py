"""
``/runway``: Runway's task wire (API version ``2024-11-06``) over any provider instance.

The runwayml SDK pointed at ``base_url="{server}/runway"`` drives every instance the
server has (``model="sim/sim-1"``; a bare model name means the ``runway`` instance):

* ``POST /runway/v1/text_to_video``, ``/v1/image_to_video``, ``/v1/video_to_video``
  -> ``{"id": "<video id>"}``; the task id is the reelgate video id, so it also works at
  ``/v1/videos/{id}`` and back;
* ``GET /runway/v1/tasks/{id}``: ``PENDING`` (queued), ``RUNNING`` (with a 0..1
  ``progress``), ``SUCCEEDED`` (with ``output`` URLs), ``FAILED`` (``failure`` and
  ``failureCode``), or ``CANCELLED`` (a job cancelled upstream);
* ``DELETE /runway/v1/tasks/{id}`` -> 204: the gateway's delete (cancel or delete
  upstream, forget it here).

Output URLs point at this server (``/runway/_outputs/<token>.mp4``) and stream the video
through the gateway. Like Runway's, they need no key: the token is signed by the server
(with a secret derived from all its keys, so every process with the same keys accepts it;
a random one when it has no keys), names the job and its owner, and expires after
`OUTPUT_URL_SECONDS`: fetch the task again for a fresh one. No provider key or provider
URL is in them.

Errors are Runway's ``{"error": "<message>"}`` (with ``issues`` for a bad field), so the
SDK raises its own ``BadRequestError``, ``AuthenticationError``, ``NotFoundError``...
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import secrets
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import attrs
from starlette.requests import Request
from starlette.responses import Response

from ..errors import InvalidRequestError, NotFoundError, ReelgateError
from ..model import CANCELLED, CreateVideo, Video, VideoStatus
from . import bodies
from ._resend import resend_headers
from .door import DoorContext

__all__ = ["OUTPUT_URL_SECONDS", "RunwayDoor", "task_view"]

#: How long an output URL stays valid (Runway's own last 24 to 48 hours).
OUTPUT_URL_SECONDS = 24 * 3600

_ENDPOINTS = frozenset({"text_to_video", "image_to_video", "video_to_video"})
_DOC_URL = "https://docs.dev.runwayml.com/api"
#: Body fields with a reelgate field of their own; every other field is an extra parameter.
_FIELDS = frozenset(
    {"model", "promptText", "promptImage", "ratio", "duration", "seed", "negativePrompt"}
    | {"audio", "videoUri"}
)


def _json(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(content, status_code=status, headers=headers, media_type="application/json")


def runway_error(error: ReelgateError) -> Response:
    """An error as Runway's API answers one: ``{"error": "..."}``."""
    status = error.status_code or 500
    body: dict[str, Any] = {"error": error.message}
    if isinstance(error, InvalidRequestError) and error.param:
        path = [int(p) if p.isdigit() else p for p in error.param.replace("]", "").split(".")]
        body["issues"] = [{"code": "custom", "path": path, "message": error.message}]
        body["docUrl"] = _DOC_URL
    headers = resend_headers(error, status)
    retry_after = getattr(error, "retry_after", None)
    if status == 429 and retry_after is not None:
        headers["retry-after"] = str(max(0, math.ceil(retry_after)))
    return _json(body, status, headers)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _iso(seconds: float) -> str:
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _invalid(message: str, param: str) -> InvalidRequestError:
    return InvalidRequestError(message, param=param)


# -- requests ---------------------------------------------------------------------------


def _image_uri(uri: str, where: str) -> str:
    """An image URI reelgate can use: https, http or data (never a path on this server)."""
    if not uri.startswith(("https://", "http://", "data:")):
        raise _invalid(f"{where} must be an https URL or a data URI", where)
    return uri


def _prompt_image(value: Any) -> tuple[str, str | None]:
    """``promptImage`` (a URI, or ``[{uri, position}]``) as (first frame, last frame)."""
    if isinstance(value, str):
        return _image_uri(value, "promptImage"), None
    if not isinstance(value, list):
        raise _invalid("promptImage must be a URI or a list of {uri, position}", "promptImage")
    frames: dict[str, str] = {}
    for i, item in enumerate(value):
        uri = item.get("uri") if isinstance(item, Mapping) else None
        position = item.get("position", "first") if isinstance(item, Mapping) else None
        if not isinstance(uri, str) or position not in ("first", "last") or position in frames:
            raise _invalid(
                "promptImage items must be {uri, position} with one first and at most one last",
                f"promptImage.{i}",
            )
        frames[position] = _image_uri(uri, f"promptImage.{i}.uri")
    if "first" not in frames:
        raise _invalid("promptImage needs a first frame", "promptImage")
    return frames["first"], frames.get("last")


def _inputs(
    endpoint: str, body: Mapping[str, Any], fields: dict[str, Any], extra: dict[str, Any]
) -> None:
    """The image and video the endpoint starts from."""
    if endpoint == "image_to_video" or "promptImage" in body:
        if "promptImage" not in body:
            raise _invalid("promptImage is required", "promptImage")
        first, last = _prompt_image(body["promptImage"])
        fields["input_reference"] = first
        if last is not None:
            extra["lastFrame"] = last
    if endpoint == "video_to_video" or "videoUri" in body:
        uri = body.get("videoUri")
        if not isinstance(uri, str) or not uri:
            raise _invalid("videoUri is required", "videoUri")
        fields["video_uri"] = uri


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


#: Typed body fields: (reelgate field, check, what the check wants).
_TYPED: Mapping[str, tuple[str, Any, str]] = {
    "duration": ("seconds", _whole, "a whole number of seconds"),
    "seed": ("seed", _whole, "an integer"),
    "negativePrompt": ("negative_prompt", lambda v: isinstance(v, str), "a string"),
    "audio": ("audio", lambda v: isinstance(v, bool), "true or false"),
}


def create_request(
    endpoint: str, body: Mapping[str, Any], default_instance: str | None
) -> CreateVideo:
    """
    A Runway create body as a `CreateVideo`.

    Raises:
        InvalidRequestError: The body is not a request reelgate can make.
    """
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _invalid("model is required", "model")
    if "/" not in model and default_instance is not None:
        model = f"{default_instance}/{model}"
    prompt = body.get("promptText")
    if not isinstance(prompt, str) or not prompt.strip():
        raise _invalid("promptText is required (reelgate makes videos from a prompt)", "promptText")
    fields: dict[str, Any] = {"model": model, "prompt": prompt}
    extra = {k: v for k, v in body.items() if k not in _FIELDS}
    _inputs(endpoint, body, fields, extra)
    ratio = body.get("ratio")
    if ratio is not None:
        if not isinstance(ratio, str) or ratio.count(":") != 1:
            raise _invalid(f"ratio must be W:H, e.g. 1280:720; got {ratio!r}", "ratio")
        fields["size"] = ratio.replace(":", "x")
    for name, (field, check, wanted) in _TYPED.items():
        value = body.get(name)
        if value is not None:
            if not check(value):
                raise _invalid(f"{name} must be {wanted}", name)
            fields[field] = value
    return CreateVideo(**fields, extra_params=extra)


# -- answers ----------------------------------------------------------------------------


def _credits(video: Video, name: str) -> int | float:
    value = video.provider_metadata.get(name)
    amount = value.get("credits") if isinstance(value, Mapping) else None
    return amount if isinstance(amount, int | float) and not isinstance(amount, bool) else 0


def task_view(video: Video, output_url: str | None) -> dict[str, Any]:
    """
    A job as Runway's ``GET /v1/tasks/{id}`` answers a task.

    Args:
        video: The job.
        output_url: Where its video can be fetched, once it succeeded.
    """
    created = video.created_at if video.created_at is not None else time.time()
    task: dict[str, Any] = {"id": video.id, "createdAt": _iso(created)}
    if video.status is VideoStatus.QUEUED:
        task.update(status="PENDING", estimatedCost={"credits": _credits(video, "estimatedCost")})
    elif video.status is VideoStatus.IN_PROGRESS:
        task.update(
            status="RUNNING",
            estimatedCost={"credits": _credits(video, "estimatedCost")},
            progress=round((video.progress or 0.0) / 100, 4),
        )
    elif video.status is VideoStatus.COMPLETED:
        task.update(status="SUCCEEDED", output=[output_url] if output_url else [])
        task["cost"] = {"credits": _credits(video, "cost")}
    elif video.error is not None and video.error.code == CANCELLED:
        task.update(status="CANCELLED", cost={"credits": _credits(video, "cost")})
    else:
        error = video.error
        task.update(
            status="FAILED",
            failure=(error.message if error else None) or "the video generation failed",
            failureCode=(error.code if error else None) or "failed",
            cost={"credits": _credits(video, "cost")},
        )
    return task


@attrs.frozen
class _Grant:
    """What an output URL lets its holder fetch: one job's video, as its owner."""

    video_id: str
    owner: str | None
    expires: int


class RunwayDoor:
    """
    The ``/runway`` door (see the module docstring).

    Args:
        context: The gateway and the server's rules.
        prefix: Where the door is mounted.
    """

    def __init__(self, context: DoorContext, prefix: str = "/runway") -> None:
        self.context = context
        self.prefix = "/" + prefix.strip("/")
        self._secret = _signing_secret(context)

    async def dispatch(self, request: Request, segments: list[str]) -> Response:
        """Route a request under the prefix to its operation."""
        try:
            return await self._dispatch(request, segments)
        except ReelgateError as e:
            return runway_error(e)

    async def _dispatch(self, request: Request, segments: list[str]) -> Response:
        method = request.method
        if len(segments) == 2 and segments[0] == "v1" and segments[1] in _ENDPOINTS:
            if method != "POST":
                return _json({"error": "Method not allowed."}, 405, {"allow": "POST"})
            return await self._create(request, segments[1])
        if len(segments) == 3 and segments[:2] == ["v1", "tasks"] and segments[2]:
            return await self._task(request, _task_id(segments[2]))
        if len(segments) == 2 and segments[0] == "_outputs" and method == "GET":
            grant = self._grant(segments[1])
            return await self.context.download(grant.video_id, grant.owner)
        return _json({"error": "Not found."}, 404)

    async def _create(self, request: Request, endpoint: str) -> Response:
        owner = self.context.owner(request)
        key = bodies.idempotency_key(request.headers)
        body = await self.context.json_body(request)
        default = "runway" if "runway" in self.context.gateway.instances else None
        create = create_request(endpoint, body, default)
        if key is not None:
            create = attrs.evolve(create, idempotency_key=key)
        video = await self.context.create(create, owner)
        return _json({"id": video.id})

    async def _task(self, request: Request, video_id: str) -> Response:
        if request.method == "DELETE":
            owner = self.context.owner(request)
            await self.context.gateway.delete(video_id, owner=owner)
            return Response(status_code=204)
        if request.method != "GET":
            return _json({"error": "Method not allowed."}, 405, {"allow": "DELETE, GET"})
        return await self._retrieve(request, video_id)

    async def _retrieve(self, request: Request, video_id: str) -> Response:
        owner = self.context.owner(request)
        video = await self.context.gateway.retrieve(video_id, owner=owner)
        url = None
        if video.status is VideoStatus.COMPLETED:
            url = self._output_url(request, video.id, owner)
        return _json(task_view(video, url))

    # -- output URLs -----------------------------------------------------------------

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._secret, payload.encode(), hashlib.sha256).digest())

    def _output_url(self, request: Request, video_id: str, owner: str | None) -> str:
        expires = int(time.time()) + OUTPUT_URL_SECONDS
        payload = _b64(json.dumps([video_id, owner, expires], separators=(",", ":")).encode())
        token = f"{payload}.{self._sign(payload)}"
        return f"{str(request.base_url).rstrip('/')}{self.prefix}/_outputs/{token}.mp4"

    def _grant(self, name: str) -> _Grant:
        refused = NotFoundError("no such output; fetch the task again for a fresh URL")
        payload, _, mac = name.removesuffix(".mp4").partition(".")
        if not hmac.compare_digest(mac.encode(), self._sign(payload).encode()):
            raise refused
        try:
            video_id, owner, expires = json.loads(_unb64(payload))
        except (binascii.Error, ValueError, TypeError):
            raise refused from None
        if expires < time.time():
            raise refused
        return _Grant(video_id, owner, expires)


def _signing_secret(context: DoorContext) -> bytes:
    """
    The secret output URLs are signed with.

    Derived from all the server's keys when it has some, so that every process serving
    the same keys (workers behind one address, a restart) accepts the others' URLs; a
    holder of one key among several cannot derive it. Random without keys.
    """
    keys = sorted(key.reveal().encode() for key in context.keys.keys)
    if not keys:
        return secrets.token_bytes(32)
    return hmac.new(b"reelgate runway output urls", b"\0".join(keys), hashlib.sha256).digest()


def _task_id(segment: str) -> str:
    """The video id in a task path (percent-encoding tolerated once)."""
    return segment if ":" in segment else unquote(segment)
