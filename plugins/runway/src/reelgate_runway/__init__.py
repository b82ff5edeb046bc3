"""
Runway's video tasks for reelgate: text-, image- and video-to-video.

A create goes to ``POST /v1/text_to_video``, ``/v1/image_to_video`` (when an image is
given) or ``/v1/video_to_video`` (when ``video_uri`` is given); the task is then read
with ``GET /v1/tasks/{id}`` and cancelled or deleted with ``DELETE /v1/tasks/{id}``.
Finished videos are fetched from the signed URLs the task lists, without the key.

Runway has no list and no remix: the gateway lists Runway jobs from its job index and
reports remix as unsupported. `reelgate_runway.emulator` emulates the API for tests.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime
from typing import Any, Self
from urllib.parse import quote, urlsplit

import attrs

import reelgate
from reelgate.errors import (
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    ProviderError,
    UnsupportedOperationError,
    VideoNotReadyError,
)
from reelgate.http import Reply, Upstream, UpstreamError, bearer
from reelgate.model import cancelled_error
from reelgate.status import upstream_status

from .catalog import (
    DEFAULT_BASE_URL,
    IMAGE_TO_VIDEO,
    MAX_DATA_URI_CHARS,
    MAX_PROMPT_UTF16,
    MODELS,
    RUNWAY_VERSION,
    TEXT_TO_VIDEO,
    VIDEO_TO_VIDEO,
    ModelRules,
    utf16_length,
)

__all__ = [
    "RunwayProvider",
    "RunwaySettings",
    "build_create",
    "parse_error",
    "reelgate_register_providers",
    "task_to_video",
]

_STATUSES = {
    "PENDING": reelgate.VideoStatus.QUEUED,
    "THROTTLED": reelgate.VideoStatus.QUEUED,
    "RUNNING": reelgate.VideoStatus.IN_PROGRESS,
    "SUCCEEDED": reelgate.VideoStatus.COMPLETED,
    "FAILED": reelgate.VideoStatus.FAILED,
    "CANCELLED": reelgate.VideoStatus.FAILED,
}

#: Runway's wire names of the request fields reelgate names otherwise.
_PARAMS = {
    "model": "model",
    "promptText": "prompt",
    "promptImage": "input_reference",
    "ratio": "size",
    "duration": "seconds",
    "seed": "seed",
    "negativePrompt": "negative_prompt",
    "audio": "audio",
    "videoUri": "video_uri",
}

_OUTPUT_TYPES = {".mp4": "video/mp4", ".mov": "video/quicktime", ".zip": "application/zip"}
_MAX_SEED = 4_294_967_295
_MAX_ISSUE_CHARS = 300
_SNAKE = re.compile(r"_([a-z0-9])")


@attrs.frozen(kw_only=True)
class RunwaySettings(reelgate.ProviderSettings):
    """
    A Runway instance's settings.

    Attributes:
        base_url: The API's base URL (``RUNWAYML_BASE_URL``, else Runway's own).
        runway_version: The ``X-Runway-Version`` every request sends.
    """

    base_url: str | None = DEFAULT_BASE_URL
    runway_version: str = RUNWAY_VERSION


# -- errors ------------------------------------------------------------------------------


def _describe_issue(issue: Any) -> str:
    if not isinstance(issue, Mapping):
        return str(issue)[:_MAX_ISSUE_CHARS]
    path = ".".join(str(p) for p in issue.get("path") or ())
    message = str(issue.get("message") or issue.get("code") or "invalid")
    if note := issue.get("note"):
        message = f"{message} ({note})"
    message = message[:_MAX_ISSUE_CHARS]
    return f"{path}: {message}" if path else message


def parse_error(reply: Reply) -> UpstreamError:
    """
    Read Runway's error body: ``{"error": "...", "issues": [...], "docUrl": "..."}``.

    Validation issues (zod's list of ``{path, message, code}``) are folded into one
    readable message, e.g. ``Validation of body failed: ratio: Invalid option: expected
    one of "1280:720"|"720:1280"``; the first issue's field, in reelgate's name for it,
    becomes the error's ``param``.
    """
    try:
        body = reply.json()
    except ProviderError:
        body = None
    error = body.get("error") if isinstance(body, Mapping) else None
    if not error:
        return UpstreamError(message=f"Runway answered HTTP {reply.status}", raw=body)
    message = str(error.get("message", error) if isinstance(error, Mapping) else error)
    issues = body.get("issues") if isinstance(body, Mapping) else None
    param = code = None
    if isinstance(issues, list) and issues:
        message = f"{message}: " + "; ".join(_describe_issue(i) for i in issues)
        first = issues[0] if isinstance(issues[0], Mapping) else {}
        path = [str(p) for p in first.get("path") or ()]
        if path:
            param = ".".join([_PARAMS.get(path[0], path[0]), *path[1:]])
        code = str(first["code"]) if first.get("code") else None
    return UpstreamError(message=message, code=code, param=param, raw=body)


# -- create ------------------------------------------------------------------------------


def _camel(name: str) -> str:
    return _SNAKE.sub(lambda m: m.group(1).upper(), name)


def _camel_keys(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {_camel(str(k)): _camel_keys(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_camel_keys(v) for v in value]
    return value


def _prompt_image(image: reelgate.ImageInput) -> str:
    if image.url is not None:
        if not image.url.startswith("https://"):
            raise InvalidRequestError(
                "Runway fetches input_reference URLs only over https", param="input_reference"
            )
        return image.url
    data_uri = image.data_url()
    if len(data_uri) > MAX_DATA_URI_CHARS:
        raise InvalidRequestError(
            f"input_reference is {len(data_uri)} characters as a data URI; Runway takes at "
            f"most {MAX_DATA_URI_CHARS} (5 MB): give an https URL instead",
            param="input_reference",
        )
    return data_uri


def _seconds_rule(durations: tuple[int, ...]) -> str:
    if len(durations) > 2 and durations == tuple(range(durations[0], durations[-1] + 1)):
        return f"a whole number from {durations[0]} to {durations[-1]}"
    return "one of " + ", ".join(str(d) for d in durations)


def _endpoint(request: reelgate.CreateVideo, extra: Mapping[str, Any]) -> str:
    has_image = request.input_reference is not None or "promptImage" in extra
    if request.video_uri is not None:
        if has_image:
            raise InvalidRequestError(
                "give either input_reference or video_uri, not both", param="video_uri"
            )
        return VIDEO_TO_VIDEO
    return IMAGE_TO_VIDEO if has_image else TEXT_TO_VIDEO


def _ratio_and_duration(
    request: reelgate.CreateVideo, model: str, rules: ModelRules, endpoint: str
) -> tuple[str, int | None]:
    """The ``ratio`` and ``duration`` to send, checked against the model's table."""
    if endpoint not in rules.ratios:
        serves = " and ".join(rules.endpoints).replace("_", "-")
        hint = ": give an input_reference image" if rules.endpoints == (IMAGE_TO_VIDEO,) else ""
        raise InvalidRequestError(
            f"Runway's {model} does {serves} only{hint}",
            param="video_uri" if endpoint == VIDEO_TO_VIDEO else "input_reference",
        )
    allowed = rules.ratios[endpoint]
    ratio = request.size.replace("x", ":", 1) if request.size else allowed[0]
    if ratio not in allowed:
        sizes = ", ".join(r.replace(":", "x") for r in allowed)
        raise InvalidRequestError(
            f"size {request.size} is not offered by Runway's {model} for "
            f"{endpoint.replace('_', '-')}; choose one of {sizes}",
            param="size",
        )
    if request.seconds is None:
        return ratio, rules.default_duration
    if int(request.seconds) not in rules.durations:
        raise InvalidRequestError(
            f"seconds must be {_seconds_rule(rules.durations)} for Runway's {model}; "
            f"got {request.seconds}",
            param="seconds",
        )
    return ratio, int(request.seconds)


def _check_fields(request: reelgate.CreateVideo, model: str, rules: ModelRules) -> None:
    if request.negative_prompt is not None and not rules.negative_prompt:
        raise InvalidRequestError(
            f"negative_prompt is for Runway's Veo models, not {model}", param="negative_prompt"
        )
    if request.audio is not None and not rules.audio:
        raise InvalidRequestError(
            f"audio is for Runway's veo3.1 and veo3.1_fast, not {model}", param="audio"
        )
    if utf16_length(request.prompt) > MAX_PROMPT_UTF16:
        raise InvalidRequestError(
            f"prompt is longer than Runway's {MAX_PROMPT_UTF16} characters", param="prompt"
        )


def build_create(request: reelgate.CreateVideo, model: str) -> tuple[str, dict[str, Any]]:
    """
    The endpoint and JSON body of a create, checked against the model's rules.

    Models outside `reelgate_runway.catalog.MODELS` are not checked: their size becomes
    ``ratio`` ``W:H`` and their seconds ``duration`` as given, for Runway to judge.

    Args:
        request: What the caller asked for.
        model: The native model name.

    Returns:
        The endpoint (``text_to_video``, ``image_to_video`` or ``video_to_video``) and
        the body to send to ``POST /v1/<endpoint>``.

    Raises:
        InvalidRequestError: The request cannot succeed on this model: an unsupported
            size, duration or field, an image that is too large, or an ``extra_params``
            entry that duplicates one of the request's own fields.
    """
    extra: dict[str, Any] = _camel_keys(dict(request.extra_params))
    for name, field in _PARAMS.items():
        if name in extra and not (name == "promptImage" and request.input_reference is None):
            raise InvalidRequestError(
                f"extra_params.{name}: set the request's {field} instead", param="extra_params"
            )
    endpoint = _endpoint(request, extra)
    rules = MODELS.get(model)
    ratio: str | None
    duration: int | None
    if rules is not None:
        ratio, duration = _ratio_and_duration(request, model, rules, endpoint)
        _check_fields(request, model, rules)
    else:
        ratio = request.size.replace("x", ":", 1) if request.size else None
        duration = int(request.seconds) if request.seconds is not None else None
    seed = request.seed
    if seed is not None and (isinstance(seed, bool) or not 0 <= seed <= _MAX_SEED):
        raise InvalidRequestError(f"seed must be from 0 to {_MAX_SEED}; got {seed!r}", param="seed")
    body: dict[str, Any] = {"model": model, "promptText": request.prompt}
    if request.input_reference is not None:
        body["promptImage"] = _prompt_image(request.input_reference)
    if request.video_uri is not None:
        body["videoUri"] = request.video_uri
    optional = {
        "ratio": ratio,
        "duration": duration,
        "seed": seed,
        "negativePrompt": request.negative_prompt,
        "audio": request.audio,
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    body.update(extra)
    return endpoint, body


# -- tasks -------------------------------------------------------------------------------


def _timestamp(value: Any) -> int | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def _output(url: str) -> reelgate.VideoOutput:
    path = urlsplit(url).path.lower()
    kind = next((t for ext, t in _OUTPUT_TYPES.items() if path.endswith(ext)), "video/mp4")
    return reelgate.VideoOutput(type="url", url=url, content_type=kind)


def _credits(task: Mapping[str, Any]) -> dict[str, Any]:
    return {name: task[name] for name in ("estimatedCost", "cost") if task.get(name) is not None}


def task_to_video(task: Any, call: reelgate.Call) -> reelgate.Video:
    """
    A Runway task as a `reelgate.Video` (with its native id).

    PENDING and THROTTLED are queued; RUNNING is in progress (Runway's 0..1 progress as
    0..100); SUCCEEDED is completed with every output URL; FAILED is failed with
    Runway's ``failureCode`` and ``failure``; CANCELLED is failed with code
    ``cancelled``. Credits and Runway's own status are kept in ``provider_metadata``; a
    status Runway adds later follows the core's rule (`reelgate.status.upstream_status`).

    Raises:
        ProviderError: The task has no id or status.
    """
    if (
        not isinstance(task, Mapping)
        or not task.get("id")
        or not isinstance(task.get("status"), str)
    ):
        raise ProviderError("Runway answered with a task that has no id or status", call=call)
    native = str(task["status"])
    status = upstream_status(native, _STATUSES, call=call)
    progress = task.get("progress")
    error = None
    if native == "FAILED":
        error = reelgate.VideoError(
            code=task.get("failureCode") or "failed",
            message=task.get("failure") or "Runway reported the task failed",
        )
    elif native == "CANCELLED":
        error = cancelled_error()
    outputs = task.get("output") if native == "SUCCEEDED" else None
    return reelgate.Video(
        id=str(task["id"]),
        status=status,
        progress=progress * 100
        if isinstance(progress, int | float) and native == "RUNNING"
        else None,
        created_at=_timestamp(task.get("createdAt")),
        videos=tuple(_output(u) for u in outputs or () if isinstance(u, str)),
        error=error,
        provider_metadata={"status": native, **_credits(task)},
    )


class RunwayProvider:
    """A Runway instance: create, retrieve, download and delete."""

    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream

    @classmethod
    def from_setup(cls, setup: reelgate.ProviderSetup) -> Self:
        """The factory registered with the spec."""
        settings = setup.settings
        version = (
            settings.runway_version if isinstance(settings, RunwaySettings) else RUNWAY_VERSION
        )
        upstream = attrs.evolve(
            setup.upstream,
            base_url=setup.upstream.base_url or DEFAULT_BASE_URL,
            parse_error=parse_error,
            auth=bearer,
            headers={**setup.upstream.headers, "X-Runway-Version": version},
        )
        return cls(upstream)

    def __repr__(self) -> str:
        upstream = self.upstream
        return f"RunwayProvider(instance={upstream.instance!r}, base_url={upstream.base_url!r})"

    async def create(self, request: reelgate.CreateVideo, *, call: reelgate.Call) -> reelgate.Video:
        """
        Start a task on ``POST /v1/{text,image,video}_to_video``.

        The request is checked first (`build_create`); once it may have reached Runway
        it is never retried.

        Raises:
            InvalidRequestError: The request cannot succeed on the model (nothing is sent).
        """
        model = call.model or request.native_model
        endpoint, body = build_create(request, model)
        answer = await self.upstream.json(
            "POST", f"/v1/{endpoint}", call=call, idempotent=False, json=body
        )
        if not isinstance(answer, Mapping) or not answer.get("id"):
            raise ProviderError(
                "Runway accepted the task but answered without its id",
                call=call,
                ambiguous=True,
            )
        ratio, duration = body.get("ratio"), body.get("duration")
        return reelgate.Video(
            id=str(answer["id"]),
            status=reelgate.VideoStatus.QUEUED,
            model=model,
            prompt=request.prompt,
            size=ratio.replace(":", "x") if isinstance(ratio, str) else None,
            seconds=str(duration) if isinstance(duration, int) else None,
            provider_metadata={"status": "PENDING", "endpoint": endpoint, **_credits(answer)},
        )

    def _task_path(self, video_id: str) -> str:
        return f"/v1/tasks/{quote(video_id, safe='')}"

    async def _task(self, video_id: str, call: reelgate.Call) -> reelgate.Video:
        task = await self.upstream.json(
            "GET", self._task_path(video_id), call=call, idempotent=True
        )
        return attrs.evolve(task_to_video(task, call), id=video_id)

    async def retrieve(self, video_id: str, *, call: reelgate.Call) -> reelgate.Video:
        """``GET /v1/tasks/{id}``."""
        return await self._task(video_id, call)

    async def delete(self, video_id: str, *, call: reelgate.Call) -> reelgate.Deleted:
        """
        ``DELETE /v1/tasks/{id}``: cancels a task that has not finished, deletes one that has.

        The task is read first, to say which (Runway answers both with 204).
        """
        read = attrs.evolve(call, operation=reelgate.Operation.RETRIEVE)
        try:
            done = (await self._task(video_id, read)).done
        except NotFoundError:
            done = True
        await self.upstream.request(
            "DELETE",
            self._task_path(video_id),
            call=call,
            idempotent=True,
            headers={"Accept": "*/*"},
        )
        return reelgate.Deleted(id=video_id, upstream="deleted" if done else "cancelled")

    @asynccontextmanager
    async def download(
        self, video_id: str, variant: reelgate.Variant, *, call: reelgate.Call
    ) -> AsyncIterator[reelgate.DownloadStream]:
        """
        Stream the task's video from its signed output URL (on another host: no key goes there).

        A signed URL that has expired (403 or 404 from the file host) is replaced by a
        fresh one, read from the task again, once.

        Raises:
            UnsupportedOperationError: A variant other than the video.
            VideoNotReadyError: The task has not succeeded.
        """
        if variant is not reelgate.Variant.VIDEO:
            raise UnsupportedOperationError(
                f"Runway has no {variant.value} variant; only the video can be downloaded",
                call=call,
            )
        async with AsyncExitStack() as stack:
            yield await self._open_output(video_id, call, stack)

    async def _open_output(
        self, video_id: str, call: reelgate.Call, stack: AsyncExitStack
    ) -> reelgate.DownloadStream:
        for attempt in (1, 2):
            video = await self._task(video_id, call)
            if video.status is not reelgate.VideoStatus.COMPLETED:
                raise VideoNotReadyError.for_status(video_id, video.status.value, call=call)
            if not video.videos or not video.videos[0].url:
                raise ProviderError(
                    f"Runway lists no output for the succeeded task {video_id}",
                    call=call,
                    upstream=True,
                )
            output = video.videos[0]
            try:
                return await stack.enter_async_context(
                    self.upstream.stream(
                        str(output.url),
                        call=call,
                        default_content_type=output.content_type,
                    )
                )
            except (PermissionDeniedError, NotFoundError) as e:
                if attempt == 2:
                    raise ProviderError(
                        f"Runway's file host refused the output of {video_id} (HTTP "
                        f"{e.status_code}) even with a freshly signed URL",
                        call=call,
                        upstream=True,
                    ) from e
        raise AssertionError("unreachable")  # pragma: no cover


@reelgate.hookimpl
def reelgate_register_providers(registry: reelgate.ProviderRegistry) -> None:
    """Register the ``runway`` provider type."""
    registry.add(
        reelgate.ProviderSpec(
            type="runway",
            factory=RunwayProvider.from_setup,
            settings=RunwaySettings,
            key_env=("RUNWAYML_API_SECRET",),
            env={"base_url": "RUNWAYML_BASE_URL"},
            poll_interval=5.0,
            description="Runway: gen4.5, gen4_turbo and Veo text-, image- and video-to-video",
        )
    )
