"""
An emulator of xAI's video API (Grok Imagine): an ASGI app with scriptable faults.

Run it with ``python -m reelgate_xai.emulator --port 8093`` and point a client at
``http://127.0.0.1:8093/v1``. It serves:

* ``POST /v1/videos/generations`` (``prompt``, ``model``, ``duration``, ``aspect_ratio``,
  ``resolution``, ``image: {"url"}``...) and ``POST /v1/videos/edits`` (``video:
  {"url"}``), each answering ``{"request_id": ...}``;
* ``GET /v1/videos/{request_id}``: ``pending`` with a rising ``progress``, then ``done``
  with ``video: {"url", "duration", "respect_moderation"}``, ``failed`` with ``error:
  {"code", "message"}``, or ``expired`` once a result is older than ``expire_seconds``;
* the MP4 at the ``video.url``, on another host name than the API's (``vidgen.<host>``;
  ``localhost`` for ``127.0.0.1`` and back), which takes no key.

A prompt with ``[emulate:fail]`` fails (``internal_error``), ``[emulate:filter]`` finishes
with ``respect_moderation: false`` and no URL, ``[emulate:slow]`` takes a minute, and
``[emulate:expire]`` expires as soon as it is done. Errors are xAI's body ``{"code":
<gRPC status text>, "error": <message>}``; a wrong key is a 400, as xAI answers it.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Collection, Mapping
from typing import Any

import attrs
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from reelgate import media
from reelgate.emulation import FaultMiddleware, Faults, directives, main
from reelgate.model import Variant

from . import DEFAULT_MODELS, ModelLimits

__all__ = ["create_app", "error_body"]

#: gRPC status texts xAI puts in ``code``, by HTTP status.
_CODES = {
    400: "Client specified an invalid argument",
    401: "The request does not have valid authentication credentials",
    403: "The caller does not have permission to execute the specified operation",
    404: "Some requested entity was not found",
    429: "Too many requests",
    500: "Internal error",
    503: "The service is currently unavailable",
}
_CREATE_FIELDS = frozenset(
    {
        "prompt",
        "model",
        "duration",
        "aspect_ratio",
        "resolution",
        "image",
        "reference_images",
        "generate_audio",
        "storage_options",
        "user",
    }
)
_MAX_PROMPT = 4096
_SLOW_SECONDS = 60.0


def error_body(status: int, message: str) -> bytes:
    """The API's error body: ``{"code": <gRPC status text>, "error": <message>}``."""
    code = _CODES.get(status, "Internal error" if status >= 500 else _CODES[400])
    return json.dumps({"code": code, "error": message}).encode()


def _error(status: int, message: str) -> Response:
    return Response(error_body(status, message), status, media_type="application/json")


def _ok(data: Any) -> Response:
    return Response(json.dumps(data), 200, media_type="application/json")


def _asset_base(request: Request) -> str:
    """The API's origin under another host name, for asset URLs."""
    host = request.url.hostname or "emulator.test"
    other = {"127.0.0.1": "localhost", "localhost": "127.0.0.1"}.get(host, f"vidgen.{host}")
    port = f":{request.url.port}" if request.url.port else ""
    return f"{request.url.scheme}://{other}{port}"


@attrs.define
class _Job:
    id: str
    model: str
    duration: int
    created: float
    seconds: float
    outcome: str | None
    expire_seconds: float

    def answer(self, now: float, asset_base: str) -> dict[str, Any]:
        elapsed = now - self.created
        if elapsed < self.seconds:
            return {
                "status": "pending",
                "progress": max(0, min(99, int(100 * elapsed / self.seconds))),
            }
        expires = 0.0 if self.outcome == "expire" else self.expire_seconds
        if elapsed >= self.seconds + expires:
            return {"status": "expired"}
        if self.outcome == "fail":
            return {
                "status": "failed",
                "video": {"duration": 0, "respect_moderation": True},
                "model": "",
                "error": {"code": "internal_error", "message": "Video generation failed."},
            }
        video: dict[str, Any] = {"duration": self.duration, "respect_moderation": True}
        if self.outcome == "filter":
            video["respect_moderation"] = False
        else:
            video["url"] = f"{asset_base}/xai-vidgen-bucket/xai-video-{self.id}.mp4"
        return {
            "status": "done",
            "video": video,
            "model": self.model,
            "usage": {"cost_in_usd_ticks": 500_000_000 * self.duration},
            "progress": 100,
        }


def create_app(  # one closure per route keeps the state private
    *,
    job_seconds: float = 2.0,
    faults: Faults | None = None,
    api_keys: Collection[str] | None = None,
    models: Mapping[str, ModelLimits] | None = None,
    expire_seconds: float = 24 * 3600,
    received: list[dict[str, Any]] | None = None,
) -> FaultMiddleware:
    """
    A fresh emulator with its own jobs.

    Args:
        job_seconds: How long a job stays pending.
        faults: A fault script to share (a new one by default); also ``app.faults``.
        api_keys: Accept only these keys (default: any bearer key).
        models: The models served, with what they take (default: xAI's).
        expire_seconds: How long a finished result stays readable.
        received: A list to append every create and edit body to, as it was read.
    """
    jobs: dict[str, _Job] = {}
    served = dict(models if models is not None else DEFAULT_MODELS)
    keys = frozenset(api_keys) if api_keys is not None else None

    def denied(request: Request) -> Response | None:
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            return _error(
                401,
                "No API key provided. Please provide an API key in the Authorization header "
                "(Authorization: Bearer <key>). You can obtain one from https://console.x.ai.",
            )
        if keys is not None and key not in keys:
            masked = f"{key[:2]}***{key[-2:]}" if len(key) > 4 else "***"
            return _error(
                400,
                f"Incorrect API key provided: {masked}. You can obtain an API key from "
                "https://console.x.ai.",
            )
        return None

    async def read(request: Request) -> dict[str, Any] | Response:
        try:
            body = json.loads(await request.body())
        except ValueError:
            return _error(400, "Failed to parse the request body as JSON.")
        if not isinstance(body, dict):
            return _error(400, "The request body must be a JSON object.")
        if received is not None:
            received.append(body)
        return body

    def check(  # noqa: PLR0911, PLR0912  # one answer per bad field
        body: Mapping[str, Any], *, edit: bool
    ) -> Response | tuple[str, int]:
        allowed = (
            {"prompt", "model", "video", "user", "storage_options"} if edit else _CREATE_FIELDS
        )
        for name in body:
            if name not in allowed:
                return _error(400, f"Unknown field '{name}' in the request body.")
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            return _error(400, "Field 'prompt' is required and must be a non-empty string.")
        if len(prompt) > _MAX_PROMPT:
            return _error(400, f"Field 'prompt' must be at most {_MAX_PROMPT} characters.")
        model = body.get("model", "grok-imagine-video")
        if model not in served:
            return _error(
                404, f"The model {model} does not exist or your team does not have access to it."
            )
        limits = served[model]
        duration = body.get("duration", 8 if not edit else 6)
        if isinstance(duration, bool) or not isinstance(duration, int):
            return _error(400, "Field 'duration' must be an integer number of seconds.")
        low, high = limits.seconds
        if not low <= duration <= high:
            return _error(400, f"Field 'duration' must be between {low} and {high} seconds.")
        for name, values in (
            ("aspect_ratio", limits.aspect_ratios),
            ("resolution", limits.resolutions),
        ):
            value = body.get(name)
            if value is not None and values and value not in values:
                return _error(
                    400, f"Invalid {name} '{value}'. Supported values: {', '.join(values)}."
                )
        for name in ("video",) if edit else ("image",):
            ref = body.get(name)
            if ref is None:
                if edit:
                    return _error(400, "Field 'video' is required to edit a video.")
                continue
            url = ref.get("url") if isinstance(ref, dict) else None
            if not isinstance(url, str) or not url.startswith(("https://", "http://", "data:")):
                return _error(400, f"Field '{name}.url' must be a public URL or a base64 data URI.")
            if url.startswith("data:") and ";base64," not in url:
                return _error(400, f"Field '{name}.url' is not a base64 data URI.")
        return str(model), duration

    def start(prompt: str, model: str, duration: int) -> Response:
        flags = directives(prompt)
        outcome = next((f for f in ("fail", "filter", "expire") if f in flags), None)
        job = _Job(
            id=str(uuid.uuid4()),
            model=model,
            duration=duration,
            created=time.time(),
            seconds=max(_SLOW_SECONDS, job_seconds) if "slow" in flags else job_seconds,
            outcome=outcome,
            expire_seconds=expire_seconds,
        )
        jobs[job.id] = job
        return _ok({"request_id": job.id})

    async def generate(request: Request) -> Response:
        if (refused := denied(request)) is not None:
            return refused
        body = await read(request)
        if isinstance(body, Response):
            return body
        checked = check(body, edit=False)
        if isinstance(checked, Response):
            return checked
        return start(body["prompt"], *checked)

    async def edit(request: Request) -> Response:
        if (refused := denied(request)) is not None:
            return refused
        body = await read(request)
        if isinstance(body, Response):
            return body
        checked = check(body, edit=True)
        if isinstance(checked, Response):
            return checked
        url = body["video"]["url"]
        source = next((j for j in jobs.values() if url.endswith(f"xai-video-{j.id}.mp4")), None)
        duration = source.duration if source is not None else checked[1]
        return start(body["prompt"], checked[0], duration)

    async def retrieve(request: Request) -> Response:
        if (refused := denied(request)) is not None:
            return refused
        job = jobs.get(request.path_params["request_id"])
        if job is None:
            return _error(404, f"No deferred request with id {request.path_params['request_id']}.")
        return _ok(job.answer(time.time(), _asset_base(request)))

    async def asset(request: Request) -> Response:
        job = jobs.get(request.path_params["job_id"])
        now = time.time()
        state = job.answer(now, "") if job is not None else {}
        if job is None or state.get("status") != "done" or "url" not in state["video"]:
            return Response(
                b"<Error><Code>NoSuchKey</Code></Error>", 404, media_type="application/xml"
            )
        return Response(media.sample(Variant.VIDEO), 200, media_type="video/mp4")

    routes = Starlette(
        routes=[
            Route("/v1/videos/generations", generate, methods=["POST"]),
            Route("/v1/videos/edits", edit, methods=["POST"]),
            Route("/v1/videos/{request_id}", retrieve, methods=["GET"]),
            Route("/xai-vidgen-bucket/xai-video-{job_id}.mp4", asset, methods=["GET"]),
        ]
    )
    return FaultMiddleware(routes, faults, error_body=error_body)


def _cli(argv: list[str] | None = None) -> None:
    main(
        create_app,
        description="Emulator of xAI's video API",
        default_port=8093,
        argv=argv,
        job_seconds=2.0,
    )


if __name__ == "__main__":
    _cli()
