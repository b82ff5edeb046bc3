"""
An emulator of fal's queue API: an ASGI app with scriptable faults.

Run it with ``python -m reelgate_fal.emulator --port 8103``. It serves:

* ``POST /{model path}``: queues a request; answers ``request_id``, ``status_url``,
  ``response_url``, ``cancel_url`` (under the model's app) and ``queue_position``;
* ``GET /{app}/requests/{id}/status[?logs=1]``: ``IN_QUEUE`` with a ``queue_position``
  counting down for the first fifth of the job, ``IN_PROGRESS`` with ``logs`` (entries
  ``{message, level, source, timestamp}``), ``COMPLETED`` with ``metrics``;
  ``[emulate:slow]`` in the prompt takes a minute;
* ``GET /{app}/requests/{id}``: the result, ``{"video": {"url", "content_type",
  "file_name", "file_size"}, "seed"}``, with the file on another host name than the API
  (as ``v3.fal.media`` is), served without a key at ``/files/{token}/output.mp4``.
  A failed request is COMPLETED too, and its result is the error: ``[emulate:fail]``
  answers a 422 ``detail`` list, ``[emulate:filter]`` a 422 content-policy refusal,
  ``[emulate:runner_error]`` a 500 request error whose ``error``/``error_type`` the status
  also carries;
* ``PUT /{app}/requests/{id}/cancel``: ``202 {"status": "CANCELLATION_REQUESTED"}``,
  ``400 {"status": "ALREADY_COMPLETED"}`` or ``404 {"status": "NOT_FOUND"}``.

The key must come as ``Authorization: Key <key>``. Errors are ``{"detail": ...}``; a
listed endpoint's input is validated (422 with a ``detail`` list).
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import Callable, Collection
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

from .catalog import MODELS, app_path

__all__ = ["FalEmulator", "create_app", "error_body"]


def error_body(status: int, message: str) -> bytes:
    """The body of a fal request error."""
    return json.dumps({"detail": message}).encode()


def _detail(status: int, detail: Any, **extra: Any) -> Response:
    return JSONResponse({"detail": detail, **extra}, status)


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat()


@attrs.define
class QueuedRequest:
    """One emulated request; its state is a function of the clock."""

    id: str
    model: str
    input: dict[str, Any]
    created: float
    seconds: float
    failure: str | None
    file: str = attrs.field(factory=lambda: secrets.token_urlsafe(16))
    cancelled: float | None = None

    def status(self, now: float, *, with_logs: bool) -> dict[str, Any]:
        """The status answer at `now`."""
        start = self.created + self.seconds * 0.2
        if self.cancelled is not None:
            return {
                "status": "COMPLETED",
                "logs": [] if with_logs else None,
                "metrics": {},
                "error": "Request was cancelled by the client",
                "error_type": "client_cancelled",
            }
        if now < start:
            position = int(3 * (start - now) / (start - self.created))
            return {"status": "IN_QUEUE", "queue_position": position}
        logs = [
            {
                "message": f"Generating: {pct}%",
                "level": "INFO",
                "source": "user",
                "timestamp": _iso(at),
            }
            for pct, at in (
                (pct, start + (self.seconds * 0.8) * pct / 100) for pct in range(0, 101, 10)
            )
            if at <= now
        ]
        if now < self.created + self.seconds:
            return {"status": "IN_PROGRESS", "logs": logs if with_logs else None}
        out: dict[str, Any] = {
            "status": "COMPLETED",
            "logs": logs if with_logs else None,
            "metrics": {"inference_time": round(self.seconds * 0.8, 3)},
        }
        if self.failure == "runner_error":
            out.update(
                error="The model failed to generate a video (emulated)",
                error_type="runner_server_error",
            )
        return out


@attrs.define
class FalEmulator:
    """The ASGI app with its requests and fault script."""

    app: FaultMiddleware
    requests: dict[str, QueuedRequest]
    received: list[tuple[str, Any]]

    @property
    def faults(self) -> Faults:
        """The fault script."""
        return self.app.faults

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Serve one ASGI request."""
        await self.app(scope, receive, send)


def _cdn_base(request: Request) -> str:
    """The CDN host: another name for this server, as v3.fal.media is."""
    host = request.url.hostname or "emulator.test"
    port = f":{request.url.port}" if request.url.port else ""
    other = "localhost" if host == "127.0.0.1" else f"cdn.{host}"
    return f"{request.url.scheme}://{other}{port}"


def _validate(model: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    issues = []
    if not isinstance(body.get("prompt"), str):
        issues.append(
            {"loc": ["body", "prompt"], "msg": "field required", "type": "value_error.missing"}
        )
    rules = MODELS.get(model)
    if rules is None:
        return issues
    durations = [rules.duration_format.format(d) for d in rules.durations]
    for field, allowed in (
        ("duration", durations),
        ("aspect_ratio", rules.ratios),
        ("resolution", rules.resolutions),
    ):
        if field in body and body[field] not in allowed:
            options = ", ".join(f"'{a}'" for a in allowed)
            issues.append(
                {
                    "loc": ["body", field],
                    "msg": f"unexpected value; permitted: {options}",
                    "type": "value_error.const",
                }
            )
    if rules.image_required and not body.get(rules.image_field or "image_url"):
        issues.append(
            {
                "loc": ["body", rules.image_field or "image_url"],
                "msg": "field required",
                "type": "value_error.missing",
            }
        )
    return issues


def _failed_result(found: QueuedRequest, answer: dict[str, Any]) -> Response | None:
    """The result of a request that did not make a video: fal answers it with the error."""
    if answer.get("error_type") == "client_cancelled":
        return _detail(499, answer["error"], error_type="client_cancelled")
    if found.failure == "runner_error":
        return _detail(500, answer["error"], error_type=answer["error_type"])
    if found.failure is not None:
        kind = "content_policy_violation" if found.failure == "filter" else "value_error"
        message = (
            "The content could not be processed because it contained material flagged "
            "by a content checker."
            if found.failure == "filter"
            else "The model could not generate a video from this input (emulated)."
        )
        return _detail(422, [{"loc": ["body", "prompt"], "msg": message, "type": kind}])
    return None


def create_app(
    *,
    job_seconds: float = 2.0,
    faults: Faults | None = None,
    keys: Collection[str] | None = None,
    clock: Callable[[], float] = time.time,
) -> FalEmulator:
    """
    A fresh emulator with its own requests.

    Args:
        job_seconds: How long a request takes.
        faults: A fault script to share (a new one by default); also ``app.faults``.
        keys: The keys accepted (default: any ``Key`` credential).
        clock: The emulator's time source.
    """
    requests: dict[str, QueuedRequest] = {}
    received: list[tuple[str, Any]] = []

    def refused(request: Request) -> Response | None:
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if scheme != "Key" or not key.strip() or (keys is not None and key.strip() not in keys):
            return _detail(401, "Unauthorized: send your key as 'Authorization: Key <FAL_KEY>'")
        return None

    def base(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    async def submit(request: Request) -> Response:
        if (denied := refused(request)) is not None:
            return denied
        model = request.path_params["model"].strip("/")
        try:
            body = await request.json()
        except ValueError:
            return _detail(400, "The request body is not valid JSON.")
        if not isinstance(body, dict):
            return _detail(
                422,
                [{"loc": ["body"], "msg": "value is not a valid dict", "type": "type_error.dict"}],
            )
        received.append((model, body))
        if issues := _validate(model, body):
            return _detail(422, issues)
        flags = directives(body.get("prompt"))
        queued = QueuedRequest(
            id=str(uuid.uuid4()),
            model=model,
            input=body,
            created=clock(),
            seconds=60.0 if "slow" in flags else job_seconds,
            failure=next((f for f in ("fail", "filter", "runner_error") if f in flags), None),
        )
        requests[queued.id] = queued
        url = f"{base(request)}/{app_path(model)}/requests/{queued.id}"
        return JSONResponse(
            {
                "status": "IN_QUEUE",
                "request_id": queued.id,
                "response_url": url,
                "status_url": f"{url}/status",
                "cancel_url": f"{url}/cancel",
                "queue_position": 3,
            }
        )

    def find(request: Request) -> QueuedRequest | None:
        found = requests.get(request.path_params["request_id"])
        if found is None or app_path(found.model) != request.path_params["app"]:
            return None
        return found

    async def status(request: Request) -> Response:
        if (denied := refused(request)) is not None:
            return denied
        if (found := find(request)) is None:
            return _detail(404, "Request not found")
        with_logs = request.query_params.get("logs", "0").lower() in ("1", "true")
        answer = found.status(clock(), with_logs=with_logs)
        url = f"{base(request)}/{app_path(found.model)}/requests/{found.id}"
        return JSONResponse({**answer, "request_id": found.id, "response_url": url})

    async def result(request: Request) -> Response:
        if (denied := refused(request)) is not None:
            return denied
        if (found := find(request)) is None:
            return _detail(404, "Request not found")
        answer = found.status(clock(), with_logs=False)
        if answer["status"] != "COMPLETED":
            return _detail(400, "Request is still in progress")
        if (failed := _failed_result(found, answer)) is not None:
            return failed
        video = {
            "url": f"{_cdn_base(request)}/files/{found.file}/output.mp4",
            "content_type": "video/mp4",
            "file_name": "output.mp4",
            "file_size": len(media.sample(Variant.VIDEO)),
        }
        return JSONResponse({"video": video, "seed": 1234})

    async def cancel(request: Request) -> Response:
        if (denied := refused(request)) is not None:
            return denied
        if (found := find(request)) is None:
            return JSONResponse({"status": "NOT_FOUND"}, 404)
        if found.cancelled is not None or clock() >= found.created + found.seconds:
            return JSONResponse({"status": "ALREADY_COMPLETED"}, 400)
        found.cancelled = clock()
        return JSONResponse({"status": "CANCELLATION_REQUESTED"}, 202)

    async def file(request: Request) -> Response:
        token = request.path_params["token"]
        for found in requests.values():
            if found.file == token and found.failure is None and found.cancelled is None:
                return Response(media.sample(Variant.VIDEO), media_type="video/mp4")
        return Response(b"Not Found", 404, media_type="text/plain")

    routes = Starlette(
        routes=[
            Route("/files/{token}/output.mp4", file, methods=["GET"]),
            Route("/{app:path}/requests/{request_id}/status", status, methods=["GET"]),
            Route("/{app:path}/requests/{request_id}/cancel", cancel, methods=["PUT"]),
            Route("/{app:path}/requests/{request_id}", result, methods=["GET"]),
            Route("/{model:path}", submit, methods=["POST"]),
        ]
    )
    return FalEmulator(FaultMiddleware(routes, faults, error_body=error_body), requests, received)


if __name__ == "__main__":
    main(create_app, description="Emulator of fal's queue API", default_port=8103)
