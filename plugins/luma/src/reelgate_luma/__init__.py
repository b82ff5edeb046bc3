"""
Luma's Dream Machine API for reelgate: Ray 2 video generations.

A create goes to ``POST /generations/video`` (an image becomes the first keyframe,
``keyframes.frame0``); a generation is read with ``GET /generations/{id}``, listed with
``GET /generations?limit=&offset=`` and deleted with ``DELETE /generations/{id}``. The
finished video is fetched from ``assets.video``, a CDN URL, without the key.

Luma's list pages by offset, newest first; reelgate's cursors are ids. `LumaProvider.list`
walks Luma's pages to the cursor and returns what follows it, so a page stays right when
new generations push the offsets along (see ``docs/plugins/luma.md``).
`reelgate_luma.emulator` emulates the API for tests.
"""

from __future__ import annotations

import math
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import aclosing, asynccontextmanager
from datetime import UTC, datetime
from typing import Any, Self
from urllib.parse import quote

import attrs

import reelgate
from reelgate.errors import InvalidRequestError, ProviderError, VideoNotReadyError
from reelgate.http import Reply, Upstream, UpstreamError
from reelgate.model import VideoError
from reelgate.status import upstream_status

__all__ = [
    "DEFAULT_BASE_URL",
    "MODELS",
    "LumaProvider",
    "LumaSettings",
    "ModelRules",
    "build_create",
    "generation_to_video",
    "parse_error",
    "reelgate_register_providers",
]

DEFAULT_BASE_URL = "https://api.lumalabs.ai/dream-machine/v1"

_STATES = {
    "queued": reelgate.VideoStatus.QUEUED,
    "dreaming": reelgate.VideoStatus.IN_PROGRESS,
    "completed": reelgate.VideoStatus.COMPLETED,
    "failed": reelgate.VideoStatus.FAILED,
}

ASPECT_RATIOS = ("16:9", "9:16", "1:1", "4:3", "3:4", "21:9", "9:21")
#: Pixels of a frame's short side for each of Luma's resolutions.
_SHORT_SIDE = {540: "540p", 720: "720p", 1080: "1080p", 2160: "4k"}
#: ``21:9`` is ``7:3`` in lowest terms.
_RATIO_NAMES = {"7:3": "21:9", "3:7": "9:21"}
#: Fields of a create that reelgate's request has its own names for.
_OWN_FIELDS = {"model": "model", "prompt": "prompt", "duration": "seconds"}
#: Rows per request when walking the list to a cursor, and how far the walk goes.
_SCAN_PAGE = 100
_SCAN_ROWS = 10_000


@attrs.frozen(kw_only=True)
class ModelRules:
    """What a Ray model accepts (from the ``lumaai`` SDK's ``VideoCreateParams``)."""

    resolutions: tuple[str, ...] = ("540p", "720p", "1080p", "4k")
    durations: tuple[str, ...] = ("5s", "9s")
    aspect_ratios: tuple[str, ...] = ASPECT_RATIOS


MODELS: Mapping[str, ModelRules] = {"ray-2": ModelRules(), "ray-flash-2": ModelRules()}


@attrs.frozen(kw_only=True)
class LumaSettings(reelgate.ProviderSettings):
    """A Luma instance's settings: the base URL defaults to Luma's (``LUMAAI_BASE_URL``)."""

    base_url: str | None = DEFAULT_BASE_URL


def parse_error(reply: Reply) -> UpstreamError:
    """Read Luma's error body: ``{"detail": "..."}`` or a list of ``{loc, msg}`` issues."""
    try:
        body = reply.json()
    except ProviderError:
        body = None
    detail = body.get("detail") if isinstance(body, Mapping) else None
    if isinstance(detail, list):  # a validation error: [{"loc": [...], "msg": ...}]
        issues = [_issue(i) for i in detail if isinstance(i, Mapping)]
        detail = "; ".join(issues) or None
    if not detail:
        return UpstreamError(message=f"Luma answered HTTP {reply.status}", raw=body)
    return UpstreamError(message=str(detail), raw=body)


def _issue(issue: Mapping[str, Any]) -> str:
    where = ".".join(str(p) for p in issue.get("loc") or () if p != "body")
    return f"{where}: {issue.get('msg')}" if where else str(issue.get("msg"))


def _shape(size: str, model: str, rules: ModelRules | None) -> tuple[str, str]:
    """A ``WxH`` size as Luma's ``aspect_ratio`` and ``resolution``."""
    width, height = (int(n) for n in size.split("x"))
    gcd = math.gcd(width, height)
    ratio = f"{width // gcd}:{height // gcd}"
    ratio = _RATIO_NAMES.get(ratio, ratio)
    resolution = _SHORT_SIDE.get(min(width, height))
    ratios = rules.aspect_ratios if rules else ASPECT_RATIOS
    if ratio not in ratios or resolution is None:
        raise InvalidRequestError(
            f"size {size} is not a Luma {model} frame: its short side must be 540, 720, "
            f"1080 or 2160 pixels and its aspect ratio one of {', '.join(ratios)} "
            "(e.g. 1280x720, 1080x1920)",
            param="size",
        )
    return ratio, resolution


def _check(body: Mapping[str, Any], model: str, rules: ModelRules) -> None:
    for field, allowed, param in (
        ("aspect_ratio", rules.aspect_ratios, "size"),
        ("resolution", rules.resolutions, "size"),
        ("duration", rules.durations, "seconds"),
    ):
        if field in body and body[field] not in allowed:
            shown = ", ".join(a.removesuffix("s") if param == "seconds" else a for a in allowed)
            raise InvalidRequestError(
                f"Luma's {model} takes {param if param == 'seconds' else field} one of "
                f"{shown}; got {body[field]!r}",
                param=param,
            )


def build_create(request: reelgate.CreateVideo, model: str) -> dict[str, Any]:
    """
    The JSON body of ``POST /generations/video``, checked against the model's rules.

    ``size`` becomes ``aspect_ratio`` and ``resolution``, ``seconds`` becomes
    ``duration`` (``"5s"``), an image becomes ``keyframes.frame0``; ``extra_params``
    (``loop``, ``keyframes.frame1``, ``callback_url``, ``concepts``, or ``aspect_ratio``
    and ``resolution`` themselves) pass through. Models outside `MODELS` are not checked.

    Raises:
        InvalidRequestError: The request cannot succeed on the model (nothing is sent).
    """
    rules = MODELS.get(model)
    extra = dict(request.extra_params)
    _refuse_foreign(request, extra)
    body: dict[str, Any] = {"model": model, "prompt": request.prompt, "generation_type": "video"}
    if request.size is not None:
        if "aspect_ratio" in extra or "resolution" in extra:
            raise InvalidRequestError(
                "give size, or extra_params aspect_ratio and resolution, not both", param="size"
            )
        body["aspect_ratio"], body["resolution"] = _shape(request.size, model, rules)
    if request.seconds is not None:
        body["duration"] = f"{request.seconds}s"
    if keyframes := _keyframes(request, extra.pop("keyframes", None)):
        body["keyframes"] = keyframes
    body.update(extra)
    if rules is not None:
        _check(body, model, rules)
    return body


def _refuse_foreign(request: reelgate.CreateVideo, extra: Mapping[str, Any]) -> None:
    """Refuse fields Luma's video API lacks, and extras that shadow the request's own."""
    for name, field in _OWN_FIELDS.items():
        if name in extra:
            raise InvalidRequestError(
                f"extra_params.{name}: set the request's {field} instead", param="extra_params"
            )
    for field in ("negative_prompt", "seed", "audio", "video_uri"):
        if getattr(request, field) is not None:
            raise InvalidRequestError(f"Luma's video API has no {field}", param=field)


def _keyframes(request: reelgate.CreateVideo, given: Any) -> dict[str, Any]:
    """``keyframes``: the image as ``frame0`` (by URL), beside any frames given in extras."""
    keyframes = dict(given or {})
    image = request.input_reference
    if image is None:
        return keyframes
    if "frame0" in keyframes:
        raise InvalidRequestError(
            "give input_reference or extra_params.keyframes.frame0, not both",
            param="input_reference",
        )
    if image.url is None:
        raise InvalidRequestError(
            "Luma reads keyframe images from a URL; give input_reference as an https URL",
            param="input_reference",
        )
    keyframes["frame0"] = {"type": "image", "url": image.url}
    return keyframes


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _timestamp(value: Any) -> int | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return int((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp())


def generation_to_video(generation: Any, *, call: reelgate.Call) -> reelgate.Video:
    """
    A Luma generation as a `reelgate.Video`.

    ``queued`` is queued, ``dreaming`` in progress, ``completed`` completed with
    ``assets.video``, ``failed`` failed with ``failure_reason``; another state is no news
    (`reelgate.status.upstream_status`). Luma reports no progress.

    Raises:
        ProviderError: The generation has no id.
    """
    if not isinstance(generation, Mapping) or not generation.get("id"):
        raise ProviderError("Luma answered with a generation that has no id", call=call)
    state = generation.get("state")
    status = upstream_status(state, _STATES, call=call)
    asked = _mapping(generation.get("request"))
    assets = _mapping(generation.get("assets"))
    video_url = assets.get("video") if state == "completed" else None
    error = None
    if state == "failed":
        error = VideoError(
            code="failed", message=generation.get("failure_reason") or "Luma failed the generation"
        )
    duration = asked.get("duration")
    metadata = {"state": state}
    metadata.update({k: asked[k] for k in ("aspect_ratio", "resolution", "loop") if k in asked})
    return reelgate.Video(
        id=str(generation["id"]),
        status=status,
        model=generation.get("model") or asked.get("model"),
        prompt=asked.get("prompt"),
        seconds=duration.removesuffix("s") if isinstance(duration, str) else None,
        created_at=_timestamp(generation.get("created_at")),
        videos=(reelgate.VideoOutput(type="url", url=video_url),) if video_url else (),
        error=error,
        provider_metadata=metadata,
    )


class LumaProvider:
    """A Luma instance: create, retrieve, list, download and delete."""

    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream

    @classmethod
    def from_setup(cls, setup: reelgate.ProviderSetup) -> Self:
        """The factory registered with the spec."""
        up = setup.upstream
        return cls(
            attrs.evolve(up, base_url=up.base_url or DEFAULT_BASE_URL, parse_error=parse_error)
        )

    def __repr__(self) -> str:
        upstream = self.upstream
        return f"LumaProvider(instance={upstream.instance!r}, base_url={upstream.base_url!r})"

    async def create(self, request: reelgate.CreateVideo, *, call: reelgate.Call) -> reelgate.Video:
        """``POST /generations/video``, checked first and never retried once it may have landed."""
        model = call.model or request.native_model
        body = build_create(request, model)
        answer = await self.upstream.json(
            "POST", "/generations/video", call=call, idempotent=False, json=body
        )
        if not isinstance(answer, Mapping) or not answer.get("id"):
            raise ProviderError("Luma answered a create without an id", call=call, ambiguous=True)
        video = generation_to_video(answer, call=call)
        return attrs.evolve(video, size=request.size, model=video.model or model)

    def _path(self, video_id: str) -> str:
        return f"/generations/{quote(video_id, safe='')}"

    async def retrieve(self, video_id: str, *, call: reelgate.Call) -> reelgate.Video:
        """``GET /generations/{id}``."""
        answer = await self.upstream.json("GET", self._path(video_id), call=call, idempotent=True)
        return attrs.evolve(generation_to_video(answer, call=call), id=video_id)

    async def _rows(self, call: reelgate.Call) -> AsyncGenerator[Mapping[str, Any]]:
        """Every generation, newest first, page by page, up to ``_SCAN_ROWS``."""
        offset = 0
        while offset < _SCAN_ROWS:
            window = {"limit": _SCAN_PAGE, "offset": offset}
            page = await self.upstream.json(
                "GET", "/generations", call=call, idempotent=True, params=window
            )
            rows = page.get("generations") if isinstance(page, Mapping) else None
            if not isinstance(rows, list):
                raise ProviderError("Luma's list answered without generations", call=call)
            for row in rows:
                yield row
            if not rows or page.get("has_more") is False:
                return
            offset += len(rows)

    async def list(self, query: reelgate.ListQuery, *, call: reelgate.Call) -> reelgate.VideoPage:
        """
        ``GET /generations?limit=&offset=``, read as a list with id cursors.

        Newest first (``desc``): pages are read until the cursor's generation, then
        until one row past the page, so ``has_more`` is exact. Oldest first (``asc``)
        reads the whole list and turns it round. Either stops after 10 000 rows.

        Raises:
            InvalidRequestError: The cursor is not among the listed generations.
        """
        async with aclosing(self._rows(call)) as source:
            if query.order == "desc":
                return await self._page(source, query, call)
            everything = [row async for row in source]
        async with aclosing(_replay(everything[::-1])) as rows:
            return await self._page(rows, query, call)

    async def _page(
        self, rows: AsyncIterator[Mapping[str, Any]], query: reelgate.ListQuery, call: reelgate.Call
    ) -> reelgate.VideoPage:
        found = query.after is None
        page: list[reelgate.Video] = []
        async for row in rows:
            if not found:
                found = str(row.get("id")) == query.after
                continue
            if len(page) == query.limit:
                return reelgate.VideoPage(tuple(page), has_more=True)
            page.append(generation_to_video(row, call=call))
        if not found:
            raise InvalidRequestError(
                f"after: {query.after!r} is not among Luma's generations", param="after", call=call
            )
        return reelgate.VideoPage(tuple(page), has_more=False)

    async def delete(self, video_id: str, *, call: reelgate.Call) -> reelgate.Deleted:
        """``DELETE /generations/{id}``: the generation is gone upstream."""
        await self.upstream.request("DELETE", self._path(video_id), call=call, idempotent=True)
        return reelgate.Deleted(id=video_id, upstream="deleted")

    @asynccontextmanager
    async def download(
        self, video_id: str, variant: reelgate.Variant, *, call: reelgate.Call
    ) -> AsyncIterator[reelgate.DownloadStream]:
        """
        Stream ``assets.video`` from Luma's CDN, without the key.

        Raises:
            UnsupportedOperationError: A variant other than the video.
            VideoNotReadyError: The generation has not completed.
        """
        if variant is not reelgate.Variant.VIDEO:
            raise reelgate.UnsupportedOperationError(
                f"Luma has no {variant.value} variant; only the video can be downloaded",
                call=call,
            )
        video = await self.retrieve(video_id, call=call)
        if video.status is not reelgate.VideoStatus.COMPLETED:
            raise VideoNotReadyError.for_status(video_id, video.status.value, call=call)
        if not video.videos or not video.videos[0].url:
            raise ProviderError(
                f"Luma lists no video for the completed generation {video_id}",
                call=call,
                upstream=True,
            )
        async with self.upstream.stream(
            video.videos[0].url, call=call, default_content_type="video/mp4"
        ) as stream:
            yield stream


async def _replay(rows: list[Mapping[str, Any]]) -> AsyncGenerator[Mapping[str, Any]]:
    for row in rows:
        yield row


@reelgate.hookimpl
def reelgate_register_providers(registry: reelgate.ProviderRegistry) -> None:
    """Register the ``luma`` provider type."""
    registry.add(
        reelgate.ProviderSpec(
            type="luma",
            factory=LumaProvider.from_setup,
            settings=LumaSettings,
            key_env=("LUMAAI_API_KEY",),
            env={"base_url": "LUMAAI_BASE_URL"},
            poll_interval=5.0,
            description="Luma Dream Machine: ray-2 and ray-flash-2 text- and image-to-video",
        )
    )
