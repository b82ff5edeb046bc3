"""
An emulator of BytePlus ModelArk's content generation tasks: an ASGI app with faults.

Run it with ``python -m reelgate_bytedance.emulator --port 8095``; point an instance (or
the ``byteplus-python-sdk-v2`` ``Ark`` client) at ``http://127.0.0.1:8095/api/v3``. It
serves, under ``/api/v3``:

* ``POST /contents/generations/tasks``: ``{"id": "cgt-..."}``;
* ``GET /contents/generations/tasks/{id}``: the task (``queued``, ``running``,
  ``succeeded`` with ``content.video_url`` and ``usage``, ``failed`` with ``error``,
  ``cancelled``);
* ``GET /contents/generations/tasks?page_num=&page_size=&filter.status=&filter.task_ids=
  &filter.model=``: ``{"total", "items"}``, newest first;
* ``DELETE /contents/generations/tasks/{id}``: cancels a queued task, deletes a
  finished one, refuses a running or cancelled one;
* the video under ``/ark-content/`` on *another host name* (a TOS bucket's):
  ``localhost`` for ``127.0.0.1`` and back, ``tos.<host>`` otherwise, keyless.

Parameters are read from body fields and from ``--name value`` flags at the end of the
text item. ``[emulate:fail]`` fails a task, ``[emulate:filter]`` fails it as sensitive
output, ``[emulate:slow]`` makes it take a minute.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
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

__all__ = ["BytedanceEmulator", "asset_host", "create_app", "error_body"]

_FLAG = re.compile(r"--(\w+)\s+(\S+)")
_SHORT = {
    "rs": "resolution",
    "rt": "ratio",
    "dur": "duration",
    "cf": "camerafixed",
    "wm": "watermark",
}
_TYPES = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    429: "TooManyRequests",
}
_CODES = {
    400: "InvalidParameter",
    401: "AuthenticationError",
    403: "AccessDenied",
    404: "ResourceNotFound",
    429: "RateLimitExceeded",
}


def error_body(status: int, message: str) -> bytes:
    """Ark's error envelope for an HTTP status."""
    error = {
        "code": _CODES.get(status, "InternalServiceError"),
        "message": message,
        "param": "",
        "type": _TYPES.get(status, "InternalServerError"),
    }
    return json.dumps({"error": error}).encode()


def _error(status: int, message: str, param: str = "") -> Response:
    body = json.loads(error_body(status, message))
    body["error"]["param"] = param
    return JSONResponse(body, status)


def asset_host(api_host: str) -> str:
    """The emulated bucket's host name for an API host name (never the same name)."""
    if api_host == "127.0.0.1":
        return "localhost"
    if api_host == "localhost":
        return "127.0.0.1"
    return f"tos.{api_host}"


@attrs.define
class _Task:
    id: str
    model: str
    created: float
    seconds: float
    outcome: str
    params: dict[str, Any]
    cancelled_at: float | None = None

    def status(self, now: float) -> str:
        if self.cancelled_at is not None:
            return "cancelled"
        elapsed = now - self.created
        if elapsed < self.seconds * 0.3:
            return "queued"
        if elapsed < self.seconds:
            return "running"
        return "succeeded" if self.outcome == "ok" else "failed"

    def body(self, now: float, video_url: str) -> dict[str, Any]:
        status = self.status(now)
        finished = self.created + self.seconds
        updated = self.cancelled_at or (finished if status in ("succeeded", "failed") else now)
        out: dict[str, Any] = {
            "id": self.id,
            "model": self.model,
            "status": status,
            "created_at": int(self.created),
            "updated_at": int(updated),
            "seed": int(self.params.get("seed", 11)),
            "resolution": self.params.get("resolution", "720p"),
            "ratio": self.params.get("ratio", "16:9"),
            "duration": int(self.params.get("duration", 5)),
            "framespersecond": 24,
            "service_tier": "default",
            "execution_expires_after": 172800,
        }
        if status == "succeeded":
            out["content"] = {"video_url": video_url}
            out["usage"] = {"completion_tokens": 48600, "total_tokens": 48600}
        elif status == "failed" and self.outcome == "filter":
            message = (
                "The request failed because the output video may contain sensitive information."
            )
            out["error"] = {"code": "OutputVideoSensitiveContentDetected", "message": message}
        elif status == "failed":
            out["error"] = {
                "code": "InternalServiceError",
                "message": "the emulator failed this task",
            }
        return out


class BytedanceEmulator(FaultMiddleware):
    """The emulator app; `tasks` is open to tests."""

    tasks: dict[str, _Task]


def _params(body: dict[str, Any], text: str) -> dict[str, Any]:
    """Body fields, and the ``--name value`` flags of the text (the fields win)."""
    flags = {_SHORT.get(k, k): v for k, v in _FLAG.findall(text)}
    params: dict[str, Any] = {**flags}
    for name in ("resolution", "ratio", "duration", "seed", "camera_fixed", "watermark"):
        if body.get(name) is not None:
            params[name] = body[name]
    return params


def create_app(
    *,
    job_seconds: float = 2.0,
    faults: Faults | None = None,
    clock: Callable[[], float] = time.time,
) -> BytedanceEmulator:
    """
    A fresh emulator with its own tasks.

    Args:
        job_seconds: How long a task takes.
        faults: A fault script to share (a new one by default); also ``app.faults``.
        clock: The emulator's time (tests drive it).
    """
    tasks: dict[str, _Task] = {}

    def authorized(request: Request) -> Response | None:
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer ") or len(header) <= len("Bearer "):
            return _error(401, "The API key in the request is missing or invalid.")
        return None

    def video_url(request: Request, task: _Task) -> str:
        port = f":{request.url.port}" if request.url.port else ""
        host = asset_host(request.url.hostname or "localhost")
        return (
            f"{request.url.scheme}://{host}{port}/ark-content/{task.id}.mp4"
            f"?X-Tos-Expires=86400&X-Tos-Signature={secrets.token_hex(16)}"
        )

    async def create(request: Request) -> Response:
        if (denied := authorized(request)) is not None:
            return denied
        try:
            body = await request.json()
            model = str(body["model"])
            content = list(body["content"])
        except (ValueError, KeyError, TypeError):
            return _error(400, "The parameter `model` or `content` is missing.", "model")
        texts = [
            c.get("text", "") for c in content if isinstance(c, dict) and c.get("type") == "text"
        ]
        images = [c for c in content if isinstance(c, dict) and c.get("type") == "image_url"]
        if any(
            not isinstance(i.get("image_url"), dict) or not i["image_url"].get("url")
            for i in images
        ):
            return _error(400, "The parameter `content.image_url.url` is missing.", "content")
        text = " ".join(texts)
        params = _params(body, text)
        rules = MODELS.get(model)
        if rules is not None:
            if rules.image == "required" and not images:
                return _error(400, f"The model {model} requires an image.", "content")
            if params.get("resolution", "720p") not in rules.resolutions:
                return _error(400, "The parameter `resolution` is invalid.", "resolution")
        flags = directives(text)
        day = datetime.fromtimestamp(clock(), UTC).strftime("%Y%m%d%H%M%S")
        task = _Task(
            id=f"cgt-{day}-{secrets.token_hex(3)[:5]}",
            model=model,
            created=clock(),
            seconds=60.0 if "slow" in flags else job_seconds,
            outcome="fail" if "fail" in flags else "filter" if "filter" in flags else "ok",
            params=params,
        )
        tasks[task.id] = task
        return JSONResponse({"id": task.id})

    async def get_task(request: Request) -> Response:
        if (denied := authorized(request)) is not None:
            return denied
        task = tasks.get(request.path_params["task_id"])
        if task is None:
            return _error(404, "The specified task is not found.", "id")
        return JSONResponse(task.body(clock(), video_url(request, task)))

    async def list_tasks(request: Request) -> Response:
        if (denied := authorized(request)) is not None:
            return denied
        query = request.query_params
        try:
            page, size = int(query.get("page_num", "1")), int(query.get("page_size", "10"))
        except ValueError:
            return _error(400, "The parameter `page_num` or `page_size` is invalid.", "page_num")
        if not (1 <= page <= 500 and 1 <= size <= 500):
            return _error(
                400, "The parameter `page_num` or `page_size` is out of range.", "page_size"
            )
        now = clock()
        wanted = set(query.getlist("filter.task_ids"))
        chosen = [
            t
            for t in reversed(tasks.values())
            if (not query.get("filter.status") or t.status(now) == query["filter.status"])
            and (not wanted or t.id in wanted)
            and (not query.get("filter.model") or t.model == query["filter.model"])
        ]
        items = [
            t.body(now, video_url(request, t)) for t in chosen[(page - 1) * size : page * size]
        ]
        return JSONResponse({"total": len(chosen), "items": items})

    async def delete_task(request: Request) -> Response:
        if (denied := authorized(request)) is not None:
            return denied
        task = tasks.get(request.path_params["task_id"])
        if task is None:
            return _error(404, "The specified task is not found.", "id")
        status = task.status(clock())
        if status in ("running", "cancelled"):
            return _error(400, f"A {status} task cannot be cancelled or deleted.", "id")
        if status == "queued":
            task.cancelled_at = clock()
        else:
            del tasks[task.id]
        return JSONResponse({})

    async def asset(request: Request) -> Response:
        if request.query_params.get("X-Tos-Signature") is None:
            return Response(b"<Error><Code>AccessDenied</Code></Error>", 403)
        if tasks.get(request.path_params["task_id"]) is None:
            return Response(b"<Error><Code>NoSuchKey</Code></Error>", 404)
        return Response(media.sample(Variant.VIDEO), media_type="video/mp4")

    routes = Starlette(
        routes=[
            Route("/api/v3/contents/generations/tasks", create, methods=["POST"]),
            Route("/api/v3/contents/generations/tasks", list_tasks, methods=["GET"]),
            Route("/api/v3/contents/generations/tasks/{task_id}", get_task, methods=["GET"]),
            Route("/api/v3/contents/generations/tasks/{task_id}", delete_task, methods=["DELETE"]),
            Route("/ark-content/{task_id}.mp4", asset, methods=["GET"]),
        ]
    )
    app = BytedanceEmulator(routes, faults, error_body=error_body)
    app.tasks = tasks
    return app


if __name__ == "__main__":
    main(create_app, description="Emulator of BytePlus ModelArk's video tasks", default_port=8095)
