"""
The routes, and the answers they give.

``/v1/videos`` as the reference gateway documents it, the same under ``/openai/v1/videos``
for the official OpenAI SDK, ``/health`` and ``/openapi.json``. Every JSON answer carries
``extra_fields``; every error is the wire's error body with the status of its error class.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Any, Literal

import attrs
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import wire
from ..errors import InvalidRequestError, ReelgateError
from ..gateway import Gateway
from ..http import observe_upstream
from ..ids import VideoId
from ..model import Deleted, Variant, Video, VideoPage
from . import bodies
from .access import OWNER_SCOPE_KEY
from .auth import ServerKeys
from .download import DownloadResponse
from .guard import BrowserGuard
from .limits import KeyLimits
from .openapi import openapi_document
from .routing import Endpoint, VideoRoutes

__all__ = ["build_app"]

log = logging.getLogger("reelgate.server")

Flavour = Literal["v1", "openai"]
Result = Video | VideoPage | Deleted | Response

#: The header naming the provider instance to list on the OpenAI-compatible route.
LIST_PROVIDER_HEADER = "x-bf-video-list-provider"

_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")
_EXTENSIONS = {"video/mp4": "mp4", "image/webp": "webp", "image/jpeg": "jpg", "image/png": "png"}


def _stdlib_dumps(body: Any) -> bytes:
    # "replace": text a provider sent that is no valid Unicode (a lone surrogate, which
    # orjson refuses too) must not make a read answer 500.
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(errors="replace")


try:
    # An optional speed-up (about 10 µs an answer): the same bytes, when orjson is installed.
    import orjson
except ImportError:  # pragma: no cover - depends on the environment
    _dumps = _stdlib_dumps
else:

    def _dumps(body: Any) -> bytes:
        try:
            return orjson.dumps(body)
        except TypeError:  # what orjson refuses (integers past 64 bits...) json still writes
            return _stdlib_dumps(body)


class _JSONResponse(Response):
    """A JSON answer whose two headers are written directly (Starlette's generic path costs)."""

    media_type = "application/json"

    def __init__(self, content: bytes, status_code: int = 200) -> None:
        # Everything Response.__init__ would set, without its generic header handling.
        self.status_code = status_code
        self.background = None
        self.body = content
        self.raw_headers = [
            (b"content-length", str(len(content)).encode()),
            (b"content-type", b"application/json"),
        ]


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    if headers:
        return Response(_dumps(body), status, headers, media_type="application/json")
    return _JSONResponse(_dumps(body), status)


def _instance_of(video_id: str | None) -> str | None:
    if not video_id:
        return None
    try:
        return VideoId.parse(video_id).instance
    except InvalidRequestError:
        return None


@attrs.define
class _Call:
    """What one request has established so far, for its answer's ``extra_fields``."""

    request_type: str
    provider: str | None = None
    model: str | None = None
    owner: str | None = None
    raw: bool = False
    video_id: str | None = None

    @property
    def instance(self) -> str | None:
        """The provider instance, as set or as the video id names it (parsed only if asked)."""
        return self.provider if self.provider is not None else _instance_of(self.video_id)


#: How many encoded answers `_Handlers` keeps for states polled again.
_KEPT_ANSWERS = 1024


@attrs.define
class _Handlers:
    gateway: Gateway
    keys: ServerKeys
    max_body_bytes: int
    limits: KeyLimits
    # A poll with no news gets the very Video object the index holds (it is frozen), so
    # its answer, encoded once, is reused: id -> (video, extra_fields values, body).
    _answers: dict[int, tuple[Video, tuple[Any, ...], bytes]] = attrs.field(
        factory=dict, init=False
    )

    async def answer(
        self,
        request: Request,
        call: _Call,
        work: Callable[[_Call], Awaitable[Result]],
    ) -> Response:
        """Authenticate, run `work`, and answer with its result or its error."""
        try:
            call.owner = self.keys.owner(request.headers)
            request.scope[OWNER_SCOPE_KEY] = call.owner
            call.raw = bodies.wants_raw(request.headers)
            with observe_upstream(keep_raw=call.raw) as upstream:
                started = time.perf_counter()
                result = await work(call)
                elapsed = time.perf_counter() - started
        except ReelgateError as e:
            return self.error(e, call)
        if isinstance(result, Response):
            return result
        # Providers without an HTTP API (the simulator) spend their time in-process.
        latency = round((upstream.latency or elapsed) * 1000)
        raw = upstream.raw_responses[-1] if upstream.raw_responses else None
        if not isinstance(raw, dict):
            raw = None
        openai_shape = OPENAI_SHAPE in request.scope
        if isinstance(result, Video):
            fields = (
                call.request_type,
                result.provider or call.instance,
                call.model or result.model,
                latency,
                openai_shape,
            )
            if raw is None and (kept := self._answers.get(id(result))) is not None:
                video, kept_fields, body = kept
                if video is result and kept_fields == fields:
                    return _JSONResponse(body, 200)
            extra = wire.ExtraFields(
                request_type=fields[0],
                provider=fields[1],
                model_requested=fields[2],
                latency=latency,
                raw_response=raw,
            )
            out = wire.video_to_dict(result, extra_fields=extra)
            body = _dumps(openai_video(out, call.model) if openai_shape else out)
            if raw is None:
                if len(self._answers) >= _KEPT_ANSWERS:
                    del self._answers[next(iter(self._answers))]
                self._answers[id(result)] = (result, fields, body)
            return _JSONResponse(body, 200)
        extra = wire.ExtraFields(
            request_type=call.request_type,
            provider=call.instance,
            latency=latency,
            raw_response=raw,
        )
        return _json(_page_or_deleted(result, extra, openai_shape=openai_shape))

    def error(self, error: ReelgateError, call: _Call) -> Response:
        """An error in the wire's error body, with its status."""
        body = wire.error_to_dict(error, model_requested=call.model)
        extra = body["extra_fields"]
        extra.setdefault("request_type", call.request_type)
        if (instance := call.instance) is not None:
            extra.setdefault("provider", instance)
        if not call.raw or not isinstance(extra.get("raw_response"), dict):
            extra.pop("raw_response", None)
        headers: dict[str, str] = {}
        if not _worth_resending(error, body["status_code"]):
            headers["x-should-retry"] = "false"
        if body["status_code"] == 401:
            headers["www-authenticate"] = "Bearer"
        retry_after = getattr(error, "retry_after", None)
        if body["status_code"] == 429 and retry_after is not None:
            headers["retry-after"] = str(max(0, math.ceil(retry_after)))
        return _json(body, body["status_code"], headers)

    # -- the operations ----------------------------------------------------------------

    def create(self, flavour: Flavour) -> Endpoint:
        default_provider = "openai" if flavour == "openai" else None

        async def endpoint(request: Request, _: str | None) -> Response:
            async def work(call: _Call) -> Video:
                key = bodies.idempotency_key(request.headers)
                default = default_provider if default_provider in self.gateway.instances else None
                create = await bodies.create_request(
                    request, self.max_body_bytes, default_provider=default
                )
                call.provider, call.model = create.provider, create.native_model
                if key is not None:
                    create = attrs.evolve(create, idempotency_key=key)
                with self.limits.hold("create", call.owner):
                    return await self.gateway.create(create, owner=call.owner)

            return await self.answer(request, _Call("video_generation"), work)

        return endpoint

    def list(self, flavour: Flavour) -> Endpoint:
        async def endpoint(request: Request, _: str | None) -> Response:
            async def work(call: _Call) -> VideoPage:
                provider = bodies.single_query(request, "provider")
                if flavour == "openai":
                    provider = request.headers.get(LIST_PROVIDER_HEADER) or provider or "openai"
                if not provider:
                    raise InvalidRequestError(
                        "provider query parameter is required", param="provider"
                    )
                call.provider = provider
                query = bodies.list_query(request)
                return await self.gateway.list(
                    provider,
                    limit=query.limit,
                    order=query.order,
                    after=query.after,
                    owner=call.owner,
                )

            return await self.answer(request, _Call("video_list"), work)

        return endpoint

    def retrieve(self, request: Request, video_id: str | None) -> Awaitable[Response]:
        async def work(call: _Call) -> Video:
            return await self.gateway.retrieve(_required(video_id), owner=call.owner)

        return self.answer(request, _Call("video_retrieve", video_id=video_id), work)

    def delete(self, request: Request, video_id: str | None) -> Awaitable[Response]:
        async def work(call: _Call) -> Deleted:
            return await self.gateway.delete(_required(video_id), owner=call.owner)

        return self.answer(request, _Call("video_delete", video_id=video_id), work)

    def download(self, request: Request, video_id: str | None) -> Awaitable[Response]:
        async def work(call: _Call) -> Response:
            variant = Variant.parse(bodies.single_query(request, "variant"))
            vid = _required(video_id)
            opening = self.limits.holding(
                "download", call.owner, self.gateway.download(vid, variant, owner=call.owner)
            )
            return await DownloadResponse.open(opening, lambda t: _filename(vid, variant, t))

        return self.answer(request, _Call("video_download", video_id=video_id), work)

    def remix(self, request: Request, video_id: str | None) -> Awaitable[Response]:
        async def work(call: _Call) -> Video:
            vid = _required(video_id)
            body = await bodies.json_request(request, self.max_body_bytes)
            prompt = body.get("prompt")
            if not isinstance(prompt, str) or not prompt.strip():
                raise InvalidRequestError(
                    "prompt is required and must be a non-empty string", param="prompt"
                )
            return await self.gateway.remix(vid, prompt, owner=call.owner)

        return self.answer(request, _Call("video_remix", video_id=video_id), work)


def _page_or_deleted(
    result: VideoPage | Deleted, extra: wire.ExtraFields, *, openai_shape: bool
) -> dict[str, Any]:
    if isinstance(result, Deleted):
        return wire.deleted_to_dict(result, extra_fields=extra)
    out = wire.page_to_dict(result, extra_fields=extra)
    if openai_shape:
        out["data"] = [openai_video(item, None) for item in out["data"]]
    return out


def _worth_resending(error: ReelgateError, status: int) -> bool:
    """
    Whether an official SDK may resend the request that got this error.

    The OpenAI SDKs resend 408, 409, 429 and 5xx answers unless ``x-should-retry: false``
    says otherwise: a resent create after a lost answer is a second paid job, and a 409
    (not ready) or another 4xx answers the same way however often it is asked.
    """
    if error.ambiguous:
        return False
    if status in (408, 429):
        return True
    return status >= 500


def _required(video_id: str | None) -> str:
    if not video_id:
        raise InvalidRequestError("video_id is required", param="video_id")
    return video_id


def _filename(video_id: str, variant: Variant, content_type: str) -> str:
    native = VideoId.parse(video_id).native
    stem = _UNSAFE_FILENAME.sub("_", native).strip("._")[:100] or "video"
    ext = _EXTENSIONS.get(content_type.split(";", 1)[0].strip().lower(), "bin")
    suffix = "" if variant is Variant.VIDEO else f"-{variant.value}"
    return f"{stem}{suffix}.{ext}"


#: The scope key that marks a request on the OpenAI-compatible routes.
OPENAI_SHAPE = "reelgate.openai_shape"


def openai_video(out: dict[str, Any], model: str | None) -> dict[str, Any]:
    """
    A wire video object completed to OpenAI's ``Video`` schema (in place).

    OpenAI marks ``created_at``, ``model``, ``progress`` (an integer), ``seconds`` and
    ``size`` required; where the provider said nothing the values are 0 and empty strings.
    """
    progress = out.get("progress")
    if out.get("status") == "completed":
        out["progress"] = 100
    else:
        out["progress"] = int(progress) if isinstance(progress, int | float) else 0
    out.setdefault("created_at", 0)
    out.setdefault("model", model or "")
    out.setdefault("seconds", "")
    out.setdefault("size", "")
    return out


def _marked(endpoint: Endpoint) -> Endpoint:
    def marked(request: Request, video_id: str | None) -> Awaitable[Response]:
        request.scope[OPENAI_SHAPE] = True
        return endpoint(request, video_id)

    return marked


def _video_routes(prefix: str, handlers: _Handlers, flavour: Flavour) -> VideoRoutes:
    endpoints: dict[tuple[str, str], Endpoint] = {
        ("", "GET"): handlers.list(flavour),
        ("", "POST"): handlers.create(flavour),
        ("item", "GET"): handlers.retrieve,
        ("item", "DELETE"): handlers.delete,
        ("content", "GET"): handlers.download,
        ("remix", "POST"): handlers.remix,
    }
    if flavour == "openai":
        endpoints = {shape: _marked(endpoint) for shape, endpoint in endpoints.items()}
    return VideoRoutes(prefix, endpoints)


def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)  # noqa: S101  # registered for HTTPException only
    path = request.url.path
    if exc.status_code == 405:
        message = f"{request.method} is not allowed on {path}"
        if allow := (exc.headers or {}).get("Allow"):
            message += f"; allowed: {allow}"
    elif exc.status_code == 404:
        message = f"no route {request.method} {path}"
    else:
        message = str(exc.detail)
    kind = "not_found" if exc.status_code == 404 else "invalid_request_error"
    body = {
        "is_bifrost_error": True,
        "status_code": exc.status_code,
        "error": {"type": kind, "message": message},
        "extra_fields": {},
    }
    headers = dict(exc.headers or {})
    headers["x-should-retry"] = "false"
    return _json(body, exc.status_code, headers)


def _server_error(_request: Request, _exc: Exception) -> Response:
    body = {
        "is_bifrost_error": True,
        "status_code": 500,
        "error": {"type": "server_error", "message": "internal server error"},
        "extra_fields": {},
    }
    # An unexpected failure may come after a provider accepted a create: never resent.
    return _json(body, 500, {"x-should-retry": "false"})


def build_app(
    gateway: Gateway,
    *,
    keys: ServerKeys,
    max_body_bytes: int,
    close_gateway: bool,
    allowed_hosts: Iterable[str] = (),
    watch: bool | Mapping[str, Any] = False,
) -> Starlette:
    """The Starlette app over `gateway` (see `reelgate.server.create_app`)."""
    server = gateway.config.server
    limits = KeyLimits(server.max_concurrent_creates, server.max_concurrent_downloads)
    handlers = _Handlers(gateway, keys, max_body_bytes, limits)
    document = json.dumps(openapi_document(auth=bool(keys)), separators=(",", ":")).encode()

    async def health(_request: Request) -> Response:
        return _json({"status": "ok"})

    async def openapi(_request: Request) -> Response:
        return Response(document, media_type="application/json")

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        try:
            await gateway.replay_spool()
            if watch:
                options = watch if isinstance(watch, Mapping) else {}
                async with gateway.watch(**options):
                    yield
            else:
                yield
        finally:
            if close_gateway:
                await gateway.aclose()

    app = Starlette(
        # The video routes first: they serve nearly every request.
        routes=[
            _video_routes("/v1/videos", handlers, "v1"),
            _video_routes("/openai/v1/videos", handlers, "openai"),
            # The reference gateway mounts its OpenAI routes with and without /v1.
            _video_routes("/openai/videos", handlers, "openai"),
            Route("/health", health, methods=["GET"]),
            Route("/openapi.json", openapi, methods=["GET"]),
        ],
        exception_handlers={HTTPException: _http_error, 500: _server_error},
        lifespan=lifespan,
        # Keys keep web pages out; without them the browser guard does.
        middleware=[] if keys else [Middleware(BrowserGuard, hosts=tuple(allowed_hosts))],
    )
    app.state.gateway = gateway
    app.state.keys = keys
    return app
