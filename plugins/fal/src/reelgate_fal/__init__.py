"""
fal's queue API for reelgate.

A model is a fal model path (``fal/fal-ai/kling-video/v2.1/master/text-to-video``).
``POST /{model path}`` queues a request; its status (``GET .../requests/{id}/status``),
result (``GET .../requests/{id}``) and cancel (``PUT .../requests/{id}/cancel``) live
under the model's app (its first two path segments), which the provider keeps in the
job's ``provider_state``. Result files are on fal's CDN, fetched without the key. fal
cannot delete a request, only cancel it. `reelgate_fal.emulator` emulates the API.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, Self
from urllib.parse import quote

import attrs

import reelgate
from reelgate.errors import (
    InvalidRequestError,
    NotFoundError,
    ProviderError,
    ReelgateError,
    UnsupportedOperationError,
    VideoNotReadyError,
)
from reelgate.http import Reply, UpstreamError
from reelgate.model import cancelled_error
from reelgate.status import progress_from_logs, upstream_status

from .catalog import DEFAULT_BASE_URL, app_path, build_input

__all__ = [
    "FalProvider",
    "FalSettings",
    "build_input",
    "fal_key",
    "parse_error",
    "reelgate_register_providers",
]

_STATUSES = {
    "IN_QUEUE": reelgate.VideoStatus.QUEUED,
    "IN_PROGRESS": reelgate.VideoStatus.IN_PROGRESS,
    "COMPLETED": reelgate.VideoStatus.COMPLETED,
}
#: The ``error_type`` of a request its caller cancelled (fal's request-error list).
_CANCELLED = "client_cancelled"


@attrs.frozen(kw_only=True)
class FalSettings(reelgate.ProviderSettings):
    """A fal instance's settings: ``base_url`` is the queue's (``FAL_QUEUE_BASE_URL``)."""

    base_url: str | None = DEFAULT_BASE_URL


def fal_key(key: reelgate.Secret) -> dict[str, str]:
    """``Authorization: Key <FAL_KEY>``: fal's scheme."""
    return {"Authorization": f"Key {key.reveal()}"}


def _issue(item: Mapping[str, Any]) -> str:
    where = ".".join(str(p) for p in item.get("loc") or () if p != "body")
    return f"{where}: {item.get('msg')}" if where else str(item.get("msg"))


def parse_error(reply: Reply) -> UpstreamError:
    """
    Read fal's error bodies.

    Request errors are ``{"detail": "...", "error_type": "..."}`` (the type is also in the
    ``X-Fal-Error-Type`` header); model validation errors are ``{"detail": [{"loc":
    ["body", "duration"], "msg": "...", "type": "..."}]}``, whose first field becomes
    the error's ``param``.
    """
    try:
        body = reply.json()
    except ProviderError:
        body = None
    detail = body.get("detail") if isinstance(body, Mapping) else None
    code = body.get("error_type") if isinstance(body, Mapping) else None
    code = code or reply.headers.get("x-fal-error-type")
    if isinstance(detail, list) and detail and isinstance(detail[0], Mapping):
        first = detail[0]
        loc = [str(p) for p in first.get("loc") or () if p != "body"]
        message = "; ".join(_issue(d) for d in detail if isinstance(d, Mapping))
        return UpstreamError(
            message=message, code=code or first.get("type"), param=".".join(loc) or None, raw=body
        )
    if not detail and isinstance(body, Mapping) and body.get("status"):
        detail = f"fal answered {body['status']}"
    return UpstreamError(
        message=str(detail or f"fal answered HTTP {reply.status}"), code=code, raw=body
    )


# -- requests ----------------------------------------------------------------------------


def _progress(logs: Any) -> float | None:
    if not isinstance(logs, list):
        return None
    return progress_from_logs(str(e.get("message", "")) for e in logs if isinstance(e, Mapping))


def _outputs(result: Any) -> tuple[reelgate.VideoOutput, ...]:
    """The video files of a result: ``video``, or each of ``videos``."""
    if not isinstance(result, Mapping):
        return ()
    files = [result.get("video"), *(result.get("videos") or ())]
    return tuple(
        reelgate.VideoOutput(
            type="url", url=f["url"], content_type=f.get("content_type") or "video/mp4"
        )
        for f in files
        if isinstance(f, Mapping) and isinstance(f.get("url"), str)
    )


class FalProvider:
    """A fal instance: create, retrieve, download and cancel."""

    def __init__(self, upstream: reelgate.http.Upstream) -> None:
        self.upstream = upstream

    @classmethod
    def from_setup(cls, setup: reelgate.ProviderSetup) -> Self:
        """The factory registered with the spec."""
        upstream = setup.upstream
        return cls(
            attrs.evolve(
                upstream,
                base_url=upstream.base_url or DEFAULT_BASE_URL,
                parse_error=parse_error,
                auth=fal_key,
            )
        )

    def __repr__(self) -> str:
        return (
            f"FalProvider(instance={self.upstream.instance!r}, base_url={self.upstream.base_url!r})"
        )

    async def create(self, request: reelgate.CreateVideo, *, call: reelgate.Call) -> reelgate.Video:
        """``POST /{model path}``: queue the request; never retried once it may have arrived."""
        model = (call.model or request.native_model).strip("/")
        body = build_input(request, model, call)
        answer = await self.upstream.json(
            "POST", f"/{model}", call=call, idempotent=False, json=body
        )
        if not isinstance(answer, Mapping) or not answer.get("request_id"):
            raise ProviderError(
                "fal queued the request but answered without its request_id",
                call=call,
                ambiguous=True,
            )
        return reelgate.Video(
            id=str(answer["request_id"]),
            status=reelgate.VideoStatus.QUEUED,
            model=model,
            prompt=request.prompt,
            progress=0,
            provider_metadata={
                "status": "IN_QUEUE",
                "queue_position": answer.get("queue_position"),
            },
            provider_state={"app": app_path(model), "model": model},
        )

    def _url(self, video_id: str, call: reelgate.Call, suffix: str = "") -> str:
        app = call.require_state(video_id, "app")["app"]
        return f"/{app}/requests/{quote(video_id, safe='')}{suffix}"

    async def retrieve(self, video_id: str, *, call: reelgate.Call) -> reelgate.Video:
        """
        Read ``GET .../requests/{id}/status?logs=1``, and the result once COMPLETED.

        IN_QUEUE is queued at progress 0 (``queue_position`` in ``provider_metadata``);
        IN_PROGRESS reads its progress from the logs; COMPLETED with an ``error`` (or a
        result answered with a 4xx error) is failed; a cancelled request is failed with
        code ``cancelled``.
        """
        status = await self.upstream.json(
            "GET",
            self._url(video_id, call, "/status"),
            call=call,
            idempotent=True,
            params={"logs": "1"},
        )
        if not isinstance(status, Mapping):
            raise ProviderError("fal answered a status that is not an object", call=call)
        native = status.get("status")
        metrics = status["metrics"] if isinstance(status.get("metrics"), Mapping) else {}
        metadata = {
            "status": native,
            "queue_position": status.get("queue_position"),
            "inference_time": metrics.get("inference_time"),
            "error_type": status.get("error_type"),
        }
        video = reelgate.Video(
            id=video_id,
            status=upstream_status(native, _STATUSES, call=call),
            model=(call.job_state or {}).get("model"),
            progress=0
            if native == "IN_QUEUE"
            else _progress(status.get("logs"))
            if native == "IN_PROGRESS"
            else None,
            provider_metadata={k: v for k, v in metadata.items() if v is not None},
        )
        if native != "COMPLETED":
            return video
        if status.get("error") or status.get("error_type"):
            return self._failed(video, status.get("error_type"), status.get("error"))
        try:
            result = await self.upstream.json(
                "GET", self._url(video_id, call), call=call, idempotent=True
            )
        except NotFoundError as e:
            raise NotFoundError(
                f"fal no longer holds the result of request {video_id}", call=call
            ) from e
        except ReelgateError as e:
            if not e.upstream or (e.status_code or 500) >= 500 or e.status_code == 429:
                raise
            return self._failed(video, e.code, e.message)
        return attrs.evolve(video, videos=_outputs(result))

    @staticmethod
    def _failed(video: reelgate.Video, code: Any, message: Any) -> reelgate.Video:
        error = (
            cancelled_error()
            if code == _CANCELLED
            else reelgate.VideoError(
                code=str(code or "failed"), message=str(message or "the request failed")
            )
        )
        return attrs.evolve(video, status=reelgate.VideoStatus.FAILED, error=error)

    async def cancel(self, video_id: str, *, call: reelgate.Call) -> None:
        """``PUT .../requests/{id}/cancel``; a request that already completed stays as it is."""
        try:
            await self.upstream.request(
                "PUT", self._url(video_id, call, "/cancel"), call=call, idempotent=True
            )
        except InvalidRequestError as e:
            raw = e.raw_response if isinstance(e.raw_response, Mapping) else {}
            if raw.get("status") != "ALREADY_COMPLETED":
                raise

    @asynccontextmanager
    async def download(
        self, video_id: str, variant: reelgate.Variant, *, call: reelgate.Call
    ) -> AsyncIterator[reelgate.DownloadStream]:
        """
        Stream the result's video from fal's CDN (sent without the key).

        Raises:
            UnsupportedOperationError: A variant other than the video.
            VideoNotReadyError: The request has not completed successfully.
        """
        if variant is not reelgate.Variant.VIDEO:
            raise UnsupportedOperationError(
                f"fal results have no {variant.value} variant", call=call
            )
        video = await self.retrieve(video_id, call=call)
        if video.status is not reelgate.VideoStatus.COMPLETED:
            raise VideoNotReadyError.for_status(video_id, video.status.value, call=call)
        if not video.videos:
            raise ProviderError(
                f"fal's result for {video_id} has no video file", call=call, upstream=True
            )
        output = video.videos[0]
        async with self.upstream.stream(
            str(output.url), call=call, default_content_type=output.content_type
        ) as stream:
            yield stream


@reelgate.hookimpl
def reelgate_register_providers(registry: reelgate.ProviderRegistry) -> None:
    """Register the ``fal`` provider type."""
    registry.add(
        reelgate.ProviderSpec(
            type="fal",
            factory=FalProvider.from_setup,
            settings=FalSettings,
            key_env=("FAL_KEY",),
            env={"base_url": "FAL_QUEUE_BASE_URL"},
            poll_interval=5.0,
            description="fal's queue: Kling, Veo, Hailuo, Seedance, Wan, Ray and PixVerse",
        )
    )
