"""
The job index: every job the gateway creates or sees, recorded.

It gives a list to providers whose API has none (with the same cursor semantics as a
native list), the true ``created_at``, job -> key affinity (polls use the key that created
the job), idempotent create, deletions the provider cannot remember (the simulator), and
status-machine enforcement across polls and processes.

`MemoryJobIndex` lives as long as the process; `SQLiteJobIndex` survives restarts and is
safe with several processes writing at once (WAL, ``BEGIN IMMEDIATE`` for every
read-modify-write).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol, TypeVar

import anyio.to_thread
import attrs

from .claims import Claim, ClaimsBy, MemoryClaims, SQLiteClaims, SupportsClaims, SupportsWatch
from .errors import InvalidRequestError
from .model import Order, Video
from .status import advance

__all__ = [
    "Claim",
    "JobIndex",
    "JobRecord",
    "MemoryJobIndex",
    "SQLiteJobIndex",
    "SupportsClaims",
    "SupportsWatch",
]

T = TypeVar("T")


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
    """The interface both indexes implement; an embedding application may add its own."""

    async def add(self, record: JobRecord) -> JobRecord:
        """Record a new job; if the job is known already, return what is known."""
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


def _unknown_after(after: str) -> InvalidRequestError:
    return InvalidRequestError(f"after: no video {after!r} in this list", param="after")


def _merge(record: JobRecord, video: Video) -> Video:
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
        for name in ("model", "prompt", "seconds", "size"):
            if getattr(merged, name) is None and getattr(previous, name) is not None:
                fill[name] = getattr(previous, name)
    return attrs.evolve(merged, **fill) if fill else merged


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
        key = (instance, native_id)
        record = self._jobs.get(key)
        if record is None:
            record = await self.add(
                JobRecord(
                    instance=instance,
                    native_id=native_id,
                    created_at=video.created_at or time.time(),
                )
            )
        merged = _merge(record, video)
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
            record = await self.add(
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
                raise _unknown_after(after)
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


_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    instance TEXT NOT NULL,
    native_id TEXT NOT NULL,
    created_at REAL NOT NULL,
    key_name TEXT,
    owner TEXT,
    idempotency_key TEXT,
    remixed_from TEXT,
    deleted INTEGER NOT NULL DEFAULT 0,
    video TEXT,
    provider_state TEXT,
    UNIQUE (instance, native_id)
);
CREATE UNIQUE INDEX IF NOT EXISTS jobs_idempotency
    ON jobs (coalesce(owner, ''), idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS jobs_by_time ON jobs (instance, created_at, seq);
"""


def _state_json(state: Mapping[str, Any] | None) -> str | None:
    return None if state is None else json.dumps(state, separators=(",", ":"))


_COLUMNS = (
    "seq, instance, native_id, created_at, key_name, owner, idempotency_key, remixed_from, "
    "deleted, video, provider_state"
)


class SQLiteJobIndex(ClaimsBy):
    """
    A job index in an SQLite file, shared safely by threads and processes.

    Claims and watch leases (`ClaimsBy`) live in tables of their own in the same file.

    Args:
        path: The database file; its directory is created if missing.
        timeout: Seconds a write waits for another process's write lock before failing.
    """

    def __init__(self, path: str | Path, *, timeout: float = 30.0) -> None:
        from . import wire  # noqa: PLC0415  # wire's converter is only needed here

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._wire = wire
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            self.path, timeout=timeout, isolation_level=None, check_same_thread=False
        )
        self._claims = SQLiteClaims(self.path, self, timeout=timeout)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._add_missing_columns()

    def __repr__(self) -> str:
        return f"SQLiteJobIndex({str(self.path)!r})"

    def _add_missing_columns(self) -> None:
        # Files written before a column existed gain it (under the write lock, so two
        # processes opening one old file add it once).
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(jobs)")}
        if "provider_state" in columns:
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(jobs)")}
            if "provider_state" not in columns:
                self._db.execute("ALTER TABLE jobs ADD COLUMN provider_state TEXT")
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def locked() -> T:
            with self._lock:
                return fn(self._db)

        return await anyio.to_thread.run_sync(locked)

    def _record(self, row: tuple[Any, ...]) -> JobRecord:
        (
            seq,
            instance,
            native_id,
            created_at,
            key_name,
            owner,
            idem,
            remixed,
            deleted,
            video,
            state,
        ) = row
        return JobRecord(
            seq=seq,
            instance=instance,
            native_id=native_id,
            created_at=created_at,
            key_name=key_name,
            owner=owner,
            idempotency_key=idem,
            remixed_from=remixed,
            deleted=bool(deleted),
            video=self._wire.video_from_dict(json.loads(video)) if video else None,
            provider_state=json.loads(state) if state is not None else None,
        )

    def _video_json(self, video: Video | None) -> str | None:
        return None if video is None else json.dumps(self._wire.video_to_dict(video))

    def _get(self, db: sqlite3.Connection, instance: str, native_id: str) -> JobRecord | None:
        row = db.execute(
            f"SELECT {_COLUMNS} FROM jobs WHERE instance = ? AND native_id = ?",  # noqa: S608  # constant columns
            (instance, native_id),
        ).fetchone()
        return self._record(row) if row else None

    def _insert(self, db: sqlite3.Connection, r: JobRecord) -> None:
        db.execute(
            "INSERT OR IGNORE INTO jobs (instance, native_id, created_at, key_name, owner, "
            "idempotency_key, remixed_from, deleted, video, provider_state) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                r.instance,
                r.native_id,
                r.created_at,
                r.key_name,
                r.owner,
                r.idempotency_key,
                r.remixed_from,
                int(r.deleted),
                self._video_json(r.video),
                _state_json(r.provider_state),
            ),
        )

    async def add(self, record: JobRecord) -> JobRecord:  # noqa: D102
        def add(db: sqlite3.Connection) -> JobRecord:
            db.execute("BEGIN IMMEDIATE")
            try:
                if record.idempotency_key is not None:
                    known = db.execute(
                        "SELECT instance, native_id FROM jobs WHERE coalesce(owner, '') = ? "
                        "AND idempotency_key = ?",
                        (record.owner or "", record.idempotency_key),
                    ).fetchone()
                    if known:
                        found = self._get(db, *known)
                        db.execute("COMMIT")
                        assert found is not None  # noqa: S101  # read in the same transaction
                        return found
                self._insert(db, record)
                stored = self._get(db, record.instance, record.native_id)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            assert stored is not None  # noqa: S101  # inserted in the same transaction
            return stored

        return await self._run(add)

    async def get(self, instance: str, native_id: str) -> JobRecord | None:  # noqa: D102
        return await self._run(lambda db: self._get(db, instance, native_id))

    async def observe(  # noqa: D102
        self,
        instance: str,
        native_id: str,
        video: Video,
        *,
        provider_state: Mapping[str, Any] | None = None,
    ) -> Video:
        def observe(db: sqlite3.Connection) -> Video:
            db.execute("BEGIN IMMEDIATE")
            try:
                record = self._get(db, instance, native_id)
                if record is None:
                    record = JobRecord(
                        instance=instance,
                        native_id=native_id,
                        created_at=video.created_at or time.time(),
                    )
                    self._insert(db, record)
                merged = _merge(record, video)
                if provider_state is None:
                    db.execute(
                        "UPDATE jobs SET video = ? WHERE instance = ? AND native_id = ?",
                        (self._video_json(merged), instance, native_id),
                    )
                else:
                    db.execute(
                        "UPDATE jobs SET video = ?, provider_state = ? "
                        "WHERE instance = ? AND native_id = ?",
                        (
                            self._video_json(merged),
                            _state_json(provider_state),
                            instance,
                            native_id,
                        ),
                    )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            return merged

        return await self._run(observe)

    async def find_idempotent(self, owner: str | None, key: str) -> JobRecord | None:  # noqa: D102
        def find(db: sqlite3.Connection) -> JobRecord | None:
            query = (
                f"SELECT {_COLUMNS} FROM jobs WHERE coalesce(owner, '') = ? AND idempotency_key = ?"  # noqa: S608  # constant columns
            )
            row = db.execute(
                query,
                (owner or "", key),
            ).fetchone()
            return self._record(row) if row else None

        return await self._run(find)

    async def mark_deleted(self, instance: str, native_id: str) -> None:  # noqa: D102
        def mark(db: sqlite3.Connection) -> None:
            db.execute("BEGIN IMMEDIATE")
            try:
                self._insert(
                    db, JobRecord(instance=instance, native_id=native_id, created_at=time.time())
                )
                db.execute(
                    "UPDATE jobs SET deleted = 1 WHERE instance = ? AND native_id = ?",
                    (instance, native_id),
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

        await self._run(mark)

    async def page(  # noqa: D102
        self,
        instance: str,
        *,
        limit: int,
        order: Order,
        after: str | None,
        owner: str | None = None,
    ) -> tuple[list[JobRecord], bool]:
        def page(db: sqlite3.Connection) -> tuple[list[JobRecord], bool]:
            where = ["instance = ?", "deleted = 0"]
            args: list[Any] = [instance]
            if owner is not None:
                where.append("owner = ?")
                args.append(owner)
            if after is not None:
                cursor = db.execute(
                    "SELECT created_at, seq FROM jobs WHERE instance = ? AND native_id = ?",
                    (instance, after),
                ).fetchone()
                if cursor is None:
                    raise _unknown_after(after)
                op = "<" if order == "desc" else ">"
                where.append(f"(created_at, seq) {op} (?, ?)")
                args.extend(cursor)
            direction = "DESC" if order == "desc" else "ASC"
            rows = db.execute(
                f"SELECT {_COLUMNS} FROM jobs WHERE {' AND '.join(where)} "  # noqa: S608  # built from constants
                f"ORDER BY created_at {direction}, seq {direction} LIMIT ?",
                (*args, limit + 1),
            ).fetchall()
            records = [self._record(row) for row in rows]
            return records[:limit], len(records) > limit

        return await self._run(page)

    async def aclose(self) -> None:  # noqa: D102
        await anyio.to_thread.run_sync(self._claims.close)
        await self._run(lambda db: db.close())
