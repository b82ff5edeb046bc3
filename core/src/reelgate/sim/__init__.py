"""
``sim``: the built-in simulator provider. No key, no network.

Jobs go queued -> in_progress (rising progress) -> completed within a few seconds
(``duration`` setting, default 3), or fail on request::

    CreateVideo(model="sim/sim-1", prompt="...", extra_params={"sim_outcome": "failed"})

``sim_outcome`` is ``completed`` (default), ``failed`` or ``content_filtered``;
``sim_duration`` overrides the duration in seconds; ``sim_bytes`` makes the video variant
that many bytes long (a real MP4 padded with a ``free`` box, still playable, streamed
without being held in memory), for benchmarks.

A job's whole state derives from its id and the clock, so a job created in one process
can be polled and downloaded from the next; deletions are kept by the gateway's job index.
Download returns real media: an H.264 MP4, a WebP thumbnail and a JPEG spritesheet.
"""

from __future__ import annotations

import math
import secrets
import struct
import time
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Self

import attrs

from ..call import Call
from ..config import ProviderSettings
from ..errors import InvalidRequestError, NotFoundError, VideoNotReadyError
from ..hookspecs import hookimpl
from ..media import content_type, sample
from ..model import (
    ContentFilter,
    CreateVideo,
    Deleted,
    Variant,
    Video,
    VideoError,
    VideoStatus,
)
from ..provider import ProviderRegistry, ProviderSetup, ProviderSpec
from ..stream import DownloadStream

__all__ = ["SimProvider", "SimSettings", "reelgate_register_providers"]

_OUTCOMES = {"completed": "c", "failed": "f", "content_filtered": "r"}
_OUTCOME_NAMES = {v: k for k, v in _OUTCOMES.items()}
_CHUNK = 64 * 1024
_ZEROS = bytes(_CHUNK)
# Bounded so that one request cannot make the server stream for days or hold a job for years.
_MAX_SIM_BYTES = 8 << 30
_MAX_SIM_DURATION = 86_400.0


#: The sample media's bytes by variant (kept here for code written before `reelgate.media`).
media = sample


def _b36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


def _check(body: str) -> str:
    return f"{zlib.crc32(body.encode()) & 0xFFFF:04x}"


@attrs.frozen
class _Job:
    created_ms: int
    duration_ms: int
    outcome: str
    size_bytes: int

    @classmethod
    def parse(cls, native_id: str) -> Self:
        unknown = NotFoundError(f"no video {native_id!r} in the simulator")
        body, _, check = native_id.rpartition("_")
        parts = body.split("_")
        if len(parts) != 6 or parts[0] != "sim" or parts[3] not in _OUTCOME_NAMES:
            raise unknown
        if check != _check(body):
            raise unknown
        try:
            return cls(int(parts[1], 36), int(parts[2], 36), parts[3], int(parts[4], 36))
        except ValueError:
            raise unknown from None

    def native_id(self) -> str:
        # The random part makes ids unique; the checksum makes made-up ids unknown.
        body = "_".join(
            [
                "sim",
                _b36(self.created_ms),
                _b36(self.duration_ms),
                self.outcome,
                _b36(self.size_bytes),
                secrets.token_hex(3),
            ]
        )
        return f"{body}_{_check(body)}"


@attrs.frozen(kw_only=True)
class SimSettings(ProviderSettings):
    """
    The simulator's settings.

    Attributes:
        duration: Seconds from create to a terminal state.
        queued_fraction: The share of `duration` a job spends queued.
    """

    duration: float = 3.0
    queued_fraction: float = 0.15


def _extra(request: CreateVideo, name: str, kind: type, default: Any) -> Any:
    value = request.extra_params.get(name, default)
    try:
        converted = kind(value)
    except (TypeError, ValueError):
        raise InvalidRequestError(
            f"{name} must be a {kind.__name__}; got {value!r}", param=name
        ) from None
    if isinstance(converted, float) and not math.isfinite(converted):
        raise InvalidRequestError(f"{name} must be a finite number; got {value!r}", param=name)
    if isinstance(converted, int | float) and converted < 0:
        raise InvalidRequestError(f"{name} must not be negative", param=name)
    return converted


class SimProvider:
    """The simulator: all six operations, state derived from the id and the clock."""

    def __init__(self, settings: SimSettings | None = None) -> None:
        self.settings = settings or SimSettings()

    @classmethod
    def from_setup(cls, setup: ProviderSetup) -> Self:
        """The factory the simulator registers."""
        assert isinstance(setup.settings, SimSettings)  # noqa: S101  # registered with SimSettings
        return cls(setup.settings)

    def _video(self, native_id: str, job: _Job, now_ms: int, **fields: Any) -> Video:
        elapsed = now_ms - job.created_ms
        queued_ms = job.duration_ms * self.settings.queued_fraction
        created = job.created_ms // 1000
        if elapsed < queued_ms:
            return Video(
                id=native_id, status=VideoStatus.QUEUED, progress=0, created_at=created, **fields
            )
        if elapsed < job.duration_ms:
            share = (elapsed - queued_ms) / max(1.0, job.duration_ms - queued_ms)
            return Video(
                id=native_id,
                status=VideoStatus.IN_PROGRESS,
                progress=round(99 * share, 1),
                created_at=created,
                **fields,
            )
        completed = (job.created_ms + job.duration_ms) // 1000
        if job.outcome == "f":
            return Video(
                id=native_id,
                status=VideoStatus.FAILED,
                created_at=created,
                completed_at=completed,
                error=VideoError(
                    code="sim_failed", message="the simulator failed this job on request"
                ),
                **fields,
            )
        if job.outcome == "r":
            reason = "the simulator filtered this job on request"
            return Video(
                id=native_id,
                status=VideoStatus.FAILED,
                created_at=created,
                completed_at=completed,
                error=VideoError(code="content_filtered", message=reason),
                content_filter=ContentFilter(filtered_count=1, reasons=(reason,)),
                **fields,
            )
        return Video(
            id=native_id,
            status=VideoStatus.COMPLETED,
            progress=100,
            created_at=created,
            completed_at=completed,
            expires_at=completed + 3600,
            **fields,
        )

    async def create(self, request: CreateVideo, *, call: Call) -> Video:
        """Start a simulated job."""
        outcome = str(request.extra_params.get("sim_outcome", "completed"))
        if outcome not in _OUTCOMES:
            raise InvalidRequestError(
                f"sim_outcome must be one of {', '.join(_OUTCOMES)}; got {outcome!r}",
                param="sim_outcome",
            )
        duration = _extra(request, "sim_duration", float, self.settings.duration)
        size_bytes = _extra(request, "sim_bytes", int, 0)
        if size_bytes > _MAX_SIM_BYTES:
            raise InvalidRequestError("sim_bytes is limited to 8 GiB", param="sim_bytes")
        if duration > _MAX_SIM_DURATION:
            raise InvalidRequestError(
                "sim_duration is limited to one day (86400 seconds)", param="sim_duration"
            )
        now_ms = int(time.time() * 1000)
        job = _Job(now_ms, int(duration * 1000), _OUTCOMES[outcome], size_bytes)
        native_id = job.native_id()
        shape = {
            "model": call.model,
            "seconds": request.seconds or "4",
            "size": request.size or "1280x720",
        }
        # The shape is kept as the job's provider state, so that a remix (in any process)
        # renders the same model, length and size.
        video = self._video(native_id, job, now_ms, prompt=request.prompt, **shape)
        return attrs.evolve(video, provider_state=shape)

    async def retrieve(self, video_id: str, *, call: Call) -> Video:
        """The job's state now."""
        return self._video(video_id, _Job.parse(video_id), int(time.time() * 1000))

    @asynccontextmanager
    async def download(
        self, video_id: str, variant: Variant, *, call: Call
    ) -> AsyncIterator[DownloadStream]:
        """Stream the job's media."""
        video = await self.retrieve(video_id, call=call)
        if video.status is not VideoStatus.COMPLETED:
            raise VideoNotReadyError.for_status(video_id, video.status.value, call=call)
        body = media(variant)
        total = len(body)
        padding = 0
        if variant is Variant.VIDEO:
            wanted = _Job.parse(video_id).size_bytes
            # The smallest padding is an empty `free` box: its 8-byte header alone.
            if wanted >= total + 8:
                padding = wanted - total
                total = wanted
        yield DownloadStream(
            content_type=content_type(variant), content_length=total, chunks=_stream(body, padding)
        )

    async def delete(self, video_id: str, *, call: Call) -> Deleted:
        """Delete the job: the simulator keeps no jobs, the index's tombstone is the deletion."""
        _Job.parse(video_id)
        return Deleted(id=video_id)

    async def remix(self, video_id: str, prompt: str, *, call: Call) -> Video:
        """Start a new simulated job from a completed one."""
        source = await self.retrieve(video_id, call=call)
        if source.status is not VideoStatus.COMPLETED:
            raise VideoNotReadyError(
                f"video {video_id} is {source.status.value}; only completed videos can be remixed"
            )
        old = _Job.parse(video_id)
        now_ms = int(time.time() * 1000)
        job = _Job(now_ms, old.duration_ms, "c", old.size_bytes)
        shape = {k: v for k, v in (call.job_state or {}).items() if k in _SHAPE}
        video = self._video(job.native_id(), job, now_ms, prompt=prompt, **shape)
        return attrs.evolve(video, remixed_from_video_id=video_id, provider_state=shape or None)


#: What a sim job keeps as its provider state: the shape a remix renders again.
_SHAPE = frozenset({"model", "seconds", "size"})


async def _stream(body: bytes, padding: int) -> AsyncIterator[bytes]:
    view = memoryview(body)
    for start in range(0, len(body), _CHUNK):
        yield bytes(view[start : start + _CHUNK])
    if not padding:
        return
    # A `free` box is skipped by every MP4 reader, so the padded file still plays.
    if padding < 1 << 32:
        header = struct.pack(">I4s", padding, b"free")
    else:
        header = struct.pack(">I4sQ", 1, b"free", padding)
    yield header
    left = padding - len(header)
    while left > 0:
        n = min(left, _CHUNK)
        yield _ZEROS if n == _CHUNK else _ZEROS[:n]
        left -= n


@hookimpl
def reelgate_register_providers(registry: ProviderRegistry) -> None:
    """Register the simulator, through the same hook as every plugin."""
    registry.add(
        ProviderSpec(
            type="sim",
            factory=SimProvider.from_setup,
            settings=SimSettings,
            requires_key=False,
            poll_interval=0.25,
            description="built-in simulator: no key, no network",
        )
    )
