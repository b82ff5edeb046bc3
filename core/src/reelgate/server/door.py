"""
What the provider-format front doors (``/genai``, ``/runway``) share.

A front door speaks one provider's wire at a prefix and translates it into the same
gateway calls ``/v1/videos`` makes: the same keys and owners (`ServerKeys`), the same
body cap and readers (`reelgate.server.bodies`), the same idempotency, job index and
streamed downloads. Only the shapes of requests, answers and errors differ.

A door routes everything under its prefix itself (`DoorRoute`), so that even an unknown
path or method gets an error in the door's own shape, which its SDK can read.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol
from urllib.parse import unquote

import attrs
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import Receive, Scope, Send

from ..gateway import Gateway
from ..model import CreateVideo, Variant, Video
from ..stream import DownloadStream
from . import bodies
from .access import OWNER_SCOPE_KEY
from .auth import ServerKeys
from .download import DownloadResponse
from .limits import KeyLimits
from .routing import raw_segments

__all__ = ["Door", "DoorContext", "DoorRoute"]

_EXTENSIONS = {"video/mp4": "mp4", "image/webp": "webp", "image/jpeg": "jpg", "image/png": "png"}


class Door(Protocol):
    """A front door: answers every request under its prefix."""

    async def dispatch(self, request: Request, segments: list[str]) -> Response:
        """
        Answer a request.

        Args:
            request: The request.
            segments: The path segments after the prefix, still percent-encoded.
        """
        ...


class DoorRoute(BaseRoute):
    """
    Every path under `prefix`, handed to `door` with its raw segments.

    Args:
        prefix: The door's path, e.g. ``/genai``.
        door: Answers the requests.
    """

    def __init__(self, prefix: str, door: Door) -> None:
        self.prefix = tuple(prefix.strip("/").split("/"))
        self.door = door

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        """Match every HTTP request whose path starts with the prefix."""
        if scope["type"] != "http":
            return Match.NONE, {}
        segments = raw_segments(scope)
        n = len(self.prefix)
        if len(segments) <= n or tuple(unquote(s) for s in segments[:n]) != self.prefix:
            return Match.NONE, {}
        return Match.FULL, {"path_params": {"segments": segments[n:]}}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Let the door answer."""
        request = Request(scope, receive)
        response = await self.door.dispatch(request, list(scope["path_params"]["segments"]))
        await response(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        """A door has no named routes to reverse."""
        raise NoMatchFound(name, path_params)


@attrs.frozen
class DoorContext:
    """
    The gateway and the server's rules, as every route of the server uses them.

    Attributes:
        gateway: The gateway the server serves.
        keys: The server's keys.
        max_body_bytes: The cap on request bodies.
        limits: The per-key caps on creates and downloads in flight (the server's own).
    """

    gateway: Gateway
    keys: ServerKeys
    max_body_bytes: int
    limits: KeyLimits = attrs.field(factory=KeyLimits)

    def owner(self, request: Request, headers: Mapping[str, str] | None = None) -> str | None:
        """
        The owner the caller authenticates as (see `ServerKeys.owner`), noted for the log.

        Args:
            request: The request.
            headers: The headers to read the key from (default: the request's).
        """
        owner = self.keys.owner(request.headers if headers is None else headers)
        request.scope[OWNER_SCOPE_KEY] = owner
        return owner

    async def json_body(self, request: Request) -> dict[str, Any]:
        """A JSON object body, read under the server's cap."""
        return await bodies.json_request(request, self.max_body_bytes)

    async def create(self, request: CreateVideo, owner: str | None) -> Video:
        """Create a job, holding one of the owner's create slots."""
        with self.limits.hold("create", owner):
            return await self.gateway.create(request, owner=owner)

    def opening(
        self, video_id: str, owner: str | None
    ) -> AbstractAsyncContextManager[DownloadStream]:
        """The job's video stream (not yet open), holding one of the owner's download slots."""
        inner = self.gateway.download(video_id, Variant.VIDEO, owner=owner)
        return self.limits.holding("download", owner, inner)

    async def download(self, video_id: str, owner: str | None) -> DownloadResponse:
        """The job's video, streamed as ``/v1/videos/{id}/content`` streams it."""
        return await DownloadResponse.open(self.opening(video_id, owner), _filename)


def _filename(content_type: str) -> str:
    ext = _EXTENSIONS.get(content_type.split(";", 1)[0].strip().lower(), "bin")
    return f"video.{ext}"
