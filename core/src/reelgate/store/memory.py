"""`MemoryJobIndex`: a job index that lives as long as the process."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from ..claims import ClaimsBy, MemoryClaims
from ..model import Order, Video
from ._shared import JobRecord, Observation, merge, unchanged, unknown_after

__all__ = ["MemoryJobIndex"]


@attrs.define
class MemoryJobIndex(ClaimsBy):
    """A job index in this process's memory (with claims and watch leases: `ClaimsBy`)."""

    _jobs: dict[tuple[str, str], JobRecord] = attrs.field(factory=dict, init=False)
    _idempotent: dict[tuple[str | None, str], tuple[str, str]] = attrs.field(
        factory=dict, init=False
    )
    _seq: int = attrs.field(default=0, init=False)
    _claims: MemoryClaims = attrs.field(
        init=False,
        default=attrs.Factory(lambda self: MemoryClaims(self, self._unfinished), takes_self=True),
    )

    def _unfinished(self) -> list[JobRecord]:
        return [
            r
            for r in self._jobs.values()
            if not r.deleted and (r.video is None or not r.video.done)
        ]

    async def add(self, record: JobRecord) -> JobRecord:  # noqa: D102
        return self._add(record)

    def _add(self, record: JobRecord) -> JobRecord:
        key = (record.instance, record.native_id)
        if (known := self._jobs.get(key)) is not None:
            return known
        if record.idempotency_key is not None and (
            first := self._idempotent.get((record.owner, record.idempotency_key))
        ):
            return self._jobs[first]
        self._seq += 1
        record = attrs.evolve(record, seq=self._seq)
        self._jobs[key] = record
        if record.idempotency_key is not None:
            self._idempotent[(record.owner, record.idempotency_key)] = key
        return record

    async def get(self, instance: str, native_id: str) -> JobRecord | None:  # noqa: D102
        return self._jobs.get((instance, native_id))

    async def observe(  # noqa: D102
        self,
        instance: str,
        native_id: str,
        video: Video,
        *,
        provider_state: Mapping[str, Any] | None = None,
    ) -> Video:
        return self._observe(instance, native_id, video, provider_state)

    async def observe_many(self, instance: str, seen: Sequence[Observation]) -> list[Video]:  # noqa: D102
        return [self._observe(instance, *observation) for observation in seen]

    def _observe(
        self,
        instance: str,
        native_id: str,
        video: Video,
        provider_state: Mapping[str, Any] | None,
    ) -> Video:
        key = (instance, native_id)
        record = self._jobs.get(key)
        if record is None:
            record = self._add(
                JobRecord(
                    instance=instance,
                    native_id=native_id,
                    created_at=video.created_at or time.time(),
                )
            )
        merged = merge(record, video)
        if unchanged(record, merged, provider_state):
            if merged is not record.video:
                # Nothing kept changed, but the next poll finds this one's hint and
                # metadata, and is recognised as a repeat without building a video.
                self._jobs[key] = attrs.evolve(record, video=merged)
            return merged
        if provider_state is None:
            self._jobs[key] = attrs.evolve(record, video=merged)
        else:
            self._jobs[key] = attrs.evolve(record, video=merged, provider_state=provider_state)
        return merged

    async def find_idempotent(self, owner: str | None, key: str) -> JobRecord | None:  # noqa: D102
        job = self._idempotent.get((owner, key))
        return self._jobs.get(job) if job is not None else None

    async def mark_deleted(self, instance: str, native_id: str) -> None:  # noqa: D102
        key = (instance, native_id)
        if (record := self._jobs.get(key)) is None:
            record = self._add(
                JobRecord(instance=instance, native_id=native_id, created_at=time.time())
            )
        self._jobs[key] = attrs.evolve(record, deleted=True)

    async def page(  # noqa: D102
        self,
        instance: str,
        *,
        limit: int,
        order: Order,
        after: str | None,
        owner: str | None = None,
    ) -> tuple[list[JobRecord], bool]:
        rows = sorted(
            (
                r
                for r in self._jobs.values()
                if r.instance == instance and not r.deleted and (owner is None or r.owner == owner)
            ),
            key=lambda r: (r.created_at, r.seq),
            reverse=order == "desc",
        )
        if after is not None:
            # Any job of the instance is a cursor, even one deleted since its page was read.
            cursor = self._jobs.get((instance, after))
            if cursor is None:
                raise unknown_after(after)
            at = (cursor.created_at, cursor.seq)
            rows = [
                r
                for r in rows
                if ((r.created_at, r.seq) < at if order == "desc" else (r.created_at, r.seq) > at)
            ]
        window = rows[: limit + 1]
        return window[:limit], len(window) > limit

    async def aclose(self) -> None:  # noqa: D102
        return None
