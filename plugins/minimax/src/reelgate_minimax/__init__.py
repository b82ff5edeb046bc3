"""
MiniMax's Hailuo video API for reelgate.

Reaching a finished video takes three calls: ``POST /video_generation`` answers a
``task_id``; ``GET /query/video_generation?task_id=`` answers the task's status and, once
it is ``Success``, a ``file_id``; ``GET /files/retrieve?file_id=`` answers the file's
``download_url`` on a CDN host, fetched without the key. The file id is kept in the job's
``provider_state`` as soon as a poll sees it, so a download makes two calls, not three.

MiniMax reports most errors inside an HTTP 200 body, as ``base_resp.status_code`` (0 is
success); `base_resp_error` maps the documented codes to reelgate's errors. The API has
no list, no delete and no cancel: the gateway lists jobs from its index and forgets
deleted ones without telling MiniMax. `reelgate_minimax.emulator` emulates the API.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, Self

import attrs

import reelgate
from reelgate._redact import scrub
from reelgate.errors import (
    AuthenticationError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitError,
    ReelgateError,
    UnsupportedOperationError,
    VideoNotReadyError,
)
from reelgate.http import Reply, Upstream, UpstreamError
from reelgate.model import ContentFilter, VideoError, VideoStatus
from reelgate.status import upstream_status

__all__ = [
    "DEFAULT_BASE_URL",
    "MODELS",
    "MinimaxProvider",
    "MinimaxSettings",
    "ModelRules",
    "base_resp_error",
    "build_create",
    "parse_error",
    "reelgate_register_providers",
]

#: The international platform's API (platform.minimax.io); China's is api.minimaxi.com.
DEFAULT_BASE_URL = "https://api.minimax.io/v1"

_STATUSES = {
    "Preparing": VideoStatus.QUEUED,
    "Queueing": VideoStatus.QUEUED,
    "Processing": VideoStatus.IN_PROGRESS,
    "Success": VideoStatus.COMPLETED,
    "Fail": VideoStatus.FAILED,
}

#: ``base_resp.status_code`` -> (error class, error type). The table of
#: https://platform.minimax.io/docs/api-reference/errorcode, read for a video task.
_CODES: dict[int, tuple[type[ReelgateError], str]] = {
    1000: (ProviderError, "unknown_error"),
    1001: (ProviderTimeoutError, "request_timeout"),
    1002: (RateLimitError, "rate_limit"),
    1004: (AuthenticationError, "not_authorized"),
    1008: (PermissionDeniedError, "insufficient_balance"),
    1013: (ProviderError, "internal_error"),
    1024: (ProviderError, "internal_error"),
    1026: (InvalidRequestError, "sensitive_input"),
    1027: (InvalidRequestError, "sensitive_output"),
    1033: (ProviderError, "system_error"),
    1039: (InvalidRequestError, "token_limit"),
    1041: (RateLimitError, "connection_limit"),
    2013: (InvalidRequestError, "invalid_params"),
    2045: (RateLimitError, "rate_growth_limit"),
    2049: (AuthenticationError, "invalid_api_key"),
}
#: The codes that say the input or output broke MiniMax's content rules.
_SENSITIVE = frozenset({1026, 1027})
#: Resolutions named by the shorter side of a ``WIDTHxHEIGHT`` size.
_RESOLUTIONS = {512: "512P", 720: "720P", 768: "768P", 1080: "1080P"}


@attrs.frozen(kw_only=True)
class ModelRules:
    """
    What one MiniMax model accepts, checked before a create is sent.

    Attributes:
        resolutions: Its ``resolution`` values; the first is MiniMax's default.
        durations: Its ``duration`` values in seconds; the first is the default.
        image: ``"none"``, ``"optional"`` or ``"required"`` (``first_frame_image``).
        long_resolutions: The resolutions that allow durations over 6 s.
        image_only_resolutions: Resolutions allowed only with a first frame.
    """

    resolutions: tuple[str, ...]
    durations: tuple[int, ...] = (6,)
    image: str = "optional"
    long_resolutions: tuple[str, ...] = ()
    image_only_resolutions: tuple[str, ...] = ()


_HAILUO = ModelRules(resolutions=("768P", "1080P"), durations=(6, 10), long_resolutions=("768P",))
#: The models of https://platform.minimax.io/docs/api-reference/video-generation-t2v and
#: ``-i2v`` (2025-12); a model not listed passes unchecked.
MODELS: Mapping[str, ModelRules] = {
    "MiniMax-Hailuo-2.3": _HAILUO,
    "MiniMax-Hailuo-2.3-Fast": attrs.evolve(_HAILUO, image="required"),
    "MiniMax-Hailuo-02": attrs.evolve(
        _HAILUO,
        resolutions=("768P", "1080P", "512P"),
        image_only_resolutions=("512P",),
        long_resolutions=("768P", "512P"),
    ),
    "T2V-01-Director": ModelRules(resolutions=("720P",), image="none"),
    "T2V-01": ModelRules(resolutions=("720P",), image="none"),
    "I2V-01-Director": ModelRules(resolutions=("720P",), image="required"),
    "I2V-01-live": ModelRules(resolutions=("720P",), image="required"),
    "I2V-01": ModelRules(resolutions=("720P",), image="required"),
}


@attrs.frozen(kw_only=True)
class MinimaxSettings(reelgate.ProviderSettings):
    """MiniMax's settings: the common ones, with the international API as the default."""

    base_url: str | None = DEFAULT_BASE_URL


def parse_error(reply: Reply) -> UpstreamError:
    """Read a non-2xx answer: a ``base_resp`` envelope, else a ``message`` or ``error``."""
    try:
        body = json.loads(reply.content)
    except ValueError:
        body = None
    found = body if isinstance(body, dict) else {}
    code, msg = _base_resp(found)
    error = found.get("error")
    msg = msg or (error.get("message") if isinstance(error, dict) else None) or found.get("message")
    message = str(msg or f"MiniMax answered HTTP {reply.status}")
    return UpstreamError(message=message, code=None if code is None else str(code), raw=body)


def base_resp_error(body: Mapping[str, Any], *, call: reelgate.Call) -> ReelgateError | None:
    """
    The error a 200 answer's ``base_resp`` carries, or None when its code is 0.

    A task or file id MiniMax rejects as an invalid parameter (2013) on a read is a
    `NotFoundError`: the id is the read's only parameter.
    """
    code, msg = _base_resp(body)
    if code in (0, None):
        return None
    message = scrub(f"MiniMax refused the request: {msg} (status_code {code})", _keys(call))
    cls, kind = _CODES.get(code, (ProviderError, "upstream_error"))
    if code == 2013 and call.operation is not reelgate.Operation.CREATE:
        cls = NotFoundError
    raw = json.loads(scrub(json.dumps(body), _keys(call)))
    return cls(message, type=kind, code=str(code), call=call, upstream=True, raw_response=raw)


def _keys(call: reelgate.Call) -> tuple[Any, ...]:
    return (call.key,) if call.key is not None else ()


def _resolution(request: reelgate.CreateVideo, call: reelgate.Call) -> str | None:
    if (named := request.extra_params.get("resolution")) is not None:
        return str(named).upper()
    if request.size is None:
        return None
    width, height = (int(n) for n in request.size.split("x"))
    resolution = _RESOLUTIONS.get(min(width, height))
    if resolution is None:
        raise InvalidRequestError(
            f"MiniMax renders 512P, 720P, 768P or 1080P; size {request.size} is none of them",
            param="size",
            call=call,
        )
    return resolution


def _problem(
    rules: ModelRules, model: str, resolution: str | None, duration: int | None, image: bool
) -> tuple[str, str] | None:
    """What the model table says against a request: a message and its parameter."""
    allowed = [r for r in rules.resolutions if image or r not in rules.image_only_resolutions]
    longest = ", ".join(rules.long_resolutions)
    if rules.image == "required" and not image:
        return f"{model} animates an image: give input_reference", "input_reference"
    if rules.image == "none" and image:
        return f"{model} takes no image; use an I2V or Hailuo model", "input_reference"
    if resolution is not None and resolution not in allowed:
        return f"{model} renders {', '.join(allowed)}; not {resolution}", "size"
    if duration is not None and duration not in rules.durations:
        seconds = " or ".join(str(d) for d in rules.durations)
        return f"{model} makes videos of {seconds} seconds; not {duration}", "seconds"
    if (
        duration
        and duration > 6
        and (resolution or rules.resolutions[0]) not in rules.long_resolutions
    ):
        return f"{model} makes {duration}-second videos only at {longest}", "seconds"
    return None


def build_create(request: reelgate.CreateVideo, *, call: reelgate.Call) -> dict[str, Any]:
    """
    The body of ``POST /video_generation``, checked against the model table.

    ``extra_params`` go into the body as they are (``prompt_optimizer``,
    ``fast_pretreatment``, ``aigc_watermark``, ``last_frame_image``, ``callback_url``...);
    ``extra_params["resolution"]`` names a resolution directly.

    Raises:
        InvalidRequestError: The model does not take what the request asks for.
    """
    resolution = _resolution(request, call)
    duration = int(request.seconds) if request.seconds is not None else None
    image = request.input_reference
    rules = MODELS.get(str(call.model))
    if rules and (problem := _problem(rules, str(call.model), resolution, duration, bool(image))):
        raise InvalidRequestError(problem[0], param=problem[1], call=call)
    body: dict[str, Any] = {"model": call.model, "prompt": request.prompt}
    if duration is not None:
        body["duration"] = duration
    if resolution is not None:
        body["resolution"] = resolution
    if image is not None:
        body["first_frame_image"] = image.url or image.data_url()
    body.update({k: v for k, v in request.extra_params.items() if k != "resolution"})
    return body


class MinimaxProvider:
    """A MiniMax instance: create, retrieve and download over the three-call API."""

    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream

    @classmethod
    def from_setup(cls, setup: reelgate.ProviderSetup) -> Self:
        """The factory registered with the spec."""
        return cls(attrs.evolve(setup.upstream, parse_error=parse_error))

    async def _call(
        self, method: str, path: str, *, call: reelgate.Call, idempotent: bool, **kwargs: Any
    ) -> dict[str, Any]:
        body = await self.upstream.json(method, path, call=call, idempotent=idempotent, **kwargs)
        if not isinstance(body, dict):
            raise ProviderError(f"MiniMax answered {path} with no object", call=call, upstream=True)
        # A Fail task's base_resp is why the job failed, not a refusal of the query.
        if body.get("status") != "Fail" and (error := base_resp_error(body, call=call)):
            raise error
        return body

    async def create(self, request: reelgate.CreateVideo, *, call: reelgate.Call) -> reelgate.Video:
        """``POST /video_generation``: never retried after an ambiguous failure."""
        payload = build_create(request, call=call)
        body = await self._call(
            "POST", "/video_generation", call=call, idempotent=False, json=payload
        )
        if not (task_id := body.get("task_id")):
            raise ProviderError("MiniMax sent no task_id", call=call, upstream=True, ambiguous=True)
        return reelgate.Video(
            id=str(task_id),
            status=VideoStatus.QUEUED,
            model=call.model,
            prompt=request.prompt,
            seconds=_seconds(payload, MODELS.get(str(call.model))),
            size=request.size,
        )

    async def retrieve(self, video_id: str, *, call: reelgate.Call) -> reelgate.Video:
        """``GET /query/video_generation``; a ``Success`` brings the file id into the state."""
        body = await self._call(
            "GET",
            "/query/video_generation",
            call=call,
            idempotent=True,
            params={"task_id": video_id},
        )
        raw = body.get("status")
        status = upstream_status(raw, _STATUSES, call=call)
        metadata: dict[str, Any] = {"status": raw}
        state: dict[str, Any] | None = None
        size = None
        if status is VideoStatus.COMPLETED:
            if not body.get("file_id"):
                raise ProviderError(
                    f"MiniMax names no file for {video_id}", call=call, upstream=True
                )
            state = {"file_id": str(body["file_id"])}
            metadata["file_id"] = state["file_id"]
            if body.get("video_width") and body.get("video_height"):
                size = f"{body['video_width']}x{body['video_height']}"
        return reelgate.Video(
            id=str(body.get("task_id") or video_id),
            status=status,
            size=size,
            error=_failure(body) if status is VideoStatus.FAILED else None,
            content_filter=_filtered(body) if status is VideoStatus.FAILED else None,
            provider_metadata=metadata,
            provider_state=state,
        )

    @asynccontextmanager
    async def download(
        self, video_id: str, variant: reelgate.Variant, *, call: reelgate.Call
    ) -> AsyncIterator[reelgate.DownloadStream]:
        """
        ``GET /files/retrieve`` for the download URL, then the file from the CDN, keyless.

        The file id comes from the job's provider state; a job without one (never seen
        finished, or not created through reelgate) is queried for it first.
        """
        if variant is not reelgate.Variant.VIDEO:
            raise UnsupportedOperationError(f"MiniMax has no {variant} variant", call=call)
        file_id = (call.job_state or {}).get("file_id")
        if file_id is None:
            video = await self.retrieve(video_id, call=call)
            if video.status is not VideoStatus.COMPLETED or video.provider_state is None:
                raise VideoNotReadyError.for_status(video_id, video.status.value, call=call)
            file_id = video.provider_state["file_id"]
        body = await self._call(
            "GET", "/files/retrieve", call=call, idempotent=True, params={"file_id": file_id}
        )
        file = body.get("file")
        url = file.get("download_url") if isinstance(file, dict) else None
        if not url:
            raise ProviderError(
                f"MiniMax names no download_url for file {file_id}", call=call, upstream=True
            )
        async with self.upstream.stream(
            str(url), call=call, default_content_type="video/mp4"
        ) as stream:
            yield stream


def _base_resp(body: Mapping[str, Any]) -> tuple[Any, Any]:
    resp = body.get("base_resp")
    return (
        (resp.get("status_code"), resp.get("status_msg"))
        if isinstance(resp, dict)
        else (None, None)
    )


def _seconds(payload: Mapping[str, Any], rules: ModelRules | None) -> str | None:
    """The duration sent, else the model's default (unknown for a model not in the table)."""
    if "duration" in payload:
        return str(payload["duration"])
    return str(rules.durations[0]) if rules else None


def _failure(body: Mapping[str, Any]) -> VideoError:
    code, msg = _base_resp(body)
    if code in (0, None) or not msg:
        return VideoError(code="generation_failed", message="MiniMax reports the task as Fail")
    kind = "content_filtered" if code in _SENSITIVE else "generation_failed"
    return VideoError(code=kind, message=f"{msg} (status_code {code})")


def _filtered(body: Mapping[str, Any]) -> ContentFilter | None:
    code, msg = _base_resp(body)
    if code not in _SENSITIVE:
        return None
    return ContentFilter(filtered_count=1, reasons=(str(msg or code),))


@reelgate.hookimpl
def reelgate_register_providers(registry: reelgate.ProviderRegistry) -> None:
    """Register the ``minimax`` provider type."""
    registry.add(
        reelgate.ProviderSpec(
            type="minimax",
            factory=MinimaxProvider.from_setup,
            settings=MinimaxSettings,
            key_env=("MINIMAX_API_KEY",),
            env={"base_url": "MINIMAX_BASE_URL"},
            poll_interval=10.0,
            description="MiniMax Hailuo 2.3, 02, T2V-01, I2V-01: text and image to video",
        )
    )
