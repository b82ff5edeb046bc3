"""
An emulator of the template job API: an ASGI app with scriptable faults.

Run it with ``python -m reelgate_template.emulator --port 8099``. Jobs finish after
``job_seconds``; a prompt containing ``[emulate:fail]`` fails, ``[emulate:slow]`` takes a
minute.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

import attrs
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reelgate.emulation import FaultMiddleware, Faults, directives, main
from reelgate.model import Variant
from reelgate.sim import media

__all__ = ["create_app"]


def error_body(status: int, message: str, code: str | None = None) -> bytes:
    """The API's error envelope."""
    return json.dumps({"error": {"message": message, "code": code}}).encode()


def _error(status: int, message: str, code: str | None = None) -> Response:
    return Response(error_body(status, message, code), status, media_type="application/json")


@attrs.define
class _Job:
    id: str
    model: str
    prompt: str
    created: float
    seconds: float
    fail: bool

    def state(self, now: float) -> dict[str, Any]:
        elapsed = now - self.created
        out: dict[str, Any] = {
            "id": self.id,
            "model": self.model,
            "prompt": self.prompt,
            "created": int(self.created),
        }
        if elapsed < self.seconds * 0.2:
            return {**out, "state": "pending", "percent": 0}
        if elapsed < self.seconds:
            return {**out, "state": "running", "percent": int(100 * elapsed / self.seconds)}
        finished = int(self.created + self.seconds)
        if self.fail:
            return {
                **out,
                "state": "error",
                "error": "the emulator failed this job",
                "finished": finished,
            }
        return {**out, "state": "done", "percent": 100, "finished": finished}


def create_app(*, job_seconds: float = 2.0, faults: Faults | None = None) -> FaultMiddleware:
    """
    A fresh emulator with its own jobs.

    Args:
        job_seconds: How long a job takes.
        faults: A fault script to share (a new one by default); also ``app.faults``.
    """
    jobs: dict[str, _Job] = {}

    def authorized(request: Request) -> Response | None:
        if not request.headers.get("authorization", "").startswith("Bearer "):
            return _error(401, "missing bearer key")
        return None

    def find(request: Request) -> _Job | Response:
        job = jobs.get(request.path_params["job_id"])
        return job if job is not None else _error(404, "no such job")

    async def create(request: Request) -> Response:
        if (denied := authorized(request)) is not None:
            return denied
        try:
            body = await request.json()
            prompt = str(body["prompt"])
        except (ValueError, KeyError, TypeError):
            return _error(400, "body must be JSON with a prompt")
        flags = directives(prompt)
        job = _Job(
            id=f"job_{secrets.token_hex(8)}",
            model=str(body.get("model") or "template-1"),
            prompt=prompt,
            created=time.time(),
            seconds=60.0 if "slow" in flags else job_seconds,
            fail="fail" in flags,
        )
        jobs[job.id] = job
        return JSONResponse(job.state(time.time()))

    async def retrieve(request: Request) -> Response:
        if (denied := authorized(request)) is not None:
            return denied
        job = find(request)
        return job if isinstance(job, Response) else JSONResponse(job.state(time.time()))

    async def content(request: Request) -> Response:
        if (denied := authorized(request)) is not None:
            return denied
        job = find(request)
        if isinstance(job, Response):
            return job
        if job.state(time.time())["state"] != "done":
            return _error(409, "job is not finished", "not_ready")
        return Response(media(Variant.VIDEO), media_type="video/mp4")

    routes = Starlette(
        routes=[
            Route("/v1/jobs", create, methods=["POST"]),
            Route("/v1/jobs/{job_id}", retrieve, methods=["GET"]),
            Route("/v1/jobs/{job_id}/content", content, methods=["GET"]),
        ]
    )
    return FaultMiddleware(routes, faults, error_body=error_body)


if __name__ == "__main__":
    main(create_app, description="Emulator of the template job API", default_port=8099)
