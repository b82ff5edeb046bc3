"""
The reelgate provider for xAI's video API (Grok Imagine).

Every video request at xAI is *deferred*: ``POST /videos/generations`` answers a
``request_id`` at once, and ``GET /videos/{request_id}`` answers ``pending`` until the job
is ``done`` (with the video's URL), ``failed`` or ``expired``. The provider maps:

* create to ``POST /videos/generations``, retrieve to ``GET /videos/{request_id}``;
* download to a retrieve, then a GET of the video's URL (xAI's asset host: no key);
* remix to ``POST /videos/edits`` with the finished video's URL (xAI's video editing).

xAI has no list (the gateway lists from its job index) and no delete or cancel (the
gateway's delete forgets the job). `reelgate_xai.emulator` is an emulator of the API.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, Self
from urllib.parse import quote, unquote

import attrs

import reelgate
from reelgate.errors import (
    AuthenticationError,
    InvalidRequestError,
    NotFoundError,
    ProviderError,
    UnsupportedOperationError,
    VideoNotReadyError,
)
from reelgate.http import Reply, Upstream, UpstreamError
from reelgate.model import ContentFilter, VideoError, VideoOutput
from reelgate.status import upstream_status

__all__ = [
    "ASPECT_RATIOS",
    "DEFAULT_BASE_URL",
    "DEFAULT_MODEL",
    "DEFAULT_MODELS",
    "RESOLUTIONS",
    "SIZES",
    "ModelLimits",
    "XAIProvider",
    "XAISettings",
    "parse_error",
    "reelgate_register_providers",
]

#: xAI's own API.
DEFAULT_BASE_URL = "https://api.x.ai/v1"
#: The model a create without one uses.
DEFAULT_MODEL = "grok-imagine-video"
#: The ``aspect_ratio`` values of the API (xai-sdk's ``VideoAspectRatio``).
ASPECT_RATIOS = ("16:9", "4:3", "1:1", "9:16", "3:4", "3:2", "2:3")
#: The ``resolution`` values of the API (xai-sdk's ``VideoResolution``).
RESOLUTIONS = ("480p", "720p", "1080p")


def _frame(ratio: str, lines: int) -> str:
    width, height = (int(side) for side in ratio.split(":"))
    # The resolution is the short side; the long one is rounded to even (854x480).
    long = 2 * round(lines * max(width, height) / min(width, height) / 2)
    return f"{long}x{lines}" if width >= height else f"{lines}x{long}"


#: ``WIDTHxHEIGHT`` sizes and the ``(aspect_ratio, resolution)`` a create sends for them;
#: xAI takes a ratio and a resolution, not a size.
SIZES: Mapping[str, tuple[str, str]] = {
    _frame(ratio, int(resolution[:-1])): (ratio, resolution)
    for ratio in ASPECT_RATIOS
    for resolution in RESOLUTIONS
}


@attrs.frozen(kw_only=True)
class ModelLimits:
    """
    What one model renders; an empty tuple allows any value.

    Attributes:
        seconds: The shortest and the longest ``duration``, in whole seconds.
        aspect_ratios: The ``aspect_ratio`` values it takes.
        resolutions: The ``resolution`` values it takes.
    """

    seconds: tuple[int, int] = (1, 15)
    aspect_ratios: tuple[str, ...] = ()
    resolutions: tuple[str, ...] = ()


#: What xAI documents for its model (docs.x.ai, "Video Generations"); ``models`` adds to it.
DEFAULT_MODELS: Mapping[str, ModelLimits] = {
    DEFAULT_MODEL: ModelLimits(
        seconds=(1, 15), aspect_ratios=ASPECT_RATIOS, resolutions=("480p", "720p")
    ),
}


@attrs.frozen(kw_only=True)
class XAISettings(reelgate.ProviderSettings):
    """
    An ``xai`` instance's settings.

    Attributes:
        base_url: The API's base URL, ``/v1`` included (default: ``XAI_BASE_URL``, else
            ``https://api.x.ai/v1``).
        models: Durations, ratios and resolutions per model, merged over
            `DEFAULT_MODELS`; creates for other models are sent unchecked.
    """

    models: Mapping[str, ModelLimits] = attrs.field(factory=dict)


_STATUSES = {
    "pending": reelgate.VideoStatus.QUEUED,
    "done": reelgate.VideoStatus.COMPLETED,
    "failed": reelgate.VideoStatus.FAILED,
    "expired": reelgate.VideoStatus.FAILED,
}
_EXPIRED = VideoError(code="expired", message="xAI let the request expire before it finished")
_BLOCKED = "the video was blocked by xAI's moderation"


def parse_error(reply: Reply) -> UpstreamError:
    """Read xAI's ``{"code": <gRPC status text>, "error": <message>}`` (or OpenAI's envelope)."""
    try:
        body = reply.json()
    except ProviderError:
        return UpstreamError(message=f"xAI answered HTTP {reply.status}")
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        message, code = error.get("message"), error.get("code")
    elif isinstance(error, str):
        # Some answers arrive percent-encoded ("Incorrect%20API%20key%20provided").
        message, code = unquote(error), body.get("code")
    else:
        return UpstreamError(message=f"xAI answered HTTP {reply.status}", raw=body)
    return UpstreamError(
        message=str(message or f"xAI answered HTTP {reply.status}"),
        code=None if code is None else str(code),
        raw=body,
    )


def _malformed(what: str, call: reelgate.Call) -> ProviderError:
    return ProviderError(f"xAI answered {call.request_type} with {what}", upstream=True, call=call)


def _object(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _image(image: reelgate.ImageInput) -> dict[str, str]:
    if image.url is not None:
        return {"url": image.url}
    data = base64.b64encode(image.data or b"").decode("ascii")
    return {"url": f"data:{image.media_type or 'image/png'};base64,{data}"}


class XAIProvider:
    """
    An ``xai`` instance.

    Args:
        upstream: Requests to the API.
        models: What each model renders, checked before a create is sent.
    """

    def __init__(self, upstream: Upstream, models: Mapping[str, ModelLimits] | None = None) -> None:
        self.upstream = upstream
        self.models: Mapping[str, ModelLimits] = {**DEFAULT_MODELS, **(models or {})}

    @classmethod
    def from_setup(cls, setup: reelgate.ProviderSetup) -> Self:
        """The factory registered with the spec."""
        settings = setup.settings
        models = settings.models if isinstance(settings, XAISettings) else None
        upstream = attrs.evolve(
            setup.upstream,
            base_url=settings.base_url or DEFAULT_BASE_URL,
            parse_error=parse_error,
        )
        return cls(upstream, models)

    def __repr__(self) -> str:
        return f"XAIProvider(base_url={self.upstream.base_url!r})"

    async def _json(
        self, method: str, path: str, *, call: reelgate.Call, idempotent: bool, **kwargs: Any
    ) -> Any:
        try:
            body = await self.upstream.json(
                method, path, call=call, idempotent=idempotent, **kwargs
            )
        except InvalidRequestError as e:
            # xAI answers a wrong key with 400 ("Incorrect API key provided"), not 401.
            if not (e.upstream and "API key" in e.message):
                raise
            raise AuthenticationError(
                e.message, code=e.code, upstream=True, raw_response=e.raw_response, call=call
            ) from None
        if not isinstance(body, dict):
            raise _malformed("something that is not a JSON object", call)
        return body

    # -- create ------------------------------------------------------------------------

    def body(self, request: reelgate.CreateVideo, model: str) -> dict[str, Any]:
        """
        The JSON body of a create, checked against what `model` renders.

        Raises:
            InvalidRequestError: A value the model does not take, or a size that is no
                ratio and resolution of the API (nothing is sent).
        """
        limits = self.models.get(model)
        extra = dict(request.extra_params)
        body: dict[str, Any] = {"model": model, "prompt": request.prompt}
        if request.seconds is not None:
            body["duration"] = int(request.seconds)
        if request.size is not None:
            if request.size not in SIZES:
                raise InvalidRequestError(
                    f"xAI takes an aspect ratio and a resolution, and size {request.size!r} is "
                    f"neither; choose one of {', '.join(SIZES)}, or set aspect_ratio and "
                    "resolution in extra_params",
                    param="size",
                )
            body["aspect_ratio"], body["resolution"] = SIZES[request.size]
        if request.input_reference is not None:
            body["image"] = _image(request.input_reference)
        for name in ("model", "prompt", "image", "duration"):
            if name in extra:
                raise InvalidRequestError(
                    f"extra_params may not set {name!r}; use the request's own field", param=name
                )
        body.update(extra)
        if limits is not None:
            self._check(body, model, limits)
        return body

    def _check(self, body: Mapping[str, Any], model: str, limits: ModelLimits) -> None:
        low, high = limits.seconds
        duration = body.get("duration")
        if duration is not None and not low <= duration <= high:
            raise InvalidRequestError(
                f"{model} renders {low} to {high} seconds; {duration} is not among them",
                param="seconds",
                code="invalid_value",
            )
        for param, allowed in (
            ("aspect_ratio", limits.aspect_ratios),
            ("resolution", limits.resolutions),
        ):
            value = body.get(param)
            if value is not None and allowed and value not in allowed:
                raise InvalidRequestError(
                    f"{model} does not offer {param} {value!r}; choose one of {', '.join(allowed)}",
                    param="size" if param == "resolution" else param,
                    code="invalid_value",
                )

    async def create(self, request: reelgate.CreateVideo, *, call: reelgate.Call) -> reelgate.Video:
        """``POST /videos/generations``; never retried after an ambiguous failure."""
        model = call.model or DEFAULT_MODEL
        body = self.body(request, model)
        answer = await self._json(
            "POST", "videos/generations", call=call, idempotent=False, json=body
        )
        return self._accepted(
            answer, call, model=model, prompt=request.prompt, seconds=request.seconds
        )

    def _accepted(
        self, answer: Mapping[str, Any], call: reelgate.Call, **known: Any
    ) -> reelgate.Video:
        request_id = answer.get("request_id")
        if not isinstance(request_id, str) or not request_id:
            raise _malformed("no request_id", call)
        return reelgate.Video(id=request_id, status=reelgate.VideoStatus.QUEUED, **known)

    # -- reads -------------------------------------------------------------------------

    async def retrieve(self, video_id: str, *, call: reelgate.Call) -> reelgate.Video:
        """``GET /videos/{request_id}``."""
        path = "videos/" + quote(video_id, safe="")
        body = await self._json("GET", path, call=call, idempotent=True)
        return self.to_video(video_id, body, call)

    def to_video(
        self, video_id: str, body: Mapping[str, Any], call: reelgate.Call
    ) -> reelgate.Video:
        """Read a deferred video answer."""
        raw = body.get("status")
        status = upstream_status(raw, _STATUSES, call=call)
        progress = body.get("progress")
        progress = progress if isinstance(progress, int | float) else None
        if status is reelgate.VideoStatus.QUEUED and progress:
            status = reelgate.VideoStatus.IN_PROGRESS
        video = _object(body.get("video"))
        url = video.get("url")
        error: VideoError | None = None
        content_filter: ContentFilter | None = None
        outputs: tuple[VideoOutput, ...] = ()
        if raw == "expired":
            error = _EXPIRED
        elif status is reelgate.VideoStatus.FAILED:
            failure = _object(body.get("error"))
            error = VideoError(
                code=str(failure.get("code") or "failed"),
                message=str(failure.get("message") or "xAI gave no reason"),
            )
        elif status is reelgate.VideoStatus.COMPLETED:
            if video.get("respect_moderation") is False:
                status = reelgate.VideoStatus.FAILED
                error = VideoError(code="moderation_blocked", message=_BLOCKED)
                content_filter = ContentFilter(filtered_count=1, reasons=(_BLOCKED,))
            elif isinstance(url, str) and url:
                outputs = (VideoOutput(type="url", url=url),)
            else:
                raise _malformed("a finished video without its URL", call)
        duration = video.get("duration")
        return reelgate.Video(
            id=video_id,
            status=status,
            model=body.get("model") or None,
            progress=100 if status is reelgate.VideoStatus.COMPLETED else progress,
            seconds=str(duration) if isinstance(duration, int) and duration else None,
            videos=outputs,
            error=error,
            content_filter=content_filter,
            provider_metadata={k: body[k] for k in ("status", "usage", "progress") if k in body},
        )

    async def _current(self, video_id: str, call: reelgate.Call) -> reelgate.Video:
        """The job as a retrieve sees it; a result that expired at xAI is gone."""
        video = await self.retrieve(video_id, call=attrs.evolve(call, operation="retrieve"))
        if video.provider_metadata.get("status") == "expired":
            message = f"video {video_id} expired at xAI; its result is no longer available"
            raise NotFoundError(message, code="expired", upstream=True, call=call)
        return video

    @asynccontextmanager
    async def download(
        self, video_id: str, variant: reelgate.Variant, *, call: reelgate.Call
    ) -> AsyncIterator[reelgate.DownloadStream]:
        """The finished video's MP4, from its URL on xAI's asset host, without the key."""
        if variant is not reelgate.Variant.VIDEO:
            raise UnsupportedOperationError(
                f"xAI makes only the video, not a {variant.value}", param="variant", call=call
            )
        video = await self._current(video_id, call)
        if video.status is not reelgate.VideoStatus.COMPLETED or not video.videos:
            raise VideoNotReadyError.for_status(video_id, video.status.value, call=call)
        url = video.videos[0].url or ""
        async with self.upstream.stream(url, call=call, default_content_type="video/mp4") as stream:
            yield stream

    # -- remix -------------------------------------------------------------------------

    async def remix(self, video_id: str, prompt: str, *, call: reelgate.Call) -> reelgate.Video:
        """``POST /videos/edits`` with the finished video's URL: xAI's video editing."""
        source = await self._current(video_id, call)
        if source.status is not reelgate.VideoStatus.COMPLETED or not source.videos:
            raise InvalidRequestError(
                f"video {video_id} is {source.status.value}; only completed videos can be remixed",
                param="video_id",
                call=call,
            )
        model, url = source.model or DEFAULT_MODEL, source.videos[0].url
        body = {"model": model, "prompt": prompt, "video": {"url": url}}
        answer = await self._json("POST", "videos/edits", call=call, idempotent=False, json=body)
        return self._accepted(
            answer, call, model=model, prompt=prompt, remixed_from_video_id=video_id
        )


@reelgate.hookimpl
def reelgate_register_providers(registry: reelgate.ProviderRegistry) -> None:
    """Register the ``xai`` provider type."""
    registry.add(
        reelgate.ProviderSpec(
            type="xai",
            factory=XAIProvider.from_setup,
            settings=XAISettings,
            key_env=("XAI_API_KEY",),
            env={"base_url": "XAI_BASE_URL"},
            poll_interval=5.0,
            description="xAI's video API (Grok Imagine: /v1/videos/generations)",
        )
    )
