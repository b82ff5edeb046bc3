"""
An emulator of DashScope's video synthesis tasks (Wan): an ASGI app with scriptable faults.

Run it with ``python -m reelgate_alibaba.emulator --port 8094`` and point a client at
``http://127.0.0.1:8094/api/v1``. It serves:

* ``POST /api/v1/services/aigc/video-generation/video-synthesis``, which needs
  ``X-DashScope-Async: enable`` and checks ``model``, ``input`` (``prompt``, ``img_url``...)
  and ``parameters`` (``size``, ``resolution``, ``duration``...) against each model;
* ``GET /api/v1/tasks/{task_id}``: ``PENDING``, ``RUNNING``, then ``SUCCEEDED`` with a
  signed ``video_url`` (``?Expires=...``) or ``FAILED`` with ``code`` and ``message``;
  ``CANCELED`` once cancelled; ``UNKNOWN`` for an id it never issued or has forgotten;
* ``POST /api/v1/tasks/{task_id}/cancel``, for ``PENDING`` tasks;
* the MP4 at ``video_url``, on another host name than the API's (``dashscope-result.<host>``;
  ``localhost`` for ``127.0.0.1`` and back), which takes no key and refuses an expired
  signature.

A prompt with ``[emulate:fail]`` fails (``InternalError.Algo``), ``[emulate:filter]`` fails
the content inspection (``DataInspectionFailed``), ``[emulate:slow]`` takes a minute.
Errors are DashScope's ``{"request_id", "code", "message"}``.
"""

from __future__ import annotations

import datetime as dt
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

from . import DEFAULT_MODELS, RESULT_LIFETIME, TIERS, ModelLimits

__all__ = ["create_app", "error_body"]

_CODES = {
    400: "InvalidParameter",
    401: "InvalidApiKey",
    403: "AccessDenied",
    404: "NotFound",
    429: "Throttling.RateQuota",
    500: "InternalError",
    503: "ServiceUnavailable",
}
_CST = dt.timezone(dt.timedelta(hours=8))
_SLOW_SECONDS = 60.0


def error_body(status: int, message: str, code: str | None = None) -> bytes:
    """DashScope's error body: ``{"request_id", "code", "message"}``."""
    code = code or _CODES.get(status, "InternalError" if status >= 500 else "InvalidParameter")
    return json.dumps({"request_id": str(uuid.uuid4()), "code": code, "message": message}).encode()


def _error(status: int, message: str, code: str | None = None) -> Response:
    return Response(error_body(status, message, code), status, media_type="application/json")


def _ok(data: Mapping[str, Any]) -> Response:
    body = {"request_id": str(uuid.uuid4()), **data}
    return Response(json.dumps(body), 200, media_type="application/json")


def _cst(when: float) -> str:
    """A time as DashScope writes it: China Standard Time, milliseconds, no zone."""
    return dt.datetime.fromtimestamp(when, _CST).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def _asset_base(request: Request) -> str:
    host = request.url.hostname or "emulator.test"
    other = {"127.0.0.1": "localhost", "localhost": "127.0.0.1"}.get(
        host, f"dashscope-result.{host}"
    )
    port = f":{request.url.port}" if request.url.port else ""
    return f"{request.url.scheme}://{other}{port}"


@attrs.define
class _Task:
    id: str
    model: str
    prompt: str
    duration: int
    ratio: str
    created: float
    seconds: float
    outcome: str | None
    cancelled_at: float | None = None

    def end(self) -> float:
        return self.created + self.seconds * (0.6 if self.outcome else 1.0)

    def status(self, now: float) -> str:
        if self.cancelled_at is not None:
            return "CANCELED"
        if now >= self.end():
            return "FAILED" if self.outcome else "SUCCEEDED"
        return "PENDING" if now - self.created < self.seconds * 0.2 else "RUNNING"

    def output(self, now: float, asset_base: str) -> dict[str, Any]:
        status = self.status(now)
        out: dict[str, Any] = {
            "task_id": self.id,
            "task_status": status,
            "submit_time": _cst(self.created),
        }
        if status in ("PENDING", "CANCELED"):
            return out
        out["scheduled_time"] = _cst(self.created + self.seconds * 0.2)
        if status == "RUNNING":
            return out
        end = self.cancelled_at or self.end()
        out["end_time"] = _cst(end)
        if status == "FAILED":
            if self.outcome == "filter":
                out["code"] = "DataInspectionFailed"
                out["message"] = "Output data may contain inappropriate content."
            else:
                out["code"], out["message"] = "InternalError.Algo", "Video generation failed."
            return out
        expires = int(end) + RESULT_LIFETIME
        out["video_url"] = (
            f"{asset_base}/1d/{self.id}.mp4?Expires={expires}"
            "&OSSAccessKeyId=LTAI5tEmulator&Signature=emulated%3D"
        )
        out["orig_prompt"] = self.prompt
        out["actual_prompt"] = f"{self.prompt}, cinematic lighting"
        return out


def create_app(  # one closure per route keeps the state private
    *,
    job_seconds: float = 2.0,
    faults: Faults | None = None,
    api_keys: Collection[str] | None = None,
    models: Mapping[str, ModelLimits] | None = None,
    retention_seconds: float = 24 * 3600,
    received: list[dict[str, Any]] | None = None,
) -> FaultMiddleware:
    """
    A fresh emulator with its own tasks.

    Args:
        job_seconds: How long a task takes from create to SUCCEEDED.
        faults: A fault script to share (a new one by default); also ``app.faults``.
        api_keys: Accept only these keys (default: any bearer key).
        models: The models served, with what they take (default: the plugin's table).
        retention_seconds: How long a task is known before it reads as UNKNOWN.
        received: A list to append every create body to, as it was read.
    """
    tasks: dict[str, _Task] = {}
    served = dict(models if models is not None else DEFAULT_MODELS)
    keys = frozenset(api_keys) if api_keys is not None else None

    def denied(request: Request) -> Response | None:
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            return _error(401, "No API-key provided.")
        if keys is not None and key not in keys:
            return _error(401, "Invalid API-key provided.")
        return None

    def check(body: Mapping[str, Any]) -> Response | tuple[str, str, int, str]:  # noqa: PLR0911, PLR0912  # one answer per bad field
        model = body.get("model")
        if not isinstance(model, str) or not model:
            return _error(400, "Model not specified.", "InvalidParameter")
        if model not in served:
            return _error(400, "Model not exist.", "InvalidParameter")
        limits = served[model]
        inputs, parameters = body.get("input"), body.get("parameters", {})
        if not isinstance(inputs, dict) or not isinstance(parameters, dict):
            return _error(400, "input and parameters must be objects.", "InvalidParameter")
        prompt = inputs.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            if not limits.image:
                return _error(400, "Field required: input.prompt", "InvalidParameter")
            prompt = ""
        image = inputs.get("img_url")
        if limits.image and not isinstance(image, str):
            return _error(400, "Field required: input.img_url", "InvalidParameter")
        if isinstance(image, str) and not image.startswith(
            ("http://", "https://", "data:image/", "oss://")
        ):
            return _error(
                400,
                "The img_url is not a valid URL or base64 image.",
                "InvalidParameter.DataInspection",
            )
        duration = parameters.get("duration", limits.seconds[0] if limits.seconds else 5)
        if isinstance(duration, bool) or not isinstance(duration, int):
            return _error(400, "parameters.duration must be an integer.", "InvalidParameter")
        if limits.seconds and duration not in limits.seconds:
            return _error(
                400, f"The duration {duration} is not supported by {model}.", "InvalidParameter"
            )
        sizes = [s for tier in limits.resolutions for s in TIERS[tier]]
        if limits.image:
            resolution = parameters.get(
                "resolution", limits.resolutions[-1] if limits.resolutions else "720P"
            )
            if limits.resolutions and resolution not in limits.resolutions:
                return _error(
                    400,
                    f"The resolution {resolution} is not supported by {model}.",
                    "InvalidParameter",
                )
            ratio = TIERS.get(str(resolution), ("1280*720",))[0]
        else:
            # The default is the model's highest tier, landscape.
            default = TIERS[limits.resolutions[-1]][0] if limits.resolutions else "1280*720"
            ratio = parameters.get("size", default)
            if sizes and ratio not in sizes:
                return _error(
                    400, f"The size is not match the model {model}: {ratio}.", "InvalidParameter"
                )
        return model, prompt, duration, str(ratio)

    async def create(request: Request) -> Response:
        if (refused := denied(request)) is not None:
            return refused
        if request.headers.get("x-dashscope-async", "").lower() != "enable":
            return _error(
                403, "current user api does not support synchronous calls", "AccessDenied"
            )
        try:
            body = json.loads(await request.body())
        except ValueError:
            return _error(400, "Request body is not valid JSON.", "InvalidParameter")
        if not isinstance(body, dict):
            return _error(400, "Request body must be a JSON object.", "InvalidParameter")
        if received is not None:
            received.append(body)
        checked = check(body)
        if isinstance(checked, Response):
            return checked
        model, prompt, duration, ratio = checked
        flags = directives(prompt)
        task = _Task(
            id=str(uuid.uuid4()),
            model=model,
            prompt=prompt,
            duration=duration,
            ratio=ratio,
            created=time.time(),
            seconds=max(_SLOW_SECONDS, job_seconds) if "slow" in flags else job_seconds,
            outcome=next((f for f in ("fail", "filter") if f in flags), None),
        )
        tasks[task.id] = task
        return _ok({"output": {"task_id": task.id, "task_status": "PENDING"}})

    def find(task_id: str, now: float) -> _Task | None:
        task = tasks.get(task_id)
        return task if task is not None and now - task.created < retention_seconds else None

    async def retrieve(request: Request) -> Response:
        if (refused := denied(request)) is not None:
            return refused
        now = time.time()
        task_id = request.path_params["task_id"]
        task = find(task_id, now)
        if task is None:
            return _ok({"output": {"task_id": task_id, "task_status": "UNKNOWN"}})
        output = task.output(now, _asset_base(request))
        answer: dict[str, Any] = {"output": output}
        if output["task_status"] == "SUCCEEDED":
            answer["usage"] = {
                "video_duration": task.duration,
                "video_ratio": task.ratio,
                "video_count": 1,
            }
        return _ok(answer)

    async def cancel(request: Request) -> Response:
        if (refused := denied(request)) is not None:
            return refused
        now = time.time()
        task = find(request.path_params["task_id"], now)
        if task is None:
            return _error(404, "The task does not exist.", "NotFound")
        if task.status(now) != "PENDING":
            return _error(
                400,
                "Failed to cancel the task, please confirm if the task is in PENDING status.",
                "UnsupportedOperation",
            )
        task.cancelled_at = now
        return _ok({})

    async def asset(request: Request) -> Response:
        task = tasks.get(request.path_params["task_id"])
        expires = request.query_params.get("Expires", "")
        if task is None or task.status(time.time()) != "SUCCEEDED":
            return Response(
                b"<Error><Code>NoSuchKey</Code></Error>", 404, media_type="application/xml"
            )
        if not expires.isdigit() or int(expires) < time.time():
            return Response(
                b"<Error><Code>AccessDenied</Code><Message>Request has expired.</Message></Error>",
                403,
                media_type="application/xml",
            )
        return Response(media.sample(Variant.VIDEO), 200, media_type="video/mp4")

    routes = Starlette(
        routes=[
            Route(
                "/api/v1/services/aigc/video-generation/video-synthesis", create, methods=["POST"]
            ),
            Route("/api/v1/tasks/{task_id}", retrieve, methods=["GET"]),
            Route("/api/v1/tasks/{task_id}/cancel", cancel, methods=["POST"]),
            Route("/1d/{task_id}.mp4", asset, methods=["GET"]),
        ]
    )
    return FaultMiddleware(routes, faults, error_body=error_body)


def _cli(argv: list[str] | None = None) -> None:
    main(
        create_app,
        description="Emulator of DashScope's video synthesis",
        default_port=8094,
        argv=argv,
        job_seconds=2.0,
    )


if __name__ == "__main__":
    _cli()
