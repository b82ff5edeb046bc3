"""
A complete provider in one file, registered by hand instead of through an entry point.

    python examples/custom_provider.py [OUTPUT.mp4]

``flipbook`` keeps its jobs in memory and "renders" each one in a second or two. It
implements create, retrieve, download and delete; the gateway lists its jobs from the job
index and answers remix with `UnsupportedOperationError`. A published plugin has the same
parts in a package with an entry point (see the plugin-author guide), and talks to its
upstream through ``setup.upstream`` rather than a dict.
"""

from __future__ import annotations

import secrets
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Self

import anyio
import attrs

import reelgate
from reelgate import media
from reelgate.plugins import Plugins


@attrs.frozen(kw_only=True)
class FlipbookSettings(reelgate.ProviderSettings):
    """
    The provider's settings: the common ones and its own.

    Attributes:
        duration: Seconds a job takes.
    """

    duration: float = 1.5


@attrs.frozen
class _Job:
    prompt: str
    model: str | None
    created: float
    duration: float
    fail: bool


async def _chunks(body: bytes, size: int = 4096) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


class FlipbookProvider:
    """One ``flipbook`` instance. Ids here are native: the gateway qualifies them."""

    def __init__(self, settings: FlipbookSettings) -> None:
        self.settings = settings
        self._jobs: dict[str, _Job] = {}

    @classmethod
    def from_setup(cls, setup: reelgate.ProviderSetup) -> Self:
        """The factory the spec registers: one provider per configured instance."""
        assert isinstance(setup.settings, FlipbookSettings)  # noqa: S101  # set by the spec
        return cls(setup.settings)

    def _video(self, native_id: str) -> reelgate.Video:
        job = self._jobs.get(native_id)
        if job is None:
            raise reelgate.NotFoundError(f"flipbook has no job {native_id!r}")
        share = (time.time() - job.created) / job.duration
        video = reelgate.Video(
            id=native_id,
            status=reelgate.VideoStatus.QUEUED,
            model=job.model,
            prompt=job.prompt,
            created_at=int(job.created),
        )
        if share < 0.1:
            return video
        if share < 1:
            return attrs.evolve(video, status=reelgate.VideoStatus.IN_PROGRESS, progress=99 * share)
        if job.fail:
            error = reelgate.VideoError(code="flipbook_failed", message="the pages stuck together")
            return attrs.evolve(video, status=reelgate.VideoStatus.FAILED, error=error)
        return attrs.evolve(video, status=reelgate.VideoStatus.COMPLETED, progress=100)

    async def create(self, request: reelgate.CreateVideo, *, call: reelgate.Call) -> reelgate.Video:
        """Start a job; ``extra_params={"flipbook_fail": True}`` makes it fail."""
        native_id = f"flip_{secrets.token_hex(6)}"
        self._jobs[native_id] = _Job(
            prompt=request.prompt,
            model=call.model,
            created=time.time(),
            duration=float(request.extra_params.get("flipbook_seconds", self.settings.duration)),
            fail=bool(request.extra_params.get("flipbook_fail", False)),
        )
        return self._video(native_id)

    async def retrieve(self, video_id: str, *, call: reelgate.Call) -> reelgate.Video:
        """The job's state now."""
        return self._video(video_id)

    @asynccontextmanager
    async def download(
        self, video_id: str, variant: reelgate.Variant, *, call: reelgate.Call
    ) -> AsyncIterator[reelgate.DownloadStream]:
        """Stream the finished video (a real MP4, borrowed from the simulator)."""
        video = self._video(video_id)
        if video.status is not reelgate.VideoStatus.COMPLETED:
            raise reelgate.VideoNotReadyError(f"job {video_id} is {video.status.value}")
        if variant is not reelgate.Variant.VIDEO:
            raise reelgate.UnsupportedOperationError(f"flipbook has no {variant} variant")
        body = media.sample(reelgate.Variant.VIDEO)
        yield reelgate.DownloadStream("video/mp4", len(body), chunks=_chunks(body))

    async def delete(self, video_id: str, *, call: reelgate.Call) -> reelgate.Deleted:
        """Forget the job."""
        if self._jobs.pop(video_id, None) is None:
            raise reelgate.NotFoundError(f"flipbook has no job {video_id!r}")
        return reelgate.Deleted(id=video_id)


@reelgate.hookimpl
def reelgate_register_providers(registry: reelgate.ProviderRegistry) -> None:
    """Register the ``flipbook`` provider type."""
    registry.add(
        reelgate.ProviderSpec(
            type="flipbook",
            factory=FlipbookProvider.from_setup,
            settings=FlipbookSettings,
            requires_key=False,
            poll_interval=0.2,
            description="an in-memory example provider",
        )
    )


async def main(out: Path) -> None:
    """Register this module as a plugin, then use ``flipbook`` like any provider."""
    plugins = Plugins.load()  # the installed plugins (sim at least)...
    plugins.register(sys.modules[__name__], name="flipbook")  # ...and this one

    async with reelgate.Gateway(plugins=plugins) as gw:
        instance = gw.instance("flipbook")
        print(f"flipbook can: {', '.join(sorted(instance.capabilities))}")

        video = await gw.create(reelgate.CreateVideo(model="flipbook/pages-1", prompt="a cat"))
        video = (await gw.wait(video.id, timeout=30)).raise_for_status()
        print(f"{video.id} is {video.status.value}")
        path = await gw.download_to(video.id, out)
        print(f"wrote {path} ({path.stat().st_size} bytes)")

        try:
            await gw.remix(video.id, "a dog")
        except reelgate.UnsupportedOperationError as e:
            print(f"remix: {e.message} (HTTP {e.status_code})")

        page = await gw.list("flipbook")
        print(f"listed from the job index: {[v.id for v in page.data] == [video.id]}")


if __name__ == "__main__":
    target = (
        Path(sys.argv[1])
        if len(sys.argv) > 1
        else Path(tempfile.mkdtemp(prefix="reelgate-")) / "flipbook.mp4"
    )
    anyio.run(main, target)
