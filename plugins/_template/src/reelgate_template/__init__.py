"""
A template reelgate provider: the smallest plugin that passes the provider contract.

It speaks a tiny job API (``POST /v1/jobs``, ``GET /v1/jobs/{id}``,
``GET /v1/jobs/{id}/content``) that `reelgate_template.emulator` implements. It offers
create, retrieve and download; the gateway lists its jobs from the job index and reports
delete and remix as unsupported.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Self

import attrs

import reelgate
from reelgate.errors import VideoNotReadyError
from reelgate.http import Reply, Upstream, UpstreamError
from reelgate.model import VideoError

__all__ = ["TemplateProvider", "TemplateSettings", "reelgate_register_providers"]

_STATES = {
    "pending": reelgate.VideoStatus.QUEUED,
    "running": reelgate.VideoStatus.IN_PROGRESS,
    "done": reelgate.VideoStatus.COMPLETED,
    "error": reelgate.VideoStatus.FAILED,
}


@attrs.frozen(kw_only=True)
class TemplateSettings(reelgate.ProviderSettings):
    """The template's settings: the common ones, and a default base URL."""

    base_url: str | None = "http://127.0.0.1:8099"


def parse_error(reply: Reply) -> UpstreamError:
    """Read the API's error envelope: ``{"error": {"message": ...}}``."""
    try:
        body = reply.json()
        error = body["error"]
        message, code = str(error["message"]), error.get("code")
    except (reelgate.ProviderError, KeyError, TypeError, AttributeError):
        return UpstreamError(message=f"template API answered HTTP {reply.status}")
    return UpstreamError(message=message, code=code, raw=body)


class TemplateProvider:
    """A provider instance: three operations over the job API."""

    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream

    @classmethod
    def from_setup(cls, setup: reelgate.ProviderSetup) -> Self:
        """The factory registered with the spec."""
        return cls(attrs.evolve(setup.upstream, parse_error=parse_error))

    def _video(self, job: dict[str, Any]) -> reelgate.Video:
        status = _STATES.get(job.get("state", ""), reelgate.VideoStatus.QUEUED)
        return reelgate.Video(
            id=job["id"],
            status=status,
            model=job.get("model"),
            prompt=job.get("prompt"),
            progress=job.get("percent"),
            created_at=job.get("created"),
            completed_at=job.get("finished"),
            error=VideoError(code="job_failed", message=job["error"]) if job.get("error") else None,
        )

    async def create(self, request: reelgate.CreateVideo, *, call: reelgate.Call) -> reelgate.Video:
        """``POST /v1/jobs``: never retried after an ambiguous failure."""
        body = {"prompt": request.prompt, "model": call.model, "seconds": request.seconds}
        job = await self.upstream.json("POST", "/v1/jobs", call=call, idempotent=False, json=body)
        return self._video(job)

    async def retrieve(self, video_id: str, *, call: reelgate.Call) -> reelgate.Video:
        """``GET /v1/jobs/{id}``."""
        job = await self.upstream.json("GET", f"/v1/jobs/{video_id}", call=call, idempotent=True)
        return self._video(job)

    @asynccontextmanager
    async def download(
        self, video_id: str, variant: reelgate.Variant, *, call: reelgate.Call
    ) -> AsyncIterator[reelgate.DownloadStream]:
        """``GET /v1/jobs/{id}/content``, streamed; code ``not_ready`` means unfinished."""
        if variant is not reelgate.Variant.VIDEO:
            raise reelgate.UnsupportedOperationError(f"the template API has no {variant} variant")
        try:
            async with self.upstream.stream(f"/v1/jobs/{video_id}/content", call=call) as stream:
                yield stream
        except reelgate.ReelgateError as e:
            if e.upstream and e.code == "not_ready":
                raise VideoNotReadyError(e.message, provider=call.instance) from None
            raise


@reelgate.hookimpl
def reelgate_register_providers(registry: reelgate.ProviderRegistry) -> None:
    """Register the ``template`` provider type."""
    registry.add(
        reelgate.ProviderSpec(
            type="template",
            factory=TemplateProvider.from_setup,
            settings=TemplateSettings,
            key_env=("TEMPLATE_API_KEY",),
            env={"base_url": "TEMPLATE_BASE_URL"},
            poll_interval=1.0,
            description="the template plugin's job API",
        )
    )
