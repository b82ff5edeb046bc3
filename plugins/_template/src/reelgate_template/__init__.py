"""
A template reelgate provider: the smallest plugin that passes the provider contract.

It speaks a tiny job API (``POST /v1/jobs``, ``GET /v1/jobs/{id}``,
``POST /v1/jobs/{id}/cancel``) that `reelgate_template.emulator` implements. A finished
job names its video by a signed ``video_url`` on another host, fetched without the key.
It offers create, retrieve, download and cancel; the gateway lists its jobs from the job
index, and a delete cancels a running job and forgets it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Self

import attrs

import reelgate
from reelgate.errors import ProviderError, VideoNotReadyError
from reelgate.http import Upstream
from reelgate.model import VideoError, cancelled_error
from reelgate.status import upstream_status

__all__ = ["TemplateProvider", "TemplateSettings", "reelgate_register_providers"]

_STATES = {
    "pending": reelgate.VideoStatus.QUEUED,
    "running": reelgate.VideoStatus.IN_PROGRESS,
    "done": reelgate.VideoStatus.COMPLETED,
    "error": reelgate.VideoStatus.FAILED,
    "cancelled": reelgate.VideoStatus.FAILED,
}


@attrs.frozen(kw_only=True)
class TemplateSettings(reelgate.ProviderSettings):
    """The template's settings: the common ones, and a default base URL."""

    base_url: str | None = "http://127.0.0.1:8099"


class TemplateProvider:
    """A provider instance: four operations over the job API."""

    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream

    @classmethod
    def from_setup(cls, setup: reelgate.ProviderSetup) -> Self:
        """The factory registered with the spec (the API's errors are OpenAI-style)."""
        return cls(setup.upstream)

    def _video(self, job: dict[str, Any], *, call: reelgate.Call) -> reelgate.Video:
        state = job.get("state")
        error = None
        if state == "cancelled":
            error = cancelled_error()
        elif job.get("error"):
            error = VideoError(code="job_failed", message=str(job["error"]))
        # The API names a job's model only in the create's answer: keep it with the job.
        model = job.get("model") or (call.job_state or {}).get("model")
        return reelgate.Video(
            id=job["id"],
            status=upstream_status(state, _STATES, call=call),
            model=model,
            prompt=job.get("prompt"),
            progress=job.get("percent"),
            created_at=job.get("created"),
            completed_at=job.get("finished"),
            error=error,
            provider_metadata={"state": state},
            provider_state={"model": model} if model else None,
        )

    async def create(self, request: reelgate.CreateVideo, *, call: reelgate.Call) -> reelgate.Video:
        """``POST /v1/jobs``: never retried after an ambiguous failure."""
        body = {"prompt": request.prompt, "model": call.model, "seconds": request.seconds}
        job = await self.upstream.json("POST", "/v1/jobs", call=call, idempotent=False, json=body)
        return self._video(job, call=call)

    async def retrieve(self, video_id: str, *, call: reelgate.Call) -> reelgate.Video:
        """``GET /v1/jobs/{id}``."""
        job = await self.upstream.json("GET", f"/v1/jobs/{video_id}", call=call, idempotent=True)
        return self._video(job, call=call)

    async def cancel(self, video_id: str, *, call: reelgate.Call) -> None:
        """``POST /v1/jobs/{id}/cancel``; a job that has finished has nothing to stop."""
        try:
            await self.upstream.json(
                "POST", f"/v1/jobs/{video_id}/cancel", call=call, idempotent=True
            )
        except reelgate.ReelgateError as e:
            if e.code != "finished":
                raise

    @asynccontextmanager
    async def download(
        self, video_id: str, variant: reelgate.Variant, *, call: reelgate.Call
    ) -> AsyncIterator[reelgate.DownloadStream]:
        """The job's ``video_url``, streamed; it is on another host, so no key goes there."""
        if variant is not reelgate.Variant.VIDEO:
            raise reelgate.UnsupportedOperationError(
                f"the template API has no {variant.value} variant", call=call
            )
        job = await self.upstream.json("GET", f"/v1/jobs/{video_id}", call=call, idempotent=True)
        video = self._video(job, call=call)
        if video.status is not reelgate.VideoStatus.COMPLETED:
            raise VideoNotReadyError.for_status(video_id, video.status.value, call=call)
        if not job.get("video_url"):
            raise ProviderError(f"the finished job {video_id} has no video_url", call=call)
        async with self.upstream.stream(job["video_url"], call=call) as stream:
            yield stream


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
