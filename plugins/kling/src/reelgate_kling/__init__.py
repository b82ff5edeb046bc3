"""
Kling's video API for reelgate: text-to-video and image-to-video tasks.

Creates go to ``POST /v1/videos/text2video`` or ``/image2video`` (with an image); a task
is read under the endpoint kept in its provider state, listed from both endpoints, and
never deleted (Kling has no delete or cancel). Requests carry a short-lived HS256 token
(`KlingAuth`); answers are ``{code, message, request_id, data}``, and a non-zero ``code``
is an error even in a 200. `reelgate_kling.emulator` emulates the API.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import os
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, Self
from urllib.parse import quote

import attrs

import reelgate
from reelgate import InvalidRequestError, ProviderError, ReelgateError, Secret
from reelgate.http import Reply, Upstream, UpstreamError, scrub
from reelgate.pagination import probe
from reelgate.status import upstream_status

__all__ = [
    "KlingAuth",
    "KlingProvider",
    "KlingSettings",
    "build_create",
    "error_for_code",
    "reelgate_register_providers",
    "sign_jwt",
]

DEFAULT_BASE_URL = "https://api-singapore.klingai.com"
TEXT2VIDEO, IMAGE2VIDEO = "text2video", "image2video"

_STATUSES = {
    "submitted": reelgate.VideoStatus.QUEUED,
    "processing": reelgate.VideoStatus.IN_PROGRESS,
    "succeed": reelgate.VideoStatus.COMPLETED,
    "failed": reelgate.VideoStatus.FAILED,
}
#: Kling's token lifetime in its documented example, and how early a token is renewed.
TOKEN_SECONDS = 1800
_RENEW_BEFORE = 300
_MAX_PROMPT = 2500
_KEPT_SECONDS = 30 * 86_400
_PAGE_SIZE, _MAX_PAGES = 500, 20
_RATIOS = ("16:9", "9:16", "1:1")
_OWN_FIELDS = ("model_name", "prompt", "duration", "negative_prompt", "aspect_ratio", "image")


@attrs.frozen(kw_only=True)
class ModelRules:
    """What a Kling model takes (the capability map); all take 5 or 10 s, 16:9, 9:16, 1:1."""

    endpoints: tuple[str, ...] = (TEXT2VIDEO, IMAGE2VIDEO)
    modes: tuple[str, ...] = ("std", "pro")
    cfg_scale: bool = False


MODELS: Mapping[str, ModelRules] = {
    "kling-v1": ModelRules(cfg_scale=True),
    "kling-v1-5": ModelRules(endpoints=(IMAGE2VIDEO,), cfg_scale=True),
    "kling-v1-6": ModelRules(cfg_scale=True),
    "kling-v2-master": ModelRules(modes=()),
    "kling-v2-1": ModelRules(endpoints=(IMAGE2VIDEO,)),
    "kling-v2-1-master": ModelRules(modes=()),
    "kling-v2-5-turbo": ModelRules(),
}


@attrs.frozen(kw_only=True)
class KlingSettings(reelgate.ProviderSettings):
    """
    A Kling instance's settings.

    Attributes:
        base_url: ``KLING_BASE_URL``, else Kling's global endpoint.
        secret_key_env: The environment variable holding the secret key that signs the
            tokens of the access key (the instance's key). A key written ``ACCESS:SECRET``
            carries its own secret instead.
    """

    base_url: str | None = DEFAULT_BASE_URL
    secret_key_env: str = "KLING_SECRET_KEY"  # noqa: S105  # a variable's name, not a secret


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _compact(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def sign_jwt(access_key: str, secret_key: str, now: float, lifetime: int = TOKEN_SECONDS) -> str:
    """A Kling API token: HS256, ``iss`` the access key, ``nbf`` 5 s back, ``exp`` ahead."""
    claims = {"iss": access_key, "exp": int(now) + lifetime, "nbf": int(now) - 5}
    signing = f"{_b64(_compact({'alg': 'HS256', 'typ': 'JWT'}))}.{_b64(_compact(claims))}"
    signature = hmac.new(secret_key.encode(), signing.encode(), hashlib.sha256).digest()
    return f"{signing}.{_b64(signature)}"


@attrs.define(repr=False)
class KlingAuth:
    """
    The instance's key as ``Authorization: Bearer <JWT>`` (`reelgate.http.Upstream.auth`).

    Each token serves until five minutes before it lapses. Neither the secret key nor a
    token shows in a repr, and `parse_error` scrubs both from what Kling answers.
    """

    secret_key_env: str = "KLING_SECRET_KEY"  # noqa: S105  # a variable's name, not a secret
    clock: Callable[[], float] = time.time
    _tokens: dict[tuple[str, str], tuple[str, float]] = attrs.field(factory=dict, init=False)

    def __repr__(self) -> str:
        return f"KlingAuth(secret_key_env={self.secret_key_env!r})"

    def _pair(self, key: Secret) -> tuple[str, str | None]:
        access, colon, secret = key.reveal().partition(":")
        return access, secret if colon else os.environ.get(self.secret_key_env) or None

    def check(self, key: Secret | None, call: reelgate.Call) -> None:
        """Raise `reelgate.AuthenticationError` when the key has no secret key to sign with."""
        if key is not None and self._pair(key)[1] is None:
            raise reelgate.AuthenticationError(
                f"Kling signs tokens with a secret key: set {self.secret_key_env}, or give "
                "the key as ACCESS_KEY:SECRET_KEY",
                call=call,
            )

    def __call__(self, key: Secret) -> dict[str, str]:
        """The headers of one request (``Upstream.auth``)."""
        access, secret = self._pair(key)
        now = self.clock()
        token, expires = self._tokens.get((access, secret or ""), ("", 0.0))
        if expires - now < _RENEW_BEFORE:
            token, expires = sign_jwt(access, secret or "", now), now + TOKEN_SECONDS
            self._tokens[(access, secret or "")] = (token, expires)
        return {"Authorization": f"Bearer {token}"}

    def hidden(self) -> list[str]:
        """Every token and secret key in use, for scrubbing from upstream text."""
        return [text for pair, (token, _) in self._tokens.items() for text in (*pair, token)]

    def parse_error(self, reply: Reply) -> UpstreamError:
        """Read ``{code, message, request_id}``; the code is kept as the error's code."""
        try:
            body = json.loads(scrub(reply.content.decode("utf-8", "replace"), self.hidden()))
        except ValueError:
            body = None
        if not isinstance(body, Mapping) or not body.get("message"):
            return UpstreamError(message=f"Kling answered HTTP {reply.status}", raw=body)
        code = str(body["code"]) if isinstance(body.get("code"), int) else None
        return UpstreamError(message=str(body["message"]), code=code, raw=body)


_CLASSES: tuple[tuple[range, type[ReelgateError]], ...] = (
    (range(1000, 1100), reelgate.AuthenticationError),
    # The account: arrears, no resource pack, no access to the model; then the IP allow-list.
    (range(1100, 1104), reelgate.PermissionDeniedError),
    (range(1304, 1305), reelgate.PermissionDeniedError),
    (range(1200, 1202), InvalidRequestError),
    (range(1202, 1204), reelgate.NotFoundError),
    (range(1300, 1302), InvalidRequestError),  # the platform's policies, content safety
    (range(1302, 1304), reelgate.RateLimitError),
    (range(5002, 5003), reelgate.ProviderTimeoutError),
)


def error_for_code(
    code: int, message: str, *, call: reelgate.Call, raw: Any = None, ambiguous: bool = False
) -> ReelgateError:
    """
    The reelgate error for Kling's service `code`, class by class of its documented table.

    1000s authentication; 1100s the account (arrears, no resource pack, no access: denied,
    not worth a retry); 1200s the request (1202/1203 not found); 1300s the platform's
    policies (1302/1303 rate limits; 1304 the IP allow-list); 5000s Kling itself.
    """
    cls = next((c for codes, c in _CLASSES if code in codes), ProviderError)
    if cls is reelgate.NotFoundError and call.operation is reelgate.Operation.CREATE:
        cls = InvalidRequestError  # a create names no task: what is missing is its model
    return cls(
        f"Kling: {message} (code {code})",
        code=str(code),
        call=call,
        upstream=True,
        raw_response=raw,
        ambiguous=ambiguous and cls in (ProviderError, reelgate.ProviderTimeoutError),
    )


def _aspect_ratio(size: str) -> str:
    width, height = (int(n) for n in size.split("x"))
    gcd = math.gcd(width, height)
    return f"{width // gcd}:{height // gcd}"


def _refuse_if(condition: bool, message: str, param: str) -> None:
    if condition:
        raise InvalidRequestError(message, param=param)


def _check(body: Mapping[str, Any], endpoint: str, model: str, rules: ModelRules) -> None:
    why = f"Kling's {model}"
    only = "animates an image only: give an input_reference"
    _refuse_if(endpoint not in rules.endpoints, f"{why} {only}", "input_reference")
    modes = ", ".join(rules.modes)
    bad_mode = bool(rules.modes) and body.get("mode", "std") not in rules.modes
    _refuse_if(bad_mode, f"{why} takes mode one of {modes}", "extra_params")
    no_cfg = "cfg_scale" in body and not rules.cfg_scale
    _refuse_if(no_cfg, f"{why} takes no cfg_scale (Kling's v2 models have none)", "extra_params")
    seconds = f"{why} takes seconds 5 or 10; got {body.get('duration')}"
    _refuse_if(body.get("duration", "5") not in ("5", "10"), seconds, "seconds")
    ratios = ", ".join(_RATIOS)
    framed = f"{why} makes frames of aspect ratio {ratios} (1280x720, 720x1280, 1024x1024)"
    _refuse_if(body.get("aspect_ratio", "16:9") not in _RATIOS, framed, "size")


def build_create(request: reelgate.CreateVideo, model: str) -> tuple[str, dict[str, Any]]:
    """
    The endpoint and body of a create, checked against the model's rules.

    Raises:
        InvalidRequestError: The request cannot succeed on the model (nothing is sent).
    """
    image = request.input_reference
    endpoint = TEXT2VIDEO if image is None else IMAGE2VIDEO
    extra = dict(request.extra_params)
    for field in _OWN_FIELDS:
        own = f"extra_params.{field}: set the request's own field instead"
        _refuse_if(field in extra, own, "extra_params")
    for field in ("seed", "audio", "video_uri"):
        _refuse_if(getattr(request, field) is not None, f"Kling has no {field}", field)
    long = f"Kling takes at most {_MAX_PROMPT} characters"
    _refuse_if(len(request.prompt) > _MAX_PROMPT, long, "prompt")
    framed = "Kling's image-to-video takes its frame from the image: give no size"
    _refuse_if(image is not None and request.size is not None, framed, "size")
    body: dict[str, Any] = {
        "model_name": model,
        "prompt": request.prompt,
        "negative_prompt": request.negative_prompt,
        "duration": request.seconds,
        # A URL as given, bytes as bare base64: Kling refuses a ``data:`` prefix.
        "image": None if image is None else image.url or image.base64(),
        "aspect_ratio": _aspect_ratio(request.size) if request.size and not image else None,
    }
    body = {k: v for k, v in body.items() if v is not None} | extra
    if (rules := MODELS.get(model)) is not None:
        _check(body, endpoint, model, rules)
    return endpoint, body


def task_to_video(task: Any, endpoint: str, *, call: reelgate.Call) -> reelgate.Video:
    """
    A Kling task as a `reelgate.Video`, with the endpoint it lives on as its state.

    ``submitted`` is queued, ``processing`` in progress, ``succeed`` completed with its
    video URL, ``failed`` failed with ``task_status_msg``; other statuses are no news.

    Raises:
        ProviderError: The task has no id.
    """
    if not isinstance(task, Mapping) or not task.get("task_id"):
        raise ProviderError("Kling answered with a task that has no task_id", call=call)
    raw = task.get("task_status")
    status = upstream_status(raw, _STATUSES, call=call)
    result = task["task_result"] if isinstance(task.get("task_result"), Mapping) else {}
    videos = [v for v in result.get("videos") or () if isinstance(v, Mapping) and v.get("url")]
    created, updated = task.get("created_at"), task.get("updated_at")
    failure = task.get("task_status_msg") or "Kling failed the task"
    error = reelgate.VideoError(code="failed", message=failure) if raw == "failed" else None
    return reelgate.Video(
        id=str(task["task_id"]),
        status=status,
        seconds=str(videos[0].get("duration")) if videos and videos[0].get("duration") else None,
        created_at=created // 1000 if isinstance(created, int) else None,
        # Kling clears generated videos 30 days after they are made.
        expires_at=created // 1000 + _KEPT_SECONDS if isinstance(created, int) and videos else None,
        completed_at=updated // 1000 if isinstance(updated, int) and status.is_terminal else None,
        videos=tuple(reelgate.VideoOutput(type="url", url=str(v["url"])) for v in videos),
        error=error,
        provider_metadata={"task_status": raw, "endpoint": endpoint},
        provider_state={"endpoint": endpoint},
    )


class KlingProvider:
    """A Kling instance: create, retrieve, list and download."""

    def __init__(self, upstream: Upstream, auth: KlingAuth) -> None:
        self.upstream = upstream
        self.auth = auth

    @classmethod
    def from_setup(cls, setup: reelgate.ProviderSetup) -> Self:
        """The factory registered with the spec."""
        settings = setup.settings
        env = settings.secret_key_env if isinstance(settings, KlingSettings) else "KLING_SECRET_KEY"
        auth = KlingAuth(secret_key_env=env)
        up = setup.upstream
        up = attrs.evolve(up, base_url=up.base_url or DEFAULT_BASE_URL, auth=auth)
        return cls(attrs.evolve(up, parse_error=auth.parse_error), auth)

    def __repr__(self) -> str:
        upstream = self.upstream
        return f"KlingProvider(instance={upstream.instance!r}, base_url={upstream.base_url!r})"

    async def _data(self, method: str, path: str, call: reelgate.Call, **kwargs: Any) -> Any:
        """One request; the envelope's ``data``, or the error its ``code`` names."""
        self.auth.check(call.key, call)
        idempotent = method == "GET"
        send = self.upstream.json
        try:
            body = await send(method, path, call=call, idempotent=idempotent, **kwargs)
        except ReelgateError as e:
            if not (e.upstream and e.code and e.code.isdigit()):
                raise
            mapped = error_for_code(
                int(e.code), e.message, call=call, raw=e.raw_response, ambiguous=e.ambiguous
            )
            if type(mapped) is type(e):
                raise
            raise mapped from None
        if not isinstance(body, Mapping):
            raise ProviderError("Kling answered without its envelope", call=call, upstream=True)
        if (code := body.get("code")) not in (0, None):
            message = scrub(str(body.get("message") or "error"), self.auth.hidden())
            raise error_for_code(int(code), message, call=call, ambiguous=not idempotent)
        return body.get("data")

    async def create(self, request: reelgate.CreateVideo, *, call: reelgate.Call) -> reelgate.Video:
        """``POST /v1/videos/{text2video,image2video}``, checked first, never retried once sent."""
        model = call.model or request.native_model
        endpoint, body = build_create(request, model)
        data = await self._data("POST", f"/v1/videos/{endpoint}", call, json=body)
        video = task_to_video(data, endpoint, call=call)
        asked: dict[str, Any] = {"prompt": request.prompt, "size": request.size}
        return attrs.evolve(video, model=model, seconds=body.get("duration"), **asked)

    async def _task(self, video_id: str, endpoint: str, call: reelgate.Call) -> reelgate.Video:
        data = await self._data("GET", f"/v1/videos/{endpoint}/{quote(video_id, safe='')}", call)
        return attrs.evolve(task_to_video(data, endpoint, call=call), id=video_id)

    async def retrieve(self, video_id: str, *, call: reelgate.Call) -> reelgate.Video:
        """``GET /v1/videos/{endpoint}/{id}``; a task reelgate never saw is looked for in both."""
        endpoint = (call.job_state or {}).get("endpoint")
        if endpoint in (TEXT2VIDEO, IMAGE2VIDEO):
            return await self._task(video_id, endpoint, call)
        try:
            return await self._task(video_id, TEXT2VIDEO, call)
        except reelgate.NotFoundError:
            return await self._task(video_id, IMAGE2VIDEO, call)

    async def list(self, query: reelgate.ListQuery, *, call: reelgate.Call) -> reelgate.VideoPage:
        """
        Both of Kling's task lists (``?pageNum=&pageSize=``), merged, with id cursors.

        Each list is read whole (up to 10 000 tasks) for every page, merged newest first
        by ``created_at``, then cut after the cursor.

        Raises:
            InvalidRequestError: The cursor is not among the listed tasks.
        """
        found: list[tuple[int, int, reelgate.Video]] = []
        for endpoint in (TEXT2VIDEO, IMAGE2VIDEO):
            for page in range(1, _MAX_PAGES + 1):
                params = {"pageNum": page, "pageSize": _PAGE_SIZE}
                data = await self._data("GET", f"/v1/videos/{endpoint}", call, params=params)
                tasks = [t for t in data or () if isinstance(t, Mapping)]
                for task in tasks:
                    created = -int(task.get("created_at") or 0)
                    found.append((created, len(found), task_to_video(task, endpoint, call=call)))
                if len(tasks) < _PAGE_SIZE:
                    break
        # Newest first by creation time in ms; ties keep each list's own (newest-first) order.
        rows = [video for *_, video in sorted(found, key=lambda row: row[:2])]
        if query.order == "asc":
            rows.reverse()
        ids = [v.id for v in rows]
        if query.after is not None and query.after not in ids:
            missing = f"after: {query.after!r} is not among Kling's tasks"
            raise InvalidRequestError(missing, param="after", call=call)
        start = ids.index(query.after) + 1 if query.after is not None else 0
        window, more = probe(rows[start : start + query.limit + 1], query.limit)
        return reelgate.VideoPage(tuple(window), has_more=more)

    @asynccontextmanager
    async def download(
        self, video_id: str, variant: reelgate.Variant, *, call: reelgate.Call
    ) -> AsyncIterator[reelgate.DownloadStream]:
        """
        Stream the task's first video from Kling's CDN, without the token.

        Raises:
            UnsupportedOperationError: A variant other than the video.
            reelgate.VideoNotReadyError: The task has not succeeded.
        """
        if variant is not reelgate.Variant.VIDEO:
            raise reelgate.UnsupportedOperationError(
                f"Kling has no {variant.value} variant; only the video can be downloaded",
                call=call,
            )
        video = await self.retrieve(video_id, call=call)
        if video.status is not reelgate.VideoStatus.COMPLETED:
            raise reelgate.VideoNotReadyError.for_status(video_id, video.status.value, call=call)
        if not video.videos or not video.videos[0].url:
            raise ProviderError(f"Kling lists no video for {video_id}", call=call, upstream=True)
        async with self.upstream.stream(
            video.videos[0].url, call=call, default_content_type="video/mp4"
        ) as stream:
            yield stream


@reelgate.hookimpl
def reelgate_register_providers(registry: reelgate.ProviderRegistry) -> None:
    """Register the ``kling`` provider type."""
    registry.add(
        reelgate.ProviderSpec(
            type="kling",
            factory=KlingProvider.from_setup,
            settings=KlingSettings,
            key_env=("KLING_ACCESS_KEY",),
            env={"base_url": "KLING_BASE_URL"},
            poll_interval=5.0,
            description="Kling: kling-v1 to kling-v2-5-turbo text- and image-to-video",
        )
    )
