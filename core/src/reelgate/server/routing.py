"""
Routes whose video id is read from the raw request path.

Video ids contain escaped slashes (``models%2Fveo%2Foperations%2Fx:gemini``). ASGI
servers percent-decode ``scope["path"]``, which turns ``%2F`` into ``/`` and makes the
id indistinguishable from more path segments, so these routes split the *raw* path
(``scope["raw_path"]``) at its literal slashes and decode each segment once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import quote, unquote

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import Receive, Scope, Send

__all__ = ["Endpoint", "VideoRoutes", "raw_segments"]

#: A route's handler: the request and the video id (None on the collection).
Endpoint = Callable[[Request, str | None], Awaitable[Response]]

# The shapes under a prefix: the collection, one video, and a video's "content" or "remix".
_TAILS = ("content", "remix")


def _route_path(scope: Scope) -> str:
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def raw_segments(scope: Scope) -> list[str]:
    """
    The path segments the app routes on, still percent-encoded.

    The raw path may or may not include the mount's root path, depending on the server
    and on the mounting app, so the longest raw suffix (at a slash) that decodes to the
    route path is taken.
    """
    route_path = _route_path(scope)
    raw_bytes: bytes | None = scope.get("raw_path")
    if not raw_bytes:
        return quote(route_path, safe="/:@!$&'()*+,;=").split("/")[1:]
    raw = raw_bytes.decode("latin-1").split("?", 1)[0]
    parts = raw.split("/")
    for start in range(1, len(parts)):
        suffix = parts[start:]
        if unquote("/" + "/".join(suffix)) == route_path:
            return suffix
    return quote(route_path, safe="/:@!$&'()*+,;=").split("/")[1:]


class VideoRoutes(BaseRoute):
    """
    The video routes under one prefix (``/v1/videos`` or ``/openai/v1/videos``).

    Args:
        prefix: The collection's path.
        endpoints: ``(shape, method) -> handler``; shapes are ``""``, ``"item"``,
            ``"content"`` and ``"remix"``.
    """

    def __init__(self, prefix: str, endpoints: Mapping[tuple[str, str], Endpoint]) -> None:
        self.prefix = tuple(prefix.strip("/").split("/"))
        self._prefix = list(self.prefix)
        self.endpoints = dict(endpoints)

    def _shape(self, scope: Scope) -> tuple[str, str | None] | None:
        segments = raw_segments(scope)
        n = len(self.prefix)
        head = segments[:n]
        if head != self._prefix and [unquote(s) for s in head] != self._prefix:
            return None
        rest = segments[n:]
        if not rest:
            return "", None
        if len(rest) == 1:
            return "item", unquote(rest[0])
        if len(rest) == 2 and (tail := unquote(rest[1])) in _TAILS:  # id/tail
            return tail, unquote(rest[0])
        return None

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        """Match on the raw path: full when the method is served too, partial otherwise."""
        if scope["type"] != "http":
            return Match.NONE, {}
        found = self._shape(scope)
        if found is None:
            return Match.NONE, {}
        shape, video_id = found
        child = {"path_params": {"shape": shape, "video_id": video_id}}
        if (shape, scope["method"]) in self.endpoints:
            return Match.FULL, child
        return Match.PARTIAL, child

    def allowed(self, shape: str) -> list[str]:
        """The methods a shape serves."""
        return sorted(method for s, method in self.endpoints if s == shape)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Call the endpoint, or answer 405 with the methods the path does serve."""
        params: Mapping[str, Any] = scope["path_params"]
        endpoint = self.endpoints.get((params["shape"], scope["method"]))
        if endpoint is None:
            allow = ", ".join(self.allowed(params["shape"]))
            raise HTTPException(405, headers={"Allow": allow})
        request = Request(scope, receive)
        response = await endpoint(request, params["video_id"])
        await response(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        """These routes have no names to reverse."""
        raise NoMatchFound(name, path_params)
