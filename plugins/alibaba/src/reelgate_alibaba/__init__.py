"""
The reelgate provider for Alibaba's Wan video models on Model Studio (DashScope).

Video synthesis runs as asynchronous tasks: create is ``POST
/services/aigc/video-generation/video-synthesis`` with ``X-DashScope-Async: enable``;
retrieve is ``GET /tasks/{task_id}`` (``PENDING``, ``RUNNING``, ``SUCCEEDED`` with a
``video_url`` valid for 24 hours, ``FAILED``, ``CANCELED``, or ``UNKNOWN``: no such task);
cancel is ``POST /tasks/{task_id}/cancel`` (``PENDING`` tasks only); download fetches the
``video_url`` from object storage without the key. No list, delete or remix.
`reelgate_alibaba.emulator` is an emulator of the API.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, Self
from urllib.parse import parse_qs, quote, urlsplit

import attrs

import reelgate
from reelgate.errors import (
    InvalidRequestError,
    NotFoundError,
    ProviderError,
    UnsupportedOperationError,
    VideoNotReadyError,
)
from reelgate.http import Reply, Upstream, UpstreamError
from reelgate.model import VideoError, VideoOutput, cancelled_error
from reelgate.status import upstream_status

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_MODELS",
    "RESULT_LIFETIME",
    "TIERS",
    "AlibabaProvider",
    "AlibabaSettings",
    "ModelLimits",
    "parse_error",
    "reelgate_register_providers",
]

#: The international (Singapore) endpoint; mainland China's is
#: ``https://dashscope.aliyuncs.com/api/v1`` (keys work only in their own region).
DEFAULT_BASE_URL = "https://dashscope-intl.aliyuncs.com/api/v1"
#: Seconds a finished task's ``video_url`` stays valid.
RESULT_LIFETIME = 24 * 3600
#: DashScope writes its times in China Standard Time (UTC+8), without a zone.
_CST = dt.timezone(dt.timedelta(hours=8))

#: The ``size`` values of each resolution tier (``WIDTH*HEIGHT``), as Model Studio lists them.
TIERS: Mapping[str, tuple[str, ...]] = {
    "480P": ("832*480", "480*832", "624*624"),
    "720P": ("1280*720", "720*1280", "960*960", "1088*832", "832*1088"),
    "1080P": ("1920*1080", "1080*1920", "1440*1440", "1632*1248", "1248*1632"),
}


@attrs.frozen(kw_only=True)
class ModelLimits:
    """
    What one Wan model takes.

    Attributes:
        seconds: The ``duration`` values, in seconds.
        resolutions: The resolution tiers (``480P``, ``720P``, ``1080P``): a text-to-video
            model takes a ``size`` of these tiers, an image-to-video model the tier itself
            as ``resolution``.
        image: Whether it is an image-to-video model (``img_url`` required).
    """

    seconds: tuple[int, ...] = ()
    resolutions: tuple[str, ...] = ()
    image: bool = False


_UP_TO_15 = tuple(range(2, 16))
#: Wan models and what they take (Model Studio's text-to-video and image-to-video API
#: references); the ``models`` setting adds to it.
DEFAULT_MODELS: Mapping[str, ModelLimits] = {
    "wan2.6-t2v": ModelLimits(seconds=_UP_TO_15, resolutions=("720P", "1080P")),
    "wan2.5-t2v-preview": ModelLimits(seconds=(5, 10), resolutions=("480P", "720P", "1080P")),
    "wan2.2-t2v-plus": ModelLimits(seconds=(5,), resolutions=("480P", "1080P")),
    "wanx2.1-t2v-turbo": ModelLimits(seconds=(5,), resolutions=("480P", "720P")),
    "wanx2.1-t2v-plus": ModelLimits(seconds=(5,), resolutions=("720P",)),
    "wan2.6-i2v": ModelLimits(seconds=_UP_TO_15, resolutions=("720P", "1080P"), image=True),
    "wan2.5-i2v-preview": ModelLimits(
        seconds=(5, 10), resolutions=("480P", "720P", "1080P"), image=True
    ),
    "wan2.2-i2v-plus": ModelLimits(seconds=(5,), resolutions=("480P", "1080P"), image=True),
    "wan2.2-i2v-flash": ModelLimits(seconds=(5,), resolutions=("480P", "720P"), image=True),
    "wanx2.1-i2v-turbo": ModelLimits(seconds=(3, 4, 5), resolutions=("480P", "720P"), image=True),
    "wanx2.1-i2v-plus": ModelLimits(seconds=(5,), resolutions=("720P",), image=True),
}


@attrs.frozen(kw_only=True)
class AlibabaSettings(reelgate.ProviderSettings):
    """
    An ``alibaba`` instance's settings.

    Attributes:
        base_url: The API's base URL, ``/api/v1`` included (default: ``DASHSCOPE_BASE_URL``,
            else the international endpoint `DEFAULT_BASE_URL`).
        workspace: Sent as ``X-DashScope-WorkSpace`` (a sub-workspace of the account).
        models: What each model takes, merged over `DEFAULT_MODELS`.
    """

    workspace: str | None = None
    models: Mapping[str, ModelLimits] = attrs.field(factory=dict)


_STATUSES = {
    "PENDING": reelgate.VideoStatus.QUEUED,
    "RUNNING": reelgate.VideoStatus.IN_PROGRESS,
    "SUCCEEDED": reelgate.VideoStatus.COMPLETED,
    "FAILED": reelgate.VideoStatus.FAILED,
    "CANCELED": reelgate.VideoStatus.FAILED,
}


def parse_error(reply: Reply) -> UpstreamError:
    """Read DashScope's error body: ``{"request_id", "code", "message"}``."""
    try:
        body = reply.json()
    except ProviderError:
        return UpstreamError(message=f"DashScope answered HTTP {reply.status}")
    if not isinstance(body, dict):
        return UpstreamError(message=f"DashScope answered HTTP {reply.status}", raw=body)
    code, message = body.get("code"), body.get("message")
    return UpstreamError(
        message=str(message or code or f"DashScope answered HTTP {reply.status}"),
        code=None if code is None else str(code),
        raw=body,
    )


def _time(value: Any) -> int | None:
    """``2025-07-27 21:05:15.212`` (China Standard Time) as a Unix time."""
    if not isinstance(value, str):
        return None
    try:
        return int(dt.datetime.fromisoformat(value).replace(tzinfo=_CST).timestamp())
    except ValueError:
        return None


def _expires(url: str, finished: int | None) -> int | None:
    """When a result URL stops working: its signature's ``Expires``, else 24 h after the end."""
    values = parse_qs(urlsplit(url).query).get("Expires")
    if values and values[0].isdigit():
        return int(values[0])
    return None if finished is None else finished + RESULT_LIFETIME


def _object(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _malformed(what: str, call: reelgate.Call) -> ProviderError:
    return ProviderError(
        f"DashScope answered {call.request_type} with {what}", upstream=True, call=call
    )


class AlibabaProvider:
    """
    An ``alibaba`` instance.

    Args:
        upstream: Requests to the API.
        models: What each model takes, checked before a create is sent.
    """

    def __init__(self, upstream: Upstream, models: Mapping[str, ModelLimits] | None = None) -> None:
        self.upstream = upstream
        self.models: Mapping[str, ModelLimits] = {**DEFAULT_MODELS, **(models or {})}

    @classmethod
    def from_setup(cls, setup: reelgate.ProviderSetup) -> Self:
        """The factory registered with the spec."""
        settings = setup.settings
        headers = dict(setup.upstream.headers)
        models = None
        if isinstance(settings, AlibabaSettings):
            models = settings.models
            if settings.workspace:
                headers["X-DashScope-WorkSpace"] = settings.workspace
        upstream = attrs.evolve(
            setup.upstream,
            base_url=settings.base_url or DEFAULT_BASE_URL,
            parse_error=parse_error,
            headers=headers,
        )
        return cls(upstream, models)

    def __repr__(self) -> str:
        return f"AlibabaProvider(base_url={self.upstream.base_url!r})"

    async def _json(
        self, method: str, path: str, *, call: reelgate.Call, idempotent: bool, **kwargs: Any
    ) -> Mapping[str, Any]:
        body = await self.upstream.json(method, path, call=call, idempotent=idempotent, **kwargs)
        if not isinstance(body, dict):
            raise _malformed("something that is not a JSON object", call)
        return body

    # -- create ------------------------------------------------------------------------

    def body(self, request: reelgate.CreateVideo, model: str) -> dict[str, Any]:
        """
        The JSON body of a create, checked against what `model` takes.

        ``extra_params`` go into ``parameters``; their ``input`` mapping into ``input``.
        """
        limits = self.models.get(model)
        extra = dict(request.extra_params)
        inputs: dict[str, Any] = {"prompt": request.prompt, **_object(extra.pop("input", None))}
        parameters: dict[str, Any] = {}
        if request.negative_prompt is not None:
            inputs["negative_prompt"] = request.negative_prompt
        if request.input_reference is not None:
            image = request.input_reference
            data = base64.b64encode(image.data or b"").decode("ascii")
            inputs["img_url"] = image.url or f"data:{image.media_type or 'image/png'};base64,{data}"
        if request.seconds is not None:
            parameters["duration"] = int(request.seconds)
        if request.seed is not None:
            parameters["seed"] = request.seed
        if request.size is not None:
            size = request.size.replace("x", "*")
            tier = next((name for name, sizes in TIERS.items() if size in sizes), None)
            if limits is not None and limits.image:
                parameters["resolution"] = tier or size
            else:
                parameters["size"] = size
        parameters.update(extra)
        body = {"model": model, "input": inputs, "parameters": parameters}
        if limits is not None:
            self._check(model, limits, body)
        return body

    def _check(self, model: str, limits: ModelLimits, body: Mapping[str, Any]) -> None:
        def refuse(message: str, param: str) -> InvalidRequestError:
            return InvalidRequestError(f"{model} {message}", param=param, code="invalid_value")

        inputs, parameters = body["input"], body["parameters"]
        if limits.image != ("img_url" in inputs):
            wanted = "an image (input_reference)" if limits.image else "text only: use an i2v model"
            raise refuse(f"makes a video from {wanted}", "input_reference")
        duration = parameters.get("duration")
        if duration is not None and limits.seconds and duration not in limits.seconds:
            raise refuse(
                f"renders {', '.join(map(str, limits.seconds))} seconds, not {duration}", "seconds"
            )
        allowed = [s.replace("*", "x") for tier in limits.resolutions for s in TIERS[tier]]
        size, resolution = parameters.get("size"), parameters.get("resolution")
        if size is not None and allowed and str(size).replace("*", "x") not in allowed:
            raise refuse(f"does not offer size {size}; choose one of {', '.join(allowed)}", "size")
        if resolution is not None and limits.resolutions and resolution not in limits.resolutions:
            tiers = ", ".join(limits.resolutions)
            raise refuse(f"renders {tiers}, not {resolution}; sizes: {', '.join(allowed)}", "size")

    async def create(self, request: reelgate.CreateVideo, *, call: reelgate.Call) -> reelgate.Video:
        """The task's create, asynchronous; never retried after an ambiguous failure."""
        if not call.model:
            raise InvalidRequestError(
                "DashScope needs a model, e.g. alibaba/wan2.5-t2v-preview", param="model", call=call
            )
        body = self.body(request, call.model)
        answer = await self._json(
            "POST",
            "services/aigc/video-generation/video-synthesis",
            call=call,
            idempotent=False,
            json=body,
            headers={"X-DashScope-Async": "enable"},
        )
        seconds = body["parameters"].get("duration")
        seconds = None if seconds is None else str(seconds)
        return attrs.evolve(
            self.to_video(answer, call), model=call.model, prompt=request.prompt, seconds=seconds
        )

    # -- reads -------------------------------------------------------------------------

    async def retrieve(self, video_id: str, *, call: reelgate.Call) -> reelgate.Video:
        """``GET /tasks/{task_id}``; ``UNKNOWN`` (no such task, or a forgotten one) is not found."""
        path = "tasks/" + quote(video_id, safe="")
        answer = await self._json("GET", path, call=call, idempotent=True)
        return self.to_video(answer, call)

    def to_video(self, answer: Mapping[str, Any], call: reelgate.Call) -> reelgate.Video:
        """Read a task answer (``{"request_id", "output": {...}, "usage": {...}}``)."""
        output = _object(answer.get("output"))
        task_id, raw = output.get("task_id"), output.get("task_status")
        if not isinstance(task_id, str) or not task_id:
            raise _malformed("no task_id", call)
        if raw == "UNKNOWN":
            message = f"DashScope does not know task {task_id}: it does not exist, or it is older "
            raise NotFoundError(
                message + "than the 24 hours DashScope keeps tasks",
                code="UNKNOWN",
                upstream=True,
                call=call,
            )
        status = upstream_status(raw, _STATUSES, call=call)
        finished = _time(output.get("end_time"))
        url = output.get("video_url")
        error: VideoError | None = None
        if raw == "CANCELED":
            error = cancelled_error()
        elif status is reelgate.VideoStatus.FAILED:
            error = VideoError(
                code=str(output.get("code") or "failed"),
                message=str(output.get("message") or "DashScope gave no reason"),
            )
        elif status is reelgate.VideoStatus.COMPLETED and not (isinstance(url, str) and url):
            raise _malformed("a finished task without its video_url", call)
        done = status is reelgate.VideoStatus.COMPLETED
        usage = _object(answer.get("usage"))
        duration = usage.get("video_duration") or usage.get("duration")
        return reelgate.Video(
            id=task_id,
            status=status,
            progress=100 if done else None,
            seconds=str(duration) if isinstance(duration, int | float) and duration else None,
            size=str(usage["video_ratio"]).replace("*", "x") if usage.get("video_ratio") else None,
            created_at=_time(output.get("submit_time")),
            completed_at=finished if status.value in ("completed", "failed") else None,
            expires_at=_expires(url, finished) if done and isinstance(url, str) else None,
            videos=(VideoOutput(type="url", url=url),) if done and isinstance(url, str) else (),
            error=error,
            provider_metadata={
                "task_status": raw,
                **{k: output[k] for k in ("actual_prompt", "orig_prompt") if k in output},
                **({"usage": usage} if usage else {}),
            },
        )

    @asynccontextmanager
    async def download(
        self, video_id: str, variant: reelgate.Variant, *, call: reelgate.Call
    ) -> AsyncIterator[reelgate.DownloadStream]:
        """The finished video, from its signed URL on object storage, without the key."""
        if variant is not reelgate.Variant.VIDEO:
            raise UnsupportedOperationError(
                f"Wan makes only the video, not a {variant.value}", param="variant", call=call
            )
        video = await self.retrieve(video_id, call=attrs.evolve(call, operation="retrieve"))
        if video.status is not reelgate.VideoStatus.COMPLETED or not video.videos:
            raise VideoNotReadyError.for_status(video_id, video.status.value, call=call)
        if video.expires_at is not None and video.expires_at <= dt.datetime.now(dt.UTC).timestamp():
            message = f"the video of task {video_id} expired: DashScope keeps results for 24 hours"
            raise NotFoundError(message, code="expired", call=call)
        url = video.videos[0].url or ""
        async with self.upstream.stream(url, call=call, default_content_type="video/mp4") as stream:
            yield stream

    # -- cancel ------------------------------------------------------------------------

    async def cancel(self, video_id: str, *, call: reelgate.Call) -> None:
        """``POST /tasks/{task_id}/cancel``: refused (a 400) unless the task is PENDING."""
        path = f"tasks/{quote(video_id, safe='')}/cancel"
        await self._json("POST", path, call=call, idempotent=True)


@reelgate.hookimpl
def reelgate_register_providers(registry: reelgate.ProviderRegistry) -> None:
    """Register the ``alibaba`` provider type."""
    registry.add(
        reelgate.ProviderSpec(
            type="alibaba",
            factory=AlibabaProvider.from_setup,
            settings=AlibabaSettings,
            key_env=("DASHSCOPE_API_KEY",),
            env={"base_url": "DASHSCOPE_BASE_URL"},
            poll_interval=5.0,
            description="Wan video models on Alibaba Cloud Model Studio (DashScope)",
        )
    )
