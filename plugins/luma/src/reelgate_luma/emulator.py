"""
An emulator of Luma's Dream Machine API (video generations), with scriptable faults.

Run it with ``python -m reelgate_luma.emulator --port 8093`` and point ``LUMAAI_BASE_URL``
(or the official ``lumaai`` SDK's ``base_url``) at ``http://127.0.0.1:8093``. It serves,
as ``lumaai`` 1.21 reads them:

* ``POST /generations/video`` (and the older ``POST /generations``): checked as the SDK's
  ``VideoCreateParams`` types the fields; answers 201 with the generation, ``queued``;
* ``GET /generations/{id}``: ``queued``, ``dreaming``, then ``completed`` with
  ``assets.video`` (and ``assets.image``), or ``failed`` with a ``failure_reason``;
* ``GET /generations?limit=&offset=``: newest first, ``{generations, count, has_more,
  limit, offset}``;
* ``DELETE /generations/{id}``: 204, then the generation is 404.

The assets are served under ``/cdn/`` on another host name than the API's (``localhost``
for ``127.0.0.1``, ``cdn.<host>`` otherwise), with no key asked for, as Luma's CDN does.
Every API request needs ``Authorization: Bearer <key>``; errors are ``{"detail": "..."}``.
A prompt containing ``[emulate:fail]`` or ``[emulate:filter]`` fails, ``[emulate:slow]``
takes a minute.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
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

__all__ = ["Generation", "create_app", "error_body"]

_MODELS = ("ray-2", "ray-flash-2")
_RATIOS = ("1:1", "16:9", "9:16", "4:3", "3:4", "21:9", "9:21")
_RESOLUTIONS = ("540p", "720p", "1080p", "4k")
_DURATIONS = ("5s", "9s")
_FIELDS = frozenset(
    {
        "model",
        "prompt",
        "aspect_ratio",
        "resolution",
        "duration",
        "loop",
        "keyframes",
        "callback_url",
        "concepts",
        "generation_type",
    }
)
_FAILURE = "The generation failed (emulated)."
_MODERATION = "Prompt not allowed because advanced moderation failed (emulated)."


def error_body(status: int, message: str) -> bytes:
    """Luma's error body: ``{"detail": "..."}``."""
    return json.dumps({"detail": message}).encode()


def _error(status: int, message: str) -> Response:
    return Response(error_body(status, message), status, media_type="application/json")


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat().replace("+00:00", "Z")


@attrs.define
class Generation:
    """One emulated generation."""

    id: str
    request: dict[str, Any]
    created: float
    seconds: float
    failure: str | None

    def state(self, now: float) -> str:
        """The state at `now`."""
        elapsed = now - self.created
        if elapsed < self.seconds * 0.2:
            return "queued"
        if elapsed < self.seconds:
            return "dreaming"
        return "failed" if self.failure else "completed"

    def body(self, now: float, cdn: str) -> dict[str, Any]:
        """The generation as the API writes it."""
        state = self.state(now)
        assets = None
        if state == "completed":
            assets = {
                "video": f"{cdn}/cdn/{self.id}/video.mp4",
                "image": f"{cdn}/cdn/{self.id}/image.jpg",
                "progress_video": None,
            }
        return {
            "id": self.id,
            "generation_type": "video",
            "state": state,
            "failure_reason": self.failure if state == "failed" else None,
            "created_at": _iso(self.created),
            "assets": assets,
            "model": self.request["model"],
            "request": self.request,
        }


def _validate(body: Any) -> str | None:
    """Why the create body is refused, or None."""
    return next(_problems(body), None)


def _problems(body: Any) -> Iterator[str]:
    if not isinstance(body, dict):
        yield "Request body must be a JSON object"
        return
    if unknown := sorted(set(body) - _FIELDS):
        yield f"Unknown field(s): {', '.join(unknown)}"
    if "model" not in body:
        yield "model: Field required"
    checks: list[tuple[str, tuple[str, ...]]] = [
        ("model", _MODELS),
        ("aspect_ratio", _RATIOS),
        ("resolution", _RESOLUTIONS),
        ("duration", _DURATIONS),
        ("generation_type", ("video",)),
    ]
    for field, allowed in checks:
        if field in body and body[field] not in allowed:
            yield f"{field}: Input should be {', '.join(repr(a) for a in allowed)}"
    if "loop" in body and not isinstance(body["loop"], bool):
        yield "loop: Input should be a valid boolean"
    if not isinstance(body.get("prompt", ""), str):
        yield "prompt: Input should be a valid string"
    keyframes = body.get("keyframes", {})
    if not isinstance(keyframes, dict) or set(keyframes) - {"frame0", "frame1"}:
        yield "keyframes: only frame0 and frame1"
        return
    for name, frame in keyframes.items():
        kind = frame.get("type") if isinstance(frame, dict) else None
        if not (
            (kind == "image" and isinstance(frame.get("url"), str))
            or (kind == "generation" and isinstance(frame.get("id"), str))
        ):
            yield f"keyframes.{name}: expected {{type: image, url}} or {{type: generation, id}}"


def _cdn_base(request: Request) -> str:
    host = request.url.hostname or "localhost"
    cdn = "localhost" if host == "127.0.0.1" else f"cdn.{host}"
    port = f":{request.url.port}" if request.url.port else ""
    return f"{request.url.scheme}://{cdn}{port}{request.scope.get('root_path', '')}"


def create_app(
    *,
    job_seconds: float = 2.0,
    faults: Faults | None = None,
    clock: Callable[[], float] = time.time,
) -> FaultMiddleware:
    """
    A fresh emulator with its own generations.

    Args:
        job_seconds: How long a generation takes.
        faults: A fault script to share (a new one by default); also ``app.faults``.
        clock: The emulator's time, so tests can move it.
    """
    generations: dict[str, Generation] = {}

    def refused(request: Request) -> Response | None:
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            return _error(401, "Invalid API key")
        return None

    def find(request: Request) -> Generation | Response:
        found = generations.get(request.path_params["generation_id"])
        return found if found is not None else _error(404, "Generation not found")

    async def create(request: Request) -> Response:
        if (denied := refused(request)) is not None:
            return denied
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "Request body must be JSON")
        if (problem := _validate(body)) is not None:
            return _error(400, problem)
        flags = directives(body.get("prompt"))
        failure = _MODERATION if "filter" in flags else _FAILURE if "fail" in flags else None
        generation = Generation(
            id=str(uuid.uuid4()),
            request={"generation_type": "video", **body},
            created=clock(),
            seconds=60.0 if "slow" in flags else job_seconds,
            failure=failure,
        )
        generations[generation.id] = generation
        return JSONResponse(generation.body(clock(), _cdn_base(request)), status_code=201)

    async def get(request: Request) -> Response:
        if (denied := refused(request)) is not None:
            return denied
        found = find(request)
        if isinstance(found, Response):
            return found
        return JSONResponse(found.body(clock(), _cdn_base(request)))

    async def delete(request: Request) -> Response:
        if (denied := refused(request)) is not None:
            return denied
        found = find(request)
        if isinstance(found, Response):
            return found
        del generations[found.id]
        return Response(status_code=204)

    async def listing(request: Request) -> Response:
        if (denied := refused(request)) is not None:
            return denied
        try:
            limit = int(request.query_params.get("limit", "10"))
            offset = int(request.query_params.get("offset", "0"))
        except ValueError:
            return _error(400, "limit and offset must be integers")
        if not 1 <= limit <= 100 or offset < 0:
            return _error(400, "limit must be 1..100 and offset at least 0")
        newest = sorted(generations.values(), key=lambda g: g.created, reverse=True)
        rows = newest[offset : offset + limit]
        cdn = _cdn_base(request)
        return JSONResponse(
            {
                "generations": [g.body(clock(), cdn) for g in rows],
                "count": len(rows),
                "has_more": offset + len(rows) < len(newest),
                "limit": limit,
                "offset": offset,
            }
        )

    async def asset(request: Request) -> Response:
        found = generations.get(request.path_params["generation_id"])
        if found is None or found.state(clock()) != "completed":
            return Response(b"Not Found", 404, media_type="text/plain")
        if request.path_params["name"] == "image.jpg":
            return Response(media.sample(Variant.SPRITESHEET), media_type="image/jpeg")
        return Response(media.sample(Variant.VIDEO), media_type="video/mp4")

    routes = Starlette(
        routes=[
            Route("/generations/video", create, methods=["POST"]),
            Route("/generations", create, methods=["POST"]),
            Route("/generations", listing, methods=["GET"]),
            Route("/generations/{generation_id}", get, methods=["GET"]),
            Route("/generations/{generation_id}", delete, methods=["DELETE"]),
            Route("/cdn/{generation_id}/{name}", asset, methods=["GET"]),
        ]
    )
    return FaultMiddleware(routes, faults, error_body=error_body)


if __name__ == "__main__":
    main(create_app, description="Emulator of Luma's Dream Machine API", default_port=8093)
