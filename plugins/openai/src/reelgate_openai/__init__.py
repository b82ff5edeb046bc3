"""
The reelgate provider for the OpenAI videos API (``/v1/videos``).

It talks to OpenAI's own base URL or to any server that speaks the same wire format
(Azure OpenAI, other gateways, local video servers).

Configure an instance of type ``openai``; several can run side by side::

    [providers.openai]                 # OPENAI_API_KEY, OPENAI_BASE_URL by default
    type = "openai"

    [providers.my-sora]
    type = "openai"
    base_url = "http://127.0.0.1:8090/v1"
    api_key_env = "MY_SORA_KEY"

All six operations map onto the API one to one: create (``POST /videos``, multipart as
OpenAI's SDK sends it), retrieve, the native list, download of the ``video``,
``thumbnail`` and ``spritesheet`` variants, delete and remix. `reelgate_openai.emulator`
is an emulator of the API.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, Self
from urllib.parse import quote

import attrs

import reelgate
from reelgate.errors import (
    InvalidRequestError,
    NotFoundError,
    ProviderError,
    ReelgateError,
    VideoNotReadyError,
)
from reelgate.http import Reply, Upstream
from reelgate.model import ContentFilter, VideoError, cancelled_error
from reelgate.status import upstream_status

from . import _multipart

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_MODELS",
    "POLL_AFTER_HEADER",
    "ModelLimits",
    "OpenAIProvider",
    "OpenAISettings",
    "reelgate_register_providers",
    "to_video",
]

#: OpenAI's own API.
DEFAULT_BASE_URL = "https://api.openai.com/v1"

#: The response header that tells clients when to poll a job again.
POLL_AFTER_HEADER = "openai-poll-after-ms"


@attrs.frozen(kw_only=True)
class ModelLimits:
    """
    The durations and sizes one model renders; an empty tuple allows any value.

    Attributes:
        seconds: Allowed ``seconds`` values, as the wire's strings (``"8"``).
        sizes: Allowed ``WIDTHxHEIGHT`` sizes.
    """

    seconds: tuple[str, ...] = ()
    sizes: tuple[str, ...] = ()


_SECONDS = ("4", "8", "12", "16", "20")
_SIZES = ("720x1280", "1280x720")
_PRO_SIZES = (*_SIZES, "1024x1792", "1792x1024", "1080x1920", "1920x1080")

#: What OpenAI's models render (providers.md §1.2); the ``models`` setting adds to it.
DEFAULT_MODELS: Mapping[str, ModelLimits] = {
    "sora-2": ModelLimits(seconds=_SECONDS, sizes=_SIZES),
    "sora-2-2025-10-06": ModelLimits(seconds=_SECONDS, sizes=_SIZES),
    "sora-2-2025-12-08": ModelLimits(seconds=_SECONDS, sizes=_SIZES),
    "sora-2-pro": ModelLimits(seconds=_SECONDS, sizes=_PRO_SIZES),
    "sora-2-pro-2025-10-06": ModelLimits(seconds=_SECONDS, sizes=_PRO_SIZES),
}


@attrs.frozen(kw_only=True)
class OpenAISettings(reelgate.ProviderSettings):
    """
    An ``openai`` instance's settings.

    Attributes:
        base_url: The API's base URL, ``/v1`` included (default: ``OPENAI_BASE_URL``,
            else ``https://api.openai.com/v1``).
        organization: Sent as ``OpenAI-Organization`` (default: ``OPENAI_ORG_ID``).
        project: Sent as ``OpenAI-Project`` (default: ``OPENAI_PROJECT_ID``).
        models: Durations and sizes per model, merged over `DEFAULT_MODELS`; a create
            for a model listed here (or there) is checked before it is sent, a create
            for any other model is sent as it is.
    """

    organization: str | None = None
    project: str | None = None
    models: Mapping[str, ModelLimits] = attrs.field(factory=dict)


_STATUSES = {
    "queued": reelgate.VideoStatus.QUEUED,
    "in_progress": reelgate.VideoStatus.IN_PROGRESS,
    "completed": reelgate.VideoStatus.COMPLETED,
    "failed": reelgate.VideoStatus.FAILED,
    # Not OpenAI's, but servers that speak its format use them.
    "cancelled": reelgate.VideoStatus.FAILED,
    "canceled": reelgate.VideoStatus.FAILED,
}
_CANCELLED = frozenset({"cancelled", "canceled"})
_VIDEO_KEYS = frozenset(
    {
        "id",
        "object",
        "model",
        "status",
        "progress",
        "created_at",
        "completed_at",
        "expires_at",
        "prompt",
        "size",
        "seconds",
        "remixed_from_video_id",
        "error",
    }
)
_CONTENT_TYPES = {
    reelgate.Variant.VIDEO: "video/mp4",
    reelgate.Variant.THUMBNAIL: "image/webp",
    reelgate.Variant.SPRITESHEET: "image/jpeg",
}
_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif"}
_FILTER_CODES = frozenset({"moderation_blocked", "content_policy_violation", "content_filter"})


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _json(reply: Reply, call: reelgate.Call, *, ambiguous: bool) -> Any:
    try:
        return reply.json()
    except ProviderError as e:
        e.provider, e.request_type, e.ambiguous = call.instance, call.request_type, ambiguous
        raise


def _poll_after(reply: Reply) -> float | None:
    raw = reply.headers.get(POLL_AFTER_HEADER)
    try:
        value = float(raw) / 1000 if raw is not None else None
    except ValueError:
        return None
    return value if value is not None and value >= 0 else None


def _malformed(what: str, call: reelgate.Call) -> ProviderError:
    return ProviderError(
        f"{call.instance} answered {call.request_type} with {what}",
        call=call,
        upstream=True,
    )


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


def to_video(body: Any, call: reelgate.Call, *, poll_after: float | None = None) -> reelgate.Video:
    """
    Read an OpenAI video object.

    Raises:
        ProviderError: The body is not a video object.
    """
    if not isinstance(body, dict) or not isinstance(body.get("id"), str) or not body["id"]:
        raise _malformed("something that is not a video object", call)
    raw_status = body.get("status")
    status = upstream_status(raw_status, _STATUSES, call=call)
    known = raw_status in _STATUSES
    error: VideoError | None = None
    content_filter: ContentFilter | None = None
    raw_error = body.get("error")
    if raw_status in _CANCELLED:
        error = cancelled_error()
    elif isinstance(raw_error, dict):
        error = VideoError(
            code=_text(raw_error.get("code")), message=_text(raw_error.get("message"))
        )
        if error.code in _FILTER_CODES:
            content_filter = ContentFilter(filtered_count=1, reasons=(error.message or error.code,))
    elif status is reelgate.VideoStatus.FAILED:
        error = VideoError(message="the provider gave no reason")
    progress = body.get("progress")
    return reelgate.Video(
        id=body["id"],
        status=status,
        model=_text(body.get("model")),
        progress=progress
        if isinstance(progress, int | float) and not isinstance(progress, bool)
        else None,
        prompt=_text(body.get("prompt")),
        seconds=_text(body.get("seconds")),
        size=_text(body.get("size")),
        created_at=_int(body.get("created_at")),
        completed_at=_int(body.get("completed_at")),
        expires_at=_int(body.get("expires_at")),
        remixed_from_video_id=_text(body.get("remixed_from_video_id")),
        error=error,
        content_filter=content_filter,
        poll_after=poll_after,
        provider_metadata={
            k: v for k, v in body.items() if k not in _VIDEO_KEYS or (k == "status" and not known)
        },
    )


def _form_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    import json  # noqa: PLC0415  # only for the rare structured extra parameter

    return json.dumps(value, separators=(",", ":"))


def _path(video_id: str, *rest: str) -> str:
    return "/".join(("videos", quote(video_id, safe=""), *rest))


class OpenAIProvider:
    """
    An ``openai`` instance: all six operations over one base URL.

    Args:
        upstream: Requests to the API (base URL, key, retries, error mapping).
        models: Durations and sizes per model, checked before a create is sent.
    """

    def __init__(self, upstream: Upstream, models: Mapping[str, ModelLimits] | None = None) -> None:
        self.upstream = upstream
        self.models: Mapping[str, ModelLimits] = {**DEFAULT_MODELS, **(models or {})}

    @classmethod
    def from_setup(cls, setup: reelgate.ProviderSetup) -> Self:
        """The factory registered with the spec."""
        settings = setup.settings
        if not isinstance(settings, OpenAISettings):  # pragma: no cover - registered with it
            settings = OpenAISettings(base_url=settings.base_url)
        headers = dict(setup.upstream.headers)
        if settings.organization:
            headers["OpenAI-Organization"] = settings.organization
        if settings.project:
            headers["OpenAI-Project"] = settings.project
        upstream = attrs.evolve(
            setup.upstream,
            base_url=settings.base_url or DEFAULT_BASE_URL,
            headers=headers,
        )
        return cls(upstream, settings.models)

    def __repr__(self) -> str:
        return f"OpenAIProvider(base_url={self.upstream.base_url!r})"

    # -- create ------------------------------------------------------------------------

    def check(self, request: reelgate.CreateVideo, model: str) -> None:
        """
        Check `request`'s seconds and size against what `model` renders.

        Raises:
            InvalidRequestError: A value the model does not offer (nothing is changed).
        """
        limits = self.models.get(model)
        if limits is None:
            return
        for param, value, allowed in (
            ("seconds", request.seconds, limits.seconds),
            ("size", request.size, limits.sizes),
        ):
            if value is not None and allowed and value not in allowed:
                raise InvalidRequestError(
                    f"{model} does not offer {param} {value!r}; choose one of {', '.join(allowed)}",
                    param=param,
                    code="invalid_value",
                )

    def _fields(self, request: reelgate.CreateVideo, model: str) -> list[tuple[str, Any]]:
        fields: list[tuple[str, Any]] = [("prompt", request.prompt), ("model", model)]
        # Passed on rather than dropped: OpenAI refuses them by name, while compatible
        # servers that take them get them.
        optional = ("seconds", "size", "negative_prompt", "seed", "video_uri", "audio")
        fields += [
            (name, value) for name in optional if (value := getattr(request, name)) is not None
        ]
        taken = {name for name, _ in fields} | {"input_reference"}
        for name, value in request.extra_params.items():
            if name in taken:
                raise InvalidRequestError(
                    f"extra_params may not set {name!r}; use the request's own field", param=name
                )
            fields.append((name, value))
        return fields

    async def create(self, request: reelgate.CreateVideo, *, call: reelgate.Call) -> reelgate.Video:
        """
        ``POST /videos``, never retried after an ambiguous failure.

        The body is multipart/form-data as the SDK sends it, with the image as an
        ``input_reference`` file part; an image given by URL goes as the JSON body form
        ``{"input_reference": {"image_url": ...}}``.

        Raises:
            InvalidRequestError: Seconds or size the model does not offer (nothing sent).
        """
        model = call.model or "sora-2"
        self.check(request, model)
        fields = self._fields(request, model)
        image = request.input_reference
        if image is not None and image.url is not None:
            body = dict(fields)
            body["input_reference"] = {"image_url": image.url}
            reply = await self.upstream.request(
                "POST", "videos", call=call, idempotent=False, json=body
            )
        else:
            files: list[_multipart.FilePart] = []
            if image is not None and image.data is not None:
                media_type = image.media_type or "application/octet-stream"
                filename = f"input_reference.{_EXTENSIONS.get(media_type, 'bin')}"
                files.append(("input_reference", filename, media_type, image.data))
            content, content_type = _multipart.encode(
                ((name, _form_value(value)) for name, value in fields), files
            )
            reply = await self.upstream.request(
                "POST",
                "videos",
                call=call,
                idempotent=False,
                content=content,
                headers={"Content-Type": content_type},
            )
        return to_video(_json(reply, call, ambiguous=True), call, poll_after=_poll_after(reply))

    # -- reads -------------------------------------------------------------------------

    async def retrieve(self, video_id: str, *, call: reelgate.Call) -> reelgate.Video:
        """``GET /videos/{id}``; the ``openai-poll-after-ms`` header becomes `Video.poll_after`."""
        reply = await self.upstream.request("GET", _path(video_id), call=call, idempotent=True)
        return to_video(_json(reply, call, ambiguous=False), call, poll_after=_poll_after(reply))

    async def list(self, query: reelgate.ListQuery, *, call: reelgate.Call) -> reelgate.VideoPage:
        """``GET /videos`` with ``after``, ``limit`` and ``order`` passed through."""
        params = {"limit": query.limit, "order": query.order, "after": query.after}
        body = await self.upstream.json("GET", "videos", call=call, idempotent=True, params=params)
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise _malformed("something that is not a list of videos", call)
        return reelgate.VideoPage(
            tuple(to_video(item, call) for item in body["data"]), bool(body.get("has_more"))
        )

    @asynccontextmanager
    async def download(
        self, video_id: str, variant: reelgate.Variant, *, call: reelgate.Call
    ) -> AsyncIterator[reelgate.DownloadStream]:
        """
        ``GET /videos/{id}/content?variant=...``, streamed with the variant's content type.

        Raises:
            VideoNotReadyError: The job has not completed (the API refused, and a
                retrieve says why).
        """
        async with AsyncExitStack() as stack:
            try:
                stream = await stack.enter_async_context(
                    self.upstream.stream(
                        _path(video_id, "content"),
                        call=call,
                        params={"variant": variant.value},
                        headers={"Accept": "application/binary"},
                        default_content_type=_CONTENT_TYPES[variant],
                    )
                )
            except (InvalidRequestError, NotFoundError, VideoNotReadyError) as refused:
                raise await self._why_refused(video_id, refused, call) from None
            yield stream

    async def _why_refused(
        self, video_id: str, refused: ReelgateError, call: reelgate.Call
    ) -> ReelgateError:
        """The API's 4xx for a download: not ready, or the error as it was."""
        if not refused.upstream:
            return refused
        retrieve = attrs.evolve(call, operation=reelgate.Operation.RETRIEVE)
        try:
            video = await self.retrieve(video_id, call=retrieve)
        except ReelgateError as e:
            e.request_type = call.request_type
            return e
        if video.status is reelgate.VideoStatus.COMPLETED:
            return refused
        return VideoNotReadyError.for_status(
            video_id,
            video.status.value,
            code=refused.code,
            call=call,
            upstream=True,
            raw_response=refused.raw_response,
        )

    # -- writes ------------------------------------------------------------------------

    async def delete(self, video_id: str, *, call: reelgate.Call) -> reelgate.Deleted:
        """``DELETE /videos/{id}``."""
        body = await self.upstream.json("DELETE", _path(video_id), call=call, idempotent=True)
        if not isinstance(body, dict):
            raise _malformed("something that is not a deletion", call)
        return reelgate.Deleted(
            id=str(body.get("id") or video_id), deleted=bool(body.get("deleted", True))
        )

    async def remix(self, video_id: str, prompt: str, *, call: reelgate.Call) -> reelgate.Video:
        """``POST /videos/{id}/remix`` with a JSON prompt; never retried when ambiguous."""
        reply = await self.upstream.request(
            "POST", _path(video_id, "remix"), call=call, idempotent=False, json={"prompt": prompt}
        )
        return to_video(_json(reply, call, ambiguous=True), call, poll_after=_poll_after(reply))


@reelgate.hookimpl
def reelgate_register_providers(registry: reelgate.ProviderRegistry) -> None:
    """Register the ``openai`` and ``azure`` provider types."""
    registry.add(
        reelgate.ProviderSpec(
            type="openai",
            factory=OpenAIProvider.from_setup,
            settings=OpenAISettings,
            key_env=("OPENAI_API_KEY",),
            env={
                "base_url": "OPENAI_BASE_URL",
                "organization": "OPENAI_ORG_ID",
                "project": "OPENAI_PROJECT_ID",
            },
            poll_interval=2.0,
            description="the OpenAI videos API (/v1/videos) and servers that speak it",
        )
    )
    registry.add(azure.spec)


# Last: the azure type builds on the names above.
from . import azure  # noqa: E402
