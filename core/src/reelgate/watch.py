"""
The watcher: drives every unfinished job the index knows toward a terminal state.

Run it with `reelgate.Gateway.watch` (an async context manager) or
`reelgate.Gateway.watch_forever`; ``reelgate serve`` runs it unless ``--no-watch``.

How it works: each round, the watcher leases the jobs that are due from the index
(`reelgate.store.SupportsWatch.lease_unfinished`; one watcher at a time per job, across
processes and replicas), polls each with `reelgate.Gateway.retrieve` (which records what it
sees, so lists are fresh without clients polling), and hands each back due again at the
provider's hint (`Video.poll_after`) or the instance's ``poll_interval``, backing off while
nothing changes (x1.5 per poll up to five times the interval, at most 30 s) and after
errors (x2 up to `Watcher.max_delay`). A finished job is handed back for good. A watcher
that dies hands nothing back: its jobs fall due when their leases run out and another
watcher takes them.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING

import anyio
import attrs

from .claims import SupportsWatch, new_holder
from .errors import NotFoundError, ReelgateError
from .ids import VideoId

if TYPE_CHECKING:
    from .gateway import Gateway
    from .store import JobRecord

__all__ = ["Watcher"]

log = logging.getLogger(__name__)


@attrs.define(kw_only=True)
class Watcher:
    """
    A watcher over one gateway's index.

    Attributes:
        concurrency: The most polls in flight at once, overall.
        per_instance: The most polls in flight at once per provider instance.
        lease: Seconds a leased job stays this watcher's while it polls it; after that
            (the watcher died) another may take it. Longer than a poll can take.
        interval: Seconds between rounds when no job is due.
        max_delay: The longest pause between polls of a job after errors.
        holder: This watcher's lease token.
    """

    gateway: Gateway
    concurrency: int = 16
    per_instance: int = 4
    lease: float = 60.0
    interval: float = 0.5
    max_delay: float = 300.0
    holder: str = attrs.field(factory=new_holder)
    #: Polls done, for tests and benchmarks.
    polls: int = attrs.field(default=0, init=False)
    _busy: int = attrs.field(default=0, init=False)
    _delays: dict[tuple[str, str], float] = attrs.field(factory=dict, init=False)
    _limiters: dict[str, anyio.CapacityLimiter] = attrs.field(factory=dict, init=False)
    _wake: anyio.Event = attrs.field(factory=anyio.Event, init=False)

    def __attrs_post_init__(self) -> None:
        if self.concurrency < 1 or self.per_instance < 1:
            raise ValueError("concurrency and per_instance must be at least 1")
        if not self.lease > 0 or not self.interval > 0:
            raise ValueError("lease and interval must be positive")

    @property
    def index(self) -> SupportsWatch:
        """The gateway's index, which must lease jobs (`SupportsWatch`)."""
        index = self.gateway.index
        if not isinstance(index, SupportsWatch):
            raise TypeError(f"the job index {index!r} cannot lease jobs to a watcher")
        return index

    async def run(self) -> None:
        """Watch until cancelled."""
        index = self.index
        async with anyio.create_task_group() as tasks:
            while True:
                await self.gateway.replay_spool()
                free = self.concurrency - self._busy
                records: list[JobRecord] = []
                if free > 0:
                    try:
                        records = await index.lease_unfinished(self.holder, free, self.lease)
                    except Exception:  # an index that went away: try again next round
                        log.warning("watcher: leasing jobs failed", exc_info=True)
                for record in records:
                    self._busy += 1
                    tasks.start_soon(self._drive, record)
                # A full round: go on as soon as a slot frees; else wait for jobs to fall due.
                self._wake = anyio.Event()
                with anyio.move_on_after(self.interval):
                    if records and len(records) == free:
                        await self._wake.wait()
                    else:
                        await anyio.sleep(math.inf)

    async def _drive(self, record: JobRecord) -> None:
        key = (record.instance, record.native_id)
        after: float | None
        try:
            after = await self._poll(record)
        except Exception:  # never let one job stop the watcher
            log.warning("watcher: polling %s failed", record.native_id, exc_info=True)
            after = self._backoff(key, None, failed=True)
        try:
            if after is None:
                self._delays.pop(key, None)
            await self.index.return_lease(
                record.instance, record.native_id, self.holder, after=after
            )
        except Exception:  # noqa: BLE001  # the lease runs out by itself
            log.warning("watcher: returning the lease of %s failed", record.native_id)
        finally:
            self._busy -= 1
            self._wake.set()

    async def _poll(self, record: JobRecord) -> float | None:
        """Poll one job; when it is next due (None: finished)."""
        key = (record.instance, record.native_id)
        instance = self.gateway.instances.get(record.instance)
        if instance is None or "retrieve" not in instance.capabilities:
            # Not this replica's to drive (an instance it does not configure).
            return self.max_delay
        limiter = self._limiters.setdefault(instance.name, anyio.CapacityLimiter(self.per_instance))
        async with limiter:
            try:
                video = await self.gateway.retrieve(
                    VideoId.build(record.native_id, record.instance)
                )
            except NotFoundError:
                log.info("watcher: %s is gone upstream", record.native_id)
                return self._backoff(key, instance.poll_interval, failed=True, floor=60.0)
            except ReelgateError as e:
                log.info("watcher: polling %s failed: %s", record.native_id, e.message)
                return self._backoff(key, instance.poll_interval, failed=True)
            finally:
                self.polls += 1
        if video.done:
            return None
        if video.poll_after is not None:
            return max(video.poll_after, 0.01)
        return self._backoff(key, instance.poll_interval, failed=False)

    def _backoff(
        self, key: tuple[str, str], base: float | None, *, failed: bool, floor: float = 0.0
    ) -> float:
        base = base if base is not None else 1.0
        previous = self._delays.get(key)
        if previous is None:
            delay = base
        elif failed:
            delay = min(previous * 2, self.max_delay)
        else:
            delay = min(previous * 1.5, max(base, min(base * 5, 30.0)))
        delay = max(delay, floor)
        self._delays[key] = delay
        return delay
