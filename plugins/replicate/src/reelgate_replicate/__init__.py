"""
Replicate's predictions for reelgate.

Models are ``replicate/<owner>/<name>`` (an official model,
``POST /models/{owner}/{name}/predictions``) or ``replicate/<owner>/<name>:<version>``
(``POST /predictions`` with that ``version``); read with ``GET /predictions/{id}``, stopped
with ``POST /predictions/{id}/cancel`` (the API cannot delete one: the gateway's delete
cancels and forgets). Output files are on Replicate's delivery host, fetched without the
key. `reelgate_replicate.emulator` emulates the API.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime
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
from reelgate.model import cancelled_error
from reelgate.status import progress_from_logs, upstream_status

from .catalog import DEFAULT_BASE_URL, build_input

__all__ = [
    "ReplicateProvider",
    "ReplicateSettings",
    "build_input",
    "parse_error",
    "parse_progress",
    "prediction_to_video",
    "reelgate_register_providers",
]

_STATUSES = {
    "starting": reelgate.VideoStatus.QUEUED,
    "processing": reelgate.VideoStatus.IN_PROGRESS,
    "succeeded": reelgate.VideoStatus.COMPLETED,
    "failed": reelgate.VideoStatus.FAILED,
    "canceled": reelgate.VideoStatus.FAILED,
}
#: An API prediction's inputs, outputs and logs are removed an hour after it finishes.
RETENTION_SECONDS = 3600
_MAX_LIST_PAGES = 50
_MAX_CURSORS = 10_000
_FILE_TYPES = {
    ".mp4": "video/mp4",
    ".mov": "video/quicktime",
    ".webm": "video/webm",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
}


@attrs.frozen(kw_only=True)
class ReplicateSettings(reelgate.ProviderSettings):
    """
    A Replicate instance's settings.

    Attributes:
        base_url: The API's base URL (``REPLICATE_BASE_URL``, else Replicate's own). A URL
            without a path gets ``/v1``, as the official client reads that variable.
    """

    base_url: str | None = DEFAULT_BASE_URL


def _api_base(url: str | None) -> str:
    if not url:
        return DEFAULT_BASE_URL
    return url if urlsplit(url).path.strip("/") else url.rstrip("/") + "/v1"


def parse_error(reply: Reply) -> UpstreamError:
    """
    Read Replicate's problem-details body: ``{"title", "detail", "status", "invalid_fields"}``.

    Input validation failures (422) name the first invalid field as the error's ``param``
    (``input.duration`` -> ``duration``).
    """
    try:
        body = reply.json()
    except ProviderError:
        body = None
    if not isinstance(body, Mapping):
        return UpstreamError(message=f"Replicate answered HTTP {reply.status}", raw=body)
    detail, title = body.get("detail"), body.get("title")
    message = str(detail or title or f"Replicate answered HTTP {reply.status}").strip()
    if title and detail and str(title) not in message:
        message = f"{title}: {message}"
    param = None
    fields = body.get("invalid_fields")
    if isinstance(fields, list) and fields and isinstance(fields[0], Mapping):
        param = str(fields[0].get("field", "")).removeprefix("input.") or None
    return UpstreamError(message=message, param=param, raw=body)


# -- predictions -------------------------------------------------------------------------


def _timestamp(value: Any) -> int | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return int((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp())


def parse_progress(logs: Any) -> float | None:
    """The last progress a model printed in its ``logs`` text (`progress_from_logs`), or None."""
    return progress_from_logs(logs) if isinstance(logs, str) else None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _outputs(output: Any) -> tuple[reelgate.VideoOutput, ...]:
    """The output's file URLs, videos first (a model may also return, say, a poster frame)."""
    urls = [output] if isinstance(output, str) else output if isinstance(output, list) else []
    found = []
    for url in urls:
        if isinstance(url, str) and url.startswith(("https://", "http://")):
            path = urlsplit(url).path.lower()
            kind = next((t for ext, t in _FILE_TYPES.items() if path.endswith(ext)), None)
            found.append(
                reelgate.VideoOutput(type="url", url=url, content_type=kind or "video/mp4")
            )
    return tuple(sorted(found, key=lambda o: not o.content_type.startswith("video/")))


def prediction_to_video(prediction: Any, call: reelgate.Call) -> reelgate.Video:
    """
    A Replicate prediction as a `reelgate.Video` (with its native id).

    ``starting`` is queued, ``processing`` in progress (progress read from the logs),
    ``succeeded`` completed with the output URLs, ``failed`` failed with Replicate's
    ``error``, ``canceled`` failed as cancelled. An API prediction's output expires an
    hour after it completes (``expires_at``); ``data_removed`` says it is gone.

    Raises:
        ProviderError: The prediction has no id.
    """
    if not isinstance(prediction, Mapping) or not prediction.get("id"):
        raise ProviderError("Replicate answered with a prediction that has no id", call=call)
    get = prediction.get
    native = get("status")
    error = None
    if native == "failed":
        error = reelgate.VideoError(
            code="failed", message=str(get("error") or "the prediction failed")
        )
    elif native == "canceled":
        error = cancelled_error()
    metrics, model_input = _mapping(get("metrics")), _mapping(get("input"))
    completed_at = _timestamp(get("completed_at"))
    expires_at = None
    if native == "succeeded" and completed_at and get("source", "api") == "api":
        expires_at = completed_at + RETENTION_SECONDS
    metadata = {
        "status": native,
        "model": get("model"),
        "version": get("version"),
        "predict_time": metrics.get("predict_time"),
        "data_removed": get("data_removed"),
    }
    duration = model_input.get("duration")
    return reelgate.Video(
        id=str(prediction["id"]),
        status=upstream_status(native, _STATUSES, call=call),
        model=get("model"),
        prompt=model_input.get("prompt"),
        seconds=str(duration) if isinstance(duration, int) else None,
        progress=parse_progress(get("logs")) if native == "processing" else None,
        created_at=_timestamp(get("created_at")),
        completed_at=completed_at,
        expires_at=expires_at,
        videos=_outputs(get("output")) if native == "succeeded" else (),
        error=error,
        provider_metadata={k: v for k, v in metadata.items() if v is not None},
    )


def _tail(videos: list[reelgate.Video], after: str | None) -> list[reelgate.Video] | None:
    """The videos after the one with id `after` (all when None; None when it is absent)."""
    if after is None:
        return videos
    ids = [v.id for v in videos]
    return videos[ids.index(after) + 1 :] if after in ids else None


class ReplicateProvider:
    """A Replicate instance: create, retrieve, list, download and cancel."""

    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream
        # Native id -> the cursor of the native page that lists it, so that a page
        # "after" an id starts where that id was (see `list`).
        self._cursors: dict[str, str | None] = {}

    @classmethod
    def from_setup(cls, setup: reelgate.ProviderSetup) -> Self:
        """The factory registered with the spec."""
        upstream = setup.upstream
        return cls(
            attrs.evolve(upstream, base_url=_api_base(upstream.base_url), parse_error=parse_error)
        )

    def __repr__(self) -> str:
        upstream = self.upstream
        return f"ReplicateProvider(instance={upstream.instance!r}, base_url={upstream.base_url!r})"

    async def create(self, request: reelgate.CreateVideo, *, call: reelgate.Call) -> reelgate.Video:
        """Start a prediction; the request is checked first and never retried once sent."""
        path, body = build_input(request, call.model or request.native_model, call)
        answer = await self.upstream.json("POST", path, call=call, idempotent=False, json=body)
        video = prediction_to_video(answer, call)
        return attrs.evolve(video, prompt=video.prompt or request.prompt)

    def _path(self, video_id: str, suffix: str = "") -> str:
        return f"/predictions/{quote(video_id, safe='')}{suffix}"

    async def retrieve(self, video_id: str, *, call: reelgate.Call) -> reelgate.Video:
        """``GET /predictions/{id}``."""
        answer = await self.upstream.json("GET", self._path(video_id), call=call, idempotent=True)
        return attrs.evolve(prediction_to_video(answer, call), id=video_id)

    async def cancel(self, video_id: str, *, call: reelgate.Call) -> None:
        """``POST /predictions/{id}/cancel``: Replicate answers a finished one unchanged."""
        await self.upstream.json(
            "POST", self._path(video_id, "/cancel"), call=call, idempotent=True
        )

    async def _page(
        self, cursor: str | None, call: reelgate.Call
    ) -> tuple[list[reelgate.Video], str | None]:
        params = {"cursor": cursor} if cursor else None
        page = await self.upstream.json(
            "GET", "/predictions", call=call, idempotent=True, params=params
        )
        results = page.get("results") if isinstance(page, Mapping) else None
        if not isinstance(results, list):
            raise ProviderError("Replicate answered a list without results", call=call)
        videos = [prediction_to_video(item, call) for item in results]
        for video in videos:
            self._cursors[video.id] = cursor
        while len(self._cursors) > _MAX_CURSORS:
            del self._cursors[next(iter(self._cursors))]
        following = page.get("next")
        nxt = parse_qs(urlsplit(following).query).get("cursor", [None])[0] if following else None
        return videos, nxt

    async def list(self, query: reelgate.ListQuery, *, call: reelgate.Call) -> reelgate.VideoPage:
        """
        One page of ``GET /predictions`` (newest first, 100 to a page, opaque cursors).

        A page ``after`` an id starts at the native page that listed it (remembered when
        it was seen; else found reading from the newest page) and reads on until one more
        prediction than the page holds is known, so ``has_more`` is exact. Oldest first
        reads the whole list (at most 50 native pages) and reverses it.

        Raises:
            InvalidRequestError: ``after`` is not in the pages read, or the list is too
                long to read oldest first.
        """
        after, desc = query.after, query.order == "desc"
        cursor = self._cursors.get(after) if after is not None else None
        seen: list[reelgate.Video] = []
        for _ in range(_MAX_LIST_PAGES):
            videos, cursor = await self._page(cursor, call)
            seen += videos
            rows = _tail(seen, after) if desc else None
            if cursor is None or (rows is not None and len(rows) > query.limit):
                break
        else:
            if not desc:
                raise InvalidRequestError(
                    f"Replicate's list is longer than {_MAX_LIST_PAGES} pages: list it "
                    "newest first",
                    param="order",
                    call=call,
                )
        rows = _tail(seen if desc else seen[::-1], after)
        if rows is None:
            raise InvalidRequestError(
                f"after: {after!r} is not in Replicate's list", param="after", call=call
            )
        return reelgate.VideoPage(tuple(rows[: query.limit]), len(rows) > query.limit)

    @asynccontextmanager
    async def download(
        self, video_id: str, variant: reelgate.Variant, *, call: reelgate.Call
    ) -> AsyncIterator[reelgate.DownloadStream]:
        """
        Stream the prediction's first output file from the delivery host (without the key).

        Raises:
            UnsupportedOperationError: A variant other than the video.
            VideoNotReadyError: The prediction has not succeeded.
            NotFoundError: Replicate removed the output (an hour after an API prediction
                finishes), or the prediction made no file.
        """
        if variant is not reelgate.Variant.VIDEO:
            raise UnsupportedOperationError(
                f"Replicate outputs have no {variant.value} variant", call=call
            )
        video = await self.retrieve(video_id, call=call)
        if video.status is not reelgate.VideoStatus.COMPLETED:
            raise VideoNotReadyError.for_status(video_id, video.status.value, call=call)
        removed = bool(video.provider_metadata.get("data_removed"))
        gone = NotFoundError(
            f"Replicate has removed the output of prediction {video_id} (an API prediction's "
            "files are deleted an hour after it finishes); run it again"
            if removed or video.videos
            else f"prediction {video_id} made no file to download",
            code="data_removed" if removed or video.videos else None,
            call=call,
        )
        if removed or not video.videos:
            raise gone
        output = video.videos[0]
        async with AsyncExitStack() as stack:
            try:
                stream = await stack.enter_async_context(
                    self.upstream.stream(
                        str(output.url),
                        call=call,
                        default_content_type=output.content_type,
                    )
                )
            except NotFoundError:
                raise gone from None
            yield stream


@reelgate.hookimpl
def reelgate_register_providers(registry: reelgate.ProviderRegistry) -> None:
    """Register the ``replicate`` provider type."""
    registry.add(
        reelgate.ProviderSpec(
            type="replicate",
            factory=ReplicateProvider.from_setup,
            settings=ReplicateSettings,
            key_env=("REPLICATE_API_TOKEN",),
            env={"base_url": "REPLICATE_BASE_URL"},
            poll_interval=5.0,
            description="Replicate: Veo, Kling, Hailuo, Seedance, Wan and Ray predictions",
        )
    )
