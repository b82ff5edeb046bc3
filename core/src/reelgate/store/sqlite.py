"""
`SQLiteJobIndex`: a job index in an SQLite file, shared by threads and processes.

How a poll stays cheap without losing anything:

- **Writes happen on change only.** `observe` merges the fresh state into the stored one
  and writes only when what is kept differs (see `reelgate.store.unchanged`). A write is
  a ``BEGIN IMMEDIATE`` transaction that reads the row again and merges again, so the
  status machine holds whatever another process wrote meanwhile, and it commits before
  `observe` returns.
- **Reads never wait for writers.** The file is in WAL mode, and reads run on the
  caller's own thread (the event loop) whenever the connection is free, with SQLite's
  busy timeout at zero; a busy connection or file sends the read to a worker thread.
  Writes always run in a worker thread, with a 30 s busy timeout.
- **A write-through cache of decoded records**, valid while ``PRAGMA data_version`` (which
  changes when any other connection, in any process, commits) stays the same: a poll of
  a known job costs that one pragma, not a query and a JSON decode.
- **Schema versions** in ``PRAGMA user_version``, with ordered migrations applied at open
  under the write lock; a file newer than this code is refused.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import anyio.to_thread
import attrs

from .. import wire
from ..claims import CLAIMS_SCHEMA, ClaimsBy, SQLiteClaims
from ..errors import ConfigurationError
from ..model import Order, Video
from ._shared import JobRecord, Observation, merge, unchanged, unknown_after

__all__ = ["SCHEMA_VERSION", "SQLiteJobIndex"]

T = TypeVar("T")

_BUSY_TIMEOUT_MS = 30_000
_CACHE_SIZE = 4096


def _jobs_table(db: sqlite3.Connection) -> None:
    # IF NOT EXISTS: files from before schema versions have the table at version 0.
    db.execute(
        """
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
            UNIQUE (instance, native_id)
        )
        """
    )
    db.execute(
        "CREATE UNIQUE INDEX IF NOT EXISTS jobs_idempotency ON jobs "
        "(coalesce(owner, ''), idempotency_key) WHERE idempotency_key IS NOT NULL"
    )
    db.execute("CREATE INDEX IF NOT EXISTS jobs_by_time ON jobs (instance, created_at, seq)")


def _provider_state_column(db: sqlite3.Connection) -> None:
    columns = {row[1] for row in db.execute("PRAGMA table_info(jobs)")}
    if "provider_state" not in columns:
        db.execute("ALTER TABLE jobs ADD COLUMN provider_state TEXT")


def _claims_tables(db: sqlite3.Connection) -> None:
    # Claims and the watcher's leases: `reelgate.claims.SQLiteClaims` keeps them.
    for statement in CLAIMS_SCHEMA.split(";"):
        if statement.strip():
            db.execute(statement)


#: The migrations, in order: a file at version n has had the first n applied.
_MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (
    _jobs_table,
    _provider_state_column,
    _claims_tables,
)

#: The schema version this code writes (``PRAGMA user_version``).
SCHEMA_VERSION = len(_MIGRATIONS)

_COLUMNS = (
    "seq, instance, native_id, created_at, key_name, owner, idempotency_key, remixed_from, "
    "deleted, video, provider_state"
)
_BY_ID = f"SELECT {_COLUMNS} FROM jobs WHERE instance = ? AND native_id = ?"  # noqa: S608  # constant columns


def _state_json(state: Mapping[str, Any] | None) -> str | None:
    return None if state is None else json.dumps(state, separators=(",", ":"))


def _kept(video: Video) -> Video:
    """The video as the file keeps it: what is only passed on is left out."""
    if video.poll_after is None and not video.provider_metadata and video.provider_state is None:
        return video
    return attrs.evolve(video, poll_after=None, provider_metadata={}, provider_state=None)


def _busy(error: sqlite3.OperationalError) -> bool:
    code = getattr(error, "sqlite_errorcode", None)
    if code is None:
        return "locked" in str(error)
    return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


class SQLiteJobIndex(ClaimsBy):
    """
    A job index in an SQLite file, shared safely by threads and processes.

    Claims and watch leases (`reelgate.claims.ClaimsBy`) live in tables of their own in
    the same file.

    Args:
        path: The database file; its directory is created if missing.
        timeout: Seconds a write waits for another process's write lock before failing.

    Raises:
        ConfigurationError: The file was written by a newer reelgate (its schema version
            is higher than `SCHEMA_VERSION`).
    """

    def __init__(self, path: str | Path, *, timeout: float = _BUSY_TIMEOUT_MS / 1000) -> None:
        self.path = Path(path)
        self._busy_ms = max(0, round(timeout * 1000))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str], JobRecord] = {}
        self._version: int | None = None
        self._db = sqlite3.connect(
            self.path,
            timeout=timeout,
            isolation_level=None,
            check_same_thread=False,
        )
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
        except BaseException:
            self._db.close()
            raise
        # Reads on the event loop must never sleep on a lock: see _read.
        self._db.execute("PRAGMA busy_timeout=0")
        self._claims = SQLiteClaims(self.path, self, timeout=timeout)

    def __repr__(self) -> str:
        return f"SQLiteJobIndex({str(self.path)!r})"

    def _schema_version(self) -> int:
        version: int = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise ConfigurationError(
                f"the job index {str(self.path)!r} has schema version {version}, but this "
                f"reelgate knows versions up to {SCHEMA_VERSION}: upgrade reelgate, or use "
                "another index file"
            )
        return version

    def _migrate(self) -> None:
        if self._schema_version() == SCHEMA_VERSION:
            return
        # Under the write lock, so processes opening one file together migrate it once.
        self._db.execute("BEGIN IMMEDIATE")
        try:
            version = self._schema_version()
            for migration in _MIGRATIONS[version:]:
                migration(self._db)
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    # -- running queries -----------------------------------------------------------------

    async def _read(self, read: Callable[[], T]) -> T:
        """
        Run `read` on this thread if the connection and the file are free, else in a worker.

        A read costs a few microseconds; a thread hop costs far more.
        """
        if self._lock.acquire(blocking=False):
            try:
                return read()
            except sqlite3.OperationalError as e:
                if not _busy(e):
                    raise
            finally:
                self._lock.release()
        return await self._in_thread(read)

    async def _in_thread(self, work: Callable[[], T]) -> T:
        def locked() -> T:
            with self._lock:
                self._db.execute(f"PRAGMA busy_timeout={self._busy_ms}")
                try:
                    return work()
                finally:
                    self._db.execute("PRAGMA busy_timeout=0")

        return await anyio.to_thread.run_sync(locked)

    async def _write(self, work: Callable[[], T]) -> T:
        """Run `work` in one write transaction, in a worker thread."""

        def transaction() -> T:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._fresh()
                result = work()
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                # The cache may hold what was just rolled back.
                self._forget_all()
                raise
            return result

        return await self._in_thread(transaction)

    # -- the cache (used with the lock held) -------------------------------------------

    def _fresh(self) -> None:
        """Drop the cache if another connection has committed since it was filled."""
        version = self._db.execute("PRAGMA data_version").fetchone()[0]
        if version != self._version:
            self._cache.clear()
            self._version = version

    def _forget_all(self) -> None:
        self._cache.clear()
        self._version = None

    def _remember(self, record: JobRecord) -> JobRecord:
        if len(self._cache) >= _CACHE_SIZE:
            del self._cache[next(iter(self._cache))]
        self._cache[(record.instance, record.native_id)] = record
        return record

    def _cached(self, instance: str, native_id: str) -> JobRecord | None:
        record = self._cache.get((instance, native_id))
        if record is None:
            row = self._db.execute(_BY_ID, (instance, native_id)).fetchone()
            if row is None:
                return None
            record = self._remember(self._record(row))
        return record

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
            # The file leaves the provider out of the video: it is the instance.
            video=(
                attrs.evolve(wire.video_from_dict(json.loads(video)), provider=instance)
                if video
                else None
            ),
            provider_state=json.loads(state) if state is not None else None,
        )

    def _insert(self, r: JobRecord) -> None:
        self._db.execute(
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
                None if r.video is None else json.dumps(wire.video_to_dict(r.video)),
                _state_json(r.provider_state),
            ),
        )

    # -- the index ---------------------------------------------------------------------

    async def add(self, record: JobRecord) -> JobRecord:  # noqa: D102
        known = await self._read(lambda: self._get(record.instance, record.native_id))
        if known is not None:
            return known

        def add() -> JobRecord:
            if record.idempotency_key is not None:
                first = self._db.execute(
                    "SELECT instance, native_id FROM jobs WHERE coalesce(owner, '') = ? "
                    "AND idempotency_key = ?",
                    (record.owner or "", record.idempotency_key),
                ).fetchone()
                if first:
                    found = self._cached(*first)
                    assert found is not None  # noqa: S101  # read in the same transaction
                    return found
            self._insert(record)
            self._cache.pop((record.instance, record.native_id), None)
            stored = self._cached(record.instance, record.native_id)
            assert stored is not None  # noqa: S101  # inserted in the same transaction
            return stored

        return await self._write(add)

    def _get(self, instance: str, native_id: str) -> JobRecord | None:
        self._fresh()
        return self._cached(instance, native_id)

    async def get(self, instance: str, native_id: str) -> JobRecord | None:  # noqa: D102
        return await self._read(lambda: self._get(instance, native_id))

    async def observe(  # noqa: D102
        self,
        instance: str,
        native_id: str,
        video: Video,
        *,
        provider_state: Mapping[str, Any] | None = None,
    ) -> Video:
        def look() -> Video | None:
            self._fresh()
            return self._repeat(instance, native_id, video, provider_state)

        if (seen := await self._read(look)) is not None:
            return seen
        return await self._write(lambda: self._observe(instance, native_id, video, provider_state))

    def _repeat(
        self,
        instance: str,
        native_id: str,
        video: Video,
        provider_state: Mapping[str, Any] | None,
    ) -> Video | None:
        """What the caller sees of a state that changes nothing stored; None if it does."""
        record = self._cached(instance, native_id)
        if record is None:
            return None
        merged = merge(record, video)
        if not unchanged(record, merged, provider_state):
            return None
        if merged is not record.video:
            # Nothing the file keeps changed; the cache keeps the poll's hint and
            # metadata too, so that the next poll is recognised as a repeat.
            self._remember(attrs.evolve(record, video=merged))
        return merged

    async def observe_many(self, instance: str, seen: Sequence[Observation]) -> list[Video]:  # noqa: D102
        def look() -> list[Video | None]:
            # What the caller may see at once: the states that change nothing stored.
            self._fresh()
            return [self._repeat(instance, *observation) for observation in seen]

        answers = await self._read(look)
        changed = [i for i, answer in enumerate(answers) if answer is None]
        if not changed:
            return answers  # type: ignore[return-value]  # no None left

        def write() -> None:
            for i in changed:
                answers[i] = self._observe(instance, *seen[i])

        await self._write(write)
        return answers  # type: ignore[return-value]  # every None replaced

    def _observe(
        self,
        instance: str,
        native_id: str,
        video: Video,
        provider_state: Mapping[str, Any] | None,
    ) -> Video:
        """Merge and store one state, in a write transaction (the row as it is now)."""
        record = self._cached(instance, native_id)
        if record is None:
            self._insert(
                JobRecord(
                    instance=instance,
                    native_id=native_id,
                    created_at=video.created_at or time.time(),
                )
            )
            record = self._cached(instance, native_id)
            assert record is not None  # noqa: S101  # inserted in the same transaction
        merged = merge(record, video)
        if unchanged(record, merged, provider_state):
            return merged
        kept = _kept(merged)
        state = record.provider_state if provider_state is None else provider_state
        self._db.execute(
            "UPDATE jobs SET video = ?, provider_state = ? WHERE instance = ? AND native_id = ?",
            (json.dumps(wire.video_to_dict(kept)), _state_json(state), instance, native_id),
        )
        self._remember(attrs.evolve(record, video=kept, provider_state=state))
        return merged

    async def find_idempotent(self, owner: str | None, key: str) -> JobRecord | None:  # noqa: D102
        def find() -> JobRecord | None:
            self._fresh()
            row = self._db.execute(
                "SELECT instance, native_id FROM jobs WHERE coalesce(owner, '') = ? "
                "AND idempotency_key = ?",
                (owner or "", key),
            ).fetchone()
            return self._cached(*row) if row else None

        return await self._read(find)

    async def mark_deleted(self, instance: str, native_id: str) -> None:  # noqa: D102
        def mark() -> None:
            self._insert(JobRecord(instance=instance, native_id=native_id, created_at=time.time()))
            self._db.execute(
                "UPDATE jobs SET deleted = 1 WHERE instance = ? AND native_id = ?",
                (instance, native_id),
            )
            self._cache.pop((instance, native_id), None)

        await self._write(mark)

    async def page(  # noqa: D102
        self,
        instance: str,
        *,
        limit: int,
        order: Order,
        after: str | None,
        owner: str | None = None,
    ) -> tuple[list[JobRecord], bool]:
        where = ["instance = ?", "deleted = 0"]
        args: list[Any] = [instance]
        if owner is not None:
            where.append("owner = ?")
            args.append(owner)
        direction = "DESC" if order == "desc" else "ASC"

        def page() -> tuple[list[JobRecord], bool]:
            # One read transaction: the rows and the cache's version agree.
            self._db.execute("BEGIN")
            try:
                self._fresh()
                query, values = " AND ".join(where), list(args)
                if after is not None:
                    cursor = self._db.execute(
                        "SELECT created_at, seq FROM jobs WHERE instance = ? AND native_id = ?",
                        (instance, after),
                    ).fetchone()
                    if cursor is None:
                        raise unknown_after(after)
                    query += f" AND (created_at, seq) {'<' if order == 'desc' else '>'} (?, ?)"
                    values.extend(cursor)
                rows = self._db.execute(
                    f"SELECT {_COLUMNS} FROM jobs WHERE {query} "  # noqa: S608  # built from constants
                    f"ORDER BY created_at {direction}, seq {direction} LIMIT ?",
                    (*values, limit + 1),
                ).fetchall()
                records = [
                    self._cache.get((row[1], row[2])) or self._remember(self._record(row))
                    for row in rows
                ]
            finally:
                self._db.execute("COMMIT")
            return records[:limit], len(records) > limit

        return await self._in_thread(page)

    async def aclose(self) -> None:  # noqa: D102
        await anyio.to_thread.run_sync(self._claims.close)

        def close() -> None:
            with self._lock:
                self._db.close()

        await anyio.to_thread.run_sync(close)
