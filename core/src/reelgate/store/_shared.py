"""What every job index shares: the record, the interface, and the merge of a fresh state."""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import attrs

from ..errors import InvalidRequestError
from ..model import Order, Video, VideoStatus
from ..status import advance

__all__ = [
    "JobIndex",
    "JobRecord",
    "Observation",
    "SupportsObserveMany",
    "merge",
    "observe_all",
    "unchanged",
    "unknown_after",
]

#: One freshly seen state for `JobIndex.observe_many`: the native id, the state, and the
#: provider's new per-job state (None keeps the stored one).
Observation = tuple[str, Video, Mapping[str, Any] | None]


@attrs.frozen(kw_only=True)
class JobRecord:
    """
    What the index knows of one job.

    Attributes:
        instance: The provider instance.
        native_id: The provider's id.
        created_at: When the job was created (or first seen), unix seconds.
        key_name: The name of the key that created the job.
        owner: Who created it, for front doors that separate callers (the server's keys).
        idempotency_key: The create's idempotency key, if it had one.
        remixed_from: The qualified id of the job this one remixes.
        deleted: Whether the job was deleted through the gateway.
        video: The last state seen (qualified id), after the status machine.
        provider_state: The provider's own data for this job (`Video.provider_state`),
            handed back to it on every later call; the latest one the provider returned.
        seq: The order in which the index recorded jobs (a tie-breaker for equal
            creation times).
    """

    instance: str
    native_id: str
    created_at: float
    key_name: str | None = None
    owner: str | None = None
    idempotency_key: str | None = None
    remixed_from: str | None = None
    deleted: bool = False
    video: Video | None = None
    provider_state: Mapping[str, Any] | None = attrs.field(default=None, hash=False)
    seq: int = 0


class JobIndex(Protocol):
    """
    The interface every index implements; an embedding application may add its own.

    What an index must guarantee: a state change (status, progress, expiry, outputs,
    error, provider state) is stored before `observe` returns, and the status machine
    holds across every process sharing the index. An observation that changes nothing
    need not be written, and reads should not wait for writers.
    """

    async def add(self, record: JobRecord) -> JobRecord:
        """
        Record a new job with its provider state; if the job is known, return what is known.

        A record whose idempotency key its owner used already is not added: the job that
        has the key is returned instead.
        """
        ...

    async def get(self, instance: str, native_id: str) -> JobRecord | None:
        """The record of a job, or None."""
        ...

    async def observe(
        self,
        instance: str,
        native_id: str,
        video: Video,
        *,
        provider_state: Mapping[str, Any] | None = None,
    ) -> Video:
        """
        Merge a freshly seen state through the status machine and store it.

        Returns what the caller should see. Unknown jobs are recorded as first seen now.
        A `provider_state` (not None) replaces the one stored with the job.
        """
        ...

    async def find_idempotent(self, owner: str | None, key: str) -> JobRecord | None:
        """The job created with this idempotency key by this owner, if any."""
        ...

    async def mark_deleted(self, instance: str, native_id: str) -> None:
        """Remember that a job was deleted."""
        ...

    async def page(
        self,
        instance: str,
        *,
        limit: int,
        order: Order,
        after: str | None,
        owner: str | None = None,
    ) -> tuple[list[JobRecord], bool]:
        """
        One page of an instance's live jobs by creation time, and whether more follow.

        Raises:
            InvalidRequestError: `after` names no job of this instance.
        """
        ...

    async def aclose(self) -> None:
        """Release the index's resources."""
        ...


@runtime_checkable
class SupportsObserveMany(Protocol):
    """An index that can record a list page's states in one write (both built-in ones)."""

    async def observe_many(self, instance: str, seen: Sequence[Observation]) -> list[Video]:
        """
        `JobIndex.observe` for many jobs of one instance at once (a list page), in one write.

        Returns what the caller should see of each, in order.
        """
        ...


async def observe_all(index: JobIndex, instance: str, seen: Sequence[Observation]) -> list[Video]:
    """
    Observe a list page's states: in one write where the index can, else one by one.

    Returns what the caller should see of each, in order.
    """
    if isinstance(index, SupportsObserveMany):
        return await index.observe_many(instance, seen)
    return [
        await index.observe(instance, native_id, video, provider_state=state)
        for native_id, video, state in seen
    ]


def unknown_after(after: str) -> InvalidRequestError:
    """The error for a list cursor that names no job of the instance."""
    return InvalidRequestError(f"after: no video {after!r} in this list", param="after")


# What `merge` fills from the record when a poll leaves it out.
_FILLED = ("model", "prompt", "seconds", "size")
# Every other field a video compares by; a repeat has them all as last stored.
_SAME = tuple(
    f.name
    for f in attrs.fields(Video)
    if f.eq
    and f.name
    not in {*_FILLED, "status", "error", "progress", "created_at", "remixed_from_video_id"}
)

_filled = operator.attrgetter(*_FILLED)
_same = operator.attrgetter(*_SAME)


def _repeats(record: JobRecord, video: Video) -> bool:
    """
    Whether merging `video` would give back the stored video exactly (a poll with no news).

    Conservative: True only where `merge` provably returns a video equal to the stored
    one in every field, the poll hint, metadata and provider state included, so the
    stored object itself can be returned without building a new one.
    """
    previous = record.video
    if previous is None:
        return False
    remixed = video.remixed_from_video_id
    settled = (
        video.status is previous.status
        and video.error == previous.error
        and (video.progress is None or video.progress == previous.progress)
        and previous.created_at == int(record.created_at)
        # A completed job reads 100; a record added with a video may not, yet.
        and (previous.status is not VideoStatus.COMPLETED or previous.progress == 100)  # percent
        and (remixed if remixed is not None else record.remixed_from)
        == previous.remixed_from_video_id
    )
    return (
        settled
        and all(
            value is None or value == kept
            for value, kept in zip(_filled(video), _filled(previous), strict=True)
        )
        and _same(video) == _same(previous)
        and video.poll_after == previous.poll_after
        and video.provider_metadata == previous.provider_metadata
        and video.provider_state == previous.provider_state
    )


def merge(record: JobRecord, video: Video) -> Video:
    """A fresh state merged into the record's through the status machine: what to store."""
    if _repeats(record, video):
        return record.video  # type: ignore[return-value]  # _repeats checked it is set
    merged = advance(record.video, video)
    fill: dict[str, Any] = {}
    # The first creation time recorded is the job's: a provider whose create answer has
    # none (Runway) reports its own clock's later, and created_at must not move.
    if merged.created_at != int(record.created_at):
        fill["created_at"] = int(record.created_at)
    if merged.remixed_from_video_id is None and record.remixed_from is not None:
        fill["remixed_from_video_id"] = record.remixed_from
    previous = record.video
    if previous is not None:
        for name in _FILLED:
            if getattr(merged, name) is None and getattr(previous, name) is not None:
                fill[name] = getattr(previous, name)
    return attrs.evolve(merged, **fill) if fill else merged


def unchanged(record: JobRecord, merged: Video, provider_state: Mapping[str, Any] | None) -> bool:
    """
    Whether storing `merged` (and `provider_state`) would change nothing that is kept.

    A video's equality covers what an index keeps of it (status, progress, times,
    outputs, error, filter report, the request's fields), not the poll hint or the
    provider's metadata, which are only passed on.
    """
    if provider_state is not None and provider_state != record.provider_state:
        return False
    return merged is record.video or (record.video is not None and merged == record.video)
