"""
An emulator of MiniMax's Hailuo video API: an ASGI app with scriptable faults.

Run it with ``python -m reelgate_minimax.emulator --port 8094``; point an instance at
``http://127.0.0.1:8094/v1``. It serves:

* ``POST /v1/video_generation``: ``{"task_id", "base_resp"}``;
* ``GET /v1/query/video_generation?task_id=``: ``Preparing``, ``Queueing``,
  ``Processing``, then ``Success`` with ``file_id``, ``video_width``, ``video_height``
  (or ``Fail``);
* ``GET /v1/files/retrieve?file_id=``: ``{"file": {..., "download_url"}, "base_resp"}``;
* the video itself under ``/inference_output/`` on *another host name* (a CDN's), with
  no key needed: ``localhost`` for ``127.0.0.1`` and back, ``cdn.<host>`` otherwise.

Like MiniMax, it answers refusals with HTTP 200 and a non-zero ``base_resp.status_code``:
1004 without a bearer key, 2013 for invalid parameters or an unknown task or file, 1026
for a prompt containing ``[emulate:sensitive]``. ``[emulate:fail]`` makes a task end
``Fail``, ``[emulate:filter]`` end ``Fail`` with code 1027, ``[emulate:slow]`` take a
minute.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from typing import Any

import attrs
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reelgate import media
from reelgate.emulation import FaultMiddleware, Faults, directives, main
from reelgate.model import Variant

from . import MODELS

__all__ = ["MinimaxEmulator", "cdn_host", "create_app", "error_body"]

_STATUS_CODES = {400: 2013, 401: 1004, 403: 1004, 404: 2013, 429: 1002}


def error_body(status: int, message: str) -> bytes:
    """MiniMax's envelope for a non-2xx answer: a ``base_resp`` (as its gateway sends)."""
    code = _STATUS_CODES.get(status, 1000 if status >= 500 else 2013)
    return json.dumps({"base_resp": {"status_code": code, "status_msg": message}}).encode()


def _refusal(code: int, message: str) -> JSONResponse:
    return JSONResponse({"base_resp": {"status_code": code, "status_msg": message}})


_NO_KEY = (
    "login fail: Please carry the API secret key in the 'Authorization' field of the request header"
)


def _invalid(body: dict[str, Any], model: str) -> JSONResponse | None:
    """MiniMax's 2013 refusal of a create body, or None when the body is valid."""
    image = body.get("first_frame_image")
    rules = MODELS.get(model)
    if rules is None:
        return _refusal(2013, f"invalid params, model {model} not support")
    problem = None
    if not body.get("prompt") and image is None:
        problem = "prompt is required"
    elif rules.image == "required" and image is None:
        problem = "first_frame_image is required"
    elif str(body.get("resolution") or rules.resolutions[0]) not in rules.resolutions:
        problem = "resolution not support"
    elif body.get("duration", 6) not in rules.durations:
        problem = "duration not support"
    elif isinstance(image, str) and not image.startswith(("http://", "https://", "data:image/")):
        problem = "first_frame_image must be a URL or a data URL"
    return None if problem is None else _refusal(2013, f"invalid params, {problem}")


def cdn_host(api_host: str) -> str:
    """The emulated CDN's host name for an API host name (never the same name)."""
    if api_host == "127.0.0.1":
        return "localhost"
    if api_host == "localhost":
        return "127.0.0.1"
    return f"cdn.{api_host}"


@attrs.define
class _Task:
    id: str
    file_id: str
    model: str
    created: float
    seconds: float
    outcome: str
    resolution: str

    def status(self, now: float) -> str:
        elapsed = now - self.created
        if elapsed < self.seconds * 0.1:
            return "Preparing"
        if elapsed < self.seconds * 0.3:
            return "Queueing"
        if elapsed < self.seconds:
            return "Processing"
        return "Fail" if self.outcome != "ok" else "Success"


_SIZES = {"512P": (912, 512), "720P": (1280, 720), "768P": (1366, 768), "1080P": (1920, 1080)}


class MinimaxEmulator(FaultMiddleware):
    """The emulator app; `tasks` and `clock` are open to tests."""

    tasks: dict[str, _Task]
    clock: Callable[[], float]


def create_app(
    *,
    job_seconds: float = 2.0,
    faults: Faults | None = None,
    clock: Callable[[], float] = time.time,
) -> MinimaxEmulator:
    """
    A fresh emulator with its own tasks.

    Args:
        job_seconds: How long a task takes.
        faults: A fault script to share (a new one by default); also ``app.faults``.
        clock: The emulator's time (tests drive it).
    """
    tasks: dict[str, _Task] = {}
    files: dict[str, _Task] = {}

    def authorized(request: Request) -> bool:
        header = request.headers.get("authorization", "")
        return header.startswith("Bearer ") and len(header) > len("Bearer ")

    async def create(request: Request) -> Response:
        if not authorized(request):
            return _refusal(1004, _NO_KEY)
        try:
            body = await request.json()
            model = str(body["model"])
        except (ValueError, KeyError, TypeError):
            return _refusal(2013, "invalid params, model is required")
        if (refusal := _invalid(body, model)) is not None:
            return refusal
        prompt = str(body.get("prompt") or "")
        resolution = str(body.get("resolution") or MODELS[model].resolutions[0])
        flags = directives(prompt)
        if "sensitive" in flags:
            return _refusal(1026, "input new_sensitive")
        outcome = "fail" if "fail" in flags else "filter" if "filter" in flags else "ok"
        task = _Task(
            id=str(secrets.randbelow(10**15) + 10**14),
            file_id=str(secrets.randbelow(10**15) + 10**14),
            model=model,
            created=clock(),
            seconds=60.0 if "slow" in flags else job_seconds,
            outcome=outcome,
            resolution=resolution,
        )
        tasks[task.id] = task
        files[task.file_id] = task
        return JSONResponse(
            {"task_id": task.id, "base_resp": {"status_code": 0, "status_msg": "success"}}
        )

    async def query(request: Request) -> Response:
        if not authorized(request):
            return _refusal(1004, _NO_KEY)
        task = tasks.get(request.query_params.get("task_id", ""))
        if task is None:
            return _refusal(2013, "invalid params, task not found")
        status = task.status(clock())
        out: dict[str, Any] = {"task_id": task.id, "status": status}
        resp = {"status_code": 0, "status_msg": "success"}
        if status == "Success":
            width, height = _SIZES.get(task.resolution, (1366, 768))
            out |= {"file_id": task.file_id, "video_width": width, "video_height": height}
        elif status == "Fail" and task.outcome == "filter":
            resp = {"status_code": 1027, "status_msg": "output new_sensitive"}
        elif status == "Fail":
            resp = {"status_code": 1000, "status_msg": "the emulator failed this task"}
        return JSONResponse({**out, "base_resp": resp})

    async def retrieve_file(request: Request) -> Response:
        if not authorized(request):
            return _refusal(1004, _NO_KEY)
        task = files.get(request.query_params.get("file_id", ""))
        if task is None or task.status(clock()) != "Success":
            return _refusal(2013, "invalid params, file not found")
        host = cdn_host(request.url.hostname or "localhost")
        port = f":{request.url.port}" if request.url.port else ""
        expires = int(clock()) + 9 * 3600
        url = (
            f"{request.url.scheme}://{host}{port}/inference_output/video/{task.file_id}/"
            f"output.mp4?Expires={expires}&Signature={secrets.token_urlsafe(12)}"
        )
        file = {
            "file_id": int(task.file_id),
            "bytes": len(media.sample(Variant.VIDEO)),
            "created_at": int(task.created + task.seconds),
            "filename": "output.mp4",
            "purpose": "video_generation",
            "download_url": url,
        }
        return JSONResponse(
            {"file": file, "base_resp": {"status_code": 0, "status_msg": "success"}}
        )

    async def cdn(request: Request) -> Response:
        if request.query_params.get("Expires") is None:
            return Response(b"<Error><Code>AccessDenied</Code></Error>", 403)
        if files.get(request.path_params["file_id"]) is None:
            return Response(b"<Error><Code>NoSuchKey</Code></Error>", 404)
        return Response(media.sample(Variant.VIDEO), media_type="video/mp4")

    routes = Starlette(
        routes=[
            Route("/v1/video_generation", create, methods=["POST"]),
            Route("/v1/query/video_generation", query, methods=["GET"]),
            Route("/v1/files/retrieve", retrieve_file, methods=["GET"]),
            Route("/inference_output/video/{file_id}/output.mp4", cdn, methods=["GET"]),
        ]
    )
    app = MinimaxEmulator(routes, faults, error_body=error_body)
    app.tasks = tasks
    app.clock = clock
    return app


if __name__ == "__main__":
    main(create_app, description="Emulator of MiniMax's Hailuo video API", default_port=8094)
