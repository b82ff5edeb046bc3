"""
An emulator of the template job API: an ASGI app with scriptable faults.

Run it with ``python -m reelgate_template.emulator --port 8099``. Jobs finish after
``job_seconds``; a prompt containing ``[emulate:fail]`` fails, ``[emulate:filter]`` is
refused by the safety filter, ``[emulate:slow]`` takes a minute.
``POST /v1/jobs/{id}/cancel`` stops an unfinished job (state ``cancelled``).

It is built from the pieces of `reelgate.emulation`, as every emulator should be: a
`JobTimeline` per job (pass ``clock=`` to move time in tests instead of sleeping),
`Refusal` for error answers, `FaultMiddleware` outermost, the sample MP4 of
`reelgate.media`, and a finished job's ``video_url`` on `asset_origin`, another host
name for the same server, where a download needs no key (and must get none).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from typing import Any

import attrs
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reelgate.emulation import (
    Clock,
    FaultMiddleware,
    Faults,
    JobTimeline,
    Refusal,
    asset_origin,
    main,
)
from reelgate.media import content_type, sample

__all__ = ["create_app"]

#: The API's state names for the timeline's stages.
_STATES = {
    "queued": "pending",
    "running": "running",
    "succeeded": "done",
    "failed": "error",
    "filtered": "error",
    "cancelled": "cancelled",
}
_ERRORS = {
    "failed": "the emulator failed this job",
    "filtered": "the prompt was refused by the safety filter",
    "cancelled": "the job was cancelled",
}


def error_body(status: int, message: str, code: str | None = None) -> bytes:
    """The API's error envelope."""
    return json.dumps({"error": {"message": message, "code": code}}).encode()


@attrs.define
class _Job:
    id: str
    model: str
    prompt: str
    timeline: JobTimeline

    def state(self, assets: str) -> dict[str, Any]:
        phase = self.timeline.now()
        out: dict[str, Any] = {
            "id": self.id,
            "prompt": self.prompt,
            "created": int(self.timeline.created),
            "state": _STATES[phase.stage],
            "percent": phase.progress,
        }
        if phase.finished_at is not None:
            out["finished"] = int(phase.finished_at)
        if phase.stage in _ERRORS:
            out["error"] = _ERRORS[phase.stage]
        if phase.stage == "succeeded":
            out["video_url"] = f"{assets}/files/{self.id}.mp4?sig={_signature(self.id)}"
        return out


def _signature(job_id: str) -> str:
    return hashlib.sha256(f"template-emulator:{job_id}".encode()).hexdigest()[:16]


def create_app(
    *, job_seconds: float = 2.0, faults: Faults | None = None, clock: Clock = time.time
) -> FaultMiddleware:
    """
    A fresh emulator with its own jobs.

    Args:
        job_seconds: How long a job takes.
        faults: A fault script to share (a new one by default); also ``app.faults``.
        clock: The emulator's time, in seconds.
    """
    jobs: dict[str, _Job] = {}

    def authorize(request: Request) -> None:
        if not request.headers.get("authorization", "").startswith("Bearer "):
            raise Refusal(401, "missing bearer key")

    def find(request: Request) -> _Job:
        authorize(request)
        job = jobs.get(request.path_params["job_id"])
        if job is None:
            raise Refusal(404, "no such job")
        return job

    def assets(request: Request) -> str:
        return asset_origin(str(request.base_url))

    async def create(request: Request) -> Response:
        authorize(request)
        try:
            body = await request.json()
            prompt = str(body["prompt"])
        except (ValueError, KeyError, TypeError):
            raise Refusal(400, "body must be JSON with a prompt") from None
        job = _Job(
            id=f"job_{secrets.token_hex(8)}",
            model=str(body.get("model") or "template-1"),
            prompt=prompt,
            timeline=JobTimeline.start(prompt, seconds=job_seconds, clock=clock),
        )
        jobs[job.id] = job
        # Like many job APIs, this one names the model only in the create's answer.
        return JSONResponse({**job.state(assets(request)), "model": job.model})

    async def retrieve(request: Request) -> Response:
        return JSONResponse(find(request).state(assets(request)))

    async def cancel(request: Request) -> Response:
        job = find(request)
        if not job.timeline.cancel():
            raise Refusal(409, "job has finished", code="finished")
        return JSONResponse(job.state(assets(request)))

    async def file(request: Request) -> Response:
        # The asset host: a signed URL, no key (the API host's routes demand one).
        job_id = request.path_params["name"].removesuffix(".mp4")
        if request.query_params.get("sig") != _signature(job_id) or job_id not in jobs:
            raise Refusal(403, "bad or missing signature")
        return Response(sample(), media_type=content_type())

    routes = Starlette(
        routes=[
            Route("/v1/jobs", create, methods=["POST"]),
            Route("/v1/jobs/{job_id}", retrieve, methods=["GET"]),
            Route("/v1/jobs/{job_id}/cancel", cancel, methods=["POST"]),
            Route("/files/{name}", file, methods=["GET"]),
        ]
    )
    return FaultMiddleware(
        routes,
        faults,
        error_body=error_body,
        refusal_body=lambda r: error_body(r.status, r.message, r.code),
    )


if __name__ == "__main__":
    main(create_app, description="Emulator of the template job API", default_port=8099)
