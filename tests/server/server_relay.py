"""
A small provider with an HTTP upstream, for what the simulator cannot show.

Its native ids contain slashes (``models/relay/operations/op-1``), its upstream echoes
the key it was sent (so scrubbing shows), it streams downloads of any size while counting
the bytes it sent (so a test can see the transfer stop), and it has no delete, remix or
list (so the gateway reports them unsupported or lists from its index).
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.lowlevel
import attrs
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from reelgate import Call, CreateVideo, DownloadStream, Variant, Video, VideoStatus
from reelgate.config import RetryPolicy, Secret
from reelgate.emulation import FaultMiddleware, Faults
from reelgate.errors import NotFoundError
from reelgate.gateway import ProviderInstance
from reelgate.http import Upstream, make_client

KEY = "sk-relay-upstream-key-0123456789abcdef"
CHUNK = 64 * 1024


@attrs.define
class RelayState:
    """What the relay upstream has done, shared with the test's thread."""

    jobs: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    creates: int = 0
    sent: int = 0
    stopped: threading.Event = attrs.field(factory=threading.Event)
    faults: Faults = attrs.field(factory=Faults)


def relay_upstream(state: RelayState) -> FaultMiddleware:
    """The upstream API: create, read and stream jobs."""

    async def create(request: Request) -> Response:
        body = await request.json()
        state.creates += 1
        native = f"models/relay/operations/op-{state.creates}"
        job = {
            "name": native,
            "done": True,
            "prompt": body["prompt"],
            "bytes": int(body.get("bytes") or 1024),
            "debug": f"authorization was {request.headers.get('authorization')}",
        }
        state.jobs[native] = job
        return JSONResponse(job)

    async def read(request: Request) -> Response:
        job = state.jobs.get(request.path_params["name"])
        if job is None:
            return JSONResponse({"error": {"message": "no such operation"}}, 404)
        return JSONResponse(job)

    async def content(request: Request) -> Response:
        job = state.jobs.get(request.path_params["name"])
        if job is None:
            return JSONResponse({"error": {"message": "no such operation"}}, 404)
        total = job["bytes"]

        async def chunks() -> AsyncIterator[bytes]:
            try:
                left = total
                while left > 0:
                    n = min(left, CHUNK)
                    state.sent += n
                    left -= n
                    yield b"\0" * n
                    # A checkpoint per chunk, as a network read would be: without one,
                    # sends to a gone client return at once and nothing could stop the loop.
                    await anyio.lowlevel.checkpoint()
            finally:
                state.stopped.set()

        return StreamingResponse(
            chunks(), media_type="video/mp4", headers={"content-length": str(total)}
        )

    app = Starlette(
        routes=[
            Route("/ops", create, methods=["POST"]),
            Route("/ops/{name:path}/content", content),
            Route("/ops/{name:path}", read),
        ]
    )
    return FaultMiddleware(app, state.faults)


class RelayProvider:
    """create, retrieve and download over the relay upstream."""

    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream

    @staticmethod
    def _video(job: dict[str, Any]) -> Video:
        return Video(
            id=job["name"],
            status=VideoStatus.COMPLETED if job["done"] else VideoStatus.IN_PROGRESS,
            prompt=job["prompt"],
            model="relay-1",
        )

    async def create(self, request: CreateVideo, *, call: Call) -> Video:
        body = {"prompt": request.prompt, "bytes": request.extra_params.get("relay_bytes")}
        job = await self.upstream.json("POST", "/ops", call=call, idempotent=False, json=body)
        return self._video(job)

    async def retrieve(self, video_id: str, *, call: Call) -> Video:
        job = await self.upstream.json("GET", f"/ops/{video_id}", call=call, idempotent=True)
        return self._video(job)

    @asynccontextmanager
    async def download(
        self, video_id: str, variant: Variant, *, call: Call
    ) -> AsyncIterator[DownloadStream]:
        if variant is not Variant.VIDEO:
            raise NotFoundError(f"no {variant} for {video_id}")
        async with self.upstream.stream(f"/ops/{video_id}/content", call=call) as stream:
            yield stream

    async def aclose(self) -> None:
        await self.upstream.client.aclose()


def relay_instance(base_url: str) -> ProviderInstance:
    """A relay provider instance named ``relay``, with its own HTTP client."""
    upstream = Upstream(
        client=make_client(),
        base_url=base_url,
        instance="relay",
        retry=RetryPolicy(attempts=1),
    )
    return ProviderInstance(
        name="relay",
        type="relay",
        provider=RelayProvider(upstream),
        keys=(Secret(KEY, name="RELAY_KEY"),),
        requires_key=True,
    )
