"""
Seedance on BytePlus ModelArk for reelgate: ByteDance's video models through Ark's task API.

A create is ``POST /contents/generations/tasks`` with a ``content`` array (a text item,
image items with a ``role``); the task is read with ``GET /contents/generations/tasks/{id}``,
listed natively with ``GET /contents/generations/tasks?page_num=&page_size=``, and
cancelled (while queued) or deleted (once finished) with ``DELETE`` on its path. The
finished video is fetched from ``content.video_url``, a signed URL on another host,
without the key. `reelgate_bytedance.emulator` emulates the API.
"""

from __future__ import annotations

import math
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import aclosing, asynccontextmanager
from typing import Any, Self

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
from reelgate.http import Reply, Upstream, UpstreamError
from reelgate.model import (
    ContentFilter,
    Deleted,
    VideoError,
    VideoOutput,
    VideoStatus,
    cancelled_error,
)
from reelgate.status import upstream_status

__all__ = [
    "DEFAULT_BASE_URL",
    "MODELS",
    "BytedanceProvider",
    "BytedanceSettings",
    "ModelRules",
    "build_create",
    "parse_error",
    "reelgate_register_providers",
    "task_to_video",
]

#: BytePlus ModelArk in Asia-Pacific (Johor); Volcengine Ark (China) is
#: ``https://ark.cn-beijing.volces.com/api/v3``.
DEFAULT_BASE_URL = "https://ark.ap-southeast.bytepluses.com/api/v3"
TASKS = "/contents/generations/tasks"
#: The native list's page size (Ark takes 1..500).
PAGE_SIZE = 100

_STATUSES = {
    "queued": VideoStatus.QUEUED,
    "running": VideoStatus.IN_PROGRESS,
    "succeeded": VideoStatus.COMPLETED,
    "failed": VideoStatus.FAILED,
    "cancelled": VideoStatus.FAILED,
    "expired": VideoStatus.FAILED,
}
_RATIOS = {"16:9": 16 / 9, "4:3": 4 / 3, "1:1": 1.0, "3:4": 3 / 4, "9:16": 9 / 16, "21:9": 21 / 9}
#: The ``--name`` spelling, in the prompt text, of each parameter's body field.
_TEXT_NAMES = {n: n for n in ("resolution", "ratio", "duration", "frames", "seed", "watermark")}
_TEXT_NAMES |= {"framespersecond": "framepersecond", "camera_fixed": "camerafixed"}


@attrs.frozen(kw_only=True)
class ModelRules:
    """
    What one Seedance model takes, checked before a create is sent.

    Attributes:
        resolutions: Its ``resolution`` values.
        durations: The shortest and longest ``duration`` in seconds.
        image: ``"none"``, ``"optional"`` or ``"required"``.
        in_text: Whether parameters go into the prompt text as ``--name value``
            (Seedance 1.x, whose first API took them only there) or as body fields.
    """

    resolutions: tuple[str, ...] = ("480p", "720p", "1080p")
    durations: tuple[int, int] = (2, 12)
    image: str = "optional"
    in_text: bool = True


_PRO = ModelRules()
_V2 = ModelRules(resolutions=("480p", "720p"), durations=(4, 15), in_text=False)
#: The video models of https://docs.byteplus.com/en/docs/ModelArk/1520757 (2026-12); a
#: model not listed passes unchecked, its parameters as body fields.
MODELS: Mapping[str, ModelRules] = {
    "seedance-1-0-pro-250528": _PRO,
    "seedance-1-0-pro-fast-251015": _PRO,
    "seedance-1-0-lite-t2v-250428": attrs.evolve(_PRO, image="none"),
    "seedance-1-0-lite-i2v-250428": attrs.evolve(_PRO, image="required"),
    "seedance-1-5-pro-251215": attrs.evolve(_PRO, resolutions=("480p", "720p"), durations=(4, 12)),
    "dreamina-seedance-2-0-260128": _V2,
    "dreamina-seedance-2-0-fast-260128": _V2,
}


@attrs.frozen(kw_only=True)
class BytedanceSettings(reelgate.ProviderSettings):
    """Ark's settings: the common ones, with BytePlus's Asia-Pacific API as the default."""

    base_url: str | None = DEFAULT_BASE_URL


def parse_error(reply: Reply) -> UpstreamError:
    """Read Ark's envelope: ``{"error": {"code", "message", "param", "type"}}``."""
    try:
        body = reply.json()
    except ReelgateError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) or not error.get("message"):
        return UpstreamError(message=f"Ark answered HTTP {reply.status}", raw=body)
    return UpstreamError(
        message=str(error["message"]),
        code=_str(error.get("code")),
        type=_str(error.get("type")),
        param=_str(error.get("param")),
        raw=body,
    )


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _size_fields(size: str, call: reelgate.Call) -> dict[str, str]:
    """``WIDTHxHEIGHT`` as Ark's ``resolution`` (by pixel count) and ``ratio`` (nearest)."""
    width, height = (int(n) for n in size.split("x"))
    ratio = min(_RATIOS, key=lambda r: abs(math.log(width / height / _RATIOS[r])))
    if abs(math.log(width / height / _RATIOS[ratio])) > 0.03:
        raise InvalidRequestError(
            f"Seedance renders {', '.join(_RATIOS)}; size {size} is none of them",
            param="size",
            call=call,
        )
    pixels = width * height
    resolution = "480p" if pixels < 600_000 else "720p" if pixels < 1_400_000 else "1080p"
    return {"resolution": resolution, "ratio": ratio}


def _problem(
    rules: ModelRules, model: str, params: Mapping[str, Any], image: bool
) -> tuple[str, str] | None:
    """What the model table says against a request: a message and its parameter."""
    low, high = rules.durations
    resolution, duration = params.get("resolution"), params.get("duration")
    if rules.image == "required" and not image:
        return f"{model} animates an image: give input_reference", "input_reference"
    if rules.image == "none" and image:
        return f"{model} takes no image; use an i2v or pro model", "input_reference"
    if resolution and resolution not in rules.resolutions:
        return f"{model} renders {', '.join(rules.resolutions)}; not {resolution}", "size"
    if duration is not None and duration != -1 and not low <= duration <= high:  # -1: "choose"
        return f"{model} makes videos of {low} to {high} seconds; not {duration}", "seconds"
    return None


def _text_value(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def build_create(request: reelgate.CreateVideo, *, call: reelgate.Call) -> dict[str, Any]:
    """
    The body of ``POST /contents/generations/tasks``, checked against the model table.

    ``seconds``, ``size`` and ``seed`` become ``duration``, ``resolution``/``ratio`` and
    ``seed``; so do the same names in ``extra_params`` (and ``camera_fixed``,
    ``watermark``, ``frames``, ``framespersecond``). For Seedance 1.x they are written at
    the end of the prompt (``--resolution 1080p --duration 5``); for other models they
    are body fields. Other ``extra_params`` go into the body as they are
    (``generate_audio``, ``return_last_frame``, ``service_tier``, ``callback_url``...);
    ``extra_params["last_frame_image"]`` adds a ``last_frame`` image.

    Raises:
        InvalidRequestError: The model does not take what the request asks for.
    """
    extra = dict(request.extra_params)
    params: dict[str, Any] = _size_fields(request.size, call) if request.size else {}
    if request.seconds is not None:
        params["duration"] = int(request.seconds)
    if request.seed is not None:
        params["seed"] = request.seed
    params |= {name: extra.pop(name) for name in _TEXT_NAMES if name in extra}
    last_frame = extra.pop("last_frame_image", None)
    image = request.input_reference
    rules = MODELS.get(str(call.model))
    has_image = image is not None or last_frame is not None
    if rules and (problem := _problem(rules, str(call.model), params, has_image)):
        raise InvalidRequestError(problem[0], param=problem[1], call=call)
    text = request.prompt
    body: dict[str, Any] = {"model": call.model}
    if rules is not None and rules.in_text:
        flags = " ".join(f"--{_TEXT_NAMES[k]} {_text_value(v)}" for k, v in params.items())
        text = f"{text} {flags}".strip() if flags else text
    else:
        body |= params
    content: list[dict[str, Any]] = [{"type": "text", "text": text}]
    if image is not None:
        item = {"type": "image_url", "image_url": {"url": image.url or image.data_url()}}
        content.append(item | ({"role": "first_frame"} if last_frame is not None else {}))
    if last_frame is not None:
        url = {"url": str(last_frame)}
        content.append({"type": "image_url", "image_url": url, "role": "last_frame"})
    return body | {"content": content} | extra


def task_to_video(task: Mapping[str, Any], *, call: reelgate.Call) -> reelgate.Video:
    """A task of Ark's as a `reelgate.Video`."""
    raw = task.get("status")
    status = upstream_status(raw, _STATUSES, call=call)
    content: Mapping[str, Any] = _dict(task.get("content"))
    url = content.get("video_url")
    error = _dict(task.get("error"))
    failure = None
    if raw == "cancelled":
        failure = cancelled_error()
    elif raw == "expired":
        failure = VideoError(code="expired", message="Ark expired the task before it ran")
    elif status is VideoStatus.FAILED:
        failure = VideoError(
            code=_str(error.get("code")) or "failed",
            message=_str(error.get("message")) or "Ark reports the task failed",
        )
    code = str(failure.code) if failure else ""
    metadata = {k: task[k] for k in ("status", "usage", "seed", "resolution", "ratio") if k in task}
    if content.get("last_frame_url"):
        metadata["last_frame_url"] = content["last_frame_url"]
    return reelgate.Video(
        id=str(task["id"]),
        status=status,
        model=_str(task.get("model")),
        seconds=_str(task.get("duration")),
        created_at=task.get("created_at"),
        completed_at=task.get("updated_at") if status.is_terminal else None,
        videos=(VideoOutput(type="url", url=str(url)),) if url else (),
        error=failure,
        content_filter=(
            ContentFilter(filtered_count=1, reasons=(code,)) if "Sensitive" in code else None
        ),
        provider_metadata=metadata,
    )


class BytedanceProvider:
    """An Ark instance: create, retrieve, list, download and delete Seedance tasks."""

    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream

    @classmethod
    def from_setup(cls, setup: reelgate.ProviderSetup) -> Self:
        """The factory registered with the spec."""
        return cls(attrs.evolve(setup.upstream, parse_error=parse_error))

    async def _task(self, video_id: str, call: reelgate.Call) -> dict[str, Any]:
        task = await self.upstream.json("GET", f"{TASKS}/{video_id}", call=call, idempotent=True)
        if not isinstance(task, dict) or "id" not in task:
            raise ProviderError(f"Ark answered task {video_id} without an id", call=call)
        return task

    async def create(self, request: reelgate.CreateVideo, *, call: reelgate.Call) -> reelgate.Video:
        """``POST /contents/generations/tasks``: never retried after an ambiguous failure."""
        body = build_create(request, call=call)
        answer = await self.upstream.json("POST", TASKS, call=call, idempotent=False, json=body)
        if not isinstance(answer, dict) or not answer.get("id"):
            raise ProviderError(
                "Ark accepted the task but sent no id", call=call, upstream=True, ambiguous=True
            )
        return reelgate.Video(
            id=str(answer["id"]),
            status=VideoStatus.QUEUED,
            model=call.model,
            prompt=request.prompt,
            seconds=request.seconds,
            size=request.size,
        )

    async def retrieve(self, video_id: str, *, call: reelgate.Call) -> reelgate.Video:
        """``GET /contents/generations/tasks/{id}``."""
        return task_to_video(await self._task(video_id, call), call=call)

    async def _pages(self, call: reelgate.Call) -> AsyncGenerator[dict[str, Any]]:
        """Every task Ark lists (the last 7 days), newest first, a page at a time."""
        page = 1
        while True:
            params = {"page_num": page, "page_size": PAGE_SIZE}
            body = await self.upstream.json("GET", TASKS, call=call, idempotent=True, params=params)
            items = body.get("items") if isinstance(body, dict) else None
            if not isinstance(items, list):
                raise ProviderError("Ark listed tasks without items", call=call, upstream=True)
            for item in items:
                yield item
            total = body.get("total")
            if not items or (isinstance(total, int) and page * PAGE_SIZE >= total):
                return
            page += 1

    async def list(self, query: reelgate.ListQuery, *, call: reelgate.Call) -> reelgate.VideoPage:
        """
        One page of Ark's native list, behind reelgate's cursors.

        Ark pages by number, newest first; a cursor is a task id. ``desc`` reads pages
        until the cursor and ``limit + 1`` tasks after it; ``asc`` reads the whole list
        (Ark keeps 7 days of tasks) and reverses it.
        """
        found: list[dict[str, Any]] = []
        seen_after = query.after is None or query.order == "asc"
        async with aclosing(self._pages(call)) as tasks:
            async for task in tasks:
                if not seen_after:
                    seen_after = task.get("id") == query.after
                    continue
                found.append(task)
                if query.order == "desc" and len(found) > query.limit:
                    break
        if query.order == "asc":
            found.reverse()
            ids = [t.get("id") for t in found]
            seen_after = query.after is None or query.after in ids
            if query.after is not None and seen_after:
                found = found[ids.index(query.after) + 1 :]
        if not seen_after:
            raise InvalidRequestError(
                f"after: no video {query.after!r} in this list", param="after", call=call
            )
        videos = [task_to_video(t, call=call) for t in found[: query.limit]]
        return reelgate.VideoPage(data=videos, has_more=len(found) > query.limit)

    @asynccontextmanager
    async def download(
        self, video_id: str, variant: reelgate.Variant, *, call: reelgate.Call
    ) -> AsyncIterator[reelgate.DownloadStream]:
        """Read the task for its ``video_url``, then stream it from that host, keyless."""
        if variant is not reelgate.Variant.VIDEO:
            raise UnsupportedOperationError(f"Seedance has no {variant} variant", call=call)
        video = await self.retrieve(video_id, call=call)
        if video.status is not VideoStatus.COMPLETED or not video.videos:
            raise VideoNotReadyError.for_status(video_id, video.status.value, call=call)
        url = str(video.videos[0].url)
        async with self.upstream.stream(url, call=call, default_content_type="video/mp4") as stream:
            yield stream

    async def delete(self, video_id: str, *, call: reelgate.Call) -> Deleted:
        """
        ``DELETE /contents/generations/tasks/{id}``: cancel a queued task, delete a finished one.

        Ark refuses to touch a running task (kept) or a cancelled one (already cancelled).
        """
        try:
            status = (await self._task(video_id, call)).get("status")
        except NotFoundError:
            return Deleted(id=video_id, upstream="deleted")  # gone already: nothing to stop
        if status == "cancelled":
            return Deleted(id=video_id, upstream="cancelled")
        if status == "running":
            return Deleted(id=video_id, upstream="kept")
        try:
            await self.upstream.request("DELETE", f"{TASKS}/{video_id}", call=call, idempotent=True)
        except InvalidRequestError:
            # It started running between the read and the delete: Ark refuses both.
            return Deleted(id=video_id, upstream="kept")
        return Deleted(id=video_id, upstream="cancelled" if status == "queued" else "deleted")


@reelgate.hookimpl
def reelgate_register_providers(registry: reelgate.ProviderRegistry) -> None:
    """Register the ``bytedance`` provider type."""
    registry.add(
        reelgate.ProviderSpec(
            type="bytedance",
            factory=BytedanceProvider.from_setup,
            settings=BytedanceSettings,
            key_env=("ARK_API_KEY",),
            env={"base_url": "ARK_BASE_URL"},
            poll_interval=5.0,
            description="ByteDance Seedance on BytePlus ModelArk: text and image to video",
        )
    )
